//! Renders plans and checks the PDF files: structure (header, cross-reference table, page tree),
//! text, page breaks, determinism, and robustness to unusual input.

use std::collections::{BTreeMap, HashMap};

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

/// The trailer dictionary.
fn trailer(pdf: &[u8]) -> &str {
    let at = pdf.windows(7).rposition(|w| w == b"trailer").expect("trailer");
    let end = at + find(&pdf[at..], b"startxref").unwrap();
    std::str::from_utf8(&pdf[at..end]).unwrap()
}

/// An indirect object: its dictionary and, for a stream, its data as written.
#[derive(Debug, Clone, Copy)]
struct Object<'a> {
    dict: &'a str,
    data: Option<&'a [u8]>,
}

impl<'a> Object<'a> {
    /// The object number after `key` ("/Key 12 0 R").
    fn reference(&self, key: &str) -> Option<usize> {
        reference(self.dict, key)
    }

    fn has(&self, entry: &str) -> bool {
        self.dict.contains(entry)
    }

    /// The stream's data, decoded.
    fn decoded(&self) -> Vec<u8> {
        let data = self.data.expect("a stream");
        if self.has("/Filter /FlateDecode") {
            miniz_oxide::inflate::decompress_to_vec_zlib(data).expect("valid Flate data")
        } else {
            assert!(!self.has("/Filter"), "unexpected filter: {}", self.dict);
            data.to_vec()
        }
    }
}

fn reference(dict: &str, key: &str) -> Option<usize> {
    let at = dict.find(&format!("{key} "))? + key.len() + 1;
    let mut words = dict[at..].split_whitespace();
    let number = words.next()?.parse().ok()?;
    (words.next() == Some("0") && words.next()?.starts_with('R')).then_some(number)
}

/// Every object of the file by number, read where the cross-reference table says; a stream's
/// data is read with its /Length, and must be followed by `endstream`.
fn objects(pdf: &[u8]) -> BTreeMap<usize, Object<'_>> {
    let mut objects = BTreeMap::new();
    for (number, offset) in xref(pdf) {
        let body = &pdf[offset..];
        let header = format!("{number} 0 obj\n");
        assert!(body.starts_with(header.as_bytes()), "object {number} is not at {offset}");
        let body = &body[header.len()..];
        let end = find(body, b"endobj").unwrap();
        let object = match find(&body[..end], b">>\nstream\n") {
            Some(at) => {
                let dict = std::str::from_utf8(&body[..at + 2]).unwrap();
                let length: usize =
                    dict.split("/Length ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
                let data = &body[at + 10..at + 10 + length];
                assert!(body[at + 10 + length..].starts_with(b"\nendstream\nendobj"), "stream {number}'s length");
                Object { dict, data: Some(data) }
            }
            None => Object { dict: std::str::from_utf8(&body[..end]).unwrap(), data: None },
        };
        objects.insert(number, object);
    }
    objects
}

/// Reads a string operand as written in a content stream, literal `(...)` or hexadecimal `<...>`.
fn string_operand(text: &[u8]) -> Vec<u8> {
    if let Some(hex) = text.strip_prefix(b"<").and_then(|t| t.strip_suffix(b">")) {
        let hex: Vec<u8> = hex.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        let hex = std::str::from_utf8(&hex).unwrap();
        assert!(hex.len().is_multiple_of(2), "odd hexadecimal string");
        return (0..hex.len()).step_by(2).map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()).collect();
    }
    let inner = text.strip_prefix(b"(").and_then(|t| t.strip_suffix(b")")).expect("a string operand");
    let mut s = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' {
            i += 1;
            match inner[i] {
                b'n' => s.push(b'\n'),
                b'r' => s.push(b'\r'),
                b't' => s.push(b'\t'),
                b'b' => s.push(8),
                b'f' => s.push(12),
                b'0'..=b'7' => {
                    let digits = inner[i..].iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
                    let octal = std::str::from_utf8(&inner[i..i + digits]).unwrap();
                    s.push(u8::from_str_radix(octal, 8).unwrap());
                    i += digits - 1;
                }
                other => s.push(other),
            }
        } else {
            s.push(inner[i]);
        }
        i += 1;
    }
    s
}

