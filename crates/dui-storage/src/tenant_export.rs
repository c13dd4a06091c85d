//! Reversibility: a tenant's whole data, opened, written as JSON lines (`dui tenant export`), and
//! read back into a new tenant (`dui tenant import`) on this installation or another, under
//! keys of its own. The format is documented in `docs/tenant-export.md`.
//!
//! ```text
//! {"format":"dui-tenant-export","version":2,"exported_at":"...","tenant":{...},"identity_providers":[...]}
//! {"table":"establishments","row":{...}}
//! ...
//! {"end":{"rows":{"establishments":3,...}}}
//! ```
//!
//! Which tables are carried, and how, is each feature's declaration
//! ([`crate::feature::TenantExport`]): every column of every row, sealed values opened, the
//! tenant's id, key versions and derived columns (blind indexes) left out. The export is read in
//! one snapshot and written as it is read, so its size is not bounded by memory; the import is
//! one transaction (all of it, or nothing), and reseals every value under the new tenant's keys
//! (a sealed value is bound to its tenant). Row ids are kept: references between rows hold.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};

use base64::Engine;
use dui_crypto::{Column, KeyPurpose, Keyring, SecretKey};
use dui_domain::TenantId;
use dui_domain::structure::Finess;
use dui_domain::tenant::{IdentityProvider, Tenant};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::args;
use crate::feature::{Derived, Table, TenantExport};
use crate::platform::PlatformEvent;
use crate::sealing::{open_json, seal_json};
use crate::sql::Sql;
use crate::tx::Mode;
use crate::{Db, StoreError, StoreResult};

pub const FORMAT: &str = "dui-tenant-export";
pub const VERSION: i64 = 2;

/// Rows imported per statement.
const BATCH: usize = 500;
/// Rows imported per statement for a table holding raw bytes (a document's chunks, 256 KiB each).
const RAW_BATCH: usize = 8;

/// How many rows of each table were exported or imported, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub tables: Vec<(String, u64)>,
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot write the export: {error}"))
}

fn line(out: &mut dyn Write, value: &Value) -> StoreResult<()> {
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))?;
    out.write_all(b"\n").map_err(io)
}

/// The tables the export carries, with what it leaves out of their rows.
fn exported() -> impl Iterator<Item = Carried> {
    crate::features::tables().filter_map(|table| match &table.tenant_export {
        TenantExport::Rows { order, derived, defaulted, settle } => {
            Some(Carried { table, derived, defaulted, order, settle: *settle })
        }
        TenantExport::Omitted(_) => None,
    })
}

/// A table the export carries, and how.
#[derive(Clone, Copy)]
struct Carried {
    table: &'static Table,
    derived: &'static [Derived],
    defaulted: &'static [&'static str],
    order: &'static str,
    settle: Option<&'static str>,
}

/// Columns never carried: the tenant (the import names its own), and the key version (values
/// travel opened).
const INSTALLATION_COLUMNS: [&str; 2] = ["tenant_id", "dek_version"];

