//! A tenant's whole data, opened, as one JSON document: what the organisation takes with it when
//! it leaves (reversibility), and what is saved before its keys are destroyed.
//!
//! The document is written as it is read, table by table and page by page, so its size is not
//! bounded by memory:
//!
//! ```json
//! {"format": "dui-tenant-export", "version": 1, "exported_at": "...", "tenant": {...},
//!  "tables": {"establishments": [...], "units": [...], ..., "notes": [...]}}
//! ```

use std::io::Write;

use dui_crypto::Keyring;
use dui_domain::TenantId;
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::people::{MEMBERSHIP_COLUMNS, USER_COLUMNS, external_identity, membership, user};
use crate::residents::{NOTE_COLUMNS, RESIDENT_COLUMNS, note, resident};
use crate::structure::{ESTABLISHMENT_COLUMNS, UNIT_COLUMNS, establishment, unit};
use crate::tx::TenantTx;
use crate::{Db, StoreError, StoreResult};

/// Tenant tables in the export, in order.
pub const EXPORTED_TABLES: &[&str] =
    &["establishments", "units", "users", "memberships", "user_external_identities", "residents", "notes"];

/// Tenant tables deliberately left out, and why.
pub const NOT_EXPORTED: &[(&str, &str)] = &[
    ("tenant_keys", "keys protect the data; the export carries the data itself, opened"),
    ("idempotency_keys", "a day's retry bookkeeping, not the organisation's data"),
];

const PAGE: i64 = 500;

/// How many rows of each table were exported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub tables: Vec<(String, u64)>,
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot write the export: {error}"))
}

fn json<T: Serialize>(out: &mut dyn Write, value: &T) -> StoreResult<()> {
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))
}

enum Mapper {
    Plain(fn(&Row) -> StoreResult<serde_json::Value>),
    Sealed(fn(&Row, &Keyring) -> StoreResult<serde_json::Value>),
}

fn plain<T: Serialize>(map: fn(&Row) -> StoreResult<T>, row: &Row) -> StoreResult<serde_json::Value> {
    serde_json::to_value(map(row)?).map_err(|e| StoreError::Crypto(e.to_string()))
}

impl Db {
    /// Writes the tenant's export to `out`.
    pub async fn export_tenant(&self, tenant: TenantId, out: &mut dyn Write) -> StoreResult<ExportSummary> {
        let record = self.tenant_by_id(tenant).await?.ok_or(StoreError::NotFound)?;
        write!(out, "{{\"format\":\"dui-tenant-export\",\"version\":1,\"exported_at\":").map_err(io)?;
        json(out, &chrono::Utc::now())?;
        write!(out, ",\"tenant\":").map_err(io)?;
        json(out, &record)?;
        write!(out, ",\"identity_providers\":").map_err(io)?;
        json(out, &self.list_identity_providers(tenant).await?)?;
        write!(out, ",\"tables\":{{").map_err(io)?;
        let mut summary = ExportSummary::default();
        let keys = self.keyring(tenant, []).await?;
        // One snapshot for the whole export: it is consistent even while the tenant works.
        let mut conn = self.conn().await?;
        let tx = TenantTx::begin_snapshot(&mut conn, tenant).await?;
        let tables: [(&str, String, Mapper); 7] = [
            ("establishments", format!("SELECT {ESTABLISHMENT_COLUMNS}"), Mapper::Plain(|r| plain(establishment, r))),
            ("units", format!("SELECT {UNIT_COLUMNS}"), Mapper::Plain(|r| plain(unit, r))),
            ("users", format!("SELECT {USER_COLUMNS}"), Mapper::Plain(|r| plain(user, r))),
            ("memberships", format!("SELECT {MEMBERSHIP_COLUMNS}"), Mapper::Plain(|r| plain(membership, r))),
            (
                "user_external_identities",
                "SELECT provider_id AS id, provider_id, subject, user_id, created_at".to_owned(),
                Mapper::Plain(|r| plain(external_identity, r)),
            ),
            (
                "residents",
                format!("SELECT {RESIDENT_COLUMNS}"),
                Mapper::Sealed(|r, k| {
                    serde_json::to_value(resident(r, k)?).map_err(|e| StoreError::Crypto(e.to_string()))
                }),
            ),
            (
                "notes",
                format!("SELECT {NOTE_COLUMNS}"),
                Mapper::Sealed(|r, k| serde_json::to_value(note(r, k)?).map_err(|e| StoreError::Crypto(e.to_string()))),
            ),
        ];
        debug_assert_eq!(tables.iter().map(|t| t.0).collect::<Vec<_>>(), EXPORTED_TABLES);
        for (index, (table, select, mapper)) in tables.iter().enumerate() {
            if index > 0 {
                write!(out, ",").map_err(io)?;
            }
            write!(out, "\"{table}\":[").map_err(io)?;
            let count = if *table == "user_external_identities" {
                // Keyed by (provider, subject), and few: one read.
                let sql = format!("{select} FROM {table} WHERE tenant_id = $1 ORDER BY provider_id, subject");
                let rows = tx.query(&sql, &[&tenant.as_uuid()]).await?;
                self.write_rows(out, &rows, mapper, &keys, 0)?
            } else {
                let mut after: Option<Uuid> = None;
                let mut count = 0;
                loop {
                    let sql = format!(
                        "{select} FROM {table} WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
                    );
                    let rows = tx.query(&sql, &[&tenant.as_uuid(), &after, &PAGE]).await?;
                    if rows.is_empty() {
                        break;
                    }
                    let keys = if matches!(mapper, Mapper::Sealed(_)) {
                        let versions: Vec<u32> = rows.iter().map(|r| r.get::<_, i32>("dek_version") as u32).collect();
                        self.keyring(tenant, versions).await?
                    } else {
                        keys.clone()
                    };
                    count = self.write_rows(out, &rows, mapper, &keys, count)?;
                    after = rows.last().map(|r| r.get("id"));
                }
                count
            };
            write!(out, "]").map_err(io)?;
            summary.tables.push(((*table).to_owned(), count));
        }
        tx.commit().await?;
        writeln!(out, "}}}}").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(summary)
    }

    fn write_rows(
        &self,
        out: &mut dyn Write,
        rows: &[Row],
        mapper: &Mapper,
        keys: &Keyring,
        mut count: u64,
    ) -> StoreResult<u64> {
        for row in rows {
            let value = match mapper {
                Mapper::Plain(map) => map(row)?,
                Mapper::Sealed(map) => map(row, keys)?,
            };
            if count > 0 {
                write!(out, ",").map_err(io)?;
            }
            json(out, &value)?;
            count += 1;
        }
        Ok(count)
    }
}