/// A ToUnicode CMap's `bfchar` entries: code → text.
fn to_unicode(cmap: &[u8]) -> HashMap<u16, String> {
    let cmap = std::str::from_utf8(cmap).unwrap();
    let mut map = HashMap::new();
    for block in cmap.split("beginbfchar").skip(1) {
        for line in block.split("endbfchar").next().unwrap().lines().filter(|l| !l.trim().is_empty()) {
            let (code, text) = line.trim().split_once(' ').unwrap();
            let code = u16::from_str_radix(code.trim_matches(['<', '>']), 16).unwrap();
            let text = text.trim_matches(['<', '>']);
            let units: Vec<u16> =
                (0..text.len()).step_by(4).map(|k| u16::from_str_radix(&text[k..k + 4], 16).unwrap()).collect();
            map.insert(code, char::decode_utf16(units).map(Result::unwrap).collect());
        }
    }
    map
}

/// One text-showing operation: on which page, in which font (its resource name), the CIDs
/// shown, and the text they stand for according to the font's ToUnicode map.
#[derive(Debug)]
struct Shown {
    page: usize,
    font: String,
    cids: Vec<u16>,
    text: String,
}

/// The pages' objects, in order.
fn pages<'a>(objects: &BTreeMap<usize, Object<'a>>) -> Vec<Object<'a>> {
    let tree = objects.values().find(|o| o.has("/Type /Pages")).expect("a page tree");
    let kids = tree.dict.split("/Kids [").nth(1).unwrap().split(']').next().unwrap();
    let numbers: Vec<usize> = kids.split(" 0 R").filter_map(|n| n.trim().parse().ok()).collect();
    numbers.iter().map(|n| objects[n]).collect()
}

/// Every text shown, page by page, decoded through the fonts' ToUnicode maps.
fn shown(pdf: &[u8]) -> Vec<Shown> {
    let objects = objects(pdf);
    let mut out = Vec::new();
    for (index, page) in pages(&objects).iter().enumerate() {
        let content = objects[&page.reference("/Contents").unwrap()].decoded();
        let mut font = String::new();
        // pdf-writer writes one operator a line, and no string holds a raw line break.
        for line in content.split(|&b| b == b'\n') {
            if let Some(operands) = line.strip_suffix(b" Tf") {
                let name = std::str::from_utf8(operands).unwrap().split_whitespace().next().unwrap();
                font = name.trim_start_matches('/').to_owned();
            } else if let Some(operand) = line.strip_suffix(b" Tj") {
                let type0 = objects[&page.reference(&format!("/{font}")).expect("the font in the resources")];
                let map = to_unicode(&objects[&type0.reference("/ToUnicode").unwrap()].decoded());
                let bytes = string_operand(operand);
                assert!(bytes.len().is_multiple_of(2), "two bytes a glyph with Identity-H");
                let cids: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                let text = cids.iter().map(|cid| map.get(cid).unwrap_or_else(|| panic!("CID {cid} unmapped")).as_str());
                out.push(Shown { page: index + 1, font: font.clone(), text: text.collect(), cids });
            }
        }
    }
    out
}

/// The texts shown, in order.
fn shown_strings(pdf: &[u8]) -> Vec<String> {
    shown(pdf).into_iter().map(|s| s.text).collect()
}

fn shows(strings: &[String], text: &str) -> bool {
    strings.iter().any(|s| s.contains(text))
}

