//! The HTTP API of dui.
//!
//! * `/api/v1/...`: the tenant API. The tenant comes from the token, never from the URL.
//! * `/platform/v1/...`: the platform API, for platform operators.
//! * `/livez`, `/readyz`, `/metrics`, `/.well-known/jwks.json`, `/api/v1/openapi.json`.
//!
//! Handlers are thin: they authenticate (extractors in [`auth`]), validate with the domain,
//! decide with [`dui_domain::policy`], and call storage with the caller's scope.

pub mod auth;
pub mod connections;
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
    let gate = connections::Gate::new(state.config().connections);
    let signal_state = state.clone();
    let mut stop = std::pin::pin!(async move {
        shutdown.await;
        signal_state.begin_shutdown();
        tracing::info!(delay_secs = delay.as_secs(), "shutting down: readiness now fails");
        tokio::time::sleep(delay).await;
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(gate.limits().header_read_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection that failed before it was
                    // accepted: the listener goes on after a pause.
                    tracing::warn!(%error, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let admitted = match gate.admit(peer) {
            Ok(admitted) => admitted,
            Err(why) => {
                tracing::debug!(?why, client = %peer.ip(), "a connection over the caps closed");
                continue;
            }
        };
        // No Nagle delay on responses: a response written in more than one segment must not
        // wait for the client's (delayed, up to 40 ms) acknowledgement of the first.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            let _place = admitted;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    // In-flight requests get `grace` to finish; idle connections close now.
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("in-flight requests did not finish within the grace period"),
    }
    state.db().close();
    tracing::info!("server stopped");
    Ok(())
}
