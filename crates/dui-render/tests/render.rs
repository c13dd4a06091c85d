//! Renders plans and checks the PDF files: structure (header, cross-reference table, page tree),
//! text, page breaks, determinism, and robustness to unusual input.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use dui_domain::care_plan::{PlanContent, PlanStatus, PlanVersion, ValidatedBy, Validation, ValidationMethod};
use dui_domain::resident::Identity;
use dui_domain::{EstablishmentId, ResidentId, UserId};
use dui_render::{PlanDocument, render_plan};
use uuid::Uuid;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn identity() -> Identity {
    serde_json::from_value(serde_json::json!({
        "birth_name": "Martin",
        "first_names": "Jeanne Émilie",
        "used_name": "Durand",
        "sex": "female",
        "birth_date": "1941-04-03"
    }))
    .unwrap()
}

const NURSE: Uuid = Uuid::from_u128(0x10);
const EDUCATOR: Uuid = Uuid::from_u128(0x11);
const UNKNOWN: Uuid = Uuid::from_u128(0x12);

/// Content built from JSON, so that the tests do not depend on fields they leave out (the
/// actions' `schedule`).
fn content(value: serde_json::Value) -> PlanContent {
    serde_json::from_value(value).unwrap()
}

fn rich_content() -> PlanContent {
    let o1 = Uuid::from_u128(1);
    let o2 = Uuid::from_u128(2);
    content(serde_json::json!({
        "expectations": "Continuer à jardiner et voir ma fille chaque semaine.\nNe pas être réveillée avant 8 h « sauf urgence ».",
        "needs": [
            {"domain": "autonomy", "text": "Aide à la marche pour les longues distances"},
            {"domain": "health", "text": "Suivi de la tension artérielle"},
            {"domain": "autonomy", "text": "Aide à la toilette le matin"},
            {"domain": "family_and_relationships", "text": "Garder le lien avec sa fille qui vit à Lyon"}
        ],
        "objectives": [
            {"id": o1, "domain": "autonomy", "text": "Marcher jusqu’au jardin avec un déambulateur", "target_date": "2026-06-30", "status": "in_progress"},
            {"id": o2, "domain": "family_and_relationships", "text": "Un appel vidéo hebdomadaire avec sa fille", "status": "planned"}
        ],
        "actions": [
            {"objective_id": o1, "what": "Accompagnement à la marche", "who": {"role": "care_assistant"}, "frequency": "chaque matin", "from": "2026-02-01", "to": "2026-06-30"},
            {"objective_id": o2, "what": "Organisation des appels vidéo", "who": {"role": "educator", "user_id": EDUCATOR}, "frequency": "le dimanche", "from": "2026-02-01"},
            {"what": "Prise de tension", "who": {"user_id": NURSE}, "frequency": "deux fois par semaine"},
            {"what": "Point avec la famille", "who": {"user_id": UNKNOWN}, "to": "2026-12-31"}
        ],
        "review": {
            "date": "2026-01-20",
            "participants": ["Mme Durand", "Sa fille, Mme Petit", "Claire Martin, infirmière"],
            "outcomes": [
                {"objective_id": o1, "status": "partly_achieved", "comment": "Marche jusqu’au salon sans aide ; le jardin reste l’objectif."},
                {"objective_id": o2, "status": "achieved"}
            ],
            "summary": "Mme Durand se dit satisfaite de l’accompagnement."
        }
    }))
}

fn plan(status: PlanStatus, content: PlanContent, validation: Option<Validation>) -> PlanVersion {
    let active = status != PlanStatus::Draft;
    PlanVersion {
        id: Uuid::from_u128(100),
        plan_id: Uuid::from_u128(101),
        resident_id: ResidentId::from_uuid(Uuid::from_u128(102)),
        establishment_id: EstablishmentId::from_uuid(Uuid::from_u128(103)),
        version: 2,
        status,
        content,
        review_due_on: active.then(|| day(2027, 2, 1)),
        validation,
        created_by: UserId::from_uuid(NURSE),
        created_at: at(2026, 1, 25, 10, 0),
        activated_at: active.then(|| at(2026, 2, 1, 9, 0)),
        activated_by: active.then(|| UserId::from_uuid(NURSE)),
        ended_at: None,
        row_version: 3,
    }
}

fn professionals() -> HashMap<UserId, String> {
    HashMap::from([
        (UserId::from_uuid(NURSE), "Claire Martin".to_owned()),
        (UserId::from_uuid(EDUCATOR), "Karim Benali".to_owned()),
    ])
}