/// The checks every output must pass.
fn assert_valid(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
    let objects = objects(pdf);
    assert!(!objects.is_empty());
    // Page objects and the page tree's count agree.
    let pages = pages(&objects).len();
    assert_eq!(objects.values().filter(|o| o.has("/Type /Page\n") || o.has("/Type /Page ")).count(), pages);
    let tree = objects.values().find(|o| o.has("/Type /Pages")).unwrap();
    assert!(tree.has(&format!("/Count {pages}\n")));
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
    assert!(strings.contains(&"Besoins identifiés".to_owned()));
    // Headings in bold, text in regular.
    let texts = shown(&pdf);
    let font_of = |text: &str| texts.iter().find(|s| s.text == text).map(|s| s.font.as_str());
    assert_eq!(font_of("Attentes de la personne"), Some("F2"));
    assert_eq!(font_of("Mme Durand se dit satisfaite de l’accompagnement."), Some("F1"));
    // Both fonts embedded, as subsets; no standard font left.
    let objects = objects(&pdf);
    let fonts: Vec<&str> = objects.values().filter(|o| o.has("/Subtype /Type0")).map(|o| o.dict).collect();
    assert_eq!(fonts.len(), 2);
    for name in ["DejaVuSans\n", "DejaVuSans-Bold\n"] {
        let font = fonts.iter().find(|f| f.contains(name)).unwrap_or_else(|| panic!("no {name}"));
        let tag = font.split("/BaseFont /").nth(1).unwrap().split('+').next().unwrap();
        assert!(tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()), "subset tag {tag}");
    }
    assert_eq!(count(&pdf, b"/Helvetica") + count(&pdf, b"/WinAnsiEncoding") + count(&pdf, b"/Type1"), 0);
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
    let headers: Vec<usize> = shown(&pdf).iter().filter(|s| s.text == "EHPAD Les Tilleuls").map(|s| s.page).collect();
    assert_eq!(headers, (1..=pages).collect::<Vec<_>>());
    assert_eq!(strings.iter().filter(|s| *s == "Projet personnalisé").count(), pages + 1);
    // The very long word was cut, not lost.
    let xs: usize = strings.iter().filter(|s| !s.is_empty() && s.chars().all(|c| c == 'x')).map(String::len).sum();
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
    // The file identifier follows the content.
    assert_eq!(file_id(&first), file_id(&render(&identity(), &rich_plan(), &professionals())));
    assert_ne!(file_id(&first), file_id(&later));
}

/// The first string of the trailer's /ID, in hexadecimal.
fn file_id(pdf: &[u8]) -> String {
    let trailer = trailer(pdf);
    let id = trailer.split("/ID [<").nth(1).expect("a file identifier").split('>').next().unwrap();
    assert!(trailer.contains(&format!("/ID [<{id}> <{id}>]")), "{trailer}");
    id.to_owned()
}

/// Text in many scripts and signs, in regular and bold text, a person's name and the header.
fn unicode_plan() -> (Identity, PlanVersion) {
    let mut person = identity();
    person.used_name = Some("Wiśniewska".to_owned());
    let content = content(serde_json::json!({
        "expectations": "Revoir Łódź ; marcher ≥ 5 % plus loin ; « Œuvre » au café, 12 € ; ‘simples’ et “doubles”.",
        "needs": [{"domain": "health", "text": "Tension ≤ 14/9, poids ± 2 kg, 37,5 °C"}],
        "objectives": [{"domain": "social_life", "text": "Écrire à Ærøskøbing, Zürich, Kraków, Þórshöfn, Ωmega, Жанна", "status": "planned"}],
        "actions": [{"what": "Œuvre commune — ‘atelier’ “mémoire” Łódź ≥ 5 % €", "who": {"role": "educator"}}]
    }));
    (person, plan(PlanStatus::Active, content, None))
}

/// The characters the PDF/A test plan prints, as a reader must get them back.
const UNICODE_SAMPLES: &[&str] = &[
    "Łódź",
    "≥ 5 %",
    "Œuvre",
    "café",
    "€",
    "‘simples’",
    "“doubles”",
    "≤ 14/9",
    "± 2 kg",
    "37,5 °C",
    "Ærøskøbing",
    "Þórshöfn",
    "Ωmega",
    "Жанна",
    "WIŚNIEWSKA",
];

