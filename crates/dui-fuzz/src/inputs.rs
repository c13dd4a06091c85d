//! What drives the targets: valid inputs, made the way the other side makes them, then edited
//! the ways input goes wrong (a digit mistyped, a field dropped or of another type, an element
//! missing or twice, an entity, a text far too long). Random bytes alone rarely get past the
//! first check of a parser; edits of valid input reach the checks behind it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use dui_domain::identity::{Identity, Sex};
use dui_exchange::insi::{self, Found, InsTraits, InsiIns, RetrievalAnswer, VerificationAnswer};
use dui_exchange::xml::{self, Element};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

use crate::targets;

/// Characters that break parsers: controls, invisible and direction marks, combining accents,
/// letters of other scripts, emoji, the ends of the planes, XML and JSON syntax.
pub fn odd_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => proptest::char::range('0', '9'),
        2 => proptest::char::range('A', 'Z'),
        1 => proptest::char::range('a', 'z'),
        2 => prop::sample::select(vec![
            '\0', '\t', '\n', '\r', '\u{b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{ad}', '\u{200b}', '\u{200d}',
            '\u{202e}', '\u{2066}', '\u{feff}', '\u{fffd}', '\u{ffff}', '\u{10ffff}', '\u{301}', '\u{327}',
            '\u{1f600}', 'ǰ', 'ß', 'ﬁ', 'Œ', 'İ', 'ı', 'Ⅻ', '٣', '²', '½', 'ŉ', '\u{2019}', '-', '\'', ' ',
            '<', '>', '&', ';', '"', '\\', '%', '+', '.', '=', '{', '}', '[', ']', ',', ':',
        ]),
    ]
}

/// One edit of a text.
#[derive(Debug, Clone)]
enum TextEdit {
    Replace(Index, char),
    Insert(Index, char),
    Delete(Index),
    Truncate(Index),
    Duplicate(Index, Index),
    Swap(Index),
    Repeat(char, usize),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        4 => (any::<Index>(), odd_char()).prop_map(|(i, c)| TextEdit::Replace(i, c)),
        3 => (any::<Index>(), odd_char()).prop_map(|(i, c)| TextEdit::Insert(i, c)),
        2 => any::<Index>().prop_map(TextEdit::Delete),
        1 => any::<Index>().prop_map(TextEdit::Truncate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| TextEdit::Duplicate(i, j)),
        1 => any::<Index>().prop_map(TextEdit::Swap),
        1 => (odd_char(), prop_oneof![Just(2usize), Just(300), Just(5_000)]).prop_map(|(c, n)| TextEdit::Repeat(c, n)),
    ]
}

fn apply_text_edit(text: &str, edit: &TextEdit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    match edit {
        TextEdit::Replace(i, c) if len > 0 => chars[i.index(len)] = *c,
        TextEdit::Insert(i, c) => chars.insert(i.index(len + 1), *c),
        TextEdit::Delete(i) if len > 0 => {
            chars.remove(i.index(len));
        }
        TextEdit::Truncate(i) => chars.truncate(i.index(len + 1)),
        TextEdit::Duplicate(i, j) if len > 0 => {
            let (a, b) = (i.index(len), j.index(len));
            let slice: Vec<char> = chars[a.min(b)..=a.max(b)].to_vec();
            let at = a.max(b) + 1;
            chars.splice(at..at, slice);
        }
        TextEdit::Swap(i) if len > 1 => {
            let at = i.index(len - 1);
            chars.swap(at, at + 1);
        }
        TextEdit::Repeat(c, n) => chars.extend(std::iter::repeat_n(*c, *n)),
        _ => {}
    }
    chars.into_iter().collect()
}

/// `text` with one to four edits.
pub fn edited(text: String) -> impl Strategy<Value = String> {
    prop::collection::vec(text_edit(), 1..=4)
        .prop_map(move |edits| edits.iter().fold(text.clone(), |text, edit| apply_text_edit(&text, edit)))
}

/// `text` as it is (one time in `1 + weight`), or edited.
pub fn maybe_edited(text: String, weight: u32) -> BoxedStrategy<String> {
    prop_oneof![1 => Just(text.clone()), weight => edited(text)].boxed()
}

