//! Validation errors that name the offending field, so the API can answer a 422 that says exactly
//! what is wrong.

use std::fmt;

use serde::Serialize;

/// One problem with one input field. `field` is a JSON pointer-like path (`finess`,
/// `memberships/0/role`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// All problems found in one input. Validation collects every error rather than stopping at the
/// first, so a form can show them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Records the error of a field-level check, if any.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.errors.is_empty() { Ok(value()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.field, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Trims a human-entered text and checks its length (in characters). Empty after trimming is an
/// error when `min` is at least 1.
pub fn text(value: &str, min: usize, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    let count = trimmed.chars().count();
    if count < min {
        return Err(if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if count > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(trimmed.to_owned())
}

/// A text that may be left out: trimmed, empty (once trimmed) taken as absent; otherwise as
/// [`text`] checks it, its error recorded under `field`.
pub fn optional_text(errors: &mut ValidationErrors, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())?;
    errors.check(field, text(&value, 1, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        let cases: &[(&str, usize, usize, Result<&str, &str>)] = &[
            ("  Les Tilleuls ", 1, 200, Ok("Les Tilleuls")),
            ("   ", 1, 200, Err("must not be empty")),
            ("abcdef", 1, 5, Err("must be at most 5 characters")),
            ("éééé", 1, 4, Ok("éééé")),
            ("a\u{7}b", 1, 10, Err("must not contain control characters")),
            ("", 0, 10, Ok("")),
        ];
        for (input, min, max, expected) in cases {
            let got = text(input, *min, *max);
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(got, expected, "input {input:?}");
        }
    }

    #[test]
    fn an_optional_text_is_absent_when_empty_and_checked_otherwise() {
        let mut errors = ValidationErrors::new();
        assert_eq!(optional_text(&mut errors, "a", None, 5), None);
        assert_eq!(optional_text(&mut errors, "b", Some("  ".to_owned()), 5), None);
        assert_eq!(optional_text(&mut errors, "c", Some(" ok ".to_owned()), 5), Some("ok".to_owned()));
        assert!(errors.is_empty());
        assert_eq!(optional_text(&mut errors, "d", Some("toolong".to_owned()), 5), None);
        assert_eq!(errors.to_string(), "d: must be at most 5 characters");
    }

    #[test]
    fn collects_every_error() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check("name", text("", 1, 10)), None);
        assert_eq!(errors.check("label", text("ok", 1, 10)), Some("ok".to_owned()));
        errors.add("finess", "bad key");
        assert_eq!(errors.errors().len(), 2);
        assert_eq!(errors.to_string(), "name: must not be empty; finess: bad key");
        assert!(errors.into_result(|| ()).is_err());
    }
}
