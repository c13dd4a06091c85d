//! Per-tenant request limits: one tenant flooding the server (a runaway integration, a script
//! in a loop) is answered `429 Too Many Requests` with `Retry-After`, and the others keep their
//! latency. A token bucket per tenant, checked right after the token is verified and before
//! any database work, so a refused request costs microseconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dui_domain::TenantId;

/// How much one tenant may ask of one server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TenantLimit {
    /// Sustained requests per second (0: no limit).
    pub per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: f64,
}

impl TenantLimit {
    pub const UNLIMITED: Self = Self { per_second: 0.0, burst: 0.0 };
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
}

/// Buckets idle this long are full again: they are dropped when the map grows.
const IDLE: Duration = Duration::from_secs(60);
const MAX_TRACKED: usize = 10_000;

impl TenantLimiter {
    pub fn new(limit: TenantLimit) -> Self {
        Self { limit, buckets: Mutex::new(HashMap::new()) }
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
        let TenantLimit { per_second, burst } = self.limit;
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
        let limiter = TenantLimiter::new(TenantLimit { per_second: 10.0, burst: 5.0 });
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
        let limiter = TenantLimiter::new(TenantLimit { per_second: 1.0, burst: 2.0 });
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

    #[test]
    fn no_limit_admits_everything() {
        let limiter = TenantLimiter::new(TenantLimit::UNLIMITED);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit_at(tenant(1), now).is_ok()));
    }
}