/// A matricule INS (NIR form) with its key, and the traits it encodes: sex, year and month of
/// birth, and the place (a department of mainland France or Corsica, an overseas one, or abroad).
pub fn nir() -> impl Strategy<Value = (String, Identity)> {
    let place = prop_oneof![
        (1u32..=95, 0u32..1000)
            .prop_filter("20 is no department", |(d, _)| *d != 20)
            .prop_map(|(d, c)| (format!("{d:02}"), format!("{d:02}{c:03}"))),
        (prop::bool::ANY, 0u32..1000).prop_map(|(a, c)| {
            let d = if a { "2A" } else { "2B" };
            (d.to_owned(), format!("{d}{c:03}"))
        }),
        (971u32..=976, 0u32..100).prop_map(|(d, c)| (format!("{}", d / 10), format!("{d}{c:02}"))),
        (100u32..1000).prop_map(|c| ("99".to_owned(), format!("99{c}"))),
    ];
    (prop::bool::ANY, 1900i32..2026, 1u32..=12, 1u32..=28, place, 1u32..1000).prop_map(
        |(female, year, month, day, (_, code), serial)| {
            let body = format!("{}{:02}{month:02}{code}{serial:03}", if female { 2 } else { 1 }, year % 100);
            let identity = Identity {
                birth_name: "MARTIN".to_owned(),
                first_names: "JEANNE".to_owned(),
                first_first_name: None,
                used_name: None,
                used_first_name: None,
                sex: if female { Sex::Female } else { Sex::Male },
                birth_date: NaiveDate::from_ymd_opt(year, month, day).expect("a real day"),
                birth_place: Some(code),
            };
            (with_key(&body), identity)
        },
    )
}

/// The 13 characters of a NIR with their key (2A counts as 19, 2B as 18).
pub fn with_key(body: &str) -> String {
    let digits = body.replacen("2A", "19", 1).replacen("2B", "18", 1);
    let number: u64 = digits.parse().expect("13 digits");
    format!("{body}{:02}", 97 - number % 97)
}

/// A matricule, valid or edited (spaces and lower case, which are accepted, among the edits).
pub fn matricule_input() -> impl Strategy<Value = String> {
    nir().prop_flat_map(|(matricule, _)| {
        let spaced = format!("{} {} {}", &matricule[..1], &matricule[1..5], &matricule[5..]);
        prop_oneof![1 => Just(matricule.to_lowercase()), 1 => Just(spaced), 6 => edited(matricule)]
    })
}

/// A FINESS number, valid or edited.
pub fn finess_input() -> impl Strategy<Value = String> {
    let department =
        prop_oneof![(1u32..=95).prop_map(|d| format!("{d:02}")), Just("2A".to_owned()), Just("97".to_owned())];
    (department, 0u32..10_000_000).prop_flat_map(|(d, n)| maybe_edited(format!("{d}{n:07}"), 4))
}

/// Lines of the national drug database's three files, as published (UTF-8, or Windows-1252
/// for the accents), each kept or edited, joined in any order.
pub fn bdpm_input() -> impl Strategy<Value = Vec<u8>> {
    let lines = vec![
        "60234100\tDOLIPRANE 500 mg, comprimé\tcomprimé\torale\tAutorisation active\tProcédure nationale\tCommercialisée\t09/07/1998\t\t\t OPELLA HEALTHCARE FRANCE\tNon",
        "68585615\tAUGMENTIN 1 g/125 mg, poudre pour suspension buvable\tpoudre\torale;intraveineuse\tAutorisation active\tProcédure nationale\tNon commercialisée\t31/12/2001\tAlerte\tEU/1/00/000\tA;B\tOui",
        "60234100\t3595583\tplaquette(s) de 16 comprimé(s)\tPrésentation active\tDéclaration de commercialisation\t16/03/2011\t3400935955838\toui\t65 %\t1,16\t1,18\t0,02\t",
        "68585615\tcomprimé\t00214\tAMOXICILLINE TRIHYDRATÉE\t1 g\tun comprimé\tSA\t1",
        "68585615\tcomprimé\t00213\tAMOXICILLINE\t1 g\tun comprimé\tFT\t1",
    ];
    let line = prop::sample::select(lines).prop_flat_map(|line| maybe_edited(line.to_owned(), 2));
    (prop::collection::vec(line, 0..6), any::<bool>()).prop_map(|(lines, windows_1252)| {
        let text = lines.join("\r\n");
        if windows_1252 {
            text.chars().map(|c| if (c as u32) < 256 { c as u32 as u8 } else { b'?' }).collect()
        } else {
            text.into_bytes()
        }
    })
}

