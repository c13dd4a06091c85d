//! The parts of a resident's record besides identity: stays, contacts, consents, identity-status
//! events and emergency openings.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{IdentityStatus, Ins};
use crate::validation::{self, ValidationErrors};
use crate::{EstablishmentId, ResidentId, UnitId, UserId};

crate::text_codes! {
    /// How a person is supported during a stay.
    pub enum StayMode {
        /// Hébergement permanent.
        Permanent = "permanent",
        /// Hébergement temporaire.
        Temporary = "temporary",
        /// Accueil de jour.
        DayCare = "day_care",
        /// At home (home help, home care).
        AtHome = "at_home",
    }
}

crate::text_codes! {
    pub enum AdmissionMode {
        New = "new",
        /// From another establishment of the same organisation.
        Transfer = "transfer",
        /// Back after a previous stay.
        Return = "return",
        Other = "other",
    }
}

crate::text_codes! {
    pub enum DischargeMode {
        Home = "home",
        OtherEstablishment = "other_establishment",
        Hospital = "hospital",
        Death = "death",
        /// To another establishment of the same organisation.
        Transfer = "transfer",
        Other = "other",
    }
}

/// A stay: where and how a person is (or was) supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stay {
    pub id: crate::StayId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub unit_id: Option<UnitId>,
    pub mode: StayMode,
    pub admitted_on: NaiveDate,
    pub admission_mode: AdmissionMode,
    pub discharged_on: Option<NaiveDate>,
    pub discharge_mode: Option<DischargeMode>,
    pub transferred_from: Option<crate::StayId>,
    pub row_version: i32,
}

impl Stay {
    /// Current on `today`: admitted, and not yet discharged.
    pub fn is_current(&self, today: NaiveDate) -> bool {
        self.admitted_on <= today && self.discharged_on.is_none_or(|d| d > today)
    }
}

/// The current stay among a resident's stays: the most recent admission that is current; if
/// there are several (day care alongside home help), the latest admitted.
pub fn current_stay(stays: &[Stay], today: NaiveDate) -> Option<&Stay> {
    stays.iter().filter(|s| s.is_current(today)).max_by_key(|s| (s.admitted_on, s.id))
}

/// A validated admission (a new stay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStay {
    pub establishment_id: EstablishmentId,
    pub unit_id: Option<UnitId>,
    pub mode: StayMode,
    pub admitted_on: NaiveDate,
    pub admission_mode: AdmissionMode,
}

impl NewStay {
    pub fn validate(
        establishment_id: EstablishmentId,
        unit_id: Option<UnitId>,
        mode: StayMode,
        admitted_on: NaiveDate,
        admission_mode: AdmissionMode,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        // Admissions are recorded ahead (a planned temporary stay) by a year at most.
        if admitted_on > today + chrono::Days::new(366) {
            errors.add("admitted_on", "is more than a year ahead");
        }
        errors.into_result(|| NewStay { establishment_id, unit_id, mode, admitted_on, admission_mode })
    }
}

/// Checks a discharge against its stay.
pub fn validate_discharge(stay: &Stay, discharged_on: NaiveDate) -> Result<(), ValidationErrors> {
    if stay.discharged_on.is_some() {
        return Err(ValidationErrors::single("discharged_on", "the stay is already closed"));
    }
    if discharged_on < stay.admitted_on {
        return Err(ValidationErrors::single("discharged_on", "is before the admission"));
    }
    Ok(())
}

crate::text_codes! {
    pub enum ContactKind {
        Relative = "relative",
        /// Aidant.
        Carer = "carer",
        /// Personne de confiance.
        TrustedPerson = "trusted_person",
        /// Tuteur, curateur, mandataire.
        LegalRepresentative = "legal_representative",
        Other = "other",
    }
}

crate::text_codes! {
    /// Mesure de protection juridique.
    pub enum ProtectionMeasure {
        Tutelle = "tutelle",
        Curatelle = "curatelle",
        CuratelleRenforcee = "curatelle_renforcee",
        SauvegardeDeJustice = "sauvegarde_de_justice",
        HabilitationFamiliale = "habilitation_familiale",
        MandatProtectionFuture = "mandat_protection_future",
    }
}

