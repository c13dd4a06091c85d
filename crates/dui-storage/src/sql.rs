//! The one way statements are written: SQL with named parameters.
//!
//! A statement names its parameters (`:resident`, `:expected_version`) instead of numbering
//! them, so a reader sees what each value is and a fragment shared by many statements (the
//! access rule, the audit insert) can name its own values without knowing where the statement
//! around it put its. [`Sql::new`] turns the text into PostgreSQL's positional form once (each
//! statement lives in a `static` [`Stmt`]); at execution, [`Sql::bind`] lines the values up in
//! that order. Casts (`::uuid`), string literals, quoted identifiers, dollar-quoted bodies and
//! comments are left alone.
//!
//! Values come from the call ([`Args`], usually built with [`args!`](crate::args)) and, for the
//! names every resident statement shares — the tenant, the user and what they reach — from the
//! transaction's caller ([`crate::tx::Tx`]), which binds them itself.

use std::sync::LazyLock;

use tokio_postgres::types::ToSql;

use crate::{StoreError, StoreResult};

/// A statement written once, turned into positional form on first use.
pub(crate) type Stmt = LazyLock<Sql>;

/// A value bound to a statement.
pub(crate) type Value<'a> = &'a (dyn ToSql + Sync);

/// A statement in PostgreSQL's positional form, with the name of each position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    text: String,
    names: Vec<String>,
}

impl Sql {
    /// Parses a statement written with `:name` parameters. A name used twice is one parameter.
    ///
    /// # Panics
    ///
    /// On a positional parameter (`$1`) outside quotes, or an unterminated quote or comment: the
    /// text is the code's own, and every statement is run by the tests.
    pub fn new(named: &str) -> Self {
        let bytes = named.as_bytes();
        let mut text = String::with_capacity(named.len());
        let mut names: Vec<String> = Vec::new();
        let mut i = 0;
        let mut copied = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\'' | b'"' => i = skip_quoted(named, i, bytes[i]),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    i = named[i..].find('\n').map_or(bytes.len(), |end| i + end + 1);
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    let end = named[i + 2..].find("*/").unwrap_or_else(|| panic!("unterminated comment in {named}"));
                    i += end + 4;
                }
                b'$' => {
                    if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                        panic!("positional parameter in a named statement: {named}");
                    }
                    i = skip_dollar_quoted(named, i);
                }
                b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
                b':' if bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                    let start = i + 1;
                    let mut end = start;
                    while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                        end += 1;
                    }
                    let name = &named[start..end];
                    let position = match names.iter().position(|n| n == name) {
                        Some(p) => p + 1,
                        None => {
                            names.push(name.to_owned());
                            names.len()
                        }
                    };
                    text.push_str(&named[copied..i]);
                    text.push('$');
                    text.push_str(&position.to_string());
                    copied = end;
                    i = end;
                }
                _ => i += 1,
            }
        }
        text.push_str(&named[copied..]);
        Self { text, names }
    }

    /// The statement as PostgreSQL receives it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parameters' names, in position order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The same statement under `EXPLAIN` (with `ANALYZE, BUFFERS` when `analyze`: it then
    /// runs), bound the same way.
    pub fn explained(&self, analyze: bool) -> Self {
        let options = if analyze { "(ANALYZE, BUFFERS) " } else { "" };
        Self { text: format!("EXPLAIN {options}{}", self.text), names: self.names.clone() }
    }

    /// The values of the statement's parameters in position order, each taken from `args` or,
    /// failing that, from `fallback`. A name bound nowhere is a bug, reported as an error.
    pub(crate) fn bind<'v>(
        &self,
        args: &'v Args<'_>,
        fallback: &dyn Fn(&str) -> Option<Value<'v>>,
    ) -> StoreResult<Vec<Value<'v>>> {
        self.names
            .iter()
            .map(|name| {
                args.get(name).or_else(|| fallback(name)).ok_or_else(|| StoreError::Corrupt {
                    column: "statement parameter",
                    value: format!(":{name} is not bound"),
                })
            })
            .collect()
    }
}

/// Skips a quoted literal or identifier starting at `start`; a doubled quote is part of it.
fn skip_quoted(text: &str, start: usize, quote: u8) -> usize {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None => panic!("unterminated quote in {text}"),
            Some(&c) if c == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            Some(&c) if c == quote => return i + 1,
            Some(_) => i += 1,
        }
    }
}

