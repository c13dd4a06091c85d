//! What a kind of record declares about its storage, so that what spans every kind — the
//! re-encryption job, the tenant's export and import, a resident's export, the merge of two
//! records — is derived from the declarations instead of kept in lists by hand.
//!
//! Each feature module (`residents`, `notes`, `measurements`...) has a `FEATURE` constant; the
//! registry ([`crate::features::ALL`]) holds them, in the order the tenant's tables are
//! exported and imported (what a row refers to comes before it). Tests compare the
//! declarations with PostgreSQL's catalog: a tenant table no feature declares, a binary column
//! no feature seals, or a table holding a resident's rows that neither the resident's export nor
//! the merge knows, fails them.

use dui_crypto::{Column, Keyring};
use tokio_postgres::Row;

use crate::StoreResult;

/// A kind of record, or of the tenant's data, and its tables.
#[derive(Debug)]
pub struct Feature {
    pub name: &'static str,
    pub tables: &'static [Table],
}

/// A table a feature owns.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Columns sealed value by value.
    pub sealed: &'static [Column],
    /// Whether the re-encryption job reseals them after a key rotation (not the append-only
    /// trail, whose hash chain covers the ciphertext: retired keys are kept to open it).
    pub reseal: bool,
    /// How the tenant's export carries the table.
    pub tenant_export: TenantExport,
    /// How the table's rows belong to a resident, if they do.
    pub resident: Option<ResidentRows>,
}

/// How the tenant's export (reversibility) carries a table.
#[derive(Debug)]
pub enum TenantExport {
    /// Every row and every column, sealed values opened, in `order` (rows another row of the
    /// table refers to first). `derived` columns are left out and made again on import from the
    /// opened values (blind indexes); `defaulted` ones are left out and take their default
    /// (bookkeeping of the installation, such as transaction ids). `settle`, when given, is run
    /// once the table's rows are imported (in the import's transaction, `:tenant` bound to the
    /// new tenant): what must change when the rows land on another installation.
    Rows {
        order: &'static str,
        derived: &'static [Derived],
        defaulted: &'static [&'static str],
        settle: Option<&'static str>,
    },
    /// Left out, and why.
    Omitted(&'static str),
}

impl TenantExport {
    /// Every row and every column, as they are, in `order`.
    pub const fn rows(order: &'static str) -> Self {
        TenantExport::Rows { order, derived: &[], defaulted: &[], settle: None }
    }
}

/// Computes a derived column from a row (sealed columns opened) and the importing tenant's keys.
pub type DeriveFn = fn(&serde_json::Map<String, serde_json::Value>, &Keyring) -> StoreResult<Option<Vec<u8>>>;

/// A column computed on import from a row's opened values.
#[derive(Debug)]
pub struct Derived {
    pub column: &'static str,
    /// The value, from the row (sealed columns opened) and the importing tenant's keys.
    pub make: DeriveFn,
}

/// How a table's rows belong to a resident.
#[derive(Debug)]
pub struct ResidentRows {
    /// The column naming the resident.
    pub column: &'static str,
    /// What becomes of the rows when the resident's record is merged into another.
    pub merge: Merge,
    /// Where the rows are in the resident's export (right of access).
    pub export: ResidentExport,
}

/// What becomes of a duplicate record's rows when it is merged.
#[derive(Debug)]
pub enum Merge {
    /// They move to the record kept.
    Move,
    /// They move under a rule of their own: the body of a data-modifying `WITH` item, over
    /// `ok` (`found_both`), `who`, `:survivor` and `:duplicate`.
    Rule(fn() -> String),
    /// They stay with the record they were written about, and why.
    Keep(&'static str),
}

/// A table's part of a resident's export.
#[derive(Debug)]
pub enum ResidentExport {
    /// The rows, as the section `name` of the export: `read` selects them for `:resident`
    /// (`:tenant` bound), in order; `map` turns each into the export's JSON.
    Section { name: &'static str, read: fn() -> String, map: fn(&Row, &Keyring) -> StoreResult<serde_json::Value> },
    /// The resident's row itself (the export's `resident`).
    Record,
    /// Not in the export, and why.
    Omitted(&'static str),
}

/// A value as the exports write it.
pub(crate) fn to_json<T: serde::Serialize>(value: StoreResult<T>) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value?).map_err(|e| crate::StoreError::Corrupt { column: "export", value: e.to_string() })
}
