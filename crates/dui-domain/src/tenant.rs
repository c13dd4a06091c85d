//! Tenants: one organisme gestionnaire (OG) each, identified nationally by its FINESS juridique.

use serde::Serialize;

use crate::structure::Finess;
use crate::validation::{self, ValidationErrors};

crate::text_codes! {
    /// Whether a tenant's users may work. A suspended tenant keeps its data but every token of its
    /// users is refused.
    pub enum TenantStatus {
        Active = "active",
        /// Kept, but its users are refused.
        Suspended = "suspended",
        /// Offboarded: its keys are destroyed and its data unreadable. Final.
        Shredded = "shredded",
    }
}

/// A validated request to create a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub name: String,
    pub finess_juridique: Finess,
}

impl NewTenant {
    pub fn validate(name: &str, finess_juridique: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", validation::text(name, 1, 200));
        let finess = errors.check("finess_juridique", Finess::parse(finess_juridique));
        errors.into_result(|| NewTenant { name: name.unwrap_or_default(), finess_juridique: finess.expect("checked") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tenant_reports_every_bad_field() {
        let errors = NewTenant::validate(" ", "12").unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "finess_juridique"]);
        let tenant = NewTenant::validate(" Les Tilleuls ", "750000000").unwrap();
        assert_eq!(tenant.name, "Les Tilleuls");
        assert_eq!(tenant.finess_juridique.as_str(), "750000000");
    }

    #[test]
    fn status_round_trips() {
        for status in TenantStatus::ALL {
            assert_eq!(TenantStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(TenantStatus::parse("closed"), None);
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: crate::TenantId,
    pub name: String,
    pub finess_juridique: Finess,
    pub status: TenantStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A platform operator as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operator {
    pub id: crate::OperatorId,
    pub name: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An external OpenID Connect issuer trusted for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityProvider {
    pub id: crate::IdentityProviderId,
    pub tenant_id: crate::TenantId,
    pub label: String,
    /// The `iss` claim of its tokens.
    pub issuer: String,
    /// The `aud` claim its tokens carry for this tenant.
    pub audience: String,
    /// Where its signing keys are published.
    pub jwks_url: String,
    /// The claim that identifies the user (`sub` unless configured otherwise).
    pub subject_claim: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A validated identity provider to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentityProvider {
    pub label: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub subject_claim: String,
}

fn http_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !value.chars().any(char::is_whitespace) && value.len() <= 500 => {
            Ok(value.to_owned())
        }
        _ => Err("must be an http(s) URL".to_owned()),
    }
}

impl NewIdentityProvider {
    pub fn validate(
        label: &str,
        issuer: &str,
        audience: &str,
        jwks_url: &str,
        subject_claim: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let label = errors.check("label", validation::text(label, 1, 200));
        let issuer = errors.check("issuer", http_url(issuer));
        let audience = errors.check("audience", validation::text(audience, 1, 500));
        let jwks_url = errors.check("jwks_url", http_url(jwks_url));
        let subject_claim = subject_claim.unwrap_or("sub").trim();
        let claim_ok = !subject_claim.is_empty()
            && subject_claim.len() <= 100
            && subject_claim.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
        if !claim_ok {
            errors.add("subject_claim", "must be a claim name (letters, digits, _ . : -)");
        }
        errors.into_result(|| NewIdentityProvider {
            label: label.expect("checked"),
            issuer: issuer.expect("checked"),
            audience: audience.expect("checked"),
            jwks_url: jwks_url.expect("checked"),
            subject_claim: subject_claim.to_owned(),
        })
    }
}

#[cfg(test)]
mod provider_tests {
    use super::*;

    #[test]
    fn identity_provider_rules() {
        let ok = NewIdentityProvider::validate(
            "Pro Santé Connect",
            "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
            "dui-tilleuls",
            "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/protocol/openid-connect/certs",
            None,
        )
        .unwrap();
        assert_eq!(ok.subject_claim, "sub");
        let errors = NewIdentityProvider::validate("", "ftp://x", "", "https://", Some("a b")).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["label", "issuer", "audience", "jwks_url", "subject_claim"]);
    }
}