/// Skips a dollar-quoted body (`$$...$$`, `$tag$...$tag$`) starting at `start`; a lone `$` is
/// passed over.
fn skip_dollar_quoted(text: &str, start: usize) -> usize {
    let rest = &text[start + 1..];
    let Some(close) = rest.find('$') else { return start + 1 };
    let tag = &rest[..close];
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return start + 1;
    }
    let delimiter = format!("${tag}$");
    let body = start + delimiter.len();
    match text[body..].find(&delimiter) {
        Some(end) => body + end + delimiter.len(),
        None => panic!("unterminated dollar quote in {text}"),
    }
}

/// The values of a call, by name.
#[derive(Default)]
pub struct Args<'a> {
    pairs: Vec<(&'static str, Value<'a>)>,
    /// `:action` and `:resource_type`, for a statement that records its access.
    action: Option<(&'static str, &'static str)>,
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pairs.iter().map(|(name, _)| name)).finish()
    }
}

impl<'a> Args<'a> {
    pub fn new() -> Self {
        Self { pairs: Vec::new(), action: None }
    }

    /// Binds `:action` and `:resource_type`: what the statement's trace records.
    pub fn action(mut self, action: dui_domain::audit::AuditAction) -> Self {
        self.action = Some((action.as_str(), action.resource_type()));
        self
    }

    /// Binds `name` (replacing an earlier value of the same name).
    pub fn set(mut self, name: &'static str, value: Value<'a>) -> Self {
        self.pairs.retain(|(n, _)| *n != name);
        self.pairs.push((name, value));
        self
    }

    fn get<'v>(&'v self, name: &str) -> Option<Value<'v>>
    where
        'a: 'v,
    {
        if let Some((_, value)) = self.pairs.iter().find(|(n, _)| *n == name) {
            return Some(*value);
        }
        match (name, &self.action) {
            ("action", Some((action, _))) => Some(action),
            ("resource_type", Some((_, resource_type))) => Some(resource_type),
            _ => None,
        }
    }
}

/// Named values for a statement: `args! { resident: &id, limit: &50i64 }`.
#[macro_export]
#[doc(hidden)]
macro_rules! args {
    () => { $crate::sql::Args::new() };
    ($($name:ident : $value:expr),+ $(,)?) => {
        $crate::sql::Args::new()$(.set(stringify!($name), $value))+
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(named: &str) -> (String, Vec<String>) {
        let sql = Sql::new(named);
        (sql.text().to_owned(), sql.names().to_vec())
    }

    #[test]
    fn names_become_positions_in_order_of_first_use() {
        assert_eq!(
            parsed("SELECT * FROM notes WHERE tenant_id = :tenant AND id = :id AND :tenant IS NOT NULL"),
            (
                "SELECT * FROM notes WHERE tenant_id = $1 AND id = $2 AND $1 IS NOT NULL".to_owned(),
                vec!["tenant".to_owned(), "id".to_owned()]
            )
        );
    }

    #[test]
    fn casts_quotes_comments_and_dollar_bodies_are_left_alone() {
        let (text, names) = parsed(
            "SELECT :a::uuid, ':b', \"c:d\", E'x'':e', $$ :f $$, $t$ :g $t$ -- :h\n, /* :i */ :j::int[], x::text",
        );
        assert_eq!(names, ["a", "j"]);
        assert_eq!(
            text,
            "SELECT $1::uuid, ':b', \"c:d\", E'x'':e', $$ :f $$, $t$ :g $t$ -- :h\n, /* :i */ $2::int[], x::text"
        );
    }

    #[test]
    fn values_line_up_with_positions_and_a_missing_name_is_an_error() {
        let sql = Sql::new("SELECT :b, :a, :who");
        let (a, b, who) = (1i32, 2i32, 3i32);
        let args = args! { a: &a, b: &b };
        let fallback = |name: &str| (name == "who").then_some(&who as Value<'_>);
        let bound = sql.bind(&args, &fallback).unwrap();
        assert_eq!(bound.len(), 3);
        assert_eq!(format!("{:?}", bound), format!("{:?}", [&b as Value<'_>, &a, &who]));
        assert!(sql.bind(&args, &|_| None).is_err(), ":who bound nowhere");
    }

    #[test]
    #[should_panic(expected = "positional parameter")]
    fn positional_parameters_are_refused() {
        Sql::new("SELECT $1");
    }
}