fn render(person: &Identity, plan: &PlanVersion, professionals: &HashMap<UserId, String>) -> Vec<u8> {
    render_plan(&PlanDocument {
        establishment_name: "EHPAD Les Tilleuls",
        person,
        plan,
        professionals,
        printed_at: at(2026, 3, 14, 9, 30),
    })
}

fn rich_plan() -> PlanVersion {
    let validation = Validation {
        by: ValidatedBy::Person,
        name: "Jeanne Durand".to_owned(),
        on: day(2026, 1, 30),
        method: ValidationMethod::Signature,
    };
    plan(PlanStatus::Active, rich_content(), Some(validation))
}

fn minimal_plan() -> PlanVersion {
    plan(PlanStatus::Draft, content(serde_json::json!({"expectations": ""})), None)
}

/// cp1252, for the characters the tests use.
fn cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '’' => 0x92,
            '—' => 0x97,
            'œ' => 0x9C,
            '…' => 0x85,
            '•' => 0x95,
            c if u32::from(c) <= 0xFF => u8::try_from(u32::from(c)).unwrap(),
            c => panic!("{c} is not in the test encoder"),
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The (object number, offset) of every object in use, from the cross-reference table the
/// trailer points at; checks the table's shape on the way.
fn xref(pdf: &[u8]) -> Vec<(usize, usize)> {
    let start = pdf.windows(9).rposition(|w| w == b"startxref").expect("startxref");
    let tail = std::str::from_utf8(&pdf[start..]).unwrap();
    let mut lines = tail.lines();
    assert_eq!(lines.next(), Some("startxref"));
    let offset: usize = lines.next().unwrap().trim().parse().unwrap();
    assert_eq!(lines.next(), Some("%%EOF"));

    let table = &pdf[offset..];
    assert!(table.starts_with(b"xref\n"), "startxref points at {:?}", String::from_utf8_lossy(&table[..20]));
    let header_end = 5 + table[5..].iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&table[5..header_end]).unwrap();
    let (first, size) = header.split_once(' ').unwrap();
    let (first, size): (usize, usize) = (first.parse().unwrap(), size.trim().parse().unwrap());
    assert_eq!(first, 0);
    let mut objects = Vec::new();
    for n in 0..size {
        let entry = &table[header_end + 1 + 20 * n..header_end + 1 + 20 * (n + 1)];
        let entry = std::str::from_utf8(entry).unwrap();
        assert!(entry.ends_with(" \n") || entry.ends_with("\r\n"), "entry {n}: {entry:?}");
        let (offset, rest) = entry.split_at(10);
        let kind = &rest[7..8];
        if n == 0 {
            assert_eq!(kind, "f");
            continue;
        }
        assert_eq!(kind, "n", "entry {n}");
        objects.push((n, offset.parse().unwrap()));
    }
    assert!(std::str::from_utf8(&table[header_end + 1 + 20 * size..]).unwrap().starts_with("trailer"));
    assert!(find(&pdf[offset..], format!("/Size {size}").as_bytes()).is_some());
    objects
}

/// Every string in the content streams, literal `(...)` or hexadecimal `<...>`, decoded.
fn shown_strings(pdf: &[u8]) -> Vec<Vec<u8>> {
    let mut strings = Vec::new();
    let mut rest = pdf;
    while let Some(start) = find(rest, b"stream\n") {
        let body = &rest[start + 7..];
        let end = find(body, b"\nendstream").expect("endstream");
        let stream = &body[..end];
        let mut i = 0;
        while i < stream.len() {
            match stream[i] {
                b'(' => {
                    let mut s = Vec::new();
                    let mut depth = 1;
                    i += 1;
                    while i < stream.len() {
                        match stream[i] {
                            b'\\' => {
                                i += 1;
                                match stream[i] {
                                    b'n' => s.push(b'\n'),
                                    b'r' => s.push(b'\r'),
                                    b't' => s.push(b'\t'),
                                    b'b' => s.push(8),
                                    b'f' => s.push(12),
                                    b'0'..=b'7' => {
                                        let digits = stream[i..]
                                            .iter()
                                            .take(3)
                                            .take_while(|b| (b'0'..=b'7').contains(b))
                                            .count();
                                        let octal = std::str::from_utf8(&stream[i..i + digits]).unwrap();
                                        s.push(u8::from_str_radix(octal, 8).unwrap());
                                        i += digits - 1;
                                    }
                                    other => s.push(other),
                                }
                            }
                            b'(' => {
                                depth += 1;
                                s.push(b'(');
                            }
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                                s.push(b')');
                            }
                            other => s.push(other),
                        }
                        i += 1;
                    }
                    strings.push(s);
                }
                b'<' => {
                    let close = i + stream[i..].iter().position(|&b| b == b'>').unwrap();
                    let hex: Vec<u8> =
                        stream[i + 1..close].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
                    let hex = std::str::from_utf8(&hex).unwrap();
                    strings.push(
                        (0..hex.len()).step_by(2).map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()).collect(),
                    );
                    i = close;
                }
                _ => {}
            }
            i += 1;
        }
        rest = &body[end + b"\nendstream".len()..];
    }
    strings
}

