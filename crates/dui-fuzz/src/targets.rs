//! One function per parser of outside input. Each takes what arrives from outside (text or
//! bytes), runs the parser, and checks what must hold of its answer whatever the input: it
//! never panics, and what it accepts it accepts again unchanged. A broken property panics with
//! what was given, which is what a fuzzer reports as a crash.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use dui_auth::keys::SigningKey;
use dui_auth::own::OwnIssuer;
use dui_domain::care_plan::{
    Action, Need, Objective, ObjectiveDomain, ObjectiveOutcome, ObjectiveStatus, Performer, PlanContent, PlanStatus,
    PlanVersion, Review, ValidatedBy, Validation, ValidationMethod,
};
use dui_domain::identity::{self, Identity, InsOid, Sex};
use dui_domain::insi::FoundIdentity;
use dui_domain::people;
use dui_domain::structure::Finess;
use dui_domain::validation;
use dui_domain::{EstablishmentId, ResidentId, UserId};
use dui_exchange::insi::{self, RetrievalAnswer};
use dui_exchange::xml::{self, Element};
use dui_exchange::{SoapError, soap};
use uuid::Uuid;

/// The issuer and audience of the tokens the token target verifies.
pub const ISSUER: &str = "https://dui.fuzz";
pub const AUDIENCE: &str = "dui";

/// The key that signs the token target's tokens: fixed, so that a corpus of tokens kept between
/// runs still reaches the claims' checks.
pub const SIGNING_KEY: &str = include_str!("../keys/fuzz-signing-key.pem");

/// The issuer that verifies tokens (with its cache of tokens verified, as in the server).
pub fn own_issuer() -> &'static OwnIssuer {
    static ISSUER_: OnceLock<OwnIssuer> = OnceLock::new();
    ISSUER_.get_or_init(|| {
        let key = SigningKey::from_pem(SIGNING_KEY).expect("the fuzzing key is an Ed25519 PEM");
        OwnIssuer::new(ISSUER, AUDIENCE, key, Vec::new(), 0)
    })
}

/// A matricule INS (NIR or NIA) and its key; its agreement with traits.
pub fn matricule(input: &str) {
    let person = person();
    // The agreement is checked after the key in the domain, but it reads any text it is given.
    let _ = identity::matricule_agrees(input, &person);
    if let Ok(value) = identity::matricule(input) {
        assert!(value.len() == 15 && value.is_ascii(), "accepted {input:?} as {value:?}");
        assert_eq!(identity::matricule(&value).as_deref(), Ok(value.as_str()), "accepted {input:?} once only");
        let _ = identity::matricule_agrees(&value, &person);
        let mut errors = validation::ValidationErrors::new();
        let ins = identity::Ins { matricule: input.to_owned(), oid: InsOid::Nir };
        let _ = identity::checked_ins(ins, &person, &mut errors, "ins.");
    }
}

/// A FINESS number.
pub fn finess(input: &str) {
    if let Ok(finess) = Finess::parse(input) {
        assert_eq!(finess.as_str().len(), 9, "accepted {input:?} as {finess:?}");
        assert_eq!(Finess::parse(finess.as_str()).as_ref(), Ok(&finess), "accepted {input:?} once only");
    }
}

/// The checks of texts people type: names (RNIV characters), their national form, free texts,
/// professional numbers, e-mail addresses.
pub fn identity_text(input: &str) {
    if let Ok(name) = identity::name(input, 100) {
        assert!(name.chars().count() <= 100, "accepted {input:?} as {name:?}, too long");
        assert_eq!(identity::name(&name, 100).as_ref(), Ok(&name), "accepted {input:?} once only");
    }
    let national = identity::ins_form(input);
    assert!(
        !national.chars().any(unicode_normalization::char::is_combining_mark),
        "the national form of {input:?} keeps an accent: {national:?}"
    );
    assert_eq!(identity::ins_form(&national), national, "the national form of {input:?} is not stable");
    let _ = identity::normalise_name(input);
    if let Ok(text) = validation::text(input, 1, 200) {
        assert_eq!(validation::text(&text, 1, 200).as_ref(), Ok(&text), "accepted {input:?} once only");
    }
    for check in [people::rpps, people::adeli, people::email] {
        if let Ok(value) = check(input) {
            assert_eq!(check(&value).as_ref(), Ok(&value), "accepted {input:?} once only");
        }
    }
}

