//! What the INSi teleservice's answers mean for a record (RNIV): the identity the service found,
//! the checks it passes before it is kept, how it replaces the record's strict traits once a
//! professional confirms it is the person's, and the status it then gives.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::identity::{Identity, IdentityStatus, Ins, InsOid, Sex, matricule, matricule_agrees};
use crate::record::Evidence;
use crate::validation::ValidationErrors;

crate::text_codes! {
    /// How a call to the teleservice ended.
    pub enum InsiOutcome {
        /// One identity (`00`).
        Found = "found",
        /// None (`01`).
        NoneFound = "none_found",
        /// Several (`02`).
        Several = "several",
        /// No usable answer: the service unreachable, a fault, or an answer that fails its checks.
        Failed = "failed",
        /// A verification: the INS and the traits belong together (`00`).
        Verified = "verified",
        /// A verification: they do not (`01`).
        Mismatch = "mismatch",
    }
}

crate::text_codes! {
    /// What a call to the teleservice asked.
    pub enum InsiKind {
        /// A search of the INS by the strict traits (récupération).
        Retrieve = "retrieve",
        /// A verification of the record's INS with its traits (vérification).
        Verify = "verify",
    }
}

/// The status of an identity whose INS a verification found not to be the person's: the INS is
/// withdrawn, a retrieved identity goes back to provisional, a qualified one to validated (its
/// document still stands). `None` for a status that holds no INS from the service.
pub fn status_after_mismatch(status: IdentityStatus) -> Option<IdentityStatus> {
    match status {
        IdentityStatus::Retrieved => Some(IdentityStatus::Provisional),
        IdentityStatus::Qualified => Some(IdentityStatus::Validated),
        IdentityStatus::Provisional | IdentityStatus::Validated => None,
    }
}

/// Why a verification lowered an identity (the identity event's reason).
pub const MISMATCH_REASON: &str =
    "INS et traits non vérifiés par le téléservice INSi : INS retiré, identité à contrôler (RNIV)";

impl InsiOutcome {
    /// What the professional can do next, when the service did not find one person.
    pub fn guidance(self) -> Option<&'static str> {
        match self {
            InsiOutcome::Found => None,
            InsiOutcome::NoneFound => Some(
                "No identity found: check the strict traits with an identity document, then search again \
                 with another given name of birth or with the place of birth.",
            ),
            InsiOutcome::Several => Some(
                "Several identities match: search again with the other given names of birth, then with the \
                 place of birth.",
            ),
            InsiOutcome::Failed => {
                Some("The service gave no usable answer: the identity stays as it is; try again later.")
            }
            InsiOutcome::Verified => None,
            InsiOutcome::Mismatch => Some(
                "The service does not know this INS with these traits: the INS was withdrawn and the identity \
                 lowered. Check the strict traits with an identity document, then search the INS again.",
            ),
        }
    }
}

/// A search of the service by traits: the strict traits of the record in the national form
/// (capitals without accents), with one given name of birth (the first, or another to search
/// again).
#[derive(Clone, PartialEq, Eq)]
pub struct InsiSearch {
    pub birth_name: String,
    pub first_name: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub birth_place: Option<String>,
}

crate::redacted_debug!(InsiSearch);

impl InsiSearch {
    /// The search for `identity`, with its first given name of birth, or `first_name` when it is
    /// one of them (the guides' retry with another given name).
    pub fn of(identity: &Identity, first_name: Option<&str>) -> Result<Self, ValidationErrors> {
        let given: Vec<&str> = identity.first_names.split_whitespace().collect();
        let first_name = match first_name {
            None => identity.first_first_name.as_deref().or(given.first().copied()).unwrap_or_default().to_owned(),
            Some(wanted) => {
                let wanted = crate::identity::ins_form(wanted.trim());
                match given.iter().find(|g| crate::identity::ins_form(g) == wanted) {
                    Some(found) => (*found).to_owned(),
                    None => {
                        return Err(ValidationErrors::single(
                            "first_name",
                            "is not one of the record's given names of birth",
                        ));
                    }
                }
            }
        };
        if identity.sex == Sex::Indeterminate {
            return Err(ValidationErrors::single("sex", "the service searches by sex female or male only"));
        }
        // The service reads traits in the national form: capitals without accents.
        Ok(Self {
            birth_name: crate::identity::ins_form(&identity.birth_name),
            first_name: crate::identity::ins_form(&first_name),
            sex: identity.sex,
            birth_date: identity.birth_date,
            birth_place: identity.birth_place.clone(),
        })
    }
}

