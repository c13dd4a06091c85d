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

/// How much one tenant may ask of one server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TenantLimit {
    /// Sustained requests per second (0: no limit).
    pub per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: f64,
    /// Requests in progress at once while other tenants are at work (0: no cap); the others
    /// wait for their turn.
    pub concurrency: usize,
    /// Requests in progress at once for a tenant alone at work (at least `concurrency`): the
    /// machine is not left idle when only one tenant asks.
    pub alone: usize,
    /// How long a request may wait in its tenant's queue for a place; past it the request is
    /// answered 503 with `Retry-After` (load shed: under an overload the queue stays short and
    /// memory bounded, instead of every request waiting until its timeout). Zero: no bound.
    pub queue_timeout: Duration,
}

impl TenantLimit {
    pub const UNLIMITED: Self =
        Self { per_second: 0.0, burst: 0.0, concurrency: 0, alone: 0, queue_timeout: Duration::ZERO };
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
    /// The tenant's queue, once the tenant is known.
    gate: Option<(Arc<Admission>, TenantId)>,
    permit: Option<Permit>,
}

impl TenantPlace {
    pub(crate) fn hold(&self, permit: Permit) {
        let mut held = self.held();
        held.gate = Some((permit.admission.clone(), permit.tenant));
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
            let (admission, tenant) = {
                let held = self.held();
                match (&held.gate, &held.permit) {
                    (Some(gate), None) => gate.clone(),
                    _ => return,
                }
            };
            let permit = Admission::enter(&admission, tenant).await;
            self.held().permit = Some(permit);
        })
    }
}

/// The places of every tenant's requests in progress. A tenant takes a place while it holds
/// fewer than its share (`concurrency`), or fewer than `alone` when no other tenant holds or
/// waits for one, nor did for a moment ([`QUIET`]: a neighbour sending a request now and then is
/// not idle); otherwise its request waits in the tenant's own queue, first come first served. A
/// tenant that borrowed places while alone keeps them until its requests end (a few
/// milliseconds), but takes no more once another tenant asks.
#[derive(Debug)]
pub(crate) struct Admission {
    share: usize,
    alone: usize,
    quiet: Duration,
    state: Mutex<Tenants>,
}

/// How long the other tenants must have been idle before one tenant may use their places.
const QUIET: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Tenants {
    queues: HashMap<TenantId, Queue>,
    /// Tenants holding or waiting for a place.
    active: usize,
    /// When two tenants or more were last at work at once.
    shared_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Queue {
    held: usize,
    waiting: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>>,
}

impl Queue {
    fn active(&self) -> bool {
        self.held > 0 || !self.waiting.is_empty()
    }
}

/// A place held; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    tenant: TenantId,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(self.tenant);
    }
}

/// A request waiting in its tenant's queue; a place granted to it after it gave up waiting is
/// given back.
struct Waiting {
    admission: Arc<Admission>,
    tenant: TenantId,
    granted: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut granted) = self.granted.take() {
            granted.close();
            if granted.try_recv().is_ok() {
                self.admission.release(self.tenant);
            }
        }
    }
}

