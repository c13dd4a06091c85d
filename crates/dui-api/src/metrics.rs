//! Prometheus metrics: request counts and latency by route and status, pool usage, and refused
//! authentications by reason.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/api/v1/users/{user_id}`), never the concrete path, so ids do not
    /// multiply the series.
    route: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    /// [`dui_auth::AuthError::code`]: a closed set, so the series stay few.
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pool: Family<PoolLabels, Gauge>,
    refusals: Family<RefusalLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("dui");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        registry.register("db_pool_connections", "Database pool connections by state", pool.clone());
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register("auth_refusals", "Refused authentications by the check that failed", refusals.clone());
        Self { registry: Arc::new(registry), requests, latency, pool, refusals }
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels { method: method.to_owned(), route: route.to_owned(), status: status.to_string() };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// Counts a refused authentication.
    pub fn record_refusal(&self, error: &dui_auth::AuthError) {
        self.refusals.get_or_create(&RefusalLabels { reason: error.code() }).inc();
    }

    /// Renders the OpenMetrics text, with the pool gauges read now.
    pub fn render(&self, pool: dui_storage::PoolStatus) -> String {
        for (state, value) in
            [("max", pool.max_size), ("open", pool.size), ("idle", pool.available), ("waiting", pool.waiting)]
        {
            self.pool
                .get_or_create(&PoolLabels { state: state.to_owned() })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