fn shows(strings: &[Vec<u8>], text: &str) -> bool {
    let wanted = cp1252(text);
    strings.iter().any(|s| find(s, &wanted).is_some())
}

/// The checks every output must pass.
fn assert_valid(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
    let objects = xref(pdf);
    assert!(!objects.is_empty());
    for (number, offset) in &objects {
        let expected = format!("{number} 0 obj");
        assert!(pdf[*offset..].starts_with(expected.as_bytes()), "object {number} is not at {offset}");
    }
    // Page objects and the page tree's count agree.
    let pages = count(pdf, b"/Type /Page\n") + count(pdf, b"/Type /Page ") + count(pdf, b"/Type /Page>");
    assert_eq!(count(pdf, b"/Type /Pages"), 1);
    let count_at = find(pdf, b"/Count ").unwrap() + 7;
    let digits: String = pdf[count_at..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| char::from(b)).collect();
    assert_eq!(digits.parse::<usize>().unwrap(), pages);
    // Every page says which it is.
    let strings = shown_strings(pdf);
    for n in 1..=pages {
        assert!(shows(&strings, &format!("page {n} / {pages}")), "footer of page {n}");
    }
    pages
}

#[test]
fn a_rich_plan_shows_every_section() {
    let pdf = render(&identity(), &rich_plan(), &professionals());
    assert_valid(&pdf);
    let strings = shown_strings(&pdf);
    for text in [
        "EHPAD Les Tilleuls",
        "Projet personnalisé",
        "DURAND Jeanne",
        "Nom de naissance",
        "MARTIN",
        "03/04/1941",
        "2 — en vigueur",
        "01/02/2026",
        "au plus tard le 01/02/2027",
        "Attentes de la personne",
        "Continuer à jardiner et voir ma fille chaque semaine.",
        "« sauf urgence »",
        "Besoins identifiés",
        "Autonomie",
        "Santé",
        "Famille et relations",
        "Aide à la marche pour les longues distances",
        "Objectifs",
        "Objectif 1",
        "Marcher jusqu’au jardin avec un déambulateur",
        "30/06/2026",
        "en cours",
        "non fixée",
        "prévu",
        "Actions et interventions",
        "Accompagnement à la marche",
        "Aide-soignant(e)",
        "Éducateur(trice) — Karim Benali",
        "Claire Martin",
        "un professionnel",
        "chaque matin",
        "du 01/02/2026 au 30/06/2026",
        "à partir du 01/02/2026",
        "jusqu’au 31/12/2026",
        "l’objectif 2",
        "Bilan",
        "20/01/2026",
        "Mme Durand, Sa fille, Mme Petit, Claire Martin, infirmière",
        "partiellement atteint",
        "Marche jusqu’au salon sans aide",
        "Synthèse",
        "Mme Durand se dit satisfaite",
        "Validation",
        "validé par la personne, Jeanne Durand, le 30/01/2026, par signature.",
        "DURAND Jeanne — version 2 — édité le 14/03/2026",
    ] {
        assert!(shows(&strings, text), "missing {text:?}");
    }
    assert!(!shows(&strings, "BROUILLON"));
    assert!(!shows(&strings, "Non encore validé"));
    // The sections are written as WinAnsi strings in the content streams.
    assert!(find(&pdf, b"(Attentes de la personne)").is_some());
    assert!(strings.contains(&b"Besoins identifi\xE9s".to_vec()));
    // Fonts and document information.
    assert!(find(&pdf, b"/BaseFont /Helvetica\n").is_some());
    assert!(find(&pdf, b"/BaseFont /Helvetica-Bold").is_some());
    assert_eq!(count(&pdf, b"/Encoding /WinAnsiEncoding"), 2);
    assert!(find(&pdf, b"/CreationDate (D:20260314093000Z)").is_some());
}

