//! From a bearer token to a scope.
//!
//! A token is routed by its (unverified) issuer: the server's own, or an external identity
//! provider found by issuer and audience. Once the signature and claims are verified, the user
//! is loaded from the tenant (under the tenant's row-level security) with their current
//! memberships; a suspended tenant, an unknown user or a disabled one is refused. This happens on
//! every request, so disabling a user or suspending a tenant takes effect at once.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use dui_auth::external::{self, ExternalIssuer};
use dui_auth::own::Subject;
use dui_auth::{AuthError, peek};
use dui_domain::TenantId;
use dui_domain::people::UserStatus;
use dui_domain::scope::{PlatformScope, RequestContext, TenantScope};
use dui_domain::tenant::TenantStatus;
use dui_storage::PrincipalKey;

use crate::middleware::RequestId;
use crate::problem::ApiError;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token.trim())
}

/// Where the request comes from: its id, and the client's address (the peer, or the first
/// `X-Forwarded-For` entry when the server is configured to trust its proxy).
pub fn request_context(parts: &Parts, trust_forwarded_for: bool) -> RequestContext {
    let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
    let forwarded = trust_forwarded_for
        .then(|| parts.headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    RequestContext { request_id, client_address: forwarded.or(peer) }
}

/// What a refused token claimed, and whom it designated if it was genuine.
#[derive(Debug, Default)]
struct Refusal {
    issuer: Option<String>,
    tenant: Option<TenantId>,
    subject: Option<String>,
    verified_user: Option<(TenantId, uuid::Uuid)>,
}

/// At most this many characters of a claimed issuer go into a log line: the claim is the
/// client's, unverified, and may be anything.
const LOGGED_CLAIM_CHARS: usize = 120;

/// Records a refused authentication: always in the refusals' metric, by reason; then, within
/// the rate the state allows (a flood of garbage tokens must not become a flood of writes and
/// log lines), as a warning in the log and a row of `auth_failures`. The token itself is never
/// logged nor stored, only what it claimed. A request without any token is counted only: every
/// browser and probe sends some.
async fn record_refusal(state: &AppState, error: &ApiError, refusal: Refusal, request: &RequestContext) {
    let ApiError::Unauthenticated(reason) = error else { return };
    state.metrics().record_refusal(reason);
    if matches!(reason, AuthError::Missing) || !state.allow_auth_failure_record() {
        return;
    }
    let issuer: Option<String> = refusal.issuer.as_deref().map(|i| i.chars().take(LOGGED_CLAIM_CHARS).collect());
    tracing::warn!(
        reason = reason.code(),
        detail = %reason,
        claimed_issuer = issuer.as_deref(),
        claimed_tenant = refusal.tenant.map(|t| t.to_string()),
        client = request.client_address.map(|a| a.to_string()),
        "authentication refused"
    );
    if let Err(e) = state
        .db()
        .record_auth_failure(
            &reason.to_string(),
            refusal.issuer.as_deref(),
            refusal.tenant,
            refusal.subject.as_deref(),
            refusal.verified_user,
            request,
        )
        .await
    {
        tracing::warn!(error = %e, "cannot record a refused authentication");
    }
}

/// An authenticated user of a tenant. Use it as a handler argument on the tenant API.
#[derive(Debug, Clone)]
pub struct TenantAuth(pub TenantScope);

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request = request_context(parts, state.config().trust_forwarded_for);
        let mut refusal = Refusal::default();
        match authenticate_tenant(parts, state, &mut refusal).await {
            Ok(scope) => Ok(TenantAuth(scope.with_request(request))),
            Err(error) => {
                record_refusal(state, &error, refusal, &request).await;
                Err(error)
            }
        }
    }
}

