//! A resident's whole record, opened: what the person may ask for (GDPR right of access and of
//! portability). Its sections are the features' declarations
//! ([`crate::feature::ResidentExport`]): a table that holds a resident's rows is either in it or
//! says why not, which a test checks against PostgreSQL's catalog.

use std::sync::LazyLock;

use dui_crypto::Keyring;
use dui_domain::ResidentId;
use dui_domain::audit::AuditAction;
use tokio_postgres::Row;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::ResidentExport;
use crate::residents::{RESIDENT_COLUMNS, resident};
use crate::sealing::versions;
use crate::sql::{Sql, Stmt};
use crate::stays::{CURRENT_STAY, STAY_COLUMNS};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

static RECORDED: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, trace AS ({trace}) SELECT t.id FROM target t",
        target = target(),
        trace = Trace {
            from: "who, target",
            resident: "target.id",
            resource: "target.id",
            outcome: "'success'",
            emergency: "NOT target.normal"
        }
        .sql(),
    ))
});

static RECORD: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM residents r {CURRENT_STAY} \
         WHERE r.tenant_id = :tenant AND r.id = :resident"
    ))
});

type Map = fn(&Row, &Keyring) -> StoreResult<serde_json::Value>;

/// The export's sections, in registry order.
static SECTIONS: LazyLock<Vec<(&'static str, Sql, Map)>> = LazyLock::new(|| {
    crate::features::tables()
        .filter_map(|table| match table.resident.as_ref().map(|r| &r.export) {
            Some(ResidentExport::Section { name, from, columns, order, map }) => {
                Some((*name, Sql::new(&ResidentExport::select(from, columns, order)), *map))
            }
            _ => None,
        })
        .collect()
});

/// The names of the export's sections, in order (after `resident`).
pub fn sections() -> Vec<&'static str> {
    SECTIONS.iter().map(|(name, _, _)| *name).collect()
}

/// Reads a visible resident's whole record in one snapshot (the transaction should be a
/// snapshot), recording the export first; commits. `NotFound` when the resident is out of
/// reach.
pub async fn export(mut tx: Tx<'_>, id: ResidentId) -> StoreResult<serde_json::Map<String, serde_json::Value>> {
    let resident_id = id.as_uuid();
    if tx.query(&RECORDED, &args! { resident: &resident_id }.action(AuditAction::ResidentExport)).await?.is_empty() {
        return Err(StoreError::NotFound);
    }
    let record = tx.query_one(&RECORD, &args! { resident: &resident_id }).await?;
    let mut wanted = versions(std::slice::from_ref(&record))?;
    let mut sections = Vec::with_capacity(SECTIONS.len());
    for (name, sql, map) in SECTIONS.iter() {
        let rows = tx.query(sql, &args! { resident: &resident_id }).await?;
        wanted.extend(versions(&rows)?);
        sections.push((*name, rows, *map));
    }
    let keys = tx.keyring(wanted).await?;
    tx.commit().await?;
    let mut document = serde_json::Map::new();
    document.insert("resident".to_owned(), crate::feature::to_json(resident(&record, &keys))?);
    for (name, rows, map) in sections {
        let items = rows.iter().map(|row| map(row, &keys)).collect::<StoreResult<Vec<_>>>()?;
        document.insert(name.to_owned(), serde_json::Value::Array(items));
    }
    Ok(document)
}