/// A contact's identifying details, sealed in storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactDetails {
    pub family_name: String,
    #[serde(default)]
    pub given_name: Option<String>,
    /// Son, daughter, neighbour, association...
    #[serde(default)]
    pub relationship: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

impl fmt::Debug for ContactDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContactDetails([redacted])")
    }
}

pub(crate) fn phone(value: &str) -> Result<String, String> {
    let value = value.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value.chars().all(|c| c.is_ascii_digit() || " +.-()".contains(c));
    if allowed && (6..=15).contains(&digits) { Ok(value.to_owned()) } else { Err("is not a phone number".to_owned()) }
}

impl ContactDetails {
    pub fn validate(mut self, errors: &mut ValidationErrors, prefix: &str) -> Self {
        let field = |name: &str| format!("{prefix}{name}");
        if let Some(v) = errors.check(&field("family_name"), validation::text(&self.family_name, 1, 100)) {
            self.family_name = v;
        }
        self.given_name =
            self.given_name.take().and_then(|v| errors.check(&field("given_name"), validation::text(&v, 1, 100)));
        self.relationship =
            self.relationship.take().and_then(|v| errors.check(&field("relationship"), validation::text(&v, 1, 100)));
        if self.phones.len() > 5 {
            errors.add(field("phones"), "at most 5 numbers");
        }
        let phones = std::mem::take(&mut self.phones);
        self.phones = phones
            .iter()
            .enumerate()
            .filter_map(|(i, p)| errors.check(&field(&format!("phones/{i}")), phone(p)))
            .collect();
        self.email = self.email.take().and_then(|v| errors.check(&field("email"), crate::people::email(&v)));
        self.address = self.address.take().and_then(|v| errors.check(&field("address"), validation::text(&v, 1, 500)));
        self
    }
}

/// A contact of a resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub id: crate::ContactId,
    pub resident_id: ResidentId,
    pub kind: ContactKind,
    pub protection_measure: Option<ProtectionMeasure>,
    pub details: ContactDetails,
    pub emergency_contact: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub row_version: i32,
}

/// Checks the shape of a contact: only a legal representative has a protection measure, and
/// every legal representative has one.
pub fn contact_shape(kind: ContactKind, measure: Option<ProtectionMeasure>) -> Result<(), ValidationErrors> {
    match (kind, measure) {
        (ContactKind::LegalRepresentative, None) => Err(ValidationErrors::single(
            "protection_measure",
            "a legal representative acts under a protection measure",
        )),
        (ContactKind::LegalRepresentative, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(ValidationErrors::single("protection_measure", "only a legal representative has one")),
    }
}

/// A contact to add, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub kind: ContactKind,
    pub protection_measure: Option<ProtectionMeasure>,
    pub details: ContactDetails,
    pub emergency_contact: bool,
}

impl NewContact {
    pub fn validate(
        kind: ContactKind,
        protection_measure: Option<ProtectionMeasure>,
        details: ContactDetails,
        emergency_contact: bool,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = match contact_shape(kind, protection_measure) {
            Ok(()) => ValidationErrors::new(),
            Err(errors) => errors,
        };
        let details = details.validate(&mut errors, "details/");
        errors.into_result(|| NewContact { kind, protection_measure, details, emergency_contact })
    }
}

/// A change to a contact: new details, the emergency flag, or its end (it stays in the
/// record's history).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactChange {
    pub details: Option<ContactDetails>,
    pub emergency_contact: Option<bool>,
    pub end: bool,
}

crate::text_codes! {
    /// What a consent or opposition is about.
    pub enum ConsentKind {
        /// Feeding the person's DMP; `refused` is the opposition to it.
        DmpFeeding = "dmp_feeding",
        /// Sharing information outside the team that supports the person.
        SharingOutsideTeam = "sharing_outside_team",
        /// Sending documents to the person's own secure mailbox (MSSanté).
        MssanteMessagesToPerson = "mssante_messages_to_person",
        /// Droit à l'image.
        ImageRights = "image_rights",
        Other = "other",
    }
}