/// What the service answered to a search, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsiReply {
    Found(FoundIdentity),
    NoneFound,
    Several,
}

/// The identity the service found: its INS and the traits it holds (traits INS).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FoundIdentity {
    pub ins: Ins,
    pub birth_name: String,
    /// Every given name of birth, space-separated.
    pub first_names: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    /// INSEE code of the place of birth, when the service gives it.
    pub birth_place: Option<String>,
}

crate::redacted_debug!(FoundIdentity);

impl FoundIdentity {
    /// The identity found, checked before it is kept: the matricule and its key, its agreement
    /// with the traits it comes with, and its authority — test and demonstration identities only
    /// on an installation that accepts them (`accept_test`). The message names no trait.
    pub fn checked(self, accept_test: bool) -> Result<Self, String> {
        let matricule = matricule(&self.ins.matricule).map_err(|why| format!("the INS the service gave: {why}"))?;
        if matches!(self.ins.oid, InsOid::NirTest | InsOid::NirDemo) && !accept_test {
            return Err("the service gave a test identity, which this installation does not accept".to_owned());
        }
        matricule_agrees(&matricule, &self.traits_as_identity())
            .map_err(|why| format!("the INS the service gave: {why}"))?;
        Ok(Self { ins: Ins { matricule, oid: self.ins.oid }, ..self })
    }

    fn traits_as_identity(&self) -> Identity {
        Identity {
            birth_name: self.birth_name.clone(),
            first_names: self.first_names.clone(),
            first_first_name: None,
            used_name: None,
            used_first_name: None,
            sex: self.sex,
            birth_date: self.birth_date,
            birth_place: self.birth_place.clone(),
        }
    }

    /// The record's identity once this one is confirmed: the strict traits are the service's
    /// (the first given name of birth is then the first of the service's), the names used stay,
    /// and so does a place of birth the service does not give.
    pub fn applied_to(&self, identity: &Identity) -> Identity {
        Identity {
            birth_name: self.birth_name.clone(),
            first_names: self.first_names.clone(),
            first_first_name: self.first_names.split_whitespace().next().map(str::to_owned),
            used_name: identity.used_name.clone(),
            used_first_name: identity.used_first_name.clone(),
            sex: self.sex,
            birth_date: self.birth_date,
            birth_place: self.birth_place.clone().or_else(|| identity.birth_place.clone()),
        }
    }
}