#[test]
fn a_minimal_draft_says_what_is_missing() {
    let pdf = render(&identity(), &minimal_plan(), &HashMap::new());
    assert_eq!(assert_valid(&pdf), 1);
    let strings = shown_strings(&pdf);
    for text in [
        "BROUILLON — document de travail",
        "Projet personnalisé — brouillon",
        "2 — brouillon",
        "Non renseignées.",
        "Aucun besoin renseigné.",
        "Aucun objectif renseigné.",
        "Aucune action renseignée.",
        "Non encore validé.",
    ] {
        assert!(shows(&strings, text), "missing {text:?}");
    }
    for absent in ["Bilan", "En vigueur depuis", "Prochaine réévaluation"] {
        assert!(!shows(&strings, absent), "unexpected {absent:?}");
    }
}

#[test]
fn statuses_and_validations_are_put_in_words() {
    let mut superseded = rich_plan();
    superseded.status = PlanStatus::Superseded;
    superseded.ended_at = Some(at(2027, 1, 15, 8, 0));
    superseded.validation = Some(Validation {
        by: ValidatedBy::LegalRepresentative,
        name: "Paul Durand".to_owned(),
        on: day(2026, 1, 30),
        method: ValidationMethod::Oral,
    });
    let strings = shown_strings(&render(&identity(), &superseded, &professionals()));
    assert!(shows(&strings, "2 — remplacé"));
    assert!(shows(&strings, "15/01/2027"));
    assert!(shows(&strings, "validé par son représentant légal, Paul Durand, le 30/01/2026, oralement."));
    assert!(!shows(&strings, "Prochaine réévaluation"));

    let mut closed = rich_plan();
    closed.status = PlanStatus::Closed;
    closed.ended_at = Some(at(2027, 3, 1, 8, 0));
    closed.validation.as_mut().unwrap().method = ValidationMethod::Written;
    let strings = shown_strings(&render(&identity(), &closed, &professionals()));
    assert!(shows(&strings, "2 — clos"));
    assert!(shows(&strings, "Clos le"));
    assert!(shows(&strings, "par écrit."));
}

fn long_plan() -> PlanVersion {
    let sentence = "Madame Durand souhaite garder ses habitudes : un café au lever, la promenade de l’après-midi, \
                    les appels de sa fille le dimanche. ";
    let expectations: String = sentence.repeat(10_000 / sentence.len() + 1).chars().take(10_000).collect();
    let objectives: Vec<_> = (1..=30u128)
        .map(|n| {
            serde_json::json!({"id": Uuid::from_u128(n), "domain": "daily_life", "status": "planned",
                               "text": format!("Objectif de vie quotidienne numéro {n}, décrit en quelques mots.")})
        })
        .collect();
    let actions: Vec<_> = (1..=30u128)
        .map(|n| {
            serde_json::json!({"objective_id": Uuid::from_u128(n), "what": format!("Action {n}"),
                               "who": {"role": "home_helper"}, "frequency": "chaque jour"})
        })
        .collect();
    let content = content(serde_json::json!({
        "expectations": expectations, "objectives": objectives, "actions": actions,
        "needs": [{"domain": "other", "text": "x".repeat(3_000)}]
    }));
    plan(PlanStatus::Active, content, None)
}