impl Db {
    /// Writes the tenant's export to `out`.
    pub async fn export_tenant(&self, tenant: TenantId, out: &mut dyn Write) -> StoreResult<TableCounts> {
        let record = self.tenant_by_id(tenant).await?.ok_or(StoreError::NotFound)?;
        let providers = self.list_identity_providers(tenant).await?;
        line(
            out,
            &json!({"format": FORMAT, "version": VERSION, "exported_at": chrono::Utc::now(), "tenant": record,
                    "identity_providers": providers}),
        )?;
        let mut counts = TableCounts::default();
        // One snapshot for the whole export: it is consistent even while the tenant works.
        let mut tx = self.begin_for_tenant(tenant, Mode::ReadSnapshot);
        for Carried { table, derived, defaulted, order, .. } in exported() {
            let keys = if table.sealed.is_empty() {
                None
            } else {
                let versions = Sql::new(&format!(
                    "SELECT DISTINCT dek_version FROM {} WHERE tenant_id = :tenant AND dek_version IS NOT NULL",
                    table.name
                ));
                let rows = tx.query(&versions, &args! {}).await?;
                Some(tx.keyring(crate::sealing::versions(&rows)?).await?)
            };
            let left_out: Vec<&str> = INSTALLATION_COLUMNS
                .iter()
                .copied()
                .chain(table.sealed.iter().map(|c| c.column))
                .chain(derived.iter().map(|d| d.column))
                .chain(defaulted.iter().copied())
                .collect();
            let sealed: Vec<String> = table.sealed.iter().map(|c| format!(", t.{}", c.column)).collect();
            let select = Sql::new(&format!(
                "SELECT to_jsonb(t) - :left_out::text[] AS row{} FROM {} t WHERE t.tenant_id = :tenant ORDER BY {order}",
                sealed.concat(),
                table.name
            ));
            let count = tx
                .for_each(&select, &args! { left_out: &left_out }, |row| {
                    let mut object = match row.try_get::<_, Value>("row")? {
                        Value::Object(object) => object,
                        other => return Err(StoreError::Corrupt { column: "export row", value: other.to_string() }),
                    };
                    if let Some(keys) = &keys {
                        open_sealed(&mut object, table, &row, keys)?;
                    }
                    line(out, &json!({"table": table.name, "row": object}))
                })
                .await?;
            counts.tables.push((table.name.to_owned(), count));
        }
        tx.commit().await?;
        let rows: Map<String, Value> = counts.tables.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
        line(out, &json!({"end": {"rows": rows}}))?;
        out.flush().map_err(io)?;
        Ok(counts)
    }
}

/// Puts each sealed column of `row`, opened, into `object` under its name.
fn open_sealed(
    object: &mut Map<String, Value>,
    table: &Table,
    row: &tokio_postgres::Row,
    keys: &Keyring,
) -> StoreResult<()> {
    let id = row_id(object, table)?;
    for column in table.sealed {
        let value = match row.try_get::<_, Option<&[u8]>>(column.column)? {
            // Raw bytes (a document's content) travel in base64.
            Some(sealed) if column.raw => Value::String(
                base64::engine::general_purpose::STANDARD.encode(
                    keys.open(*column, id, sealed)
                        .map_err(|e| crate::sealing::refuse_sealed(keys.tenant(), *column, id, e))?,
                ),
            ),
            Some(sealed) => open_json::<Value>(keys, *column, id, sealed)?,
            None => Value::Null,
        };
        object.insert(column.column.to_owned(), value);
    }
    Ok(())
}

fn row_id(object: &Map<String, Value>, table: &Table) -> StoreResult<Uuid> {
    object
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Import(format!("a row of {} has no id", table.name)))
}

/// How an import is made.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The new tenant's name (default: the exported tenant's).
    pub name: Option<String>,
    /// Its FINESS juridique (default: the exported tenant's; another one is needed on the same
    /// installation, where the exported tenant still holds it).
    pub finess_juridique: Option<Finess>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub tenant: Tenant,
    pub rows: TableCounts,
    /// Identity providers not made again because this installation has one with the same issuer
    /// and audience (each designates one tenant); their users' links to them were left out.
    pub skipped_identity_providers: Vec<String>,
}

/// One table being imported: its columns and the rows waiting for their statement.
struct Importing {
    table: &'static Table,
    derived: &'static [Derived],
    settle: Option<&'static str>,
    insert: Sql,
    has_dek_version: bool,
    dek_version_nullable: bool,
    pending: Vec<Value>,
    /// Rows per statement: fewer for a table of raw bytes (a document's chunks are large).
    batch: usize,
    count: u64,
}