/// The status a record with `status`, and the evidence `evidence` that still stands on it, takes
/// when a professional confirms the identity the service found: a provisional identity becomes
/// retrieved (RECUP), a validated one — its document checked — qualified (QUAL).
pub fn confirmed_status(status: IdentityStatus, evidence: Evidence) -> Result<IdentityStatus, ValidationErrors> {
    match status {
        IdentityStatus::Provisional => Ok(IdentityStatus::Retrieved),
        IdentityStatus::Validated if evidence.document => Ok(IdentityStatus::Qualified),
        IdentityStatus::Validated => Err(ValidationErrors::single(
            "status",
            "the identity document of this validated identity no longer stands: check it again first",
        )),
        IdentityStatus::Retrieved | IdentityStatus::Qualified => Err(ValidationErrors::single(
            "status",
            "the identity already holds an INS from the service: after a doubt (back to provisional), search again",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(matricule: &str, oid: InsOid) -> FoundIdentity {
        FoundIdentity {
            ins: Ins { matricule: matricule.to_owned(), oid },
            birth_name: "DUPONT".to_owned(),
            first_names: "MARIE LOUISE".to_owned(),
            sex: Sex::Female,
            birth_date: NaiveDate::from_ymd_opt(1931, 3, 14).unwrap(),
            birth_place: None,
        }
    }

    /// A valid matricule for a woman born in March 1931: `2 31 03 …` and its key.
    fn matricule_1931() -> String {
        let body = "2310375056123";
        let key = 97 - body.parse::<u64>().unwrap() % 97;
        format!("{body}{key:02}")
    }

    #[test]
    fn an_identity_found_is_checked_before_it_is_kept() {
        let good = matricule_1931();
        assert!(found(&good, InsOid::Nir).checked(false).is_ok());
        let mut wrong_key = good.clone();
        wrong_key.replace_range(13..15, if &good[13..15] == "01" { "02" } else { "01" });
        let refused = found(&wrong_key, InsOid::Nir).checked(false).unwrap_err();
        assert!(refused.contains("key") && !refused.contains(&good[13..15]), "{refused}");
        assert!(found(&good, InsOid::NirTest).checked(false).unwrap_err().contains("test identity"));
        assert!(found(&good, InsOid::NirTest).checked(true).is_ok());
        // A man's matricule for a woman's traits.
        let body = "1310375056123";
        let key = 97 - body.parse::<u64>().unwrap() % 97;
        assert!(found(&format!("{body}{key:02}"), InsOid::Nir).checked(false).unwrap_err().contains("sex"));
    }

    #[test]
    fn the_traits_found_replace_the_strict_traits_and_keep_the_names_used() {
        let typed = Identity {
            birth_name: "Dupont".to_owned(),
            first_names: "Marie".to_owned(),
            first_first_name: Some("Marie".to_owned()),
            used_name: Some("Martin".to_owned()),
            used_first_name: Some("Malou".to_owned()),
            sex: Sex::Female,
            birth_date: NaiveDate::from_ymd_opt(1931, 3, 14).unwrap(),
            birth_place: Some("75056".to_owned()),
        };
        let applied = found(&matricule_1931(), InsOid::Nir).applied_to(&typed);
        assert_eq!((applied.birth_name.as_str(), applied.first_names.as_str()), ("DUPONT", "MARIE LOUISE"));
        assert_eq!(applied.first_first_name.as_deref(), Some("MARIE"));
        assert_eq!(applied.used_name.as_deref(), Some("Martin"));
        assert_eq!(applied.used_first_name.as_deref(), Some("Malou"));
        assert_eq!(applied.birth_place.as_deref(), Some("75056"), "kept when the service gives none");
    }

    #[test]
    fn a_search_sends_the_traits_in_the_national_form() {
        let typed = Identity {
            birth_name: "Lefèvre-d'Aubigné".to_owned(),
            first_names: "Hélène Zoé".to_owned(),
            first_first_name: Some("Hélène".to_owned()),
            used_name: None,
            used_first_name: None,
            sex: Sex::Female,
            birth_date: NaiveDate::from_ymd_opt(1931, 3, 14).unwrap(),
            birth_place: None,
        };
        let search = InsiSearch::of(&typed, None).unwrap();
        assert_eq!((search.birth_name.as_str(), search.first_name.as_str()), ("LEFEVRE-D'AUBIGNE", "HELENE"));
        let again = InsiSearch::of(&typed, Some("zoe")).unwrap();
        assert_eq!(again.first_name, "ZOE");
    }

    #[test]
    fn a_mismatch_lowers_the_identities_that_hold_an_ins_from_the_service() {
        assert_eq!(status_after_mismatch(IdentityStatus::Retrieved), Some(IdentityStatus::Provisional));
        assert_eq!(status_after_mismatch(IdentityStatus::Qualified), Some(IdentityStatus::Validated));
        assert_eq!(status_after_mismatch(IdentityStatus::Provisional), None);
        assert_eq!(status_after_mismatch(IdentityStatus::Validated), None);
        assert!(InsiOutcome::Mismatch.guidance().is_some() && InsiOutcome::Verified.guidance().is_none());
    }

    #[test]
    fn a_confirmed_retrieval_raises_provisional_and_validated_identities_only() {
        let doc = Evidence { document: true, insi_lookup: false };
        let none = Evidence::default();
        assert_eq!(confirmed_status(IdentityStatus::Provisional, none).unwrap(), IdentityStatus::Retrieved);
        assert_eq!(confirmed_status(IdentityStatus::Validated, doc).unwrap(), IdentityStatus::Qualified);
        assert!(confirmed_status(IdentityStatus::Validated, none).is_err());
        assert!(confirmed_status(IdentityStatus::Retrieved, doc).is_err());
        assert!(confirmed_status(IdentityStatus::Qualified, doc).is_err());
    }
}
