//! Per-tenant request limits: one tenant flooding the server (a runaway integration, a script
//! in a loop) is answered `429 Too Many Requests` with `Retry-After`, and the others keep their
//! latency. Two limits, both per tenant and per server:
//!
//! - a token bucket on the rate, checked right after the token is verified and before any
//!   database work, so a refused request costs microseconds;
//! - a cap on the requests in progress at once. Requests over it wait for their turn in their
//!   own tenant's queue, so an admitted burst (a tablet syncing, an import) is served at the
//!   pace of a few connections instead of taking the whole pool, and another tenant's request
//!   never queues behind it. A request holds its place while it works, not while its commit
//!   waits for the disk (see [`TenantPlace`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dui_domain::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much one tenant may ask of one server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TenantLimit {
    /// Sustained requests per second (0: no limit).
    pub per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: f64,
    /// Requests in progress at once (0: no cap); the others wait for their turn.
    pub concurrency: usize,
}

impl TenantLimit {
    pub const UNLIMITED: Self = Self { per_second: 0.0, burst: 0.0, concurrency: 0 };
}

/// A tenant's place among its requests in progress, held by one request until it is answered.
/// The outer layer puts an empty one in every request, lends it to the storage layer and keeps
/// it until the response is made; authentication fills it once the tenant is known. The
/// request gives it up while a commit is flushed — a disk wait, not work — and takes one again,
/// in its tenant's queue, before it asks for another connection
/// ([`dui_storage::place`]).
#[derive(Debug, Clone, Default)]
pub struct TenantPlace(Arc<Mutex<Held>>);

#[derive(Debug, Default)]
struct Held {
    /// The tenant's places, once the tenant is known.
    gate: Option<Arc<Semaphore>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl TenantPlace {
    pub(crate) fn hold(&self, permit: OwnedSemaphorePermit) {
        let mut held = self.held();
        held.gate = Some(permit.semaphore().clone());
        held.permit = Some(permit);
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl dui_storage::place::Place for TenantPlace {
    fn leave(&self) {
        let permit = self.held().permit.take();
        drop(permit);
    }

    fn left(&self) -> bool {
        let held = self.held();
        held.gate.is_some() && held.permit.is_none()
    }

    fn rejoin(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let gate = {
                let held = self.held();
                match (&held.gate, &held.permit) {
                    (Some(gate), None) => gate.clone(),
                    _ => return,
                }
            };
            // The semaphore is never closed.
            if let Ok(permit) = gate.acquire_owned().await {
                self.held().permit = Some(permit);
            }
        })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of the tenants seen recently.
#[derive(Debug)]
pub struct TenantLimiter {
    limit: TenantLimit,
    buckets: Mutex<HashMap<TenantId, Bucket>>,
    /// Each tenant's places for requests in progress.
    places: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// Buckets idle this long are full again: they are dropped when the map grows.
const IDLE: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 10_000;

impl TenantLimiter {
    pub fn new(limit: TenantLimit) -> Self {
        Self { limit, buckets: Mutex::new(HashMap::new()), places: Mutex::new(HashMap::new()) }
    }

    /// Waits for one of `tenant`'s places for requests in progress (first come, first served);
    /// the place is freed when the permit is dropped. `None` when there is no cap.
    pub async fn enter(&self, tenant: TenantId) -> Option<OwnedSemaphorePermit> {
        let places = self.limit.concurrency;
        if places == 0 {
            return None;
        }
        let gate = {
            let mut gates = self.places.lock().unwrap_or_else(|e| e.into_inner());
            if gates.len() >= MAX_TRACKED {
                // A gate nobody holds or waits for is only referenced by the map.
                gates.retain(|_, gate| Arc::strong_count(gate) > 1);
            }
            gates.entry(tenant).or_insert_with(|| Arc::new(Semaphore::new(places))).clone()
        };
        // The semaphore is never closed.
        gate.acquire_owned().await.ok()
    }

    /// Takes one request from `tenant`'s bucket; `Err(wait)` when it is empty, with how long
    /// until the next request would be admitted.
    pub fn admit(&self, tenant: TenantId) -> Result<(), Duration> {
        self.admit_at(tenant, Instant::now())
    }

    /// Whether `tenant`'s bucket is empty now, without taking from it: for refusing a flood
    /// before verifying its tokens. A token naming a tenant it does not belong to can make its
    /// own request refused, never take from that tenant's bucket.
    pub fn exhausted(&self, tenant: TenantId) -> Option<Duration> {
        self.exhausted_at(tenant, Instant::now())
    }

    fn exhausted_at(&self, tenant: TenantId, now: Instant) -> Option<Duration> {
        let per_second = self.limit.per_second;
        if per_second <= 0.0 {
            return None;
        }
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = self.refilled(buckets.get(&tenant)?, now);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / per_second))
    }

    /// The tokens in `bucket` at `now`: what it held, plus the rate since, up to the burst.
    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.limit.per_second).min(self.limit.burst.max(1.0))
    }

