//! The structure of a tenant: establishments and services (one FINESS géographique each) and
//! their units.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::{self, ValidationErrors};

/// A FINESS number (juridique or géographique): 9 characters, the first two being the
/// department (`01`–`95`, `2A`, `2B`, or `97`/`98` for overseas), the rest digits.
///
/// Only the shape is checked: the control key's algorithm is not published in a form we could
/// confirm, and refusing a real establishment's number would be worse than accepting a typo that
/// the FINESS directory look-up will catch.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "750000523"))]
pub struct Finess(String);

impl Finess {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 9 {
            return Err("a FINESS number has 9 characters".to_owned());
        }
        // Departments 01 to 95 (20 became 2A and 2B), 97 and 98 overseas.
        let department_ok = match &bytes[..2] {
            [b'2', b'A' | b'B'] => true,
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                let number = (a - b'0') * 10 + (b - b'0');
                matches!(number, 1..=19 | 21..=95 | 97 | 98)
            }
            _ => false,
        };
        if !department_ok {
            return Err("a FINESS number starts with a department code (01-95, 2A, 2B, 97, 98)".to_owned());
        }
        if !bytes[2..].iter().all(u8::is_ascii_digit) {
            return Err("a FINESS number has digits after its department code".to_owned());
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Finess({})", self.0)
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Finess {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Finess> for String {
    fn from(value: Finess) -> Self {
        value.0
    }
}

crate::text_codes! {
    /// The kind of an establishment or service, as the sector names it.
    pub enum EstablishmentCategory {
        /// Établissement d'hébergement pour personnes âgées dépendantes (nursing home).
        Ehpad = "ehpad",
        /// Service de soins infirmiers à domicile (home nursing care).
        Ssiad = "ssiad",
        /// Service d'aide et d'accompagnement à domicile (home help).
        Saad = "saad",
        /// Service polyvalent d'aide et de soins à domicile (home help and care).
        Spasad = "spasad",
        /// Institut médico-éducatif (children with disabilities).
        Ime = "ime",
        /// Service d'éducation spéciale et de soins à domicile.
        Sessad = "sessad",
        /// Maison d'accueil spécialisée.
        Mas = "mas",
        /// Foyer d'accueil médicalisé.
        Fam = "fam",
        /// Établissement et service d'aide par le travail.
        Esat = "esat",
        /// Centre d'hébergement et de réinsertion sociale.
        Chrs = "chrs",
        /// Centre de soins, d'accompagnement et de prévention en addictologie.
        Csapa = "csapa",
        Other = "other",
    }
}

impl EstablishmentCategory {
    /// Services that go to people's homes rather than host them.
    pub const fn is_home_service(self) -> bool {
        matches!(self, Self::Ssiad | Self::Saad | Self::Spasad | Self::Sessad)
    }
}

crate::text_codes! {
    /// Open establishments accept new stays; closed ones keep their history.
    pub enum StructureStatus {
        Open = "open",
        Closed = "closed",
    }
}

/// A validated establishment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEstablishment {
    pub finess: Finess,
    pub name: String,
    pub category: EstablishmentCategory,
}

impl NewEstablishment {
    pub fn validate(finess: &str, name: &str, category: EstablishmentCategory) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let finess = errors.check("finess", Finess::parse(finess));
        let name = errors.check("name", validation::text(name, 1, 200));
        errors.into_result(|| NewEstablishment {
            finess: finess.expect("checked"),
            name: name.expect("checked"),
            category,
        })
    }
}

/// A validated change to an establishment; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EstablishmentChanges {
    pub name: Option<String>,
    pub category: Option<EstablishmentCategory>,
    pub status: Option<StructureStatus>,
    /// An IANA time zone (`Europe/Paris`, `Indian/Reunion`, `America/Guadeloupe`...); whether
    /// it exists is checked by the database, which knows the zones.
    pub timezone: Option<String>,
    /// When shifts start, in local time, sorted.
    pub shift_starts: Option<Vec<chrono::NaiveTime>>,
}