impl Db {
    /// Imports a tenant export into a new tenant, in one transaction, and chains its trail.
    /// `event` is recorded in the platform's trail, in that transaction, naming the new tenant.
    pub async fn import_tenant(
        &self,
        input: &mut dyn BufRead,
        options: &ImportOptions,
        event: PlatformEvent<'_>,
    ) -> StoreResult<ImportReport> {
        let mut lines = input.lines();
        let mut next_line = || -> StoreResult<Option<Value>> {
            match lines.next() {
                None => Ok(None),
                Some(Err(error)) => Err(StoreError::Import(format!("cannot read the export: {error}"))),
                Some(Ok(text)) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| StoreError::Import(format!("a line is not JSON: {e}"))),
            }
        };
        let header = next_line()?.ok_or_else(|| StoreError::Import("the file is empty".to_owned()))?;
        if header["format"] != FORMAT {
            return Err(StoreError::Import(format!("this is not a {FORMAT} file")));
        }
        if header["version"] != VERSION {
            return Err(StoreError::Import(format!(
                "version {} of the format is not read by this server (it reads version {VERSION})",
                header["version"]
            )));
        }
        let source: Tenant = serde_json::from_value(header["tenant"].clone())
            .map_err(|e| StoreError::Import(format!("the header's tenant: {e}")))?;
        let providers: Vec<IdentityProvider> = serde_json::from_value(header["identity_providers"].clone())
            .map_err(|e| StoreError::Import(format!("the header's identity providers: {e}")))?;
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let name = options.name.clone().unwrap_or(source.name.clone());
        let finess = options.finess_juridique.clone().unwrap_or(source.finess_juridique.clone());

        let mut tx = self.begin_for_tenant(tenant, Mode::Write);
        let created = Sql::new(
            "INSERT INTO tenants (id, name, finess_juridique) VALUES (:tenant, :name, :finess) \
             RETURNING id, name, finess_juridique, status, created_at, updated_at",
        );
        let finess_text = finess.as_str();
        let row = tx.query_one(&created, &args! { name: &name, finess: &finess_text }).await?;
        let record = crate::platform::tenant(&row)?;

        let mut skipped = Vec::new();
        let mut skipped_ids = HashSet::new();
        let provider = Sql::new(
            "INSERT INTO identity_providers (id, tenant_id, label, issuer, audience, jwks_url, subject_claim, created_at) \
             VALUES (:id, :tenant, :label, :issuer, :audience, :jwks_url, :subject_claim, :created_at) \
             ON CONFLICT DO NOTHING RETURNING id",
        );
        for p in &providers {
            let id = p.id.as_uuid();
            let made = tx
                .query(
                    &provider,
                    &args! { id: &id, label: &p.label, issuer: &p.issuer, audience: &p.audience, jwks_url: &p.jwks_url,
                    subject_claim: &p.subject_claim, created_at: &p.created_at },
                )
                .await?;
            if made.is_empty() {
                skipped.push(format!("{} ({})", p.label, p.issuer));
                skipped_ids.insert(id.to_string());
            }
        }

        let keys = self.new_tenant_keys(&mut tx, tenant).await?;
        let active = keys.active_version() as i32;
        let mut seals: u64 = 0;

