//! The drug referential: the specialities authorised in France, their presentations and their
//! compositions, as the national public drug database (BDPM) publishes them. It is public data,
//! the same for every tenant; nothing here says anything of a person.
//!
//! A composition line names a substance as an active substance (SA) or as a therapeutic
//! fraction (FT) of it (the salt "amoxicilline trihydratée" is the SA, "amoxicilline" its FT);
//! lines of one substance share a link number, and the FT is the one to display when there is
//! one ([`active_substances`]). An allergy check ([`allergy_check`]) compares both names with a
//! person's allergies.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::AllergyId;
use crate::alert::{Allergy, normalise_substance};

crate::text_codes! {
    /// What a composition line is: the active substance, or the therapeutic fraction (the
    /// active part of a salt or an ester) that the active substance carries.
    pub enum ComponentNature {
        /// Substance active.
        ActiveSubstance = "SA",
        /// Fraction thérapeutique.
        TherapeuticFraction = "FT",
    }
}

/// Whether `value` is a CIS code: 8 digits.
pub fn is_cis(value: &str) -> bool {
    value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `value` is a CIP7 code: 7 digits.
pub fn is_cip7(value: &str) -> bool {
    value.len() == 7 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `value` is a CIP13 code: 13 digits.
pub fn is_cip13(value: &str) -> bool {
    value.len() == 13 && value.bytes().all(|b| b.is_ascii_digit())
}

/// A speciality (spécialité pharmaceutique), by its CIS code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Speciality {
    /// Code identifiant de spécialité: 8 digits.
    pub cis: String,
    pub denomination: String,
    pub form: String,
    /// Routes of administration ("orale", "intraveineuse"...).
    pub routes: Vec<String>,
    /// Statut administratif de l'AMM ("Autorisation active"...).
    pub authorisation_status: String,
    /// Type de procédure d'AMM.
    pub procedure: String,
    /// Commercialisée.
    pub marketed: bool,
    pub authorised_on: Option<NaiveDate>,
    /// Statut BdM: "Alerte", "Warning disponibilité", or none.
    pub bdm_status: Option<String>,
    /// Numéro d'autorisation européenne.
    pub eu_number: Option<String>,
    pub holders: Vec<String>,
    /// Surveillance renforcée (triangle noir).
    pub enhanced_surveillance: bool,
}

/// A presentation (a box that is sold), by its CIP13 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presentation {
    pub cis: String,
    pub cip7: String,
    pub cip13: String,
    pub label: String,
    pub status: String,
    /// Whether it is declared marketed ("Déclaration de commercialisation").
    pub marketed: bool,
    pub declared_on: Option<NaiveDate>,
    /// Agrément aux collectivités.
    pub collectivity_approval: Option<bool>,
    /// Taux de remboursement, as published ("65 %").
    pub reimbursement_rate: Option<String>,
    /// Prix, as published ("2,18").
    pub price: Option<String>,
}

/// A line of a speciality's composition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Composition {
    pub cis: String,
    /// The pharmaceutical element ("comprimé", "poudre pour suspension buvable").
    pub element: String,
    /// Code de la substance.
    pub substance_code: String,
    pub substance: String,
    pub dosage: Option<String>,
    pub dosage_reference: Option<String>,
    pub nature: ComponentNature,
    /// Numéro de liaison SA/FT: lines of one substance share it.
    pub link: Option<i32>,
}

/// A speciality's active substance as displayed: the therapeutic fraction when there is one,
/// with the active substance (the salt) it comes from. Kept in a prescription as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveSubstance {
    /// The name to display (the FT's, else the SA's).
    pub name: String,
    pub substance_code: String,
    pub dosage: Option<String>,
    pub dosage_reference: Option<String>,
    /// The active substance's name when the FT is displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_substance: Option<String>,
}

/// The active substances of a composition: per link number (or per line when there is none),
/// the FT if any, else the SA; each once, in the order of the lines.
pub fn active_substances(lines: &[Composition]) -> Vec<ActiveSubstance> {
    let mut shown: Vec<ActiveSubstance> = Vec::new();
    let mut seen_links: Vec<(String, i32)> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let group: Vec<&Composition> = match line.link {
            Some(link) => {
                if seen_links.iter().any(|(element, l)| *l == link && *element == line.element) {
                    continue;
                }
                seen_links.push((line.element.clone(), link));
                lines.iter().filter(|l| l.link == Some(link) && l.element == line.element).collect()
            }
            None => vec![&lines[index]],
        };
        let sa = group.iter().find(|l| l.nature == ComponentNature::ActiveSubstance);
        let ft = group.iter().find(|l| l.nature == ComponentNature::TherapeuticFraction);
        let (display, salt) = match (ft, sa) {
            (Some(ft), sa) => (*ft, sa.map(|sa| sa.substance.clone()).filter(|s| *s != ft.substance)),
            (None, Some(sa)) => (*sa, None),
            (None, None) => continue,
        };
        if shown.iter().any(|s| s.name == display.substance && s.active_substance == salt) {
            continue;
        }
        shown.push(ActiveSubstance {
            name: display.substance.clone(),
            substance_code: display.substance_code.clone(),
            dosage: display.dosage.clone(),
            dosage_reference: display.dosage_reference.clone(),
            active_substance: salt,
        });
    }
    shown
}

