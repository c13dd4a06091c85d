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

    /// Every row and every column, in `order`, then `settle` run once they are imported.
    pub const fn settled(order: &'static str, settle: &'static str) -> Self {
        TenantExport::Rows { order, derived: &[], defaulted: &[], settle: Some(settle) }
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
    /// They move under a rule of their own. `merge` is the body of a data-modifying `WITH`
    /// item, over `ok` (`found_both`), `who`, `:survivor` and `:duplicate`, returning each row
    /// moved as `id` and whether the merge also ended it as `ended`; `undo` is what undoing the
    /// merge sets on the rows it moves back (`t`), besides their resident, over `m.ended` (the
    /// ids the merge ended, as text) and `:duplicate`.
    Rule { merge: fn() -> String, undo: &'static str },
    /// They stay with the record they were written about, and why.
    Keep(&'static str),
}

/// A table's part of a resident's export.
#[derive(Debug)]
pub enum ResidentExport {
    /// The rows, as the section `name` of the export: `columns` of `from` (the table, with the
    /// alias the columns use), the person's rows in `order`; `map` turns each into the export's
    /// JSON.
    Section { name: &'static str, from: &'static str, columns: &'static str, order: &'static str, map: MapFn },
    /// The resident's row itself (the export's `resident`).
    Record,
    /// Not in the export, and why.
    Omitted(&'static str),
}

/// Turns a row (sealed columns opened with the keyring) into the export's JSON.
pub type MapFn = fn(&Row, &Keyring) -> StoreResult<serde_json::Value>;

impl ResidentExport {
    /// The statement reading a section's rows, for `:resident` (`:tenant` bound).
    pub(crate) fn select(from: &str, columns: &str, order: &str) -> String {
        format!("SELECT {columns} FROM {from} WHERE tenant_id = :tenant AND resident_id = :resident ORDER BY {order}")
    }
}

impl Table {
    /// A table of a person's rows, as most are: its sealed columns resealed after a rotation,
    /// carried whole by the tenant's export, moved to the record kept by a merge, and in the
    /// person's export as the section named after the table (`from` names the table and the
    /// alias `columns` use; `order` is the section's order).
    pub const fn of_person(
        name: &'static str,
        sealed: &'static [Column],
        from: &'static str,
        columns: &'static str,
        order: &'static str,
        map: MapFn,
    ) -> Table {
        Table {
            name,
            sealed,
            reseal: !sealed.is_empty(),
            tenant_export: TenantExport::rows("id"),
            resident: Some(ResidentRows {
                column: "resident_id",
                merge: Merge::Move,
                export: ResidentExport::Section { name, from, columns, order, map },
            }),
        }
    }

    /// A table of the tenant's own, not a person's, with nothing sealed: carried whole by the
    /// tenant's export, in `order`.
    pub const fn of_tenant(name: &'static str, order: &'static str) -> Table {
        Table { name, sealed: &[], reseal: false, tenant_export: TenantExport::rows(order), resident: None }
    }

    /// The same table, in the person's export as the section `section`.
    pub const fn in_section(mut self, section: &'static str) -> Table {
        if let Some(ResidentRows { export: ResidentExport::Section { name, .. }, .. }) = &mut self.resident {
            *name = section;
        }
        self
    }

    /// The same table, its rows following `merge` when a record is merged.
    pub const fn merged(mut self, merge: Merge) -> Table {
        if let Some(rows) = &mut self.resident {
            rows.merge = merge;
        }
        self
    }

    /// The same table, carried by the tenant's export as `export` says.
    pub const fn exported(mut self, export: TenantExport) -> Table {
        self.tenant_export = export;
        self
    }
}

/// A value as the exports write it.
pub(crate) fn to_json<T: serde::Serialize>(value: StoreResult<T>) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value?).map_err(|e| crate::StoreError::Corrupt { column: "export", value: e.to_string() })
}
