//! Creates that happen once per idempotency key.
//!
//! The key is claimed by inserting its row — with the id the new resource will have — in the
//! same transaction as the resource. A concurrent request with the same key waits on the row's
//! primary key until the first commits (then finds the key and returns the resource) or rolls
//! back (then creates it itself). A key older than the lifetime is reclaimed.

use dui_domain::idempotency::{Created, IdempotencyKey, KEY_LIFETIME_HOURS};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::sql::{Args, Sql, Stmt};
use crate::tx::Tx;
use crate::{Db, StoreError, StoreResult};

static PURGE: Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "DELETE FROM idempotency_keys WHERE tenant_id = :tenant \
         AND created_at < now() - make_interval(hours => :lifetime_hours) RETURNING 1",
    )
});

impl Db {
    /// Deletes idempotency keys past their lifetime, tenant by tenant. Returns how many.
    pub async fn purge_expired_idempotency_keys(&self) -> StoreResult<u64> {
        let mut purged = 0;
        let lifetime = KEY_LIFETIME_HOURS as i32;
        for tenant in self.all_tenants().await? {
            let tx = self.begin_for_tenant(tenant, crate::tx::Mode::Write);
            purged += tx.finish(&PURGE, &crate::args! { lifetime_hours: &lifetime }).await?.len() as u64;
        }
        Ok(purged)
    }
}

// ---------------------------------------------------------------------------------------------
// Creates inside an operation's transaction.
// ---------------------------------------------------------------------------------------------

use crate::feature::{Feature, Table, TenantExport};
pub(crate) static CLAIM_NAMED: Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "INSERT INTO idempotency_keys (tenant_id, user_id, key, fingerprint, resource_id) \
         VALUES (:tenant, :user, :key, :fingerprint, :resource) \
         ON CONFLICT (tenant_id, user_id, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, resource_id = EXCLUDED.resource_id, created_at = now() \
           WHERE idempotency_keys.created_at < now() - make_interval(hours => :lifetime_hours) \
         RETURNING resource_id",
    )
});

pub(crate) static EXISTING_NAMED: Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "SELECT fingerprint, resource_id FROM idempotency_keys \
         WHERE tenant_id = :tenant AND user_id = :user AND key = :key \
         AND created_at >= now() - make_interval(hours => :lifetime_hours)",
    )
});

/// The claim of a key, for the benchmark's baseline.
#[cfg(feature = "bench")]
pub(crate) fn claim_statement() -> &'static Sql {
    &CLAIM_NAMED
}

/// A create inside an operation's transaction, and how to read back what it made.
pub(crate) struct Create<'a, T> {
    /// The id the new row gets; the insert must use it.
    pub id: Uuid,
    pub insert: &'a Sql,
    pub args: Args<'a>,
    /// Reads the resource by `:id`, for replays.
    pub reload: &'a Sql,
    pub map: &'a (dyn Fn(&Row) -> StoreResult<T> + Sync),
}

/// Runs `create` once per idempotency key (every time without a key), then commits. An insert
/// that makes no row (its target is gone or out of reach, or its conditions refuse it) is
/// `NotFound`, and nothing of it stays, the key's claim included.
pub(crate) async fn create_once<T>(
    mut tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    create: Create<'_, T>,
) -> StoreResult<Created<T>> {
    let Some(key) = key else {
        let rows = tx.finish(create.insert, &create.args).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        return Ok(Created { value: (create.map)(row)?, replayed: false });
    };
    let (text, fingerprint, lifetime) = (key.key(), key.fingerprint().as_slice(), KEY_LIFETIME_HOURS as i32);
    let claim = crate::args! { key: &text, fingerprint: &fingerprint, resource: &create.id, lifetime_hours: &lifetime };
    if tx.query(&CLAIM_NAMED, &claim).await?.is_empty() {
        let existing = tx.query_one(&EXISTING_NAMED, &crate::args! { key: &text, lifetime_hours: &lifetime }).await?;
        if existing.try_get::<_, &[u8]>("fingerprint")? != fingerprint {
            return Err(StoreError::IdempotencyMismatch);
        }
        let resource: Uuid = existing.try_get("resource_id")?;
        let rows = tx.finish(create.reload, &crate::args! { id: &resource }).await?;
        let value = (create.map)(rows.first().ok_or(StoreError::NotFound)?)?;
        return Ok(Created { value, replayed: true });
    }
    let rows = tx.query(create.insert, &create.args).await?;
    // No row: the claim goes with the rest (the transaction rolls back when dropped).
    let value = (create.map)(rows.first().ok_or(StoreError::NotFound)?)?;
    tx.commit().await?;
    Ok(Created { value, replayed: false })
}

/// The resource an earlier request with this key created, if the key is live: for a create
/// that must answer a retry before running checks the first attempt already passed.
pub(crate) async fn replay<T>(
    tx: &mut Tx<'_>,
    key: &IdempotencyKey,
    reload: &Sql,
    map: &(dyn Fn(&Row) -> StoreResult<T> + Sync),
) -> StoreResult<Option<Created<T>>> {
    let (text, lifetime) = (key.key(), KEY_LIFETIME_HOURS as i32);
    let Some(existing) = tx.query_opt(&EXISTING_NAMED, &crate::args! { key: &text, lifetime_hours: &lifetime }).await?
    else {
        return Ok(None);
    };
    if existing.try_get::<_, &[u8]>("fingerprint")? != key.fingerprint().as_slice() {
        return Err(StoreError::IdempotencyMismatch);
    }
    let resource: Uuid = existing.try_get("resource_id")?;
    let row = tx.query_one(reload, &crate::args! { id: &resource }).await?;
    Ok(Some(Created { value: map(&row)?, replayed: true }))
}

/// Idempotency keys: a day's retry bookkeeping.
pub(crate) const FEATURE: Feature = Feature {
    name: "idempotency",
    tables: &[Table {
        name: "idempotency_keys",
        sealed: &[],
        reseal: false,
        tenant_export: TenantExport::Omitted("a day's retry bookkeeping, not the organisation's data"),
        resident: None,
    }],
};