/// A speciality as a search lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrugSummary {
    pub cis: String,
    pub denomination: String,
    pub form: String,
    pub routes: Vec<String>,
    pub marketed: bool,
    /// No longer listed by the latest import of the referential.
    pub withdrawn: bool,
    /// Its rank in the search's order (what a page continues after).
    #[serde(skip)]
    pub rank: i64,
}

/// A speciality with its presentations, its composition line by line (SA and FT both), and its
/// active substances as displayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrugDetail {
    #[serde(flatten)]
    pub speciality: Speciality,
    pub withdrawn: bool,
    pub presentations: Vec<Presentation>,
    pub compositions: Vec<Composition>,
    pub active_substances: Vec<ActiveSubstance>,
}

/// What a search looks for, from the text typed: a code when it is one (8 digits a CIS, 7 a
/// CIP7, 13 a CIP13), else a name, normalised as allergies' substances are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrugQuery {
    All,
    Cis(String),
    Cip7(String),
    Cip13(String),
    /// The normalised text: matches a denomination that starts with it, or that has each of its
    /// words as a whole word.
    Name(String),
}

impl DrugQuery {
    /// Reads the text typed (spaces inside a code are allowed: "3400 9359 5583 8").
    pub fn parse(text: Option<&str>) -> Result<Self, crate::validation::ValidationErrors> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(Self::All) };
        if text.chars().count() > 200 {
            return Err(crate::validation::ValidationErrors::single("q", "must be at most 200 characters"));
        }
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if is_cis(&compact) {
            return Ok(Self::Cis(compact));
        }
        if is_cip7(&compact) {
            return Ok(Self::Cip7(compact));
        }
        if is_cip13(&compact) {
            return Ok(Self::Cip13(compact));
        }
        // Nothing to search by (punctuation only, as a blank box): every speciality.
        let normalised = normalise_substance(text);
        if normalised.is_empty() {
            return Ok(Self::All);
        }
        Ok(Self::Name(normalised))
    }
}

/// An allergy of the person that one of a drug's active substances matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllergyMatch {
    pub allergy_id: AllergyId,
    /// The drug's substance that matched (as displayed).
    pub substance: String,
    /// The allergy's substance, as typed.
    pub allergy_substance: String,
}

/// What a drug's allergy check answers: its active substances, and which of the person's
/// allergies in force (those the caller may read) one of them matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllergyCheck {
    pub cis: String,
    pub active_substances: Vec<ActiveSubstance>,
    pub matches: Vec<AllergyMatch>,
}

/// Whether the allergy's substance names `name`: the same normalised text, or its words found
/// as whole consecutive words of `name` ("pénicilline" in "PÉNICILLINE G", "amoxicilline" in
/// "AMOXICILLINE TRIHYDRATÉE").
fn names(allergy: &Allergy, name: &str) -> bool {
    if allergy.substance.matches(name, None) {
        return true;
    }
    let wanted: Vec<&str> = allergy.substance.normalised.split(' ').filter(|w| !w.is_empty()).collect();
    if wanted.is_empty() {
        return false;
    }
    let normalised = normalise_substance(name);
    let words: Vec<&str> = normalised.split(' ').collect();
    words.windows(wanted.len()).any(|window| window == wanted.as_slice())
}