    fn admit_at(&self, tenant: TenantId, now: Instant) -> Result<(), Duration> {
        let TenantLimit { per_second, burst, .. } = self.limit;
        if per_second <= 0.0 {
            return Ok(());
        }
        let capacity = burst.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < IDLE);
        }
        let bucket = buckets.entry(tenant).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u128) -> TenantId {
        TenantId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_tenant_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limiter = TenantLimiter::new(TenantLimit { per_second: 10.0, burst: 5.0, concurrency: 0 });
        let start = Instant::now();
        for _ in 0..5 {
            assert!(limiter.admit_at(tenant(1), start).is_ok());
        }
        let wait = limiter.admit_at(tenant(1), start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(limiter.admit_at(tenant(2), start).is_ok(), "another tenant has its own bucket");
        // A tenth of a second later, one more request; a second later, the burst again (not more).
        assert!(limiter.admit_at(tenant(1), start + Duration::from_millis(100)).is_ok());
        assert!(limiter.admit_at(tenant(1), start + Duration::from_millis(100)).is_err());
        let later = start + Duration::from_secs(2);
        assert_eq!((0..10).filter(|_| limiter.admit_at(tenant(1), later).is_ok()).count(), 5);
    }

    #[test]
    fn looking_at_a_bucket_takes_nothing_from_it() {
        let limiter = TenantLimiter::new(TenantLimit { per_second: 1.0, burst: 2.0, concurrency: 0 });
        let now = Instant::now();
        assert_eq!(limiter.exhausted_at(tenant(1), now), None, "an unknown tenant is not exhausted");
        assert!(limiter.admit_at(tenant(1), now).is_ok());
        for _ in 0..100 {
            assert_eq!(limiter.exhausted_at(tenant(1), now), None);
        }
        assert!(limiter.admit_at(tenant(1), now).is_ok());
        let wait = limiter.exhausted_at(tenant(1), now).expect("empty after two");
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9);
        assert_eq!(limiter.exhausted_at(tenant(1), now + Duration::from_secs(1)), None);
    }

    /// Polls `future` once.
    async fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(std::pin::Pin::new(&mut *future), cx))
        })
        .await
    }

    #[tokio::test]
    async fn requests_over_the_cap_wait_for_their_tenants_turn_and_others_do_not() {
        let limiter = TenantLimiter::new(TenantLimit { per_second: 0.0, burst: 0.0, concurrency: 2 });
        let first = limiter.enter(tenant(1)).await.expect("a place");
        let second = limiter.enter(tenant(1)).await.expect("a place");
        let mut third = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut third).await.is_pending(), "both places are taken");
        let mut other = Box::pin(limiter.enter(tenant(2)));
        assert!(matches!(poll_once(&mut other).await, std::task::Poll::Ready(Some(_))), "another tenant has its own");
        drop(first);
        assert!(
            matches!(poll_once(&mut third).await, std::task::Poll::Ready(Some(_))),
            "a freed place goes to the next"
        );
        drop(second);
        assert!(TenantLimiter::new(TenantLimit::UNLIMITED).enter(tenant(1)).await.is_none(), "no cap, no place");
    }

    #[tokio::test]
    async fn a_place_left_for_a_flush_goes_to_the_next_request_and_is_taken_again_in_turn() {
        use dui_storage::place::Place;
        let limiter = TenantLimiter::new(TenantLimit { per_second: 0.0, burst: 0.0, concurrency: 1 });
        let committing = TenantPlace::default();
        assert!(!committing.left(), "an empty place (no tenant yet) was never left");
        committing.leave();
        assert!(!committing.left());
        committing.hold(limiter.enter(tenant(1)).await.expect("a place"));
        let mut next = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut next).await.is_pending(), "the only place is taken");

        committing.leave();
        assert!(committing.left());
        let next = match poll_once(&mut next).await {
            std::task::Poll::Ready(Some(permit)) => permit,
            _ => panic!("the place left during the flush goes to the next request"),
        };
        // Taking a place again waits in the tenant's queue like anyone else.
        let mut rejoin = committing.rejoin();
        assert!(poll_once(&mut rejoin).await.is_pending(), "the place is the next request's now");
        drop(next);
        assert!(poll_once(&mut rejoin).await.is_ready());
        drop(rejoin);
        assert!(!committing.left(), "held again");
        let mut another = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut another).await.is_pending());
        drop(committing);
        assert!(poll_once(&mut another).await.is_ready(), "the place is freed when the request ends");
    }

    #[test]
    fn no_limit_admits_everything() {
        let limiter = TenantLimiter::new(TenantLimit::UNLIMITED);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit_at(tenant(1), now).is_ok()));
    }
}
