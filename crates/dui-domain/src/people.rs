//! The people who work in a tenant: professionals and service accounts, their national
//! professional identifiers, and their roles in establishments.

use serde::Serialize;

use crate::validation::{self, ValidationErrors};

crate::text_codes! {
    /// What a user may do depends on their role in an establishment (or in the whole tenant). Roles
    /// are the sector's job families, not permissions: the permissions each role grants live in
    /// [`crate::policy`].
    #[derive(PartialOrd, Ord)]
        pub enum Role {
        /// Administers the tenant's structure and accounts.
        TenantAdmin = "tenant_admin",
        /// Directs one or several establishments.
        Director = "director",
        /// Médecin coordonnateur.
        CoordinatingPhysician = "coordinating_physician",
        /// Infirmier(ère), including the coordinating nurse.
        Nurse = "nurse",
        /// Aide-soignant(e), accompagnant(e) éducatif et social.
        CareAssistant = "care_assistant",
        Psychologist = "psychologist",
        SocialWorker = "social_worker",
        /// Éducateur spécialisé, moniteur-éducateur.
        Educator = "educator",
        /// Auxiliaire de vie, aide à domicile.
        HomeHelper = "home_helper",
        /// Secretariat, admissions, billing.
        AdministrativeStaff = "administrative_staff",
        /// Référent(e) en identitovigilance: checks identities, and alone merges records found
        /// to be the same person.
        IdentityVigilance = "identity_vigilance",
    }
}

crate::text_codes! {
    /// The profession a user exercises (a local nomenclature; the national RPPS/ADELI number, when the
    /// user has one, identifies them nationally).
    pub enum Profession {
        Physician = "physician",
        Nurse = "nurse",
        CareAssistant = "care_assistant",
        Psychologist = "psychologist",
        SocialWorker = "social_worker",
        Educator = "educator",
        HomeHelper = "home_helper",
        Physiotherapist = "physiotherapist",
        OccupationalTherapist = "occupational_therapist",
        Psychomotorician = "psychomotorician",
        Dietitian = "dietitian",
        SpeechTherapist = "speech_therapist",
        Pharmacist = "pharmacist",
        Director = "director",
        Administrative = "administrative",
        Other = "other",
    }
}

crate::text_codes! {
    /// A person logs in; a service account is a machine (an interface, a migration job).
    pub enum UserKind {
        Person = "person",
        Service = "service",
    }
}

crate::text_codes! {
    /// A disabled user's tokens are refused at once; the account and its history stay.
    pub enum UserStatus {
        Active = "active",
        Disabled = "disabled",
    }
}

/// RPPS number (Répertoire partagé des professionnels de santé): 11 digits.
pub fn rpps(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("an RPPS number has 11 digits".to_owned())
    }
}

/// ADELI number: 9 characters, digits except a possible 2A/2B department.
pub fn adeli(value: &str) -> Result<String, String> {
    let value = value.trim().to_ascii_uppercase();
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 9
        && (bytes[..2].iter().all(u8::is_ascii_digit) || &bytes[..2] == b"2A" || &bytes[..2] == b"2B")
        && bytes[2..].iter().all(u8::is_ascii_digit);
    if shape_ok { Ok(value) } else { Err("an ADELI number has 9 characters".to_owned()) }
}

/// An e-mail address, checked loosely (one `@`, something on both sides, no spaces): the mail
/// server is the real judge.
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim();
    let valid = value.len() <= 254
        && !value.chars().any(char::is_whitespace)
        && matches!(value.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if valid { Ok(value.to_owned()) } else { Err("is not an e-mail address".to_owned()) }
}

/// A validated user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub kind: UserKind,
    pub family_name: String,
    pub given_name: String,
    pub profession: Option<Profession>,
    pub rpps: Option<String>,
    pub adeli: Option<String>,
    pub email: Option<String>,
}

/// The raw fields of a user, as received.
#[derive(Debug, Clone, Default)]
pub struct UserInput<'a> {
    pub kind: Option<UserKind>,
    pub family_name: Option<&'a str>,
    pub given_name: Option<&'a str>,
    pub profession: Option<Profession>,
    pub rpps: Option<&'a str>,
    pub adeli: Option<&'a str>,
    pub email: Option<&'a str>,
}

impl NewUser {
    pub fn validate(input: UserInput<'_>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = input.kind.unwrap_or(UserKind::Person);
        let family_name = match input.family_name {
            Some(name) => errors.check("family_name", validation::text(name, 1, 100)),
            None => {
                errors.add("family_name", "is required");
                None
            }
        };
        // A service account has a single name: its purpose.
        let given_name = match (kind, input.given_name) {
            // A person has a given name; a service account may leave it empty.
            (UserKind::Person, Some(name)) => errors.check("given_name", validation::text(name, 1, 100)),
            (UserKind::Service, Some(name)) => errors.check("given_name", validation::text(name, 0, 100)),
            (UserKind::Service, None) => Some(String::new()),
            (UserKind::Person, None) => {
                errors.add("given_name", "is required");
                None
            }
        };
        let rpps = input.rpps.and_then(|v| errors.check("rpps", rpps(v)));
        let adeli = input.adeli.and_then(|v| errors.check("adeli", adeli(v)));
        let email = input.email.and_then(|v| errors.check("email", email(v)));
        if kind == UserKind::Service && (input.rpps.is_some() || input.adeli.is_some()) {
            errors.add("kind", "a service account has no RPPS or ADELI number");
        }
        errors.into_result(|| NewUser {
            kind,
            family_name: family_name.expect("checked"),
            given_name: given_name.expect("checked"),
            profession: input.profession,
            rpps,
            adeli,
            email,
        })
    }
}