#[test]
fn text_outside_latin_1_is_printed_as_written() {
    let (person, plan) = unicode_plan();
    let pdf = render(&person, &plan, &professionals());
    assert_valid(&pdf);
    let texts = shown(&pdf);
    let strings: Vec<String> = texts.iter().map(|s| s.text.clone()).collect();
    for sample in UNICODE_SAMPLES {
        assert!(shows(&strings, sample), "missing {sample:?}");
    }
    assert!(!shows(&strings, "?"), "no character replaced: {strings:?}");
    // In bold too (the action's title).
    let bold = texts.iter().find(|s| s.text.starts_with("Œuvre commune")).unwrap();
    assert_eq!((bold.font.as_str(), bold.text.as_str()), ("F2", "Œuvre commune — ‘atelier’ “mémoire” Łódź ≥ 5 % €"));
    assert!(shows(&strings, "WIŚNIEWSKA Jeanne"), "the person's name, header and footer: {strings:?}");
}

/// What PDF/A-2b asks of the file as a whole (ISO 19005-2): the header's binary comment, a
/// file identifier, XMP metadata with the PDF/A identification that agree with the information
/// dictionary, an output intent with an embedded RGB profile for the DeviceRGB colours, and
/// nothing forbidden.
#[test]
fn the_document_is_pdf_a_2b() {
    let (person, plan) = unicode_plan();
    let pdf = render(&person, &plan, &professionals());
    assert!(pdf.starts_with(b"%PDF-1.7\n%"));
    assert!(pdf[10..14].iter().all(|&b| b >= 128), "a binary comment after the header");
    assert_eq!(file_id(&pdf).len(), 32);
    let objects = objects(&pdf);
    let catalog = objects.values().find(|o| o.has("/Type /Catalog")).unwrap();
    assert!(catalog.has("/Lang (fr-FR)"));

    let metadata = objects[&catalog.reference("/Metadata").unwrap()];
    assert!(metadata.has("/Type /Metadata") && metadata.has("/Subtype /XML") && !metadata.has("/Filter"));
    let xmp = String::from_utf8(metadata.decoded()).unwrap();
    for part in [
        "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>",
        "<pdfaid:part>2</pdfaid:part>",
        "<pdfaid:conformance>B</pdfaid:conformance>",
        "<rdf:li xml:lang=\"x-default\">Projet personnalisé</rdf:li>",
        "<xmp:CreateDate>2026-03-14T09:30:00Z</xmp:CreateDate>",
        "<pdf:Producer>dui-render</pdf:Producer>",
        "<?xpacket end=",
    ] {
        assert!(xmp.contains(part), "{part} not in the metadata:\n{xmp}");
    }
    let info = objects[&reference(trailer(&pdf), "/Info").unwrap()];
    assert!(info.has("/CreationDate (D:20260314093000Z)") && info.has("/Producer (dui-render)"), "{}", info.dict);
    // "Projet personnalisé" in UTF-16BE.
    let title: String = "\u{FEFF}Projet personnalisé".encode_utf16().map(|u| format!("{u:04X}")).collect();
    assert!(info.has(&format!("/Title <{title}>")), "{}", info.dict);
    assert!(!info.has("/ModDate") && !info.has("/Author") && !info.has("/Creator"), "{}", info.dict);

    let intents = catalog.dict.split("/OutputIntents").nth(1).unwrap();
    assert_eq!(intents.matches("/Type /OutputIntent").count(), 1);
    assert!(intents.contains("/S /GTS_PDFA1") && intents.contains("/OutputConditionIdentifier (sRGB IEC61966-2.1)"));
    let profile = objects[&reference(intents, "/DestOutputProfile").unwrap()];
    assert!(profile.has("/N 3"));
    let icc = profile.decoded();
    assert_eq!(&icc[12..20], b"mntrRGB ", "an RGB display profile");
    assert_eq!(&icc[36..40], b"acsp");
    assert!(icc[8] <= 4, "ICC version {} (PDF/A-2 takes up to 4)", icc[8]);
    // Colours are DeviceRGB (rg, RG), which the output intent covers; nothing else is painted.
    for page in pages(&objects) {
        assert!(!page.has("/Annots") && !page.has("/Group") && !page.has("/AA"));
        let content = String::from_utf8_lossy(&objects[&page.reference("/Contents").unwrap()].decoded()).into_owned();
        for operator in [" k\n", " K\n", " g\n", " G\n", " cs\n", " scn\n", " gs\n", " Do\n", " BI\n"] {
            assert!(!content.contains(operator), "{operator:?} in a content stream");
        }
    }
    for forbidden in [
        &b"/Encrypt"[..],
        b"/JavaScript",
        b"/JS ",
        b"/Launch",
        b"/EmbeddedFiles",
        b"/OCProperties",
        b"/SMask",
        b"/Transparency",
        b"/LZWDecode",
        b"/XFA",
        b"/AA ",
        b"/OpenAction",
        b"/Type1",
        b"/TrueType\n",
    ] {
        assert_eq!(count(&pdf, forbidden), 0, "{} in the file", String::from_utf8_lossy(forbidden));
    }
}