/// A bearer token: its header and routing claims read unverified, then verified as one of the
/// server's own. Any text must give an answer, never a panic; a token accepted is one of ours.
pub fn token(input: &str) {
    let peeked = dui_auth::peek(input);
    let key_id = peeked.as_ref().ok().and_then(|p| p.key_id.as_deref());
    if own_issuer().verify(input, key_id).is_ok() {
        let peeked = peeked.expect("a token that verifies can be read");
        assert_eq!(peeked.issuer.as_deref(), Some(ISSUER), "verified a token of another issuer: {input:?}");
        assert!(peeked.audiences.iter().any(|a| a == AUDIENCE), "verified a token for another audience: {input:?}");
    }
}

/// An answer of the INSi teleservice (retrieval, verification, fault), and a request as the
/// local teleservice reads it: the XML reader, the SOAP envelope, the answer codes, and the
/// checks an identity found goes through before it is kept.
pub fn insi_answer(input: &[u8]) {
    if let Ok(root) = xml::parse(input) {
        assert!(depth(&root) <= xml::MAX_DEPTH, "accepted a document deeper than allowed");
    }
    match soap::read(input) {
        Ok(_) | Err(SoapError::Format(_)) => {}
        Err(SoapError::Fault(fault)) => {
            let _ = fault.is_senders();
        }
    }
    if let Ok(RetrievalAnswer::One(found)) = insi::read_retrieval_answer(input)
        && let Some(oid) = InsOid::parse(&found.ins.oid)
    {
        let identity = FoundIdentity {
            ins: identity::Ins { matricule: found.ins.matricule, oid },
            birth_name: found.traits.birth_name,
            first_names: found.traits.first_names,
            sex: found.traits.sex,
            birth_date: found.traits.birth_date,
            birth_place: found.traits.birth_place,
        };
        if let Ok(checked) = identity.checked(true) {
            let _ = checked.applied_to(&person());
        }
    }
    let _ = insi::read_verification_answer(input);
    let _ = insi::read_request(input);
}

/// A file of the national drug database, read as each of its three kinds: every line is a
/// record or set aside with its number, never both, and a record's codes have their lengths.
pub fn bdpm(input: &[u8]) {
    use dui_exchange::bdpm;
    let lines = bdpm::decode(input).0.split('\n').filter(|l| !l.trim().is_empty()).count();
    let specialities = bdpm::specialities(input);
    assert_eq!(specialities.rows.len() + specialities.rejected.len(), lines, "each line read once");
    for s in &specialities.rows {
        assert!(dui_domain::drug::is_cis(&s.cis) && !s.denomination.is_empty(), "accepted {s:?}");
    }
    let presentations = bdpm::presentations(input);
    assert_eq!(presentations.rows.len() + presentations.rejected.len(), lines, "each line read once");
    for p in &presentations.rows {
        assert!(dui_domain::drug::is_cip13(&p.cip13) && dui_domain::drug::is_cip7(&p.cip7), "accepted {p:?}");
    }
    let compositions = bdpm::compositions(input);
    assert_eq!(compositions.rows.len() + compositions.rejected.len(), lines, "each line read once");
    let _ = dui_domain::drug::active_substances(&compositions.rows);
    for rejected in specialities.rejected.iter().chain(&presentations.rejected).chain(&compositions.rejected) {
        assert!(rejected.line >= 1 && !rejected.reason.is_empty());
    }
}

fn depth(element: &Element) -> usize {
    1 + element.children.iter().map(depth).max().unwrap_or(0)
}

/// The free texts of a plan, to render.
#[derive(Debug, Clone, Default)]
pub struct PlanTexts {
    pub establishment: String,
    pub names: Vec<String>,
    pub texts: Vec<String>,
}

impl PlanTexts {
    /// Texts from one input: its parts between unit separators (U+001F), dealt to the
    /// establishment's name, the person's and professionals' names, and the plan's texts.
    pub fn from_text(input: &str) -> Self {
        let mut parts = input.split('\u{1f}').map(str::to_owned);
        let establishment = parts.next().unwrap_or_default();
        let names = parts.by_ref().take(3).collect();
        Self { establishment, names, texts: parts.collect() }
    }
}