        let known: HashMap<&str, Carried> = exported().map(|carried| (carried.table.name, carried)).collect();
        let mut current: Option<Importing> = None;
        let mut done: Vec<(String, u64)> = Vec::new();
        let mut trailer = None;
        while let Some(value) = next_line()? {
            if let Some(end) = value.get("end") {
                trailer = Some(end.clone());
                break;
            }
            let table =
                value["table"].as_str().ok_or_else(|| StoreError::Import("a line names no table".to_owned()))?;
            if current.as_ref().is_none_or(|c| c.table.name != table) {
                if let Some(finished) = current.take() {
                    done.push(finish_table(&mut tx, finished).await?);
                }
                if done.iter().any(|(name, _)| name == table) {
                    return Err(StoreError::Import(format!("the rows of {table} are not together")));
                }
                let carried = *known
                    .get(table)
                    .ok_or_else(|| StoreError::Import(format!("{table} is not a table this server imports")))?;
                current = Some(importing(&mut tx, carried).await?);
            }
            let importing = current.as_mut().ok_or_else(|| StoreError::Import("no table".to_owned()))?;
            let Value::Object(mut row) = value["row"].clone() else {
                return Err(StoreError::Import(format!("a row of {table} is not an object")));
            };
            if importing.table.name == "user_external_identities"
                && row.get("provider_id").and_then(Value::as_str).is_some_and(|p| skipped_ids.contains(p))
            {
                continue;
            }
            seals += prepare_row(&mut row, importing, tenant, &keys, active)?;
            importing.pending.push(Value::Object(row));
            if importing.pending.len() >= importing.batch {
                flush(&mut tx, importing).await?;
            }
        }
        if let Some(finished) = current.take() {
            done.push(finish_table(&mut tx, finished).await?);
        }
        let Some(trailer) = trailer else {
            return Err(StoreError::Import("the export is incomplete: its last line is missing".to_owned()));
        };
        for (table, count) in &done {
            let expected = trailer["rows"][table].as_u64();
            let skipped_links = table == "user_external_identities" && !skipped_ids.is_empty();
            if expected != Some(*count) && !skipped_links {
                return Err(StoreError::Import(format!(
                    "the export announces {} rows of {table}, and holds {count}",
                    expected.map_or("no".to_owned(), |n| n.to_string())
                )));
            }
        }
        let counted = Sql::new(
            "UPDATE tenant_keys SET encryptions = encryptions + :seals \
             WHERE tenant_id = :tenant AND purpose = 'data' AND status = 'active'",
        );
        tx.query(&counted, &args! { seals: &(seals as i64) }).await?;
        crate::audit::record_on_tenant(&mut tx, dui_domain::audit::AuditAction::TenantImport).await?;
        crate::platform::record(
            &mut tx,
            PlatformEvent { tenant: Some(tenant), resource: Some(tenant.as_uuid()), ..event },
        )
        .await?;
        tx.commit().await?;
        self.chain_tenant(tenant).await?;
        Ok(ImportReport { tenant: record, rows: TableCounts { tables: done }, skipped_identity_providers: skipped })
    }
}

/// The statement and column facts of a table about to be imported.
async fn importing(tx: &mut crate::tx::Tx<'_>, carried: Carried) -> StoreResult<Importing> {
    let Carried { table, derived, defaulted, settle, .. } = carried;
    let catalog = Sql::new(
        "SELECT column_name::text AS name, is_nullable = 'YES' AS nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = :table ORDER BY ordinal_position",
    );
    let rows = tx.query(&catalog, &args! { table: &table.name }).await?;
    let mut columns = Vec::new();
    let (mut has_dek_version, mut dek_version_nullable) = (false, false);
    for row in &rows {
        let name: String = row.try_get("name")?;
        if name == "dek_version" {
            has_dek_version = true;
            dek_version_nullable = row.try_get("nullable")?;
        }
        if !defaulted.contains(&name.as_str()) {
            columns.push(name);
        }
    }
    let list = columns.join(", ");
    let insert = Sql::new(&format!(
        "INSERT INTO {table} ({list}) SELECT {list} FROM jsonb_populate_recordset(NULL::{table}, :rows)",
        table = table.name
    ));
    Ok(Importing {
        table,
        derived,
        settle,
        insert,
        has_dek_version,
        dek_version_nullable,
        pending: Vec::new(),
        batch: if table.sealed.iter().any(|c| c.raw) { RAW_BATCH } else { BATCH },
        count: 0,
    })
}

/// Writes a table's last rows, settles them (see [`TenantExport::Rows`]), and says how many
/// there were.
async fn finish_table(tx: &mut crate::tx::Tx<'_>, mut finished: Importing) -> StoreResult<(String, u64)> {
    flush(tx, &mut finished).await?;
    if let Some(settle) = finished.settle {
        tx.query(&Sql::new(settle), &args! {}).await?;
    }
    Ok((finished.table.name.to_owned(), finished.count))
}