/// A validated change to a user. For the optional identifiers, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub profession: Option<Option<Profession>>,
    pub rpps: Option<Option<String>>,
    pub adeli: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub status: Option<UserStatus>,
}

/// The raw fields of a user change, as received. `Some(None)` means "set to null".
#[derive(Debug, Clone, Default)]
pub struct UserChangesInput<'a> {
    pub family_name: Option<&'a str>,
    pub given_name: Option<&'a str>,
    pub profession: Option<Option<Profession>>,
    pub rpps: Option<Option<&'a str>>,
    pub adeli: Option<Option<&'a str>>,
    pub email: Option<Option<&'a str>>,
    pub status: Option<UserStatus>,
}

impl UserChanges {
    pub fn validate(input: UserChangesInput<'_>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let family_name = input.family_name.and_then(|v| errors.check("family_name", validation::text(v, 1, 100)));
        let given_name = input.given_name.and_then(|v| errors.check("given_name", validation::text(v, 0, 100)));
        let mut optional =
            |field: &str, value: Option<Option<&str>>, check: fn(&str) -> Result<String, String>| match value {
                None => Some(None),
                Some(None) => Some(Some(None)),
                Some(Some(v)) => errors.check(field, check(v)).map(|v| Some(Some(v))),
            };
        let rpps = optional("rpps", input.rpps, rpps);
        let adeli = optional("adeli", input.adeli, adeli);
        let email = optional("email", input.email, email);
        errors.into_result(|| UserChanges {
            family_name,
            given_name,
            profession: input.profession,
            rpps: rpps.expect("checked"),
            adeli: adeli.expect("checked"),
            email: email.expect("checked"),
            status: input.status,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_professions_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        for profession in Profession::ALL {
            assert_eq!(Profession::parse(profession.as_str()), Some(*profession));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn identifier_shapes() {
        assert_eq!(rpps(" 10003456789 "), Ok("10003456789".to_owned()));
        assert!(rpps("1000345678").is_err());
        assert!(rpps("1000345678X").is_err());
        assert_eq!(adeli("2a1234567"), Ok("2A1234567".to_owned()));
        assert_eq!(adeli("751234567"), Ok("751234567".to_owned()));
        assert!(adeli("75123456").is_err());
        assert!(adeli("2C1234567").is_err());
        assert_eq!(email(" ide@ehpad.mssante.fr "), Ok("ide@ehpad.mssante.fr".to_owned()));
        for bad in ["ide", "@x.fr", "a@b", "a b@c.fr", "a@b@c.fr"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_user_rules() {
        let user = NewUser::validate(UserInput {
            family_name: Some("Martin"),
            given_name: Some("Claire"),
            profession: Some(Profession::Nurse),
            rpps: Some("10003456789"),
            ..UserInput::default()
        })
        .unwrap();
        assert_eq!(user.kind, UserKind::Person);
        assert_eq!(user.rpps.as_deref(), Some("10003456789"));

        let errors = NewUser::validate(UserInput { rpps: Some("12"), ..UserInput::default() }).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["family_name", "given_name", "rpps"]);
        // A person's given name, given empty or blank, is refused.
        for blank in ["", "   "] {
            let errors = NewUser::validate(UserInput {
                family_name: Some("Martin"),
                given_name: Some(blank),
                ..UserInput::default()
            })
            .unwrap_err();
            assert_eq!(errors.errors()[0].field, "given_name");
        }

        let service = NewUser::validate(UserInput {
            kind: Some(UserKind::Service),
            family_name: Some("Interface facturation"),
            ..UserInput::default()
        })
        .unwrap();
        assert_eq!(service.given_name, "");
        let errors = NewUser::validate(UserInput {
            kind: Some(UserKind::Service),
            family_name: Some("Robot"),
            rpps: Some("10003456789"),
            ..UserInput::default()
        })
        .unwrap_err();
        assert_eq!(errors.errors()[0].field, "kind");
    }

    #[test]
    fn user_changes_can_clear_identifiers() {
        let changes = UserChanges::validate(UserChangesInput {
            rpps: Some(None),
            email: Some(Some("a@b.fr")),
            ..UserChangesInput::default()
        })
        .unwrap();
        assert_eq!(changes.rpps, Some(None));
        assert_eq!(changes.email, Some(Some("a@b.fr".to_owned())));
        assert_eq!(changes.adeli, None);
        assert!(!changes.is_empty());
        assert!(UserChanges::validate(UserChangesInput::default()).unwrap().is_empty());
        let errors = UserChanges::validate(UserChangesInput { adeli: Some(Some("x")), ..UserChangesInput::default() })
            .unwrap_err();
        assert_eq!(errors.errors()[0].field, "adeli");
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: crate::UserId,
    pub kind: UserKind,
    pub family_name: String,
    pub given_name: String,
    pub profession: Option<Profession>,
    pub rpps: Option<String>,
    pub adeli: Option<String>,
    pub email: Option<String>,
    pub status: UserStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A membership as stored. `establishment_id` is `None` for a tenant-wide role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub id: crate::MembershipId,
    pub user_id: crate::UserId,
    pub establishment_id: Option<crate::EstablishmentId>,
    pub role: Role,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The link between an external identity (a provider's subject) and a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExternalIdentity {
    pub provider_id: crate::IdentityProviderId,
    pub subject: String,
    pub user_id: crate::UserId,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