/// A name, valid or edited.
pub fn identity_text_input() -> impl Strategy<Value = String> {
    let names = vec!["Marie-Hélène", "D'Artagnan", "Œdipe Lætitia", "Ngô Thị Thu", "Müller", "Ñúñez", "Zoë  Brontë"];
    (prop::sample::select(names)).prop_flat_map(|name| maybe_edited(name.to_owned(), 5))
}

/// One edit of a JSON value, at one of its places.
#[derive(Debug, Clone)]
enum JsonEdit {
    Remove(Index),
    Replace(Index, Value),
    EditText(Index, Vec<TextEdit>),
    AddField(Index, String, Value),
}

/// Values of every kind, among them the edges of each: the numbers JSON can say and Rust types
/// cannot hold, dates that are not, texts too long, nesting too deep.
pub fn odd_value() -> impl Strategy<Value = Value> {
    let deep = (1usize..200).prop_map(|n| (0..n).fold(json!(1), |inner, _| json!([inner])));
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(-1e-308)),
        Just(json!("")),
        Just(json!("   ")),
        Just(json!("0000-01-01")),
        Just(json!("2026-02-30")),
        Just(json!("+275760-09-13")),
        Just(json!("2026-03-01T25:61:00Z")),
        Just(json!("2026-03-01T08:00:00+23:59")),
        Just(json!("-262144-01-01T00:00:00Z")),
        Just(json!("00000000-0000-0000-0000-000000000000")),
        Just(json!("ffffffff-ffff-ffff-ffff-ffffffffffff")),
        Just(json!("x".repeat(100_000))),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"": null})),
        deep,
        prop::collection::vec(odd_char(), 0..20).prop_map(|c| Value::String(c.into_iter().collect())),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        3 => any::<Index>().prop_map(JsonEdit::Remove),
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        3 => (any::<Index>(), prop::collection::vec(text_edit(), 1..=3)).prop_map(|(i, e)| JsonEdit::EditText(i, e)),
        1 => (any::<Index>(), prop::sample::select(vec!["admin", "tenant_id", "id", "__proto__", ""]), odd_value())
            .prop_map(|(i, k, v)| JsonEdit::AddField(i, k.to_owned(), v)),
    ]
}

/// The places in `value` (paths of keys and indexes), the root first.
fn places(value: &Value) -> Vec<Vec<Place>> {
    fn walk(value: &Value, path: &mut Vec<Place>, out: &mut Vec<Vec<Place>>) {
        out.push(path.clone());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Place::Key(key.clone()));
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Place::Item(i));
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum Place {
    Key(String),
    Item(usize),
}

fn at_mut<'a>(value: &'a mut Value, path: &[Place]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |current, place| match place {
        Place::Key(key) => current.get_mut(key.as_str()),
        Place::Item(i) => current.get_mut(*i),
    })
}

