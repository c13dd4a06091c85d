//! A person's identity: the traits of the national identity (RNIV), the INS, the identity
//! status, and their normalisation for search.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::validation::{self, ValidationErrors};

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
    let number: u64 =
        digits.parse().map_err(|_| "a matricule INS has digits only (2A or 2B for Corsica)".to_owned())?;
    let given: u64 = key.parse().map_err(|_| "the key of a matricule INS is 2 digits".to_owned())?;
    let expected = 97 - number % 97;
    if given != expected {
        return Err(format!("the key of this matricule INS is wrong (expected {expected:02})"));
    }
    Ok(value)
}

/// The Identité Nationale de Santé: a matricule and its authority.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ins {
    /// 15 characters: NIR or NIA and its key.
    pub matricule: String,
    pub oid: InsOid,
}

impl fmt::Debug for Ins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ins([redacted])")
    }
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

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity([redacted])")
    }
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
        if let Some(v) = errors.check(&field("birth_name"), validation::text(&self.birth_name, 1, 100)) {
            self.birth_name = v;
        }
        if let Some(v) = errors.check(&field("first_names"), validation::text(&self.first_names, 1, 200)) {
            self.first_names = v;
        }
        self.first_first_name = match self.first_first_name.take() {
            Some(v) => errors.check(&field("first_first_name"), validation::text(&v, 1, 100)),
            None => self.first_names.split_whitespace().next().map(str::to_owned),
        };
        self.used_name =
            self.used_name.take().and_then(|v| errors.check(&field("used_name"), validation::text(&v, 1, 100)));
        self.used_first_name = self
            .used_first_name
            .take()
            .and_then(|v| errors.check(&field("used_first_name"), validation::text(&v, 1, 100)));
        self.birth_place = self.birth_place.take().and_then(|v| errors.check(&field("birth_place"), insee_place(&v)));
        if self.birth_date > today {
            errors.add(field("birth_date"), "is in the future");
        } else if self.birth_date < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(NaiveDate::MIN) {
            errors.add(field("birth_date"), "is implausibly old");
        }
        self
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
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.nfkd().filter(|c| !is_combining_mark(*c)) {
        let spelt: &str = match c {
            'œ' | 'Œ' => "OE",
            'æ' | 'Æ' => "AE",
            'ß' => "SS",
            _ => "",
        };
        if !spelt.is_empty() || c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            if spelt.is_empty() {
                out.extend(c.to_uppercase());
            } else {
                out.push_str(spelt);
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// The value of the birth-identity blind index: normalised birth name and birth date.
pub fn birth_identity_key(birth_name: &str, birth_date: NaiveDate) -> String {
    format!("{}|{}", normalise_name(birth_name), birth_date.format("%Y-%m-%d"))
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
            ("255081416802539", Err("the key of this matricule INS is wrong (expected 38)")),
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