/// Which of the person's allergies (those in force) one of the drug's active substances
/// matches, by the displayed name (the FT) or the active substance's (the salt).
pub fn allergy_check(substances: &[ActiveSubstance], allergies: &[Allergy]) -> Vec<AllergyMatch> {
    let mut found = Vec::new();
    for allergy in allergies.iter().filter(|a| a.status == crate::alert::AllergyStatus::Active) {
        for substance in substances {
            let hit = names(allergy, &substance.name)
                || substance.active_substance.as_deref().is_some_and(|salt| names(allergy, salt));
            if hit {
                found.push(AllergyMatch {
                    allergy_id: allergy.id,
                    substance: substance.name.clone(),
                    allergy_substance: allergy.substance.text.clone(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AllergyInput, AllergyKind, AllergySeverity, AllergySource, AllergyStatus, NewAllergy};
    use crate::record::NoteScope;
    use crate::{EstablishmentId, ResidentId, UserId};

    fn line(substance: &str, nature: ComponentNature, link: Option<i32>) -> Composition {
        Composition {
            cis: "60234100".to_owned(),
            element: "comprimé".to_owned(),
            substance_code: "1234".to_owned(),
            substance: substance.to_owned(),
            dosage: Some("500 mg".to_owned()),
            dosage_reference: Some("un comprimé".to_owned()),
            nature,
            link,
        }
    }

    fn allergy(substance: &str, status: AllergyStatus) -> Allergy {
        let new = NewAllergy::validate(AllergyInput {
            kind: AllergyKind::Allergy,
            substance: substance.to_owned(),
            substance_code: None,
            reaction: None,
            severity: AllergySeverity::Severe,
            source: AllergySource::DeclaredByPerson,
            scope: None,
        })
        .unwrap();
        Allergy {
            id: AllergyId::from_uuid(uuid::Uuid::from_u128(7)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::from_u128(7)),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::from_u128(7)),
            kind: new.kind,
            substance: new.details.substance,
            reaction: None,
            severity: new.severity,
            source: new.source,
            scope: NoteScope::CareTeam,
            status,
            recorded_by: UserId::from_uuid(uuid::Uuid::from_u128(7)),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            resolved_at: None,
            resolved_by: None,
            entered_in_error: None,
        }
    }

    fn augmentin() -> Vec<ActiveSubstance> {
        active_substances(&[
            line("AMOXICILLINE TRIHYDRATÉE", ComponentNature::ActiveSubstance, Some(1)),
            line("AMOXICILLINE", ComponentNature::TherapeuticFraction, Some(1)),
            line("CLAVULANATE DE POTASSIUM", ComponentNature::ActiveSubstance, Some(2)),
            line("ACIDE CLAVULANIQUE", ComponentNature::TherapeuticFraction, Some(2)),
        ])
    }

    #[test]
    fn the_therapeutic_fraction_is_displayed_and_the_salt_kept() {
        let shown = augmentin();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].name, "AMOXICILLINE");
        assert_eq!(shown[0].active_substance.as_deref(), Some("AMOXICILLINE TRIHYDRATÉE"));
        assert_eq!(shown[1].name, "ACIDE CLAVULANIQUE");
        let alone = active_substances(&[line("PARACÉTAMOL", ComponentNature::ActiveSubstance, Some(1))]);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].name, "PARACÉTAMOL");
        assert_eq!(alone[0].active_substance, None);
    }

    #[test]
    fn an_amoxicillin_allergy_matches_the_combination() {
        let amoxicillin = allergy("Amoxicilline", AllergyStatus::Active);
        let found = allergy_check(&augmentin(), std::slice::from_ref(&amoxicillin));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].allergy_id, amoxicillin.id);
        assert_eq!(found[0].substance, "AMOXICILLINE");
        // Paracetamol does not.
        let doliprane = active_substances(&[line("PARACÉTAMOL", ComponentNature::ActiveSubstance, None)]);
        assert!(allergy_check(&doliprane, &[amoxicillin]).is_empty());
    }

    #[test]
    fn a_word_of_the_allergy_matches_a_longer_substance_name_without_accents_or_case() {
        let penicillin = allergy("Pénicilline", AllergyStatus::Active);
        let drug = active_substances(&[line("PÉNICILLINE G", ComponentNature::ActiveSubstance, None)]);
        assert_eq!(allergy_check(&drug, std::slice::from_ref(&penicillin)).len(), 1);
        // A word is a word: "penicill" alone names nothing.
        let partial = allergy("Penicill", AllergyStatus::Active);
        assert!(allergy_check(&drug, &[partial]).is_empty());
        // The salt's name matches too.
        let salt = allergy("clavulanate de potassium", AllergyStatus::Active);
        assert_eq!(allergy_check(&augmentin(), &[salt])[0].substance, "ACIDE CLAVULANIQUE");
    }

    #[test]
    fn allergies_no_longer_in_force_are_not_checked() {
        let resolved = allergy("Amoxicilline", AllergyStatus::Resolved);
        assert!(allergy_check(&augmentin(), &[resolved]).is_empty());
    }

    #[test]
    fn a_query_is_a_code_or_a_normalised_name() {
        assert_eq!(DrugQuery::parse(None), Ok(DrugQuery::All));
        assert_eq!(DrugQuery::parse(Some("  ")), Ok(DrugQuery::All));
        assert_eq!(DrugQuery::parse(Some("60234100")), Ok(DrugQuery::Cis("60234100".to_owned())));
        assert_eq!(DrugQuery::parse(Some("3595583")), Ok(DrugQuery::Cip7("3595583".to_owned())));
        assert_eq!(DrugQuery::parse(Some("3400 9359 5583 8")), Ok(DrugQuery::Cip13("3400935955838".to_owned())));
        assert_eq!(DrugQuery::parse(Some("Pénicilline G")), Ok(DrugQuery::Name("penicilline g".to_owned())));
        assert_eq!(DrugQuery::parse(Some("--")), Ok(DrugQuery::All));
        assert_eq!(DrugQuery::parse(Some("")), Ok(DrugQuery::All));
        assert!(DrugQuery::parse(Some(&"a".repeat(201))).is_err());
    }

    #[test]
    fn codes_have_their_lengths() {
        assert!(is_cis("60234100"));
        assert!(!is_cis("6023410"));
        assert!(!is_cis("6023410a"));
        assert!(is_cip7("3400935"));
        assert!(is_cip13("3400930000000"));
        assert!(!is_cip13("340093000000"));
    }
}
