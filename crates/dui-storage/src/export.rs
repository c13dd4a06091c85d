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

use crate::assessments::{ASSESSMENT_COLUMNS, assessment};
use crate::audit::{EVENT_COLUMNS, event};
use crate::care_plans::{PLAN_COLUMNS, plan_version};
use crate::care_tasks::{TASK_COLUMNS, task_record};
use crate::measurements::{MEASUREMENT_COLUMNS, measurement};
use crate::notes::{NOTE_COLUMNS, note};
use crate::people::{MEMBERSHIP_COLUMNS, USER_COLUMNS, external_identity, membership, user};
use crate::record::{
    CONSENT_FIELDS, CONTACT_FIELDS, EMERGENCY_FIELDS, EVENT_FIELDS, STAY_FIELDS, consent, contact, emergency,
    identity_event, stay,
};
use crate::residents::{RESIDENT_COLUMNS, resident};
use crate::structure::{ESTABLISHMENT_COLUMNS, UNIT_COLUMNS, establishment, unit};
use crate::tx::TenantTx;
use crate::{Db, StoreError, StoreResult};

/// Tenant tables in the export, in order.
pub const EXPORTED_TABLES: &[&str] = &[
    "establishments",
    "units",
    "users",
    "memberships",
    "user_external_identities",
    "residents",
    "stays",
    "assignments",
    "contacts",
    "consents",
    "identity_events",
    "notes",
    "emergency_accesses",
    "assessments",
    "care_plan_versions",
    "measurements",
    "care_task_records",
    "audit_events",
];

/// Tenant tables deliberately left out, and why.
pub const NOT_EXPORTED: &[(&str, &str)] = &[
    ("tenant_keys", "keys protect the data; the export carries the data itself, opened"),
    ("idempotency_keys", "a day's retry bookkeeping, not the organisation's data"),
    ("read_markers", "where each user stopped reading a hand-over feed: working state, not the organisation's data"),
    ("audit_chain", "an integrity proof under the tenant's audit key; each exported event carries its place in it"),
    ("audit_chain_cursors", "where the chainer stands: working state of the integrity proof"),
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
    to_json(map(row))
}

fn to_json<T: Serialize>(value: StoreResult<T>) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value?).map_err(|e| StoreError::Crypto(e.to_string()))
}