crate::text_codes! {
    pub enum ConsentDecision {
        Granted = "granted",
        Refused = "refused",
    }
}

crate::text_codes! {
    pub enum ExpressedBy {
        Person = "person",
        LegalRepresentative = "legal_representative",
    }
}

/// A consent or opposition, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    pub id: crate::ConsentId,
    pub resident_id: ResidentId,
    pub kind: ConsentKind,
    pub decision: ConsentDecision,
    pub expressed_on: NaiveDate,
    pub expressed_by: ExpressedBy,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<UserId>,
    /// For `other`, what it is about; and any comment.
    pub comment: Option<String>,
}

/// A consent or opposition to record, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub kind: ConsentKind,
    pub decision: ConsentDecision,
    pub expressed_on: NaiveDate,
    pub expressed_by: ExpressedBy,
    pub comment: Option<String>,
}

impl NewConsent {
    /// `expressed_on` defaults to `today`; an `other` consent says what it is about.
    pub fn validate(
        kind: ConsentKind,
        decision: ConsentDecision,
        expressed_on: Option<NaiveDate>,
        expressed_by: ExpressedBy,
        comment: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let comment = comment.and_then(|c| errors.check("comment", validation::text(c, 1, 2000)));
        if kind == ConsentKind::Other && comment.is_none() && errors.is_empty() {
            errors.add("comment", "say what an `other` consent is about");
        }
        let expressed_on = expressed_on.unwrap_or(today);
        if expressed_on > today {
            errors.add("expressed_on", "is in the future");
        }
        errors.into_result(|| NewConsent { kind, decision, expressed_on, expressed_by, comment })
    }
}

/// The decision in force for each kind: the latest unrevoked one.
pub fn consents_in_force(consents: &[Consent]) -> Vec<&Consent> {
    let mut in_force: Vec<&Consent> = Vec::new();
    for consent in consents.iter().filter(|c| c.revoked_at.is_none()) {
        match in_force.iter_mut().find(|c| c.kind == consent.kind && consent.kind != ConsentKind::Other) {
            Some(current) if current.recorded_at < consent.recorded_at => *current = consent,
            Some(_) => {}
            None => in_force.push(consent),
        }
    }
    in_force
}

crate::text_codes! {
    /// An identity document checked to validate an identity.
    pub enum IdentityDocument {
        Passport = "passport",
        NationalIdentityCard = "national_identity_card",
        ResidencePermit = "residence_permit",
        /// Extrait d'acte de naissance (for a minor).
        BirthCertificateExtract = "birth_certificate_extract",
        /// Livret de famille (for a minor).
        FamilyRecordBook = "family_record_book",
    }
}

crate::text_codes! {
    /// What an identity event records.
    pub enum IdentityEventKind {
        /// A change of the identity status, with its evidence.
        Status = "status",
        /// A correction of traits or INS (the status after it may be lower).
        Correction = "correction",
        /// A duplicate record merged into this one, with the reason.
        Merge = "merge",
        /// A mistaken merge undone, with the reason.
        Unmerge = "unmerge",
    }
}

/// The traits and INS an identity had before a correction.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousIdentity {
    pub identity: crate::identity::Identity,
    pub ins: Option<Ins>,
}

crate::redacted_debug!(PreviousIdentity);

/// What an identity-status change rests on: an identity document checked, the INS fetched or
/// verified with the INSi service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evidence {
    pub document: bool,
    pub insi_lookup: bool,
}

/// A change of identity status, checked against the rules of [`identity_transition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: IdentityStatus,
    pub to: IdentityStatus,
    /// The identity document checked with this change.
    pub document: Option<IdentityDocument>,
    /// Whether the INS was fetched or verified with the INSi service with this change.
    pub insi_lookup: bool,
    pub reason: Option<String>,
}