impl EstablishmentChanges {
    pub fn validate(
        name: Option<&str>,
        category: Option<EstablishmentCategory>,
        status: Option<StructureStatus>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = name.and_then(|n| errors.check("name", validation::text(n, 1, 200)));
        errors.into_result(|| EstablishmentChanges { name, category, status, ..Self::default() })
    }

    /// Adds the time zone and the shifts: 1 to 6 distinct "HH:MM" times.
    pub fn with_shifts(
        mut self,
        timezone: Option<&str>,
        shift_starts: Option<&[String]>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(zone) = timezone {
            let shaped = !zone.is_empty()
                && zone.len() <= 64
                && zone.split('/').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
                });
            if shaped {
                self.timezone = Some(zone.to_owned());
            } else {
                errors.add("timezone", "is not a time zone name (e.g. Europe/Paris)");
            }
        }
        if let Some(starts) = shift_starts {
            let mut times = Vec::new();
            for (i, start) in starts.iter().enumerate() {
                match chrono::NaiveTime::parse_from_str(start, "%H:%M") {
                    Ok(time) if start.len() == 5 => times.push(time),
                    _ => errors.add(format!("shift_starts[{i}]"), "must be a time as HH:MM"),
                }
            }
            times.sort();
            let count = times.len();
            times.dedup();
            if count != times.len() {
                errors.add("shift_starts", "has the same time twice");
            }
            if !(1..=6).contains(&starts.len()) {
                errors.add("shift_starts", "must have 1 to 6 times");
            }
            self.shift_starts = Some(times);
        }
        errors.into_result(|| self)
    }
}

/// A validated unit name (a wing, a floor, a home-help round).
pub fn unit_name(value: &str) -> Result<String, ValidationErrors> {
    validation::text(value, 1, 120).map_err(|message| ValidationErrors::single("name", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finess_shapes() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("750000523", Ok("750000523")),
            (" 2a0000012 ", Ok("2A0000012")),
            ("2B0000012", Ok("2B0000012")),
            ("970000012", Ok("970000012")),
            ("75000052", Err("a FINESS number has 9 characters")),
            ("7500005231", Err("a FINESS number has 9 characters")),
            ("000000523", Err("a FINESS number starts with a department code (01-95, 2A, 2B, 97, 98)")),
            ("2C0000012", Err("a FINESS number starts with a department code (01-95, 2A, 2B, 97, 98)")),
            ("200000012", Err("a FINESS number starts with a department code (01-95, 2A, 2B, 97, 98)")),
            ("990000012", Err("a FINESS number starts with a department code (01-95, 2A, 2B, 97, 98)")),
            ("75000A523", Err("a FINESS number has digits after its department code")),
        ];
        for (input, expected) in cases {
            let got = Finess::parse(input).map(|f| f.as_str().to_owned());
            assert_eq!(got, expected.map(str::to_owned).map_err(str::to_owned), "input {input:?}");
        }
    }

    #[test]
    fn categories_round_trip() {
        for category in EstablishmentCategory::ALL {
            assert_eq!(EstablishmentCategory::parse(category.as_str()), Some(*category));
        }
        assert!(EstablishmentCategory::Saad.is_home_service());
        assert!(!EstablishmentCategory::Ehpad.is_home_service());
    }
}

/// An establishment or service as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Establishment {
    pub id: crate::EstablishmentId,
    pub finess: Finess,
    pub name: String,
    pub category: EstablishmentCategory,
    pub status: StructureStatus,
    /// Its time zone: shifts, the day's tasks and the hand-over feed follow it.
    pub timezone: String,
    /// When shifts start, local time ("HH:MM").
    pub shift_starts: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A unit as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    pub id: crate::UnitId,
    pub establishment_id: crate::EstablishmentId,
    pub name: String,
    pub status: StructureStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
