//! The HTTP API of dui.
//!
//! * `/api/v1/...`: the tenant API. The tenant comes from the token, never from the URL.
//! * `/platform/v1/...`: the platform API, for platform operators.
//! * `/livez`, `/readyz`, `/metrics`, `/.well-known/jwks.json`, `/api/v1/openapi.json`.
//!
//! Handlers are thin: they authenticate (extractors in [`auth`]), validate with the domain,
//! decide with [`dui_domain::policy`], and call storage with the caller's scope.

pub mod auth;
pub mod extract;
pub mod limits;
mod metrics;
pub mod middleware;
pub mod pagination;
pub mod problem;
mod providers;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::{ApiConfig, AppState};

use crate::routes::{platform, system, tenant_routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dui",
        description = "The dossier usager informatisé (DUI) server for social and medico-social services. \
                       Errors are RFC 9457 problem details (application/problem+json).",
        license(name = "EUPL-1.2")
    ),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(schemas(problem::Problem)),
    tags(
        (name = "system", description = "Probes, metrics, keys"),
        (name = "structure", description = "Establishments and units of your tenant"),
        (name = "people", description = "Users, roles and identities of your tenant"),
        (name = "residents", description = "The people supported: their records and the professionals' notes"),
        (name = "audit", description = "The tenant's audit trail"),
        (name = "outbox", description = "What leaves the system: messages, their attempts, retry and cancel"),
        (name = "platform", description = "Tenants, for platform operators"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

fn platform_routes() -> OpenApiRouter<AppState> {
    platform::routes()
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::livez))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
        .routes(routes!(system::jwks))
        .nest("/api/v1", tenant_routes())
        .nest("/platform/v1", platform_routes())
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_router().split_for_parts();
    // The probes and the key set are public.
    for path in ["/livez", "/readyz", "/metrics", "/.well-known/jwks.json"] {
        if let Some(item) = doc.paths.paths.get_mut(path)
            && let Some(get) = item.get.as_mut()
        {
            get.security = Some(vec![utoipa::openapi::security::SecurityRequirement::default()]);
        }
    }
    doc
}

/// The OpenAPI document as served and as committed in `docs/openapi.json`.
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = openapi().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    })
}

async fn serve_openapi() -> Response {
    let mut response = openapi_json().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    let body_limit = state.config().body_limit_bytes;
    router
        .route("/api/v1/openapi.json", axum::routing::get(serve_openapi))
        .route_layer(axum::middleware::from_fn(middleware::capture_route))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::outer))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains in-flight requests for at
/// most `grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    delay: Duration,
    grace: Duration,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let (drain_started_tx, drain_started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal_state = state.clone();
    let graceful = async move {
        shutdown.await;
        signal_state.begin_shutdown();
        tracing::info!(delay_secs = delay.as_secs(), "shutting down: readiness now fails");
        tokio::time::sleep(delay).await;
        let _ = drain_started_tx.send(());
    };
    // No Nagle delay on responses: a response written in more than one segment must not wait
    // for the client's (delayed, up to 40 ms) acknowledgement of the first.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
    });
    let server =
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(graceful);
    let server = std::pin::pin!(server.into_future());
    let result = tokio::select! {
        result = server => result,
        // Once draining starts, in-flight requests get `grace` to finish.
        () = async {
            let _ = drain_started_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    };
    state.db().close();
    tracing::info!("server stopped");
    result
}
