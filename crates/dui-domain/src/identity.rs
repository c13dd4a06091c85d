//! A person's identity: the traits of the national identity (RNIV), the INS, the identity
//! status, and their normalisation for search.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::validation::ValidationErrors;

crate::text_codes! {
    /// Sex as recorded in the national identity (RNIV).
    pub enum Sex {
        Female = "female",
        Male = "male",
        /// Indéterminé.
        Indeterminate = "indeterminate",
    }
}

crate::text_codes! {
    /// Identity status (référentiel national d'identitovigilance). Mutually exclusive; only a
    /// qualified identity may carry the INS in an exchange.
    pub enum IdentityStatus {
        /// Identité provisoire.
        Provisional = "PROV",
        /// Identité récupérée: fetched from the INSi service, no identity document checked.
        Retrieved = "RECUP",
        /// Identité validée: identity document checked.
        Validated = "VALI",
        /// Identité qualifiée: both.
        Qualified = "QUAL",
    }
}

crate::text_codes! {
    /// The authority of an INS matricule.
    pub enum InsOid {
        /// INS-NIR.
        Nir = "1.2.250.1.213.1.4.8",
        /// INS-NIA.
        Nia = "1.2.250.1.213.1.4.9",
        /// INS-NIR, test identities.
        NirTest = "1.2.250.1.213.1.4.10",
        /// INS-NIR, demonstration identities.
        NirDemo = "1.2.250.1.213.1.4.11",
    }
}

/// Checks a matricule INS (NIR or NIA): 13 characters and a 2-digit key, where the key is
/// 97 − (number mod 97) and, for Corsica, the department 2A counts as 19 and 2B as 18.
pub fn matricule(value: &str) -> Result<String, String> {
    let value: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if value.len() != 15 || !value.is_ascii() {
        return Err("a matricule INS has 15 characters (13 and a 2-digit key)".to_owned());
    }
    let (body, key) = value.split_at(13);
    let digits: String = match &body[5..7] {
        "2A" => format!("{}19{}", &body[..5], &body[7..]),
        "2B" => format!("{}18{}", &body[..5], &body[7..]),
        _ => body.to_owned(),
    };
    // Digits only: `parse` alone would take a sign ("+5").
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a matricule INS has digits only (2A or 2B for Corsica)".to_owned());
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the key of a matricule INS is 2 digits".to_owned());
    }
    let number: u64 =
        digits.parse().map_err(|_| "a matricule INS has digits only (2A or 2B for Corsica)".to_owned())?;
    let given: u64 = key.parse().map_err(|_| "the key of a matricule INS is 2 digits".to_owned())?;
    // The expected key is not told: an error message must not help forge a matricule.
    if given != 97 - number % 97 {
        return Err("the key of this matricule INS is wrong".to_owned());
    }
    Ok(value)
}