/// A version of a projet personnalisé, whatever its texts say, rendered as PDF: a whole file
/// (header, cross-reference table, trailer) every time.
pub fn plan_pdf(texts: &PlanTexts) -> Vec<u8> {
    let name = |i: usize| texts.names.get(i).cloned().unwrap_or_default();
    let text = |i: usize| texts.texts.get(i).cloned().unwrap_or_default();
    let person = Identity {
        birth_name: name(0),
        first_names: name(1),
        first_first_name: None,
        used_name: Some(name(2)),
        used_first_name: None,
        sex: Sex::Female,
        birth_date: day(1941, 4, 3),
        birth_place: None,
    };
    let professional = UserId::from_uuid(Uuid::from_u128(0x10));
    let objective = Uuid::from_u128(1);
    // Every text, including those past the fields listed, lands somewhere in the plan.
    let extra = texts.texts.iter().skip(9).cloned();
    let content = PlanContent {
        expectations: text(0),
        needs: std::iter::once(text(1))
            .chain(extra)
            .map(|text| Need { domain: ObjectiveDomain::Autonomy, text })
            .collect(),
        objectives: vec![Objective {
            id: Some(objective),
            domain: ObjectiveDomain::DailyLife,
            text: text(2),
            target_date: Some(day(2026, 6, 30)),
            status: ObjectiveStatus::InProgress,
        }],
        actions: vec![
            Action {
                id: None,
                objective_id: Some(objective),
                what: text(3),
                who: Performer { role: None, user_id: Some(professional) },
                frequency: Some(text(4)),
                schedule: None,
                from: Some(day(2026, 2, 1)),
                to: None,
            },
            Action {
                id: None,
                objective_id: None,
                what: text(5),
                who: Performer { role: Some(people::Role::Nurse), user_id: None },
                frequency: None,
                schedule: None,
                from: None,
                to: None,
            },
        ],
        review: Some(Review {
            date: day(2026, 1, 20),
            participants: vec![text(6), name(1)],
            outcomes: vec![ObjectiveOutcome {
                objective_id: objective,
                status: ObjectiveStatus::PartlyAchieved,
                comment: Some(text(7)),
            }],
            summary: Some(text(8)),
        }),
    };
    let plan = PlanVersion {
        id: Uuid::from_u128(100),
        plan_id: Uuid::from_u128(101),
        resident_id: ResidentId::from_uuid(Uuid::from_u128(102)),
        establishment_id: EstablishmentId::from_uuid(Uuid::from_u128(103)),
        version: 2,
        status: PlanStatus::Active,
        content,
        review_due_on: Some(day(2027, 2, 1)),
        validation: Some(Validation {
            by: ValidatedBy::Person,
            name: name(0),
            on: day(2026, 1, 30),
            method: ValidationMethod::Signature,
        }),
        created_by: professional,
        created_at: at(2026, 1, 25),
        activated_at: Some(at(2026, 2, 1)),
        activated_by: Some(professional),
        ended_at: None,
        row_version: 3,
    };
    let professionals = HashMap::from([(professional, name(2))]);
    let pdf = dui_render::render_plan(&dui_render::PlanDocument {
        establishment_name: &texts.establishment,
        person: &person,
        plan: &plan,
        professionals: &professionals,
        printed_at: at(2026, 3, 14),
    });
    assert!(pdf.starts_with(b"%PDF-"), "no PDF header");
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "no end of file marker");
    let tail = &pdf[pdf.len().saturating_sub(64)..];
    let start = std::str::from_utf8(tail)
        .ok()
        .and_then(|t| t.split("startxref").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("a startxref offset");
    assert!(pdf[start..].starts_with(b"xref"), "startxref points elsewhere");
    pdf
}

/// The person the matricule and INSi targets compare traits with.
fn person() -> Identity {
    Identity {
        birth_name: "MARTIN".to_owned(),
        first_names: "JEANNE".to_owned(),
        first_first_name: None,
        used_name: None,
        used_first_name: None,
        sex: Sex::Female,
        birth_date: day(1980, 5, 17),
        birth_place: Some("75056".to_owned()),
    }
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a real day")
}

fn at(year: i32, month: u32, day_of_month: u32) -> DateTime<Utc> {
    day(year, month, day_of_month).and_hms_opt(9, 30, 0).expect("a real time").and_utc()
}

/// A target, as a fuzzer calls it.
pub type Target = fn(&[u8]);

/// The targets by name, each taking bytes as a fuzzer gives them (text targets read them as
/// UTF-8, lossily: a parser of text never sees anything else).
pub const ALL: &[(&str, Target)] = &[
    ("matricule", |data| matricule(&String::from_utf8_lossy(data))),
    ("finess", |data| finess(&String::from_utf8_lossy(data))),
    ("identity_text", |data| identity_text(&String::from_utf8_lossy(data))),
    ("token", |data| token(&String::from_utf8_lossy(data))),
    ("insi_answer", insi_answer),
    ("bdpm", bdpm),
    ("plan_pdf", |data| {
        plan_pdf(&PlanTexts::from_text(&String::from_utf8_lossy(data)));
    }),
];

/// Runs the target `name` on `data` (for libFuzzer, which knows targets by name).
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = ALL.iter().find(|(n, _)| *n == name).expect("a target of this name");
    target(data);
}
