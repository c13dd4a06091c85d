//! From a bearer token to a scope.
//!
//! A token is routed by its (unverified) issuer: the server's own, or an external identity
//! provider found by issuer and audience. Once the signature and claims are verified, the user
//! is loaded from the tenant (under the tenant's row-level security) with their current
//! memberships; a suspended tenant, an unknown user or a disabled one is refused. This happens on
//! every request, so disabling a user or suspending a tenant takes effect at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use dui_auth::external::{self, ExternalIssuer};
use dui_auth::own::Subject;
use dui_auth::{AuthError, peek};
use dui_domain::people::UserStatus;
use dui_domain::scope::{PlatformScope, TenantScope};
use dui_domain::tenant::TenantStatus;
use dui_storage::{PrincipalKey, ResolvedProvider};

use crate::problem::ApiError;
use crate::state::AppState;

/// Remembers which identity provider (if any) serves an issuer and audience, so that neither
/// valid nor garbage tokens cost a database look-up each.
/// A token's issuer and audiences.
type ProviderKey = (String, Vec<String>);
/// What the database said for a key (possibly nothing), and when.
type ProviderEntry = (Option<ResolvedProvider>, Instant);

#[derive(Debug)]
pub(crate) struct ProviderCache {
    ttl: Duration,
    entries: Mutex<HashMap<ProviderKey, ProviderEntry>>,
}

/// Bounds the cache: tokens with made-up issuers must not grow it without limit.
const PROVIDER_CACHE_MAX: usize = 10_000;

impl ProviderCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    async fn resolve(
        &self,
        state: &AppState,
        issuer: &str,
        audiences: &[String],
    ) -> Result<Option<ResolvedProvider>, ApiError> {
        let key = (issuer.to_owned(), audiences.to_vec());
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((provider, at)) = entries.get(&key)
                && at.elapsed() < self.ttl
            {
                return Ok(provider.clone());
            }
        }
        let provider = state.db().resolve_identity_provider(issuer, audiences).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= PROVIDER_CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (provider.clone(), Instant::now()));
        Ok(provider)
    }

    /// Forgets everything: called when this process changes a provider.
    pub(crate) fn invalidate(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token.trim())
}

/// An authenticated user of a tenant. Use it as a handler argument on the tenant API.
#[derive(Debug, Clone)]
pub struct TenantAuth(pub TenantScope);

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let peeked = peek(token)?;
        let (tenant, key) = if peeked.issuer.as_deref() == Some(state.issuer().issuer()) {
            match state.issuer().verify(token, peeked.key_id.as_deref())? {
                Subject::TenantUser { tenant, user } => (tenant, PrincipalKey::User(user)),
                Subject::Operator(_) => {
                    return Err(ApiError::Forbidden(
                        "A platform operator's token gives no access to a tenant's data.".to_owned(),
                    ));
                }
            }
        } else {
            let issuer = peeked.issuer.as_deref().ok_or(AuthError::MissingClaim("iss".to_owned()))?;
            let resolved =
                state.providers().resolve(state, issuer, &peeked.audiences).await?.ok_or(AuthError::UnknownIssuer)?;
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
            (provider.tenant_id, PrincipalKey::External { provider: provider.id, subject })
        };
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
            Some((_, UserStatus::Disabled)) => Err(AuthError::UserDisabled.into()),
            Some((user, UserStatus::Active)) => Ok(TenantAuth(TenantScope::new(tenant, user, principal.grants))),
        }
    }
}

/// An authenticated platform operator. Only the server's own tokens can be operators'.
#[derive(Debug, Clone, Copy)]
pub struct PlatformAuth(pub PlatformScope);

impl FromRequestParts<AppState> for PlatformAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let peeked = peek(token)?;
        if peeked.issuer.as_deref() != Some(state.issuer().issuer()) {
            return Err(AuthError::UnknownIssuer.into());
        }
        match state.issuer().verify(token, peeked.key_id.as_deref())? {
            Subject::Operator(operator) => {
                if state.db().operator_is_active(operator).await? {
                    Ok(PlatformAuth(PlatformScope::new(operator)))
                } else {
                    Err(AuthError::UnknownUser.into())
                }
            }
            Subject::TenantUser { .. } => {
                Err(ApiError::Forbidden("The platform API is for platform operators only.".to_owned()))
            }
        }
    }
}