fn apply_json_edit(mut value: Value, edit: &JsonEdit) -> Value {
    let all = places(&value);
    let pick = |i: &Index| all[i.index(all.len())].clone();
    match edit {
        JsonEdit::Remove(i) => {
            let path = pick(i);
            if let Some((last, parent)) = path.split_last()
                && let Some(parent) = at_mut(&mut value, parent)
            {
                match (parent, last) {
                    (Value::Object(map), Place::Key(key)) => {
                        map.remove(key);
                    }
                    (Value::Array(items), Place::Item(i)) => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        JsonEdit::Replace(i, new) => {
            if let Some(spot) = at_mut(&mut value, &pick(i)) {
                *spot = new.clone();
            }
        }
        JsonEdit::EditText(i, edits) => {
            if let Some(spot) = at_mut(&mut value, &pick(i)) {
                let text = match &*spot {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                *spot = Value::String(edits.iter().fold(text, |text, edit| apply_text_edit(&text, edit)));
            }
        }
        JsonEdit::AddField(i, key, new) => {
            if let Some(Value::Object(map)) = at_mut(&mut value, &pick(i)) {
                map.insert(key.clone(), new.clone());
            }
        }
    }
    value
}

/// `value` with one to three edits: fields dropped, of another type, edited, added.
pub fn json_edited(value: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec(json_edit(), 1..=3).prop_map(move |edits| edits.iter().fold(value.clone(), apply_json_edit))
}

/// The text of a JSON body: `value` as it is, edited as JSON, or its text edited (which is
/// seldom JSON any more: cut short, a key twice, an escape of half a character).
pub fn json_body(value: Value) -> impl Strategy<Value = String> {
    let text = value.to_string();
    let duplicated = match &value {
        Value::Object(map) => map.iter().next().map(|(k, v)| {
            let field = format!("{}:{v},", Value::String(k.clone()));
            format!("{{{field}{}", &text[1..])
        }),
        _ => None,
    };
    prop_oneof![
        1 => Just(text.clone()),
        8 => json_edited(value).prop_map(|v| v.to_string()),
        2 => edited(text.clone()),
        1 => Just(duplicated.unwrap_or_else(|| text.clone())),
        1 => Just(text.replacen("\"", "\"\\ud800", 2)),
    ]
}

/// The header and claims of one of the server's tokens, as it mints them.
pub fn token_parts(now: i64) -> (Value, Value) {
    let kid = targets::own_issuer().jwks().keys[0].common.key_id.clone().expect("a key id");
    let header = json!({"typ": "JWT", "alg": "EdDSA", "kid": kid});
    let claims = json!({
        "iss": targets::ISSUER, "aud": targets::AUDIENCE, "sub": "0190a0b0-0000-7000-8000-000000000001",
        "iat": now, "nbf": now, "exp": now + 3600 * 24 * 365 * 50, "jti": "0190a0b0-0000-7000-8000-000000000002",
        "ctx": "tenant", "tid": "0190a0b0-0000-7000-8000-000000000003",
    });
    (header, claims)
}

/// A token whose header and claims are `header` and `claims`, signed with the fuzzing key.
pub fn signed(header: &Value, claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_ed_pem(targets::SIGNING_KEY.as_bytes()).expect("an Ed25519 key");
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA).expect("signs");
    format!("{input}.{signature}")
}

/// A token: valid, its header or claims edited and signed again (so that the edit reaches the
/// claims' checks, behind the signature), or its text edited.
pub fn token_input(now: i64) -> impl Strategy<Value = String> {
    let (header, claims) = token_parts(now);
    let valid = signed(&header, &claims);
    let (h, c) = (header.clone(), claims.clone());
    prop_oneof![
        1 => Just(valid.clone()),
        3 => json_edited(header).prop_map(move |header| signed(&header, &c)),
        5 => json_edited(claims).prop_map(move |claims| signed(&h, &claims)),
        3 => edited(valid),
    ]
}

/// The documents the INSi teleservice and its clients exchange, as written by the formats'
/// own writers: answers of each code, a verification, a fault, and the two requests.
pub fn insi_documents() -> Vec<String> {
    let ins = |matricule: &str| InsiIns { matricule: matricule.to_owned(), oid: "1.2.250.1.213.1.4.10".to_owned() };
    let found = Found {
        ins: ins("280057505601234"),
        traits: InsTraits {
            birth_name: "MARTIN".to_owned(),
            first_names: "JEANNE MARIE".to_owned(),
            sex: Sex::Female,
            birth_date: NaiveDate::from_ymd_opt(1980, 5, 17).expect("a day"),
            birth_place: Some("75056".to_owned()),
        },
        history: vec![ins(&with_key("2800575056012"))],
    };
    let mut one = found.clone();
    one.ins = ins(&with_key("2800575056011"));
    let context = insi::CallContext {
        message_id: uuid::Uuid::from_u128(1),
        at: chrono::DateTime::from_timestamp(1_780_000_000, 0).expect("a time"),
        emitter: "330000001".to_owned(),
        software: insi::Software {
            authorisation: "AUTORISATION-TEST".to_owned(),
            version: "0.1.0".to_owned(),
            name: "urn:lps:dui:0.1.0".to_owned(),
            instance: uuid::Uuid::from_u128(7),
        },
    };
    let query = insi::RetrievalQuery {
        birth_name: "MARTIN".to_owned(),
        first_name: "JEANNE".to_owned(),
        sex: Sex::Female,
        birth_date: found.traits.birth_date,
        birth_place: Some("75056".to_owned()),
    };
    let verification = insi::VerificationQuery { ins: one.ins.clone(), traits: query.clone() };
    vec![
        insi::retrieval_answer(&RetrievalAnswer::One(one)),
        insi::retrieval_answer(&RetrievalAnswer::NoneFound),
        insi::retrieval_answer(&RetrievalAnswer::Several),
        insi::verification_answer(VerificationAnswer::Verified),
        insi::verification_answer(VerificationAnswer::Mismatch),
        dui_exchange::soap::fault("soap:Sender", Some("siram:INSi_101"), "Requête invalide"),
        insi::retrieval_request(&context, &query).expect("a request"),
        insi::verification_request(&context, &verification).expect("a request"),
    ]
}

/// One edit of an element tree.
#[derive(Debug, Clone)]
enum TreeEdit {
    Remove(Index),
    Duplicate(Index),
    Empty(Index),
    Text(Index, String),
    Nest(Index, usize),
    Namespace(Index, Option<String>),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    let text = prop_oneof![
        prop::collection::vec(odd_char(), 0..12).prop_map(|c| c.into_iter().collect::<String>()),
        Just("99".to_owned()),
        Just("00".to_owned()),
        Just("X".to_owned()),
        Just("1.2.250.1.213.1.4.8".to_owned()),
        Just("2026-02-30".to_owned()),
        Just("é".repeat(3)),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(TreeEdit::Remove),
        3 => any::<Index>().prop_map(TreeEdit::Duplicate),
        2 => any::<Index>().prop_map(TreeEdit::Empty),
        3 => (any::<Index>(), text).prop_map(|(i, t)| TreeEdit::Text(i, t)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| TreeEdit::Nest(i, n)),
        1 => (any::<Index>(), prop::option::of(Just("urn:other".to_owned()))).prop_map(|(i, n)| TreeEdit::Namespace(i, n)),
    ]
}

fn count(element: &Element) -> usize {
    1 + element.children.iter().map(count).sum::<usize>()
}

/// The path (child positions from the root) of the element at depth-first position `index`.
fn pick(root: &Element, index: &Index) -> Vec<usize> {
    fn path_of(element: &Element, mut n: usize, path: &mut Vec<usize>) -> Option<usize> {
        for (i, child) in element.children.iter().enumerate() {
            if n == 0 {
                path.push(i);
                return None;
            }
            n -= 1;
            let size = count(child);
            if n < size {
                path.push(i);
                return path_of(child, n, path);
            }
            n -= size;
        }
        Some(n)
    }
    let n = index.index(count(root));
    let mut path = Vec::new();
    if n > 0 {
        path_of(root, n - 1, &mut path);
    }
    path
}

fn element_at<'a>(root: &'a mut Element, path: &[usize]) -> &'a mut Element {
    path.iter().fold(root, |element, i| &mut element.children[*i])
}

fn apply_tree_edit(mut root: Element, edit: &TreeEdit) -> Element {
    let index = match edit {
        TreeEdit::Remove(i)
        | TreeEdit::Duplicate(i)
        | TreeEdit::Empty(i)
        | TreeEdit::Text(i, _)
        | TreeEdit::Nest(i, _)
        | TreeEdit::Namespace(i, _) => i,
    };
    let path = pick(&root, index);
    match (edit, path.split_last()) {
        (TreeEdit::Remove(_), Some((last, parent))) => {
            element_at(&mut root, parent).children.remove(*last);
        }
        (TreeEdit::Duplicate(_), Some((last, parent))) => {
            let parent = element_at(&mut root, parent);
            let copy = parent.children[*last].clone();
            parent.children.insert(*last, copy);
        }
        (TreeEdit::Empty(_), _) => {
            let element = element_at(&mut root, &path);
            element.children.clear();
            element.text.clear();
        }
        (TreeEdit::Text(_, text), _) => element_at(&mut root, &path).text = text.clone(),
        (TreeEdit::Nest(_, levels), _) => {
            let element = element_at(&mut root, &path);
            let inner = std::mem::replace(
                element,
                Element { namespace: None, name: "x".to_owned(), text: String::new(), children: Vec::new() },
            );
            let mut nested = inner;
            for _ in 0..*levels {
                nested = Element {
                    namespace: nested.namespace.clone(),
                    name: "n".to_owned(),
                    text: String::new(),
                    children: vec![nested],
                };
            }
            *element = nested;
        }
        (TreeEdit::Namespace(_, namespace), _) => element_at(&mut root, &path).namespace = namespace.clone(),
        _ => {}
    }
    root
}

/// An element tree as XML, each element declaring its namespace as the default one.
pub fn write_tree(element: &Element) -> String {
    let mut out = String::new();
    fn write(element: &Element, parent: Option<&str>, out: &mut String) {
        out.push('<');
        out.push_str(&element.name);
        if element.namespace.as_deref() != parent {
            out.push_str(&format!(r#" xmlns="{}""#, xml::escape(element.namespace.as_deref().unwrap_or(""))));
        }
        out.push('>');
        out.push_str(&xml::escape(&element.text));
        for child in &element.children {
            write(child, element.namespace.as_deref(), out);
        }
        out.push_str("</");
        out.push_str(&element.name);
        out.push('>');
    }
    write(element, None, &mut out);
    out
}

/// Snippets of XML that a reader must refuse or read safely, put before a tag.
fn xml_snippet() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "&unknown;",
        "&#0;",
        "&#xD800;",
        "&#1114112;",
        "&#x10FFFF;",
        "&#65;",
        "&amp;&lt;&gt;&quot;&apos;",
        "&",
        "<!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
        "<!ENTITY a \"b\">",
        "<!-- a comment -->",
        "<![CDATA[<CodeCR>00</CodeCR>]]>",
        "<?pi data?>",
        "<?xml version=\"1.0\"?>",
        "</unopened>",
        "<p:x/>",
        "<a>",
        "<x xmlns:p=\"\"/>",
        "<x a=\"1\" a=\"2\"/>",
        "\u{0}",
        "\u{feff}",
        "]]>",
    ])
    .prop_map(str::to_owned)
}