/// Every font is embedded, as a subset, with the widths its program gives, a ToUnicode entry
/// for every glyph shown, and no `.notdef` glyph shown (PDF/A-2, 6.2.11).
#[test]
fn fonts_are_embedded_and_agree_with_their_programs() {
    let (person, plan) = unicode_plan();
    for pdf in [render(&person, &plan, &professionals()), render(&identity(), &long_plan(), &professionals())] {
        let objects = objects(&pdf);
        let texts = shown(&pdf);
        let page = pages(&objects)[0];
        for resource in ["F1", "F2"] {
            let type0 = objects[&page.reference(&format!("/{resource}")).unwrap()];
            assert!(type0.has("/Subtype /Type0") && type0.has("/Encoding /Identity-H"), "{}", type0.dict);
            let base_font = type0.dict.split("/BaseFont /").nth(1).unwrap().split_whitespace().next().unwrap();
            let descendants = type0.dict.split("/DescendantFonts [").nth(1).unwrap();
            let cid_font = objects[&descendants.trim().split(' ').next().unwrap().parse::<usize>().unwrap()];
            assert!(cid_font.has("/Subtype /CIDFontType2") && cid_font.has("/CIDToGIDMap /Identity"));
            assert!(cid_font.has("/Registry (Adobe)") && cid_font.has("/Ordering (Identity)"));
            assert!(cid_font.has(&format!("/BaseFont /{base_font}\n")));
            let descriptor = objects[&cid_font.reference("/FontDescriptor").unwrap()];
            assert!(descriptor.has(&format!("/FontName /{base_font}\n")));
            for key in ["/Flags", "/FontBBox", "/ItalicAngle", "/Ascent", "/Descent", "/CapHeight", "/StemV"] {
                assert!(descriptor.has(key), "{key} missing: {}", descriptor.dict);
            }
            let file = objects[&descriptor.reference("/FontFile2").unwrap()];
            let program = file.decoded();
            assert!(file.has(&format!("/Length1 {}", program.len())));
            let face = ttf_parser::Face::parse(&program, 0).expect("a TrueType program");
            assert!(program.len() < 60_000, "{base_font} is a subset: {} bytes", program.len());

            // /W [0 [w0 w1 ...]]: the advance of every CID, as the program has it.
            let widths = cid_font.dict.split("/W [").nth(1).unwrap();
            let (first, rest) = widths.trim_start().split_once(' ').unwrap();
            assert_eq!(first, "0");
            let widths: Vec<f32> = rest
                .trim_start_matches(['[', ' '])
                .split(']')
                .next()
                .unwrap()
                .split_whitespace()
                .map(|w| w.parse().unwrap())
                .collect();
            let scale = 1000.0 / f32::from(face.units_per_em());
            for (cid, width) in widths.iter().enumerate() {
                let advance = face.glyph_hor_advance(ttf_parser::GlyphId(u16::try_from(cid).unwrap())).unwrap();
                assert!((f32::from(advance) * scale - width).abs() < 0.01, "{base_font}: CID {cid}");
            }

            let map = to_unicode(&objects[&type0.reference("/ToUnicode").unwrap()].decoded());
            let used: Vec<u16> = texts.iter().filter(|s| s.font == resource).flat_map(|s| s.cids.clone()).collect();
            assert!(!used.is_empty());
            for cid in used {
                assert_ne!(cid, 0, "the .notdef glyph is shown");
                assert!(usize::from(cid) < widths.len() && cid < face.number_of_glyphs(), "{base_font}: CID {cid}");
                assert!(map.get(&cid).is_some_and(|text| !text.is_empty()), "{base_font}: CID {cid} has no text");
            }
        }
    }
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
    // What DejaVu draws is drawn (this emoji, Vietnamese letters); the rest is a question mark,
    // never a missing glyph.
    assert!(shows(&strings, "Emoji 😀, chinois ??, contrôle ??, tab et"));
    assert!(shows(&strings, "NGUYỄN"));
    assert!(shows(&strings, "fin (parenthèse \\ barre"));
    assert!(shows(&strings, "Objectif ne figurant plus dans ce projet"));
    assert!(shows(&strings, "non précisé"));
    // The establishment's name was shortened to fit the header.
    assert!(strings.iter().any(|s| s.starts_with("Établissement Établissement") && s.ends_with('…')));
}