async fn authenticate_tenant(parts: &Parts, state: &AppState, refusal: &mut Refusal) -> Result<TenantScope, ApiError> {
    let token = bearer(parts)?;
    let peeked = peek(token)?;
    // A tenant over its rate is refused before its token's signature is checked, so that a
    // flood costs as little as possible; its bucket is only drawn on once the token is verified.
    if let Some(wait) = peeked.tenant.and_then(|t| state.limiter().exhausted(TenantId::from_uuid(t))) {
        return Err(ApiError::RateLimited(wait));
    }
    refusal.issuer = peeked.issuer.clone();
    refusal.tenant = peeked.tenant.map(TenantId::from_uuid);
    refusal.subject = peeked.subject.clone();
    let (tenant, key) = if peeked.issuer.as_deref() == Some(state.issuer().issuer()) {
        match state.issuer().verify(token, peeked.key_id.as_deref())? {
            Subject::TenantUser { tenant, user } => {
                refusal.verified_user = Some((tenant, user.as_uuid()));
                (tenant, PrincipalKey::User(user))
            }
            Subject::Operator(_) => {
                return Err(ApiError::Forbidden(
                    "A platform operator's token gives no access to a tenant's data.".to_owned(),
                ));
            }
        }
    } else {
        let issuer = peeked.issuer.as_deref().ok_or(AuthError::MissingClaim("iss".to_owned()))?;
        let resolved =
            state.providers().resolve(state.db(), issuer, &peeked.audiences).await?.ok_or(AuthError::UnknownIssuer)?;
        refusal.tenant = Some(resolved.provider.tenant_id);
        if resolved.tenant_status != TenantStatus::Active {
            return Err(AuthError::TenantSuspended.into());
        }
        let provider = &resolved.provider;
        let subject = external::verify(
            token,
            ExternalIssuer {
                issuer: &provider.issuer,
                audience: &provider.audience,
                jwks_url: &provider.jwks_url,
                subject_claim: &provider.subject_claim,
            },
            state.jwks(),
            state.config().token_leeway_secs,
        )
        .await?;
        refusal.subject = Some(subject.clone());
        (provider.tenant_id, PrincipalKey::External { provider: provider.id, subject })
    };
    // The tenant is known and its token genuine: its rate is checked before any database work,
    // then the request waits for one of the tenant's places, held until it is answered.
    state.limiter().admit(tenant).map_err(ApiError::RateLimited)?;
    if let Some(permit) = state.limiter().enter_within(tenant).await.map_err(ApiError::Busy)? {
        match parts.extensions.get::<crate::limits::TenantPlace>() {
            Some(place) => place.hold(permit),
            None => tracing::error!("a tenant request without its place: not counted against the cap"),
        }
    }
    let principal = match state.db().load_principal(tenant, &key).await {
        Ok(principal) => principal,
        // No such tenant: the token names a tenant that does not exist.
        Err(dui_storage::StoreError::NotFound) => return Err(AuthError::UnknownUser.into()),
        Err(other) => return Err(other.into()),
    };
    if principal.tenant_status != TenantStatus::Active {
        return Err(AuthError::TenantSuspended.into());
    }
    match principal.user {
        None => Err(AuthError::UnknownUser.into()),
        Some((user, UserStatus::Disabled)) => {
            refusal.verified_user = Some((tenant, user.as_uuid()));
            Err(AuthError::UserDisabled.into())
        }
        Some((user, UserStatus::Active)) => Ok(TenantScope::new(tenant, user, principal.grants)),
    }
}

/// An authenticated platform operator. Only the server's own tokens can be operators'.
#[derive(Debug, Clone)]
pub struct PlatformAuth(pub PlatformScope, pub RequestContext);

impl FromRequestParts<AppState> for PlatformAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request = request_context(parts, state.config().trust_forwarded_for);
        let mut refusal = Refusal::default();
        match authenticate_operator(parts, state, &mut refusal).await {
            Ok(scope) => Ok(PlatformAuth(scope, request)),
            Err(error) => {
                record_refusal(state, &error, refusal, &request).await;
                Err(error)
            }
        }
    }
}

async fn authenticate_operator(
    parts: &Parts,
    state: &AppState,
    refusal: &mut Refusal,
) -> Result<PlatformScope, ApiError> {
    let token = bearer(parts)?;
    let peeked = peek(token)?;
    refusal.issuer = peeked.issuer.clone();
    refusal.subject = peeked.subject.clone();
    if peeked.issuer.as_deref() != Some(state.issuer().issuer()) {
        return Err(AuthError::UnknownIssuer.into());
    }
    match state.issuer().verify(token, peeked.key_id.as_deref())? {
        Subject::Operator(operator) => {
            if state.db().operator_is_active(operator).await? {
                Ok(PlatformScope::new(operator))
            } else {
                Err(AuthError::UnknownUser.into())
            }
        }
        Subject::TenantUser { .. } => {
            Err(ApiError::Forbidden("The platform API is for platform operators only.".to_owned()))
        }
    }
}