/// An INSi document: as written, its element tree edited (elements removed, doubled, emptied,
/// given other texts, nested deeper, in another namespace), XML snippets put before its tags,
/// or its bytes edited (cut short, bytes that are not UTF-8).
pub fn insi_input() -> impl Strategy<Value = Vec<u8>> {
    let documents = insi_documents();
    prop::sample::select(documents).prop_flat_map(|document| {
        let root = xml::parse(document.as_bytes()).expect("the writers write XML");
        let snippets = document.clone();
        let bytes = document.clone().into_bytes();
        prop_oneof![
            1 => Just(document.clone().into_bytes()),
            6 => prop::collection::vec(tree_edit(), 1..=3).prop_map(move |edits| {
                let edited = edits.iter().fold(root.clone(), apply_tree_edit);
                write_tree(&edited).into_bytes()
            }),
            3 => (prop::collection::vec((any::<Index>(), xml_snippet()), 1..=2)).prop_map(move |inserts| {
                let mut text = snippets.clone();
                for (at, snippet) in inserts {
                    let tags: Vec<usize> = text.match_indices('<').map(|(i, _)| i).collect();
                    let at = tags[at.index(tags.len())];
                    text.insert_str(at, &snippet);
                }
                text.into_bytes()
            }),
            2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 0..4), any::<bool>()).prop_map(move |(at, junk, cut)| {
                let at = at.index(bytes.len() + 1);
                let mut bytes = bytes.clone();
                if cut { bytes.truncate(at) } else { bytes.splice(at..at, junk); }
                bytes
            }),
        ]
    })
}

/// The texts of a plan: ordinary French with accents and typographic signs, edited, or any
/// characters at all.
pub fn plan_texts() -> impl Strategy<Value = targets::PlanTexts> {
    let text = prop_oneof![
        2 => maybe_edited("Marcher jusqu’au jardin « chaque matin » — œuvre, 20 €, 8 h ½".to_owned(), 3),
        2 => prop::collection::vec(any::<char>(), 0..200).prop_map(|c| c.into_iter().collect::<String>()),
        1 => prop::collection::vec(odd_char(), 0..300).prop_map(|c| c.into_iter().collect::<String>()),
        1 => (odd_char(), 1usize..5000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect::<String>()),
    ];
    (text.clone(), prop::collection::vec(text.clone(), 3), prop::collection::vec(text, 9..14))
        .prop_map(|(establishment, names, texts)| targets::PlanTexts { establishment, names, texts })
}
