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
        (name = "drugs", description = "The drug referential (national public drug database), the same for every tenant"),
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
    // Free texts the server trims and checks: their real form.
    let texts = [
        ("CreateUnit", "name", extract::TEXT),
        ("UpdateUnit", "name", extract::TEXT),
        ("OpenEmergencyAccess", "reason", extract::TEXT_10),
        ("MergeResidents", "reason", extract::TEXT),
        ("UnmergeResidents", "reason", extract::TEXT),
        ("FlagNoteError", "reason", extract::TEXT_3),
        ("FlagMeasurementError", "reason", extract::TEXT_3),
        ("FlagEntryError", "reason", extract::TEXT_3),
        ("CreateAllergy", "substance", extract::TEXT),
        ("CreateFall", "circumstances", extract::TEXT),
        ("CreateProblem", "text", extract::TEXT),
        ("CreateVaccination", "vaccine", extract::TEXT),
        ("CreatePhysician", "name", extract::TEXT),
        ("Prescriber", "name", extract::TEXT),
        ("Dose", "unit", extract::TEXT),
        ("StopBody", "reason", extract::TEXT_3),
        ("ReviewEmergencyAccess", "comment", extract::TEXT),
    ];
    if let Some(components) = doc.components.as_mut() {
        for (schema, property, pattern) in texts {
            if let Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(object))) =
                components.schemas.get_mut(schema)
                && let Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(field))) =
                    object.properties.get_mut(property)
            {
                field.pattern = Some(pattern.to_owned());
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
        for operation in operations {
            document_common_answers(operation);
        }
    }
    doc
}

/// Says what every operation may answer besides its own outcomes, as the server really does:
/// problems are `application/problem+json`; an operation that reads a path, a query or a body
/// may answer 400 (unreadable) and 404 (no such path id); one with a body 413, 415 and 422; one
/// behind a token 401 (none, or not valid) and 403 (a token of the other context, or a role
/// that may not); the tenant's operations 429 (over the tenant's rate); every operation 503
/// (the request's time is up, or the database is away).
fn document_common_answers(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{RefOr, ResponseBuilder};

    let problem_type = "application/problem+json";
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else { continue };
        let is_problem = |content: &RefOr<utoipa::openapi::Content>| {
            matches!(content, RefOr::T(content)
                if matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")))
        };
        if let Some(content) = response.content.get("application/json").filter(|c| is_problem(c)).cloned() {
            response.content.shift_remove("application/json");
            response.content.insert(problem_type.to_owned(), content);
        }
    }
    let parameters: Vec<ParameterIn> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.parameter_in.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_path = parameters.iter().any(|p| matches!(p, ParameterIn::Path));
    let reads_input = !parameters.is_empty() || operation.request_body.is_some();
    let secured = operation.security.as_ref().is_none_or(|s| s.iter().any(|r| *r != Default::default()));
    let tenant = operation.tags.iter().flatten().all(|t| t != "platform" && t != "system");
    let mut common: Vec<(&str, &str)> = Vec::new();
    if reads_input {
        common.push(("400", "The path, the query or the body cannot be read."));
    }
    if has_path {
        common.push(("404", "No such resource, or none the caller may reach."));
    }
    if parameters.iter().any(|p| matches!(p, ParameterIn::Query)) {
        common.push(("422", "The query's values do not fit together (the problem names them)."));
    }
    if operation.request_body.is_some() {
        common.extend([
            ("413", "The body is larger than the server accepts."),
            ("415", "The body is not of a type the operation reads."),
            ("422", "The body does not say what the operation needs (the problem names the fields)."),
        ]);
    }
    if secured {
        common.extend([
            ("401", "No bearer token, or one that is not valid."),
            ("403", "The token's context or the caller's roles do not allow this."),
        ]);
    }
    if secured && tenant {
        common.push(("429", "The tenant is over its rate; `Retry-After` says when to retry."));
    }
    common.push(("503", "The request's time is up, or the database is unavailable; retry later."));
    for (status, description) in common {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            let content = utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                .build();
            RefOr::T(ResponseBuilder::new().description(description).content(problem_type, content).build())
        });
    }
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
    // hyper's own header timeout runs from the end of the previous answer: it bounds how long a
    // kept-alive connection waits idle. The few seconds a request's headers may take once they
    // start are watched by `HeadDeadline`.
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(gate.limits().keep_alive_idle);
    // hyper answers 431 to a request line and headers over this size, whether they arrive in
    // pieces or at once (its buffer's own cap, about 400 kB, applies only to pieces), and to
    // more than 100 headers.
    http.max_header_size(gate.limits().max_header_bytes);
    let head_limit = gate.limits().header_read_timeout;
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
            hyper_util::rt::TokioIo::new(connections::HeadDeadline::new(stream, head_limit)),
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