impl StatusChange {
    /// Whether the change withdraws the INS: a qualified identity goes back to validated when
    /// its INS no longer stands (INSi no longer returns it, or it was another person's); the
    /// identity document checked still does.
    pub fn withdraws_ins(&self) -> bool {
        self.from == IdentityStatus::Qualified && self.to == IdentityStatus::Validated
    }
}

impl IdentityDocument {
    /// Whether this document proves the identity of an adult too: a livret de famille or a
    /// birth extract carries no photograph, and validates only a minor's identity (RNIV).
    pub fn proves_an_adult(self) -> bool {
        !matches!(self, IdentityDocument::BirthCertificateExtract | IdentityDocument::FamilyRecordBook)
    }
}

/// The record a status change applies to: its status, the evidence that still stands on it,
/// its INS and the person's traits.
#[derive(Debug, Clone, Copy)]
pub struct IdentityFacts<'a> {
    pub status: IdentityStatus,
    pub evidence: Evidence,
    pub ins: Option<&'a Ins>,
    pub identity: &'a crate::identity::Identity,
}

impl StatusChange {
    /// Checks a change of the record described by `facts` to `to`, with what comes with it.
    pub fn validate(
        facts: IdentityFacts<'_>,
        to: IdentityStatus,
        document: Option<IdentityDocument>,
        insi_lookup: bool,
        reason: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        let (from, earlier, ins) = (facts.status, facts.evidence, facts.ins);
        let reason = reason.map(|r| free_text("reason", r, 1)).transpose()?;
        if let Some(document) = document.filter(|d| !d.proves_an_adult())
            && facts.identity.age_on(today) >= 18
        {
            return Err(ValidationErrors::single(
                "document",
                format!(
                    "a {} validates only a minor's identity: check an identity document with a photograph",
                    match document {
                        IdentityDocument::FamilyRecordBook => "livret de famille",
                        _ => "birth certificate extract",
                    }
                ),
            ));
        }
        let new = Evidence { document: document.is_some(), insi_lookup };
        identity_transition(from, to, earlier, new, ins, reason.as_deref())?;
        Ok(StatusChange { from, to, document, insi_lookup, reason })
    }
}

/// Checks a change of identity status (RNIV). `earlier` is the evidence already on the record;
/// `new` comes with this change.
///
/// * RECUP needs the INS from an INSi look-up; VALI needs an identity document checked; QUAL
///   needs both, and an INS.
/// * A status can always go back to PROV (doubt on the identity), with a reason.
/// * QUAL goes back to VALI when its INS is withdrawn (the change removes it), with a reason.
/// * A status never goes up without its evidence, and QUAL is only reached from VALI or RECUP
///   (the evidence of both accumulates).
pub fn identity_transition(
    from: IdentityStatus,
    to: IdentityStatus,
    earlier: Evidence,
    new: Evidence,
    ins: Option<&Ins>,
    reason: Option<&str>,
) -> Result<(), ValidationErrors> {
    use IdentityStatus::*;
    let document = earlier.document || new.document;
    let insi = earlier.insi_lookup || new.insi_lookup;
    let fail = |field: &str, message: &str| Err(ValidationErrors::single(field, message));
    if from == to {
        return fail("to_status", "the identity already has this status");
    }
    match to {
        Provisional => {
            if reason.is_none_or(|r| r.trim().is_empty()) {
                return fail("reason", "going back to a provisional identity needs a reason");
            }
            if new.document || new.insi_lookup {
                return fail("to_status", "going back to a provisional identity carries no evidence");
            }
            Ok(())
        }
        Retrieved => {
            if from != Provisional {
                return fail("to_status", "RECUP follows a provisional identity only");
            }
            if !new.insi_lookup || ins.is_none() {
                return fail("insi_lookup", "RECUP needs the INS retrieved from the INSi service");
            }
            Ok(())
        }
        Validated if from == Qualified => {
            if reason.is_none_or(|r| r.trim().is_empty()) {
                return fail("reason", "withdrawing the INS of a qualified identity needs a reason");
            }
            Ok(())
        }
        Validated => {
            if from != Provisional {
                return fail(
                    "to_status",
                    "VALI follows a provisional identity, or a qualified one whose INS is withdrawn",
                );
            }
            if !new.document {
                return fail("document", "VALI needs an identity document checked");
            }
            Ok(())
        }
        Qualified => {
            if from == Provisional {
                return fail("to_status", "QUAL follows a retrieved (RECUP) or validated (VALI) identity");
            }
            if ins.is_none() {
                return fail("ins", "QUAL needs an INS");
            }
            if !document {
                return fail("document", "QUAL needs an identity document checked");
            }
            if !insi {
                return fail("insi_lookup", "QUAL needs the INS verified with the INSi service");
            }
            Ok(())
        }
    }
}