impl Admission {
    fn new(share: usize, alone: usize, quiet: Duration) -> Self {
        let tenants = Tenants { queues: HashMap::new(), active: 0, shared_at: None };
        Self { share, alone: alone.max(share), quiet, state: Mutex::new(tenants) }
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, Tenants> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `tenant`, holding `held` places, may take one more now.
    fn may_take(&self, tenants: &Tenants, tenant: TenantId, held: usize) -> bool {
        if held < self.share {
            return true;
        }
        let others = tenants.active - usize::from(tenants.queues.get(&tenant).is_some_and(Queue::active));
        held < self.alone && others == 0 && tenants.shared_at.is_none_or(|at| at.elapsed() >= self.quiet)
    }

    async fn enter(admission: &Arc<Self>, tenant: TenantId) -> Permit {
        let granted = {
            let mut tenants = admission.tenants();
            if tenants.queues.len() >= MAX_TRACKED {
                tenants.queues.retain(|_, queue| queue.active());
            }
            let held = tenants.queues.get(&tenant).map_or(0, |q| q.held);
            let queued = tenants.queues.get(&tenant).is_some_and(|q| !q.waiting.is_empty());
            let was_active = tenants.queues.get(&tenant).is_some_and(Queue::active);
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let take = !queued && admission.may_take(&tenants, tenant, held);
            let queue = tenants.queues.entry(tenant).or_default();
            if take {
                queue.held += 1;
            } else {
                queue.waiting.push_back(sender);
            }
            if !was_active {
                tenants.active += 1;
                if tenants.active > 1 {
                    tenants.shared_at = Some(Instant::now());
                }
            }
            (!take).then_some(receiver)
        };
        if let Some(receiver) = granted {
            let mut waiting = Waiting { admission: admission.clone(), tenant, granted: Some(receiver) };
            if let Some(receiver) = waiting.granted.as_mut() {
                // The sender is dropped only after sending, or when the limiter goes away with
                // the server: either way the request goes on.
                let _ = receiver.await;
            }
            waiting.granted = None;
        }
        // Made once the place is held: a request dropped while waiting gives back none.
        Permit { admission: admission.clone(), tenant }
    }

    fn release(&self, tenant: TenantId) {
        let mut tenants = self.tenants();
        let Some(queue) = tenants.queues.get_mut(&tenant) else { return };
        queue.held = queue.held.saturating_sub(1);
        if !queue.active() {
            if tenants.active > 1 {
                tenants.shared_at = Some(Instant::now());
            }
            tenants.active = tenants.active.saturating_sub(1);
        }
        self.grant(&mut tenants, tenant);
        if tenants.active == 1 {
            // The others went quiet: the one left may use the places they left.
            if let Some(alone) = tenants.queues.iter().find(|(_, q)| q.active()).map(|(t, _)| *t) {
                self.grant(&mut tenants, alone);
            }
        }
    }

    /// Gives `tenant`'s waiting requests the places they may take now.
    fn grant(&self, tenants: &mut Tenants, tenant: TenantId) {
        loop {
            let Some(queue) = tenants.queues.get(&tenant) else { return };
            if queue.waiting.is_empty() || !self.may_take(tenants, tenant, queue.held) {
                return;
            }
            let Some(queue) = tenants.queues.get_mut(&tenant) else { return };
            let Some(next) = queue.waiting.pop_front() else { return };
            queue.held += 1;
            if next.send(()).is_err() {
                // That request stopped waiting.
                queue.held -= 1;
                if !queue.active() {
                    tenants.active = tenants.active.saturating_sub(1);
                }
            }
        }
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
    places: Arc<Admission>,
}

/// Buckets idle this long are full again: they are dropped when the map grows.
const IDLE: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 10_000;

impl TenantLimiter {
    pub fn new(limit: TenantLimit) -> Self {
        Self::with_quiet(limit, QUIET)
    }

    /// A limiter whose tenants may use the idle places once the others were quiet for `quiet`.
    fn with_quiet(limit: TenantLimit, quiet: Duration) -> Self {
        let places = Arc::new(Admission::new(limit.concurrency, limit.alone, quiet));
        Self { limit, buckets: Mutex::new(HashMap::new()), places }
    }

    /// Waits for one of `tenant`'s places for requests in progress (first come, first served);
    /// the place is freed when the permit is dropped. `None` when there is no cap.
    pub async fn enter(&self, tenant: TenantId) -> Option<Permit> {
        if self.limit.concurrency == 0 {
            return None;
        }
        Some(Admission::enter(&self.places, tenant).await)
    }

    /// [`TenantLimiter::enter`] for a new request: it waits at most the limit's queue timeout,
    /// and `Err(waited)` when no place came in that time (the request gives up its turn).
    pub async fn enter_within(&self, tenant: TenantId) -> Result<Option<Permit>, Duration> {
        let timeout = self.limit.queue_timeout;
        if timeout.is_zero() {
            return Ok(self.enter(tenant).await);
        }
        tokio::time::timeout(timeout, self.enter(tenant)).await.map_err(|_| timeout)
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
        let limiter = TenantLimiter::new(TenantLimit { per_second: 10.0, burst: 5.0, ..TenantLimit::UNLIMITED });
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
        let limiter = TenantLimiter::new(TenantLimit { per_second: 1.0, burst: 2.0, ..TenantLimit::UNLIMITED });
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
        let limiter = TenantLimiter::new(TenantLimit { concurrency: 2, alone: 2, ..TenantLimit::UNLIMITED });
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
    async fn a_request_waits_for_its_turn_no_longer_than_the_queue_timeout_and_gives_it_up() {
        let limit = TenantLimit {
            concurrency: 1,
            alone: 1,
            queue_timeout: Duration::from_millis(300),
            ..TenantLimit::UNLIMITED
        };
        let limiter = TenantLimiter::new(limit);
        let held = limiter.enter_within(tenant(1)).await.expect("a place at once").expect("a cap");
        let started = Instant::now();
        assert_eq!(limiter.enter_within(tenant(1)).await.err(), Some(Duration::from_millis(300)), "shed");
        assert!(started.elapsed() >= Duration::from_millis(300), "after waiting the queue timeout");
        // The request that gave up left no claim behind: the freed place goes to the next one.
        drop(held);
        let mut next = Box::pin(limiter.enter_within(tenant(1)));
        assert!(matches!(poll_once(&mut next).await, std::task::Poll::Ready(Ok(Some(_)))), "the place is free again");
        drop(next);
        // A waiter served within the timeout is not shed.
        let first = limiter.enter(tenant(2)).await.expect("a place");
        let waiter = limiter.enter_within(tenant(2));
        let release = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(first);
        };
        let (served, ()) = tokio::join!(waiter, release);
        assert!(matches!(served, Ok(Some(_))), "served after 50 ms of waiting");
    }

    #[tokio::test]
    async fn a_place_left_for_a_flush_goes_to_the_next_request_and_is_taken_again_in_turn() {
        use dui_storage::place::Place;
        let limiter = TenantLimiter::new(TenantLimit { concurrency: 1, alone: 1, ..TenantLimit::UNLIMITED });
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

    #[tokio::test]
    async fn a_tenant_alone_uses_the_idle_places_and_stops_borrowing_when_another_asks() {
        let limit = TenantLimit { concurrency: 2, alone: 5, ..TenantLimit::UNLIMITED };
        let limiter = TenantLimiter::with_quiet(limit, Duration::ZERO);
        let mut big = Vec::new();
        for _ in 0..5 {
            big.push(limiter.enter(tenant(1)).await.expect("a place while alone"));
        }
        let mut sixth = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut sixth).await.is_pending(), "never more than `alone`");

        // Another tenant asks: it gets its share at once, and the large one borrows no more.
        let small = limiter.enter(tenant(2)).await.expect("its share");
        drop(big.pop());
        assert!(poll_once(&mut sixth).await.is_pending(), "4 held, over its share of 2 while another works");
        drop(big.pop());
        drop(big.pop());
        assert!(poll_once(&mut sixth).await.is_pending(), "2 held: its share is full");
        drop(big.pop());
        let sixth = match poll_once(&mut sixth).await {
            std::task::Poll::Ready(Some(permit)) => permit,
            _ => panic!("under its share again"),
        };
        // The other goes quiet: the large one may borrow again, up to `alone`.
        let mut more = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut more).await.is_pending());
        drop(small);
        assert!(matches!(poll_once(&mut more).await, std::task::Poll::Ready(Some(_))), "alone again");
        drop(sixth);
    }

    #[tokio::test]
    async fn a_neighbour_working_now_and_then_is_not_idle() {
        let limit = TenantLimit { concurrency: 1, alone: 4, ..TenantLimit::UNLIMITED };
        let limiter = TenantLimiter::with_quiet(limit, Duration::from_secs(3600));
        let mut alone = Vec::new();
        for _ in 0..4 {
            let mut next = Box::pin(limiter.enter(tenant(1)));
            match poll_once(&mut next).await {
                std::task::Poll::Ready(Some(permit)) => alone.push(permit),
                _ => panic!("nobody else ever asked: all four places at once"),
            }
        }
        drop(alone);
        let neighbour = limiter.enter(tenant(2)).await;
        let _first = limiter.enter(tenant(1)).await.expect("its share");
        drop(neighbour);
        let mut second = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut second).await.is_pending(), "the neighbour was at work a moment ago");
    }

    #[tokio::test]
    async fn a_request_that_stops_waiting_leaves_no_place_taken() {
        let limiter = TenantLimiter::new(TenantLimit { concurrency: 1, alone: 1, ..TenantLimit::UNLIMITED });
        let first = limiter.enter(tenant(1)).await.expect("a place");
        let mut abandoned = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut abandoned).await.is_pending());
        let mut next = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut next).await.is_pending());
        drop(abandoned);
        drop(first);
        assert!(matches!(poll_once(&mut next).await, std::task::Poll::Ready(Some(_))), "the place skips the one gone");
        drop(next);
        // Granted, then dropped before it was polled: the place comes back.
        let first = limiter.enter(tenant(1)).await.expect("a place");
        let mut granted_late = Box::pin(limiter.enter(tenant(1)));
        assert!(poll_once(&mut granted_late).await.is_pending());
        drop(first);
        drop(granted_late);
        let mut last = Box::pin(limiter.enter(tenant(1)));
        assert!(matches!(poll_once(&mut last).await, std::task::Poll::Ready(Some(_))), "nothing leaked");
    }

    #[test]
    fn no_limit_admits_everything() {
        let limiter = TenantLimiter::new(TenantLimit::UNLIMITED);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit_at(tenant(1), now).is_ok()));
    }
}