fn assignment(row: &Row) -> StoreResult<serde_json::Value> {
    Ok(serde_json::json!({
        "id": row.try_get::<_, Uuid>("id")?,
        "resident_id": row.try_get::<_, Uuid>("resident_id")?,
        "user_id": row.try_get::<_, Uuid>("user_id")?,
        "starts_on": row.try_get::<_, chrono::NaiveDate>("starts_on")?,
        "ends_on": row.try_get::<_, Option<chrono::NaiveDate>>("ends_on")?,
        "created_at": row.try_get::<_, chrono::DateTime<chrono::Utc>>("created_at")?,
    }))
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
        let sealed = |map: fn(&Row, &Keyring) -> StoreResult<serde_json::Value>| Mapper::Sealed(map);
        // (table, SELECT ... FROM table alias, alias, mapper)
        let tables: Vec<(&str, String, &str, Mapper)> = vec![
            (
                "establishments",
                format!("SELECT {ESTABLISHMENT_COLUMNS} FROM establishments t"),
                "t",
                Mapper::Plain(|r| plain(establishment, r)),
            ),
            ("units", format!("SELECT {UNIT_COLUMNS} FROM units t"), "t", Mapper::Plain(|r| plain(unit, r))),
            ("users", format!("SELECT {USER_COLUMNS} FROM users t"), "t", Mapper::Plain(|r| plain(user, r))),
            (
                "memberships",
                format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships t"),
                "t",
                Mapper::Plain(|r| plain(membership, r)),
            ),
            (
                "user_external_identities",
                "SELECT provider_id, subject, user_id, created_at FROM user_external_identities t".to_owned(),
                "t",
                Mapper::Plain(|r| plain(external_identity, r)),
            ),
            (
                "residents",
                format!("SELECT {RESIDENT_COLUMNS} FROM residents r"),
                "r",
                sealed(|r, k| to_json(resident(r, k))),
            ),
            ("stays", format!("SELECT {STAY_FIELDS} FROM stays t"), "t", Mapper::Plain(|r| plain(stay, r))),
            (
                "assignments",
                "SELECT id, resident_id, user_id, starts_on, ends_on, created_at FROM assignments t".to_owned(),
                "t",
                Mapper::Plain(assignment),
            ),
            (
                "contacts",
                format!("SELECT {CONTACT_FIELDS} FROM contacts t"),
                "t",
                sealed(|r, k| to_json(contact(r, k))),
            ),
            (
                "consents",
                format!("SELECT {CONSENT_FIELDS} FROM consents t"),
                "t",
                sealed(|r, k| to_json(consent(r, k))),
            ),
            (
                "identity_events",
                format!("SELECT {EVENT_FIELDS}, resident_id FROM identity_events t"),
                "t",
                sealed(|r, k| {
                    let mut value = to_json(identity_event(r, k))?;
                    value["resident_id"] = serde_json::json!(r.try_get::<_, Uuid>("resident_id")?);
                    Ok(value)
                }),
            ),
            ("notes", format!("SELECT {NOTE_COLUMNS} FROM notes n"), "n", sealed(|r, k| to_json(note(r, k)))),
            (
                "emergency_accesses",
                format!("SELECT {EMERGENCY_FIELDS} FROM emergency_accesses t"),
                "t",
                sealed(|r, k| to_json(emergency(r, k))),
            ),
            (
                "assessments",
                format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments a"),
                "a",
                sealed(|r, k| to_json(assessment(r, k))),
            ),
            (
                "care_plan_versions",
                format!("SELECT {PLAN_COLUMNS} FROM care_plan_versions p"),
                "p",
                sealed(|r, k| to_json(plan_version(r, k))),
            ),
            (
                "measurements",
                format!("SELECT {MEASUREMENT_COLUMNS} FROM measurements m"),
                "m",
                sealed(|r, k| to_json(measurement(r, k))),
            ),
            (
                "care_task_records",
                format!("SELECT {TASK_COLUMNS} FROM care_task_records k"),
                "k",
                sealed(|r, k| to_json(task_record(r, k))),
            ),
            (
                "audit_events",
                format!(
                    "SELECT {EVENT_COLUMNS}, c.seq AS chain_seq FROM audit_events e \
                     LEFT JOIN audit_chain c ON c.tenant_id = e.tenant_id AND c.event_id = e.id"
                ),
                "e",
                sealed(|r, k| to_json(event(r, k))),
            ),
        ];
        debug_assert_eq!(tables.iter().map(|t| t.0).collect::<Vec<_>>(), EXPORTED_TABLES);
        for (index, (table, select, alias, mapper)) in tables.iter().enumerate() {
            if index > 0 {
                write!(out, ",").map_err(io)?;
            }
            write!(out, "\"{table}\":[").map_err(io)?;
            let count = if *table == "user_external_identities" {
                // Keyed by (provider, subject), and few: one read.
                let sql = format!("{select} WHERE t.tenant_id = $1 ORDER BY t.provider_id, t.subject");
                let rows = tx.query(&sql, &[&tenant.as_uuid()]).await?;
                self.write_rows(out, &rows, mapper, &keys, 0)?
            } else {
                let mut after: Option<Uuid> = None;
                let mut count = 0;
                loop {
                    let sql = format!(
                        "{select} WHERE {alias}.tenant_id = $1 AND ($2::uuid IS NULL OR {alias}.id > $2) \
                         ORDER BY {alias}.id LIMIT $3"
                    );
                    let rows = tx.query(&sql, &[&tenant.as_uuid(), &after, &PAGE]).await?;
                    if rows.is_empty() {
                        break;
                    }
                    let keys = if matches!(mapper, Mapper::Sealed(_)) {
                        self.keyring(tenant, crate::residents::versions(&rows)?).await?
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
