//! The load generator: open loop at a fixed arrival rate (each request's latency counts from
//! when it was due, not from when it could be sent, so a slow server is not hidden by a
//! generator that waits for it: no coordinated omission), and closed loop with a fixed number of
//! workers to find saturation. Latencies go to HDR histograms (microseconds, 3 significant
//! digits).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The server answered 429.
    RateLimited,
    /// Another unexpected answer or error.
    Other(String),
}

pub type Call<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// One kind of request; `i` numbers the calls (to spread them over users and residents).
pub trait Operation: Send + Sync {
    fn call(&self, i: u64) -> Call<'_>;
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub latencies: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub rate_limited: u64,
    /// Calls not sent because too many were in flight (the generator's own limit).
    pub dropped: u64,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

/// An outcome in figures, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub offered_per_s: Option<f64>,
    pub achieved_per_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub rate_limited: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub first_error: Option<String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self::new()
    }
}

impl Outcome {
    fn new() -> Self {
        Self {
            latencies: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds"),
            ok: 0,
            errors: 0,
            rate_limited: 0,
            dropped: 0,
            elapsed: Duration::ZERO,
            first_error: None,
        }
    }

    fn record(&mut self, latency: Duration, result: Result<(), Failure>) {
        match result {
            Ok(()) => {
                self.ok += 1;
                let micros = (latency.as_micros() as u64).clamp(1, 120_000_000);
                let _ = self.latencies.record(micros);
            }
            Err(Failure::RateLimited) => self.rate_limited += 1,
            Err(Failure::Other(why)) => {
                self.errors += 1;
                self.first_error.get_or_insert(why);
            }
        }
    }

    /// Adds `other`'s calls to these (its time too: for runs made one after the other).
    pub fn merge(&mut self, other: Outcome) {
        let _ = self.latencies.add(&other.latencies);
        self.ok += other.ok;
        self.errors += other.errors;
        self.rate_limited += other.rate_limited;
        self.dropped += other.dropped;
        self.elapsed += other.elapsed;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    pub fn achieved(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() { 0.0 } else { self.latencies.value_at_quantile(q) as f64 / 1000.0 }
    }

    pub fn figures(&self, offered: Option<f64>) -> Figures {
        Figures {
            offered_per_s: offered,
            achieved_per_s: self.achieved(),
            requests: self.ok + self.errors + self.rate_limited + self.dropped,
            errors: self.errors + self.dropped,
            rate_limited: self.rate_limited,
            p50_ms: self.quantile_ms(0.50),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
            max_ms: if self.latencies.is_empty() { 0.0 } else { self.latencies.max() as f64 / 1000.0 },
            first_error: self.first_error.clone(),
        }
    }
}

/// The most calls in flight at once in an open-loop run; beyond, calls are dropped and counted
/// as errors (the server is far past saturation).
const MAX_IN_FLIGHT: usize = 4_000;

/// Calls `op` at `rate` per second for `duration`, each at its due time whatever the answers.
pub async fn open_loop(op: Arc<dyn Operation>, rate: f64, duration: Duration, offset: u64) -> Outcome {
    let outcome = Arc::new(Mutex::new(Outcome::new()));
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = Instant::now();
    let total = (duration.as_secs_f64() * rate).round().max(1.0) as u64;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        if in_flight.load(std::sync::atomic::Ordering::Relaxed) >= MAX_IN_FLIGHT {
            outcome.lock().unwrap_or_else(|e| e.into_inner()).dropped += 1;
            continue;
        }
        in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (op, outcome, in_flight) = (op.clone(), outcome.clone(), in_flight.clone());
        tasks.spawn(async move {
            let result = op.call(offset + n).await;
            let latency = due.elapsed();
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            outcome.lock().unwrap_or_else(|e| e.into_inner()).record(latency, result);
        });
        // Reap finished tasks now and then so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    let sending = start.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(60), async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    let mut outcome = Arc::try_unwrap(outcome)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|shared| shared.lock().unwrap_or_else(|e| e.into_inner()).clone());
    // The achieved rate is over the sending period (the tail only drains what was sent).
    outcome.elapsed = sending.max(duration.mul_f64(0.5));
    outcome
}

/// `workers` callers, each sending its next call when the previous one is answered, for
/// `duration`: the throughput at saturation.
pub async fn closed_loop(op: Arc<dyn Operation>, workers: usize, duration: Duration, offset: u64) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let op = op.clone();
        tasks.spawn(async move {
            let mut outcome = Outcome::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let began = Instant::now();
                let result = op.call(offset + n * workers as u64 + w as u64).await;
                outcome.record(began.elapsed(), result);
                n += 1;
            }
            outcome
        });
    }
    gathered(tasks, start).await
}

/// The outcomes of the callers, merged, over the time since `start`.
async fn gathered(mut tasks: tokio::task::JoinSet<Outcome>, start: Instant) -> Outcome {
    let mut total = Outcome::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(part) = done {
            total.merge(part);
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Exactly the calls `offset..offset + count`, by `workers` callers (a warm-up that visits
/// every virtual user once).
pub async fn sweep(op: Arc<dyn Operation>, workers: usize, count: u64, offset: u64) -> Outcome {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..workers {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut outcome = Outcome::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return outcome;
                }
                let began = Instant::now();
                let result = op.call(offset + n).await;
                outcome.record(began.elapsed(), result);
            }
        });
    }
    gathered(tasks, start).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers after a fixed delay, one call at a time (a server with one worker).
    struct Slow {
        lock: tokio::sync::Mutex<()>,
        delay: Duration,
    }

    impl Operation for Slow {
        fn call(&self, _: u64) -> Call<'_> {
            Box::pin(async move {
                let _one = self.lock.lock().await;
                tokio::time::sleep(self.delay).await;
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn an_open_loop_counts_the_wait_of_calls_queued_behind_a_slow_server() {
        // 10 ms per call, one at a time: at most 100 calls/s. Offered 200/s for 0.5 s, calls
        // queue, and the latency of the last ones includes their wait (about 0.5 s), which a
        // closed loop would not show.
        let op: Arc<dyn Operation> = Arc::new(Slow { lock: Default::default(), delay: Duration::from_millis(10) });
        let open = open_loop(op.clone(), 200.0, Duration::from_millis(500), 0).await;
        assert_eq!(open.ok, 100);
        assert!(open.quantile_ms(0.99) > 300.0, "queued calls count their wait: {}", open.quantile_ms(0.99));
        let closed = closed_loop(op, 1, Duration::from_millis(300), 0).await;
        assert!(closed.quantile_ms(0.99) < 40.0, "{}", closed.quantile_ms(0.99));
        assert!((20.0..=110.0).contains(&closed.achieved()), "{}", closed.achieved());
    }

    struct Refusing;

    impl Operation for Refusing {
        fn call(&self, i: u64) -> Call<'_> {
            Box::pin(async move {
                match i % 3 {
                    0 => Ok(()),
                    1 => Err(Failure::RateLimited),
                    _ => Err(Failure::Other(format!("call {i} failed"))),
                }
            })
        }
    }

    #[tokio::test]
    async fn refusals_and_errors_are_counted_apart() {
        let outcome = open_loop(Arc::new(Refusing), 300.0, Duration::from_millis(100), 0).await;
        let figures = outcome.figures(Some(300.0));
        assert_eq!((outcome.ok, outcome.rate_limited, outcome.errors), (10, 10, 10));
        assert_eq!(figures.requests, 30);
        assert_eq!(figures.first_error.as_deref(), Some("call 2 failed"));
    }
}