/// Makes an exported row ready for its table in the new tenant: the tenant, its sealed values
/// sealed again (as PostgreSQL's hexadecimal `bytea`), derived columns, the key version.
/// Returns how many values were sealed.
fn prepare_row(
    row: &mut Map<String, Value>,
    importing: &Importing,
    tenant: TenantId,
    keys: &Keyring,
    active: i32,
) -> StoreResult<u64> {
    let table = importing.table;
    // Derived columns are computed from the opened values, before they are sealed.
    for derived in importing.derived {
        let made = (derived.make)(row, keys)?;
        row.insert(derived.column.to_owned(), made.map_or(Value::Null, |bytes| Value::String(hex(&bytes))));
    }
    let mut sealed = 0;
    if !table.sealed.is_empty() {
        let id = row_id(row, table)?;
        for column in table.sealed {
            let value = row.remove(column.column).unwrap_or(Value::Null);
            let stored =
                if value.is_null() { Value::Null } else { Value::String(hex(&seal(keys, *column, id, &value)?)) };
            sealed += u64::from(!stored.is_null());
            row.insert(column.column.to_owned(), stored);
        }
    }
    if importing.has_dek_version {
        let version = if sealed == 0 && importing.dek_version_nullable { Value::Null } else { json!(active) };
        row.insert("dek_version".to_owned(), version);
    }
    row.insert("tenant_id".to_owned(), json!(tenant.as_uuid()));
    Ok(sealed)
}

fn seal(keys: &Keyring, column: Column, id: Uuid, value: &Value) -> StoreResult<Vec<u8>> {
    if column.raw {
        let bytes = value
            .as_str()
            .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or_else(|| StoreError::Import(format!("{}.{} is not in base64", column.table, column.column)))?;
        return keys.seal(column, id, &bytes).map_err(|e| StoreError::Crypto(e.to_string()));
    }
    seal_json(keys, column, id, value)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("\\x");
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

async fn flush(tx: &mut crate::tx::Tx<'_>, importing: &mut Importing) -> StoreResult<()> {
    if importing.pending.is_empty() {
        return Ok(());
    }
    let rows = Value::Array(std::mem::take(&mut importing.pending));
    let count = rows.as_array().map_or(0, Vec::len) as u64;
    tx.query(&importing.insert, &args! { rows: &rows }).await.map_err(|e| match e {
        StoreError::Invalid { constraint } | StoreError::Conflict { constraint } => {
            StoreError::Import(format!("the rows of {} break {constraint}", importing.table.name))
        }
        other => other,
    })?;
    importing.count += count;
    Ok(())
}

impl Db {
    /// Makes a new tenant's keys inside `tx` (the tenant is created in the same transaction):
    /// wrapped under the active KEK and stored, and returned unwrapped.
    async fn new_tenant_keys(&self, tx: &mut crate::tx::Tx<'_>, tenant: TenantId) -> StoreResult<Keyring> {
        let crypto = |e: dui_crypto::CryptoError| StoreError::Crypto(e.to_string());
        let ring = &self.keys_config().ring;
        let insert = Sql::new(
            "INSERT INTO tenant_keys (tenant_id, purpose, version, kek_version, wrapped, status) \
             VALUES (:tenant, :purpose, 1, :kek_version, :wrapped, 'active')",
        );
        let mut secrets = BTreeMap::new();
        for purpose in [KeyPurpose::Data, KeyPurpose::Index, KeyPurpose::Audit] {
            let secret = SecretKey::generate().map_err(crypto)?;
            let wrapped = ring.wrap(tenant, purpose, 1, &secret).map_err(crypto)?;
            let kek = wrapped.kek_version as i32;
            let purpose_text = purpose.as_str();
            tx.query(&insert, &args! { purpose: &purpose_text, kek_version: &kek, wrapped: &wrapped.bytes }).await?;
            secrets.insert(purpose_text, secret);
        }
        let secret = |purpose: KeyPurpose| {
            secrets.get(purpose.as_str()).cloned().ok_or_else(|| StoreError::Crypto("missing key".to_owned()))
        };
        Keyring::new(
            tenant,
            1,
            vec![(1, secret(KeyPurpose::Data)?)],
            &secret(KeyPurpose::Index)?,
            &secret(KeyPurpose::Audit)?,
        )
        .map_err(crypto)
    }
}