/// Runs a tool of poppler-utils (or qpdf) on the file; a missing tool fails the test, saying
/// how to get it (scripts/test installs poppler-utils).
fn run(tool: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new(tool).args(args).output().unwrap_or_else(|error| {
        panic!(
            "{tool} cannot be run ({error}): install poppler-utils (apt-get install poppler-utils; scripts/test does)"
        )
    });
    assert!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A real PDF reader's view: pdffonts lists every font embedded as a subset with a ToUnicode
/// map, pdftotext gives every character back, pdfinfo reads the PDF/A identification, and
/// qpdf, when installed, finds the file sound.
#[test]
fn a_pdf_reader_finds_the_fonts_the_text_and_the_identification() {
    let dir = std::env::temp_dir().join(format!("dui-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (person, plan) = unicode_plan();
    let unicode = dir.join("unicode.pdf");
    std::fs::write(&unicode, render(&person, &plan, &professionals())).unwrap();
    let long = dir.join("long.pdf");
    std::fs::write(&long, render(&identity(), &long_plan(), &professionals())).unwrap();
    let rich = dir.join("rich.pdf");
    std::fs::write(&rich, render(&identity(), &rich_plan(), &professionals())).unwrap();

    for path in [&unicode, &long, &rich] {
        let fonts = run("pdffonts", &[path.as_os_str()]);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert_eq!(rows.len(), 2, "{fonts}");
        for row in rows {
            let columns: Vec<&str> = row.split_whitespace().collect();
            // name, type (2 words), encoding, emb, sub, uni, object, generation
            assert!(columns[0].ends_with("+DejaVuSans") || columns[0].ends_with("+DejaVuSans-Bold"), "{row}");
            assert_eq!(&columns[1..7], ["CID", "TrueType", "Identity-H", "yes", "yes", "yes"], "{row}");
        }
    }

    let text = run("pdftotext", &[unicode.as_os_str(), "-".as_ref()]);
    for sample in UNICODE_SAMPLES.iter().chain(&["Œuvre commune — ‘atelier’ “mémoire” Łódź ≥ 5 % €"])
    {
        assert!(text.contains(sample), "pdftotext does not find {sample:?} in:\n{text}");
    }
    let text = run("pdftotext", &[rich.as_os_str(), "-".as_ref()]);
    for wanted in ["Besoins identifiés", "Éducateur(trice) — Karim Benali", "« sauf urgence »", "jusqu’au"] {
        assert!(text.contains(wanted), "pdftotext does not find {wanted:?} in:\n{text}");
    }

    let metadata = run("pdfinfo", &["-meta".as_ref(), unicode.as_os_str()]);
    assert!(metadata.contains("<pdfaid:part>2</pdfaid:part>"), "{metadata}");
    assert!(metadata.contains("<pdfaid:conformance>B</pdfaid:conformance>"), "{metadata}");
    let info = run("pdfinfo", &[unicode.as_os_str()]);
    let fields: Vec<String> = info.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    for field in ["PDF version: 1.7", "Title: Projet personnalisé", "Producer: dui-render"] {
        assert!(fields.iter().any(|f| f == field), "{field:?} not in:\n{info}");
    }

    match std::process::Command::new("qpdf").arg("--check").arg(&long).output() {
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
    let _ = std::fs::remove_dir_all(&dir);
}