#[test]
fn a_long_plan_spans_several_pages() {
    let pdf = render(&identity(), &long_plan(), &professionals());
    let pages = assert_valid(&pdf);
    assert!(pages > 3, "{pages} pages");
    let strings = shown_strings(&pdf);
    // The header is on every page.
    assert_eq!(strings.iter().filter(|s| s.as_slice() == b"EHPAD Les Tilleuls").count(), pages);
    assert_eq!(strings.iter().filter(|s| s.as_slice() == cp1252("Projet personnalisé")).count(), pages + 1);
    // The very long word was cut, not lost.
    let xs: usize = strings.iter().filter(|s| !s.is_empty() && s.iter().all(|&b| b == b'x')).map(Vec::len).sum();
    assert_eq!(xs, 3_000);
    assert!(shows(&strings, "Action 30"));
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let first = render(&identity(), &rich_plan(), &professionals());
    // A map with the same entries (and one more), filled in another order, with its own hasher
    // seed.
    let mut other = HashMap::new();
    other.insert(UserId::from_uuid(Uuid::from_u128(0x99)), "Autre".to_owned());
    other.insert(UserId::from_uuid(EDUCATOR), "Karim Benali".to_owned());
    other.insert(UserId::from_uuid(NURSE), "Claire Martin".to_owned());
    assert_eq!(first, render(&identity(), &rich_plan(), &other));
    assert_eq!(render(&identity(), &long_plan(), &other), render(&identity(), &long_plan(), &professionals()));
    let later = render_plan(&PlanDocument {
        establishment_name: "EHPAD Les Tilleuls",
        person: &identity(),
        plan: &rich_plan(),
        professionals: &professionals(),
        printed_at: at(2026, 3, 15, 9, 30),
    });
    assert_ne!(first, later);
    assert!(find(&later, b"/CreationDate (D:20260315093000Z)").is_some());
}

#[test]
fn unusual_input_does_not_break_the_document() {
    let mut person = identity();
    person.used_name = Some("  ".to_owned());
    person.birth_name = "Nguyễn".to_owned();
    person.first_names = String::new();
    person.birth_date = NaiveDate::MIN;
    let content = content(serde_json::json!({
        "expectations": "Emoji 😀, chinois 中文, contrôle \u{1}\u{7f}, tab\tet\r\nretour, ligne vide :\n\n\nfin (parenthèse \\ barre",
        "needs": [{"domain": "rights", "text": ""}],
        "objectives": [{"domain": "safety", "text": "   ", "status": "abandoned"}],
        "actions": [{"what": "", "who": {}, "frequency": "  ", "from": "2026-05-01", "to": "2026-04-01"}],
        "review": {"date": "2026-01-01", "participants": [], "outcomes": [
            {"objective_id": Uuid::from_u128(404), "status": "not_achieved", "comment": "w".repeat(20_000)}
        ]}
    }));
    let mut plan = plan(
        PlanStatus::Draft,
        content,
        Some(Validation {
            by: ValidatedBy::Person,
            name: String::new(),
            on: NaiveDate::MAX,
            method: ValidationMethod::Oral,
        }),
    );
    plan.version = i32::MIN;
    let long_name = "Établissement ".repeat(200);
    let pdf = render_plan(&PlanDocument {
        establishment_name: &long_name,
        person: &person,
        plan: &plan,
        professionals: &HashMap::new(),
        printed_at: DateTime::<Utc>::MIN_UTC,
    });
    assert_valid(&pdf);
    let strings = shown_strings(&pdf);
    assert!(shows(&strings, "Emoji ?, chinois ??, contr"));
    assert!(shows(&strings, "NGUY?N"));
    assert!(shows(&strings, "fin (parenthèse \\ barre"));
    assert!(shows(&strings, "Objectif ne figurant plus dans ce projet"));
    assert!(shows(&strings, "non précisé"));
    // The establishment's name was shortened to fit the header.
    assert!(strings.iter().any(|s| s.starts_with(&cp1252("Établissement Établissement")) && s.ends_with(&[0x85])));
}

/// qpdf and pdftotext, when installed, check the file with a real PDF reader; they are not
/// required.
#[test]
fn external_tools_accept_the_file_when_available() {
    let dir = std::env::temp_dir().join(format!("dui-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.pdf");
    std::fs::write(&path, render(&identity(), &long_plan(), &professionals())).unwrap();
    std::fs::write(dir.join("rich.pdf"), render(&identity(), &rich_plan(), &professionals())).unwrap();

    match std::process::Command::new("qpdf").arg("--check").arg(&path).output() {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "qpdf --check failed: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(stdout.contains("No syntax or stream encoding errors"), "{stdout}");
        }
        Err(_) => println!("note: qpdf is not installed; skipping qpdf --check"),
    }
    match std::process::Command::new("pdftotext").arg(dir.join("rich.pdf")).arg("-").output() {
        Ok(output) => {
            assert!(output.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&output.stderr));
            let text = String::from_utf8_lossy(&output.stdout);
            for wanted in ["Besoins identifiés", "Éducateur(trice) — Karim Benali", "« sauf urgence »", "jusqu’au"]
            {
                assert!(text.contains(wanted), "pdftotext does not find {wanted:?} in:\n{text}");
            }
        }
        Err(_) => println!("note: pdftotext is not installed; skipping the text extraction check"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