crate::text_codes! {
    /// Who may read a note (or, later, a document): every professional of the team supporting
    /// the person, the care team, medical staff only, or social staff only.
    pub enum NoteScope {
        WholeTeam = "whole_team",
        CareTeam = "care_team",
        Medical = "medical",
        Social = "social",
    }
}

/// An emergency opening of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyAccess {
    pub id: crate::EmergencyAccessId,
    pub resident_id: ResidentId,
    pub user_id: UserId,
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_outcome: Option<ReviewOutcome>,
    pub review_comment: Option<String>,
}

crate::text_codes! {
    pub enum ReviewOutcome {
        Justified = "justified",
        Unjustified = "unjustified",
    }
}

/// A reason or comment typed by a professional.
pub fn free_text(field: &str, value: &str, min: usize) -> Result<String, ValidationErrors> {
    validation::text(value, min, 2000).map_err(|m| ValidationErrors::single(field, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::InsOid;

    fn ins() -> Ins {
        Ins { matricule: "255081416802538".to_owned(), oid: InsOid::NirTest }
    }

    #[test]
    fn identity_status_transitions() {
        use IdentityStatus::*;
        let none = Evidence::default();
        let doc = Evidence { document: true, insi_lookup: false };
        let insi = Evidence { document: false, insi_lookup: true };
        let both = Evidence { document: true, insi_lookup: true };
        let ins = ins();
        // (from, to, earlier, new, has INS, reason, allowed)
        type Row<'a> = (IdentityStatus, IdentityStatus, Evidence, Evidence, bool, Option<&'a str>, bool);
        let table: &[Row<'_>] = &[
            (Provisional, Retrieved, none, insi, true, None, true),
            (Provisional, Retrieved, none, insi, false, None, false),
            (Provisional, Retrieved, none, doc, true, None, false),
            (Provisional, Validated, none, doc, false, None, true),
            (Provisional, Validated, none, insi, true, None, false),
            (Provisional, Qualified, none, both, true, None, false),
            (Retrieved, Qualified, insi, doc, true, None, true),
            (Retrieved, Qualified, insi, none, true, None, false),
            (Validated, Qualified, doc, insi, true, None, true),
            (Validated, Qualified, doc, insi, false, None, false),
            (Validated, Qualified, doc, none, true, None, false),
            (Retrieved, Validated, insi, doc, true, None, false),
            (Qualified, Provisional, both, none, true, Some("homonymie suspectée"), true),
            (Qualified, Provisional, both, none, true, None, false),
            (Qualified, Provisional, both, insi, true, Some("doute"), false),
            (Retrieved, Provisional, insi, doc, true, Some("doute"), false),
            (Validated, Validated, doc, doc, true, None, false),
            // The INS of a qualified identity withdrawn: back to VALI, with a reason.
            (Qualified, Validated, both, none, true, Some("INS attribué à une autre personne"), true),
            (Qualified, Validated, both, none, true, None, false),
            (Retrieved, Validated, insi, none, true, Some("raison"), false),
        ];
        for (i, (from, to, earlier, new, has_ins, reason, allowed)) in table.iter().enumerate() {
            let result = identity_transition(*from, *to, *earlier, *new, has_ins.then_some(&ins), *reason);
            assert_eq!(result.is_ok(), *allowed, "row {i}: {from:?} → {to:?}: {result:?}");
        }
    }

    #[test]
    fn a_livret_de_famille_or_a_birth_extract_validates_only_a_minor() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let mut person = crate::identity::tests::identity();
        fn facts(identity: &crate::identity::Identity) -> IdentityFacts<'_> {
            IdentityFacts { status: IdentityStatus::Provisional, evidence: Evidence::default(), ins: None, identity }
        }
        for weak in [IdentityDocument::FamilyRecordBook, IdentityDocument::BirthCertificateExtract] {
            // An adult (born in 1936): refused, saying why.
            let refused =
                StatusChange::validate(facts(&person), IdentityStatus::Validated, Some(weak), false, None, today)
                    .unwrap_err();
            assert_eq!(refused.errors()[0].field, "document");
            assert!(refused.errors()[0].message.contains("only a minor"), "{refused:?}");
        }
        let passport = Some(IdentityDocument::Passport);
        assert!(
            StatusChange::validate(facts(&person), IdentityStatus::Validated, passport, false, None, today).is_ok()
        );
        // A minor (17 years and 364 days old): accepted.
        person.birth_date = NaiveDate::from_ymd_opt(2008, 12, 2).unwrap();
        let book = Some(IdentityDocument::FamilyRecordBook);
        assert!(StatusChange::validate(facts(&person), IdentityStatus::Validated, book, false, None, today).is_ok());
        person.birth_date = NaiveDate::from_ymd_opt(2008, 12, 1).unwrap();
        assert!(StatusChange::validate(facts(&person), IdentityStatus::Validated, book, false, None, today).is_err());
    }

    fn stay(admitted: (i32, u32, u32), discharged: Option<(i32, u32, u32)>) -> Stay {
        let date = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        Stay {
            id: crate::StayId::from_uuid(uuid::Uuid::from_u128(
                admitted.0 as u128 * 10_000 + admitted.1 as u128 * 100 + admitted.2 as u128,
            )),
            resident_id: ResidentId::from_uuid(uuid::Uuid::nil()),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            unit_id: None,
            mode: StayMode::Permanent,
            admitted_on: date(admitted),
            admission_mode: AdmissionMode::New,
            discharged_on: discharged.map(date),
            discharge_mode: discharged.map(|_| DischargeMode::Home),
            transferred_from: None,
            row_version: 1,
        }
    }

    #[test]
    fn the_current_stay_is_derived() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let stays = [stay((2020, 1, 1), Some((2024, 5, 1))), stay((2024, 5, 1), None), stay((2027, 1, 1), None)];
        assert_eq!(current_stay(&stays, today).unwrap().admitted_on, NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
        assert!(current_stay(&stays[..1], today).is_none());
        // Discharged today: no longer current.
        assert!(current_stay(&[stay((2024, 5, 1), Some((2026, 12, 1)))], today).is_none());
        assert!(validate_discharge(&stays[1], NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()).is_err());
        assert!(validate_discharge(&stays[0], today).is_err());
        assert!(validate_discharge(&stays[1], today).is_ok());
    }

    #[test]
    fn contacts_and_consents() {
        assert!(contact_shape(ContactKind::LegalRepresentative, None).is_err());
        assert!(contact_shape(ContactKind::LegalRepresentative, Some(ProtectionMeasure::Tutelle)).is_ok());
        assert!(contact_shape(ContactKind::Relative, Some(ProtectionMeasure::Tutelle)).is_err());
        let mut errors = ValidationErrors::new();
        let details = ContactDetails {
            family_name: " Martin ".to_owned(),
            given_name: Some("Luc".to_owned()),
            relationship: Some("fils".to_owned()),
            phones: vec!["06 12 34 56 78".to_owned(), "abc".to_owned()],
            email: Some("luc@example.fr".to_owned()),
            address: None,
        }
        .validate(&mut errors, "details/");
        assert_eq!(details.family_name, "Martin");
        assert_eq!(errors.errors()[0].field, "details/phones/1");
        assert_eq!(format!("{details:?}"), "ContactDetails([redacted])");
    }
}