/// Checks that a matricule INS (already checked by [`matricule`]) agrees with the traits it
/// encodes: the sex (first digit: 1, 3 or 7 for a man, 2, 4 or 8 for a woman), the year of
/// birth (digits 2–3), the month of birth (digits 4–5, when 01 to 12: other values stand for
/// an unknown month) and, for a birth from 1976 on, whether the person was born abroad (99)
/// and then in which country, or in France and then in which department. Earlier places are
/// not compared: departments were redrawn in 1968 (Paris region) and 1976 (Corsica), and a
/// matricule keeps the department of the day.
pub fn matricule_agrees(matricule: &str, identity: &Identity) -> Result<(), String> {
    let digits = matricule.as_bytes();
    if digits.len() != 15 {
        return Err("a matricule INS has 15 characters (13 and a 2-digit key)".to_owned());
    }
    let text = |range: std::ops::Range<usize>| std::str::from_utf8(&digits[range]).unwrap_or("");
    let mut disagreements = Vec::new();
    let sex = match digits[0] {
        b'1' | b'3' | b'7' => Some(Sex::Male),
        b'2' | b'4' | b'8' => Some(Sex::Female),
        _ => None,
    };
    if identity.sex != Sex::Indeterminate && sex.is_some_and(|sex| sex != identity.sex) {
        disagreements.push("the sex");
    }
    let year = identity.birth_date.year().rem_euclid(100);
    if text(1..3).parse::<i32>().ok() != Some(year) {
        disagreements.push("the year of birth");
    }
    if let Ok(month @ 1..=12) = text(3..5).parse::<u32>()
        && month != identity.birth_date.month()
    {
        disagreements.push("the month of birth");
    }
    if let Some(place) = identity.birth_place.as_deref().filter(|_| identity.birth_date.year() >= 1976) {
        let (encoded, given) = (text(5..10), place);
        let abroad = |code: &str| code.starts_with("99");
        let department = |code: &str| if code.starts_with("97") || code.starts_with("98") { 3 } else { 2 };
        let agrees = match (abroad(encoded), abroad(given)) {
            (true, true) => encoded == given,
            (false, false) => {
                let n = department(encoded);
                encoded.get(..n) == given.get(..n)
            }
            _ => false,
        };
        if !agrees {
            disagreements.push("the place of birth");
        }
    }
    if disagreements.is_empty() {
        Ok(())
    } else {
        Err(format!("this matricule INS does not agree with {} of the identity", join_and(&disagreements)))
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Latin letters that do not decompose to a letter and its accents, and how the national form
/// spells them.
const SPELT: &[(char, &str)] = &[
    ('Œ', "OE"),
    ('œ', "OE"),
    ('Æ', "AE"),
    ('æ', "AE"),
    ('ß', "SS"),
    ('ẞ', "SS"),
    ('Ø', "O"),
    ('ø', "O"),
    ('Ł', "L"),
    ('ł', "L"),
    ('Đ', "D"),
    ('đ', "D"),
    ('Ð', "D"),
    ('ð', "D"),
    ('Þ', "TH"),
    ('þ', "TH"),
    ('ı', "I"),
];

fn spelt(c: char) -> Option<&'static str> {
    SPELT.iter().find(|(letter, _)| *letter == c).map(|(_, spelt)| *spelt)
}

/// The characters a name may hold (RNIV): letters of the Latin alphabets — a letter with its
/// accents, or one the national form spells out ([`SPELT`]) — space, hyphen and apostrophe.
/// Whatever else looks like a letter (click letters, modifier letters, other scripts) is not.
fn name_character(c: char) -> bool {
    if c.is_ascii_alphabetic() || matches!(c, ' ' | '-' | '\'') || spelt(c).is_some() {
        return true;
    }
    let mut parts = std::iter::once(c).nfd();
    parts.next().is_some_and(|base| base.is_ascii_alphabetic()) && parts.all(is_combining_mark)
}

/// A name as typed, made ready to keep: composed (NFC), the typographic apostrophe as `'`,
/// spaces trimmed and collapsed; refused when it holds anything but letters, spaces, hyphens
/// and apostrophes (digits, symbols, emoji, invisible or direction-changing characters, markup),
/// or does not start with a letter.
pub fn name(value: &str, max: usize) -> Result<String, String> {
    let composed: String = value.nfc().map(|c| if matches!(c, '\u{2019}' | '\u{02BC}') { '\'' } else { c }).collect();
    let collapsed = composed.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if collapsed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if let Some(bad) = composed.chars().find(|c| !c.is_whitespace() && !name_character(*c)) {
        let shown = if bad.is_alphanumeric() || bad.is_ascii_punctuation() {
            format!("'{bad}'")
        } else {
            format!("U+{:04X}", u32::from(bad))
        };
        return Err(format!("may hold only letters, spaces, hyphens and apostrophes (found {shown})"));
    }
    if !collapsed.starts_with(|c: char| c.is_alphabetic()) {
        return Err("must start with a letter".to_owned());
    }
    Ok(collapsed)
}

/// A strict trait in the form of the national identity (INS): capitals without accents,
/// ligatures spelt out, hyphens and apostrophes kept, spaces collapsed.
pub fn ins_form(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.nfkd().filter(|c| !is_combining_mark(*c)) {
        match (c, spelt(c)) {
            (_, Some(spelt)) => out.push_str(spelt),
            ('\u{2019}' | '\u{02BC}', _) => out.push('\''),
            (c, None) => out.extend(c.to_uppercase()),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks an INS given with an identity: its matricule and key, and that the matricule agrees
/// with the traits it encodes (field `{prefix}matricule`).
pub fn checked_ins(ins: Ins, identity: &Identity, errors: &mut ValidationErrors, prefix: &str) -> Option<Ins> {
    let field = format!("{prefix}matricule");
    let matricule = errors.check(&field, matricule(&ins.matricule))?;
    errors.check(&field, matricule_agrees(&matricule, identity))?;
    Some(Ins { matricule, oid: ins.oid })
}

/// The Identité Nationale de Santé: a matricule and its authority.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ins {
    /// 15 characters: NIR or NIA and its key.
    pub matricule: String,
    pub oid: InsOid,
}

/// The identity traits of a person (traits de référence of the INS, and the names used).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Nom de naissance.
    pub birth_name: String,
    /// Prénoms de l'acte de naissance, in order, separated by spaces.
    pub first_names: String,
    /// Premier prénom de l'acte de naissance (defaults to the first of `first_names`).
    #[serde(default)]
    pub first_first_name: Option<String>,
    /// Nom utilisé, when it differs from the birth name.
    #[serde(default)]
    pub used_name: Option<String>,
    /// Prénom utilisé.
    #[serde(default)]
    pub used_first_name: Option<String>,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    /// INSEE code of the place of birth (5 characters: department and commune, or 99 and the
    /// country for a birth abroad).
    #[serde(default)]
    pub birth_place: Option<String>,
}

crate::redacted_debug!(Ins, Identity, StrictTraits);

/// The strict traits of an identity (traits stricts of the RNIV) in the national identity's
/// form: what is compared with the INSi service and carried in exchanges.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StrictTraits {
    pub birth_name: String,
    pub first_names: String,
    pub first_first_name: Option<String>,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub birth_place: Option<String>,
}

fn insee_place(value: &str) -> Result<String, String> {
    let value = value.trim().to_ascii_uppercase();
    let bytes = value.as_bytes();
    let valid = bytes.len() == 5
        && (bytes[..2].iter().all(u8::is_ascii_digit) || &bytes[..2] == b"2A" || &bytes[..2] == b"2B")
        && bytes[2..].iter().all(u8::is_ascii_digit);
    if valid { Ok(value) } else { Err("an INSEE place code has 5 characters (e.g. 75056, 2A004, 99134)".to_owned()) }
}

impl Identity {
    /// Trims and checks every trait, filling the first first name when absent.
    pub fn validate(mut self, today: NaiveDate, errors: &mut ValidationErrors, prefix: &str) -> Self {
        let field = |name: &str| format!("{prefix}{name}");
        if let Some(v) = errors.check(&field("birth_name"), name(&self.birth_name, 100)) {
            self.birth_name = v;
        }
        if let Some(v) = errors.check(&field("first_names"), name(&self.first_names, 200)) {
            self.first_names = v;
        }
        self.first_first_name = match self.first_first_name.take() {
            Some(v) => errors.check(&field("first_first_name"), name(&v, 100)),
            None => self.first_names.split_whitespace().next().map(str::to_owned),
        };
        // The first first name is the first of the birth certificate's (which may be a compound
        // name written with a space, such as "Marie Louise").
        if let Some(first) = self.first_first_name.as_deref() {
            let (all, first) = (ins_form(&self.first_names), ins_form(first));
            if !(all == first || all.starts_with(&format!("{first} "))) {
                errors.add(field("first_first_name"), "must be the first of the first names");
            }
        }
        self.used_name = self.used_name.take().and_then(|v| errors.check(&field("used_name"), name(&v, 100)));
        self.used_first_name =
            self.used_first_name.take().and_then(|v| errors.check(&field("used_first_name"), name(&v, 100)));
        self.birth_place = self.birth_place.take().and_then(|v| errors.check(&field("birth_place"), insee_place(&v)));
        if self.birth_date > today {
            errors.add(field("birth_date"), "is in the future");
        } else if self.birth_date < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(NaiveDate::MIN) {
            errors.add(field("birth_date"), "is implausibly old");
        }
        self
    }

    /// The strict traits in the form of the national identity (see [`ins_form`]).
    pub fn strict_traits(&self) -> StrictTraits {
        StrictTraits {
            birth_name: ins_form(&self.birth_name),
            first_names: ins_form(&self.first_names),
            first_first_name: self.first_first_name.as_deref().map(ins_form),
            sex: self.sex,
            birth_date: self.birth_date,
            birth_place: self.birth_place.clone(),
        }
    }

    /// Whether `other` differs in a strict trait (the traits of the national identity), as
    /// opposed to the names used, which are not.
    pub fn strict_traits_differ(&self, other: &Identity) -> bool {
        self.strict_traits() != other.strict_traits()
    }

    /// The person's age in whole years on `day`.
    pub fn age_on(&self, day: NaiveDate) -> u32 {
        day.years_since(self.birth_date).unwrap_or(0)
    }

    /// The name to display: the used names when known, else the birth traits.
    pub fn display_name(&self) -> String {
        let family = self.used_name.as_deref().unwrap_or(&self.birth_name);
        let given = self.used_first_name.as_deref().or(self.first_first_name.as_deref()).unwrap_or(&self.first_names);
        format!("{given} {family}")
    }
}

/// Normalises a name for matching: no accents, upper case, ligatures spelt out, every
/// punctuation or run of spaces (hyphens, apostrophes) a single space.
pub fn normalise_name(value: &str) -> String {
    // The national form, with hyphens, apostrophes and any other punctuation as word breaks.
    ins_form(value).split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The value of the birth-identity blind index: normalised birth name and birth date.
pub fn birth_identity_key(birth_name: &str, birth_date: NaiveDate) -> String {
    format!("{}|{}", normalise_name(birth_name), birth_date.format("%Y-%m-%d"))
}

crate::text_codes! {
    /// Why a record may be the same person as another.
    pub enum Likeness {
        /// The same INS: certainly the same person.
        SameIns = "same_ins",
        /// The same birth name (as normalised) and birth date.
        SameBirthIdentity = "same_birth_identity",
        /// The same birth name, and a birth date one day off, one digit off, or with the day and
        /// the month swapped: a typing slip.
        NearBirthDate = "near_birth_date",
        /// The birth name of one is the first first name of the other, on the same birth date.
        SwappedNames = "swapped_names",
        /// The used name of one was typed as the birth name of the other, on the same birth date.
        UsedNameAsBirthName = "used_name_as_birth_name",
    }
}

/// Birth dates a typing slip could have made of `date`: a day before or after, one digit of
/// `YYYYMMDD` changed, the day and the month swapped; only real dates from 1880 to `today`.
pub fn near_birth_dates(date: NaiveDate, today: NaiveDate) -> Vec<NaiveDate> {
    let plausible = |d: &NaiveDate| *d != date && *d <= today && d.year() >= 1880;
    let mut near: Vec<NaiveDate> = [date.pred_opt(), date.succ_opt()].into_iter().flatten().collect();
    let digits: Vec<u8> = date.format("%Y%m%d").to_string().into_bytes();
    for position in 0..digits.len() {
        for digit in b'0'..=b'9' {
            if digit == digits[position] {
                continue;
            }
            let mut changed = digits.clone();
            changed[position] = digit;
            let text = String::from_utf8(changed).unwrap_or_default();
            if let Ok(other) = NaiveDate::parse_from_str(&text, "%Y%m%d") {
                near.push(other);
            }
        }
    }
    if date.day() <= 12 {
        near.extend(NaiveDate::from_ymd_opt(date.year(), date.day(), date.month()));
    }
    near.retain(plausible);
    near.sort();
    near.dedup();
    near
}

/// The values of the birth-identity blind index under which a record like `identity` would be
/// filed, with the likeness each one stands for: the exact one, then the near dates, the
/// swapped names and the used name as birth name. Searching the index for them finds likely
/// duplicates without opening any record.
pub fn duplicate_probes(identity: &Identity, today: NaiveDate) -> Vec<(String, Likeness)> {
    let date = identity.birth_date;
    let mut probes = vec![(birth_identity_key(&identity.birth_name, date), Likeness::SameBirthIdentity)];
    for near in near_birth_dates(date, today) {
        probes.push((birth_identity_key(&identity.birth_name, near), Likeness::NearBirthDate));
    }
    let first = identity.first_first_name.as_deref().or_else(|| identity.first_names.split_whitespace().next());
    if let Some(first) = first {
        probes.push((birth_identity_key(first, date), Likeness::SwappedNames));
    }
    if let Some(used) = identity.used_name.as_deref() {
        probes.push((birth_identity_key(used, date), Likeness::UsedNameAsBirthName));
    }
    // A value probed twice keeps its first (closest) likeness.
    let mut seen = std::collections::HashSet::new();
    probes.retain(|(key, _)| seen.insert(key.clone()));
    probes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn ins_keys() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("255081416802538", Ok("255081416802538")),
            ("279035121518989", Ok("279035121518989")),
            ("2 55 08 14 168 025 38", Ok("255081416802538")),
            ("255081416802539", Err("the key of this matricule INS is wrong")),
            ("25508141680253+", Err("the key of a matricule INS is 2 digits")),
            ("+55081416802538", Err("a matricule INS has digits only (2A or 2B for Corsica)")),
            ("25508141680253", Err("a matricule INS has 15 characters (13 and a 2-digit key)")),
            ("2550814168025AB", Err("the key of a matricule INS is 2 digits")),
            ("25508X416802538", Err("a matricule INS has digits only (2A or 2B for Corsica)")),
        ];
        for (input, expected) in cases {
            assert_eq!(matricule(input), expected.map(str::to_owned).map_err(str::to_owned), "{input}");
        }
    }

    #[test]
    fn corsican_departments_count_as_19_and_18() {
        // Born in Corse-du-Sud (2A) and Haute-Corse (2B): the key is computed with 19 and 18.
        for (department, digits) in [("2A", "19"), ("2B", "18")] {
            let body = format!("18402{department}004012");
            let number: u64 = format!("18402{digits}004012").parse().unwrap();
            let key = 97 - number % 97;
            let valid = format!("{body}{key:02}");
            assert_eq!(matricule(&valid.to_lowercase()), Ok(valid.clone()));
            let wrong = format!("{body}{:02}", (key % 97) + 1);
            assert!(matricule(&wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn names_normalise_for_matching() {
        let cases = [
            ("Dupont", "DUPONT"),
            ("  d'Aubigné-Lefèvre ", "D AUBIGNE LEFEVRE"),
            ("D AUBIGNE  LEFEVRE", "D AUBIGNE LEFEVRE"),
            ("Cœur", "COEUR"),
            ("Lætitia", "LAETITIA"),
            ("Çelik", "CELIK"),
            ("Ñúñez", "NUNEZ"),
            ("O'Neill--Smith", "O NEILL SMITH"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise_name(input), expected, "{input}");
        }
        let date = NaiveDate::from_ymd_opt(1936, 4, 2).unwrap();
        assert_eq!(birth_identity_key("Le Goff", date), birth_identity_key("LE-GOFF", date));
        assert_eq!(birth_identity_key("Le Goff", date), "LE GOFF|1936-04-02");
    }

    fn born(sex: Sex, (y, m, d): (i32, u32, u32), place: Option<&str>) -> Identity {
        Identity {
            sex,
            birth_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            birth_place: place.map(str::to_owned),
            ..identity()
        }
    }

    #[test]
    fn a_matricule_agrees_with_the_traits_it_encodes() {
        // 255081416802538: a woman born in August 1955 in the Calvados (14).
        let ins = "255081416802538";
        assert_eq!(matricule_agrees(ins, &born(Sex::Female, (1955, 8, 3), Some("14118"))), Ok(()));
        assert_eq!(matricule_agrees(ins, &born(Sex::Female, (1955, 8, 3), None)), Ok(()));
        assert_eq!(matricule_agrees(ins, &born(Sex::Indeterminate, (1955, 8, 3), None)), Ok(()));
        // Before 1976 the department is not compared (it may have been redrawn since): a
        // matricule of the Seine (75) agrees with a birth place now in the Hauts-de-Seine (92).
        assert_eq!(matricule_agrees("230027505612345", &born(Sex::Female, (1930, 2, 1), Some("92012"))), Ok(()));
        let woman_1930 = born(Sex::Female, (1930, 2, 1), Some("75056"));
        let error = matricule_agrees("140027511801234", &woman_1930).unwrap_err();
        assert_eq!(error, "this matricule INS does not agree with the sex and the year of birth of the identity");
        let error = matricule_agrees(ins, &born(Sex::Male, (1956, 9, 3), None)).unwrap_err();
        assert_eq!(
            error,
            "this matricule INS does not agree with the sex, the year of birth and the month of birth of the identity"
        );
        // A month from 20 on stands for an unknown month: any month agrees.
        let unknown_month = "255421416802538";
        assert_eq!(matricule_agrees(unknown_month, &born(Sex::Female, (1955, 5, 1), None)), Ok(()));
        // From 1976: abroad or in France, and where.
        let born_1979 = "279035121518989";
        assert_eq!(matricule_agrees(born_1979, &born(Sex::Female, (1979, 3, 9), Some("51454"))), Ok(()));
        for place in ["14118", "99134"] {
            let error = matricule_agrees(born_1979, &born(Sex::Female, (1979, 3, 9), Some(place))).unwrap_err();
            assert!(error.contains("the place of birth"), "{place}: {error}");
        }
        let abroad = "279039913412345";
        assert_eq!(matricule_agrees(abroad, &born(Sex::Female, (1979, 3, 9), Some("99134"))), Ok(()));
        assert!(matricule_agrees(abroad, &born(Sex::Female, (1979, 3, 9), Some("99109"))).is_err());
        let reunion = "280039741112345";
        assert_eq!(matricule_agrees(reunion, &born(Sex::Female, (1980, 3, 9), Some("97411"))), Ok(()));
        assert!(matricule_agrees(reunion, &born(Sex::Female, (1980, 3, 9), Some("97101"))).is_err());
    }

    #[test]
    fn names_hold_letters_spaces_hyphens_and_apostrophes_only() {
        let ok = [
            ("  Le   Goff ", "Le Goff"),
            ("d\u{2019}Aubigné-Lefèvre", "d'Aubigné-Lefèvre"),
            // Decomposed accents are composed.
            ("Le\u{0301}a", "Léa"),
            ("Nguyễn", "Nguyễn"),
            ("Dupont--Martin", "Dupont--Martin"),
            ("Œdipe", "Œdipe"),
            ("Łukasz", "Łukasz"),
            ("Søren", "Søren"),
        ];
        for (input, expected) in ok {
            assert_eq!(name(input, 100), Ok(expected.to_owned()), "{input:?}");
        }
        for bad in [
            "Dupont\u{1F600}",
            "Dup\u{202E}ont",
            "Du\u{200B}pont",
            "<script>",
            "Dupont2",
            "Dupont_",
            "-Dupont",
            "Пётр",
            // Click letters (U+01C0–U+01C3) look like punctuation.
            "Dup\u{01C3}nt",
            "",
            "   ",
        ] {
            assert!(name(bad, 100).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(
            name("Dup\u{202E}ont", 100).unwrap_err(),
            "may hold only letters, spaces, hyphens and apostrophes (found U+202E)"
        );
        assert!(name(&"a".repeat(101), 100).is_err());
    }

    #[test]
    fn strict_traits_take_the_national_form() {
        assert_eq!(ins_form("d'Aubigné-Lefèvre"), "D'AUBIGNE-LEFEVRE");
        assert_eq!(ins_form("  Le   Goff "), "LE GOFF");
        assert_eq!(ins_form("Cœur"), "COEUR");
        assert_eq!(ins_form("Nguyễn Thị"), "NGUYEN THI");
        assert_eq!(ins_form("Łukasz Søren"), "LUKASZ SOREN");
        let mut typed = identity();
        typed.birth_name = "Dupont".to_owned();
        let traits = typed.strict_traits();
        assert_eq!(traits.birth_name, "DUPONT");
        assert_eq!(traits.first_names, "MARIE LOUISE");
        // The names used are not strict traits.
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        for (first, ok) in
            [("Marie", true), ("Marie Louise", true), ("marie", true), ("Louise", false), ("Mari", false)]
        {
            let mut errors = ValidationErrors::new();
            Identity { first_first_name: Some(first.to_owned()), ..identity() }.validate(today, &mut errors, "");
            assert_eq!(errors.is_empty(), ok, "{first}: {errors:?}");
        }
        let mut used = typed.clone();
        used.used_name = Some("Durand".to_owned());
        assert!(!typed.strict_traits_differ(&used));
        let mut accent = typed.clone();
        accent.birth_name = "Dupont ".to_owned();
        assert!(!typed.strict_traits_differ(&accent), "the same national form");
        let mut other = typed.clone();
        other.birth_date = NaiveDate::from_ymd_opt(1936, 4, 3).unwrap();
        assert!(typed.strict_traits_differ(&other));
    }

    #[test]
    fn typing_slips_on_a_birth_date() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let today = date(2026, 12, 1);
        let near = near_birth_dates(date(1936, 4, 2), today);
        for slip in [
            date(1936, 4, 1),
            date(1936, 4, 3),
            date(1936, 2, 4),  // day and month swapped
            date(1938, 4, 2),  // one digit of the year
            date(1936, 4, 12), // one digit of the day
            date(1936, 1, 2),  // one digit of the month
        ] {
            assert!(near.contains(&slip), "{slip}");
        }
        assert!(!near.contains(&date(1936, 4, 2)), "not the date itself");
        assert!(near.iter().all(|d| *d <= today && d.year() >= 1880));
        assert!(!near.contains(&date(1946, 5, 2)), "two digits changed is another person");
        // Across a month's end, and never in the future.
        assert!(near_birth_dates(date(1936, 1, 31), today).contains(&date(1936, 2, 1)));
        assert!(near_birth_dates(date(2026, 12, 1), today).iter().all(|d| *d <= today));
    }

    #[test]
    fn duplicate_probes_cover_the_usual_slips_once_each() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let person = identity();
        let probes = duplicate_probes(&person, today);
        let date = person.birth_date;
        let likeness = |key: &str| probes.iter().find(|(k, _)| k == key).map(|(_, l)| *l);
        assert_eq!(probes[0], (birth_identity_key("Dupont", date), Likeness::SameBirthIdentity));
        assert_eq!(likeness(&birth_identity_key("DUPONT", date.succ_opt().unwrap())), Some(Likeness::NearBirthDate));
        assert_eq!(likeness(&birth_identity_key("Marie", date)), Some(Likeness::SwappedNames));
        assert_eq!(likeness(&birth_identity_key("Martin", date)), Some(Likeness::UsedNameAsBirthName));
        let keys: std::collections::HashSet<_> = probes.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), probes.len(), "each value once");
    }

    /// An identity as entered, for the tests of this crate.
    pub(crate) fn identity() -> Identity {
        Identity {
            birth_name: " Dupont ".to_owned(),
            first_names: "Marie Louise".to_owned(),
            first_first_name: None,
            used_name: Some("Martin".to_owned()),
            used_first_name: None,
            sex: Sex::Female,
            birth_date: NaiveDate::from_ymd_opt(1936, 4, 2).unwrap(),
            birth_place: Some("2a004".to_owned()),
        }
    }

    #[test]
    fn identities_never_print() {
        assert_eq!(format!("{:?}", identity()), "Identity([redacted])");
        assert_eq!(
            format!("{:?}", Ins { matricule: "255081416802538".to_owned(), oid: InsOid::Nir }),
            "Ins([redacted])"
        );
    }
}
