//! Creates that happen once per idempotency key.
//!
//! The key is claimed by inserting its row — with the id the new resource will have — in the
//! same transaction as the resource. A concurrent request with the same key waits on the row's
//! primary key until the first commits (then finds the key and returns the resource) or rolls
//! back (then creates it itself). A key older than the lifetime is reclaimed.

use dui_domain::TenantId;
use dui_domain::idempotency::{Created, IdempotencyKey, KEY_LIFETIME_HOURS};
use dui_domain::scope::TenantScope;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::rows::all;
use crate::tx::{Params, TenantTx};
use crate::{Db, StoreError, StoreResult};

/// Inserts the key pointing at `resource`, unless a live key exists; returns whether it did.
pub(crate) const CLAIM: &str = "INSERT INTO idempotency_keys (tenant_id, user_id, key, fingerprint, resource_id) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (tenant_id, user_id, key) DO UPDATE \
       SET fingerprint = EXCLUDED.fingerprint, resource_id = EXCLUDED.resource_id, created_at = now() \
       WHERE idempotency_keys.created_at < now() - make_interval(hours => $6) \
     RETURNING resource_id";

const EXISTING: &str = "SELECT fingerprint, resource_id FROM idempotency_keys \
     WHERE tenant_id = $1 AND user_id = $2 AND key = $3";

/// A create statement and how to read back what it made.
pub(crate) struct CreateStatement<'a, T> {
    /// The id the new row gets; the statement must use it.
    pub id: Uuid,
    pub insert: &'a str,
    pub params: Params<'a>,
    /// Reads the resource by `($1 tenant_id, $2 id)`, for replays.
    pub reload: &'a str,
    pub map: &'a (dyn Fn(&Row) -> StoreResult<T> + Sync),
    /// For a statement that does not record itself: the action and resource type to record, in
    /// the same statement (the insert must return the new row's `id`).
    pub audit: Option<(&'a str, &'a str)>,
}

impl Db {
    /// Runs `create` once per idempotency key (every time when there is no key).
    pub(crate) async fn create_once<T>(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        create: CreateStatement<'_, T>,
    ) -> StoreResult<Created<T>> {
        let wrapped;
        let all_params;
        let who;
        let (insert, params): (&str, Params<'_>) = match create.audit {
            None => (create.insert, create.params),
            Some((action, resource_type)) => {
                who = self.who(scope);
                wrapped = crate::audit::audited_statement(create.insert, action, resource_type);
                let mut p = who.params();
                p.extend_from_slice(create.params);
                all_params = p;
                (&wrapped, &all_params)
            }
        };
        let Some(key) = key else {
            let rows = self.write(scope.tenant_id(), insert, params).await?;
            let row = rows.first().ok_or(StoreError::NotFound)?;
            return Ok(Created { value: (create.map)(row)?, replayed: false });
        };
        let mut conn = self.conn().await?;
        let tx = TenantTx::begin(&mut conn, scope.tenant_id()).await?;
        let (tenant, user) = (scope.tenant_id().as_uuid(), scope.user_id().as_uuid());
        let fingerprint = key.fingerprint().as_slice();
        let claimed = tx
            .query(CLAIM, &[&tenant, &user, &key.key(), &fingerprint, &create.id, &(KEY_LIFETIME_HOURS as i32)])
            .await?;
        if claimed.is_empty() {
            let existing = tx.query_one(EXISTING, &[&tenant, &user, &key.key()]).await?;
            if existing.try_get::<_, &[u8]>("fingerprint")? != fingerprint {
                return Err(StoreError::IdempotencyMismatch);
            }
            let resource: Uuid = existing.try_get("resource_id")?;
            let value = (create.map)(&tx.query_one(create.reload, &[&tenant, &resource]).await?)?;
            tx.commit().await?;
            return Ok(Created { value, replayed: true });
        }
        // No row: the target is gone or out of reach; the claim is rolled back with the rest.
        let rows = tx.query(insert, params).await?;
        let value = (create.map)(rows.first().ok_or(StoreError::NotFound)?)?;
        tx.commit().await?;
        Ok(Created { value, replayed: false })
    }

    /// The resource an earlier request with this key created, if the key is live: for creates
    /// that must answer a retry before running checks the first attempt already passed.
    pub(crate) async fn replay<T>(
        &self,
        scope: &TenantScope,
        key: &IdempotencyKey,
        reload: &str,
        map: &(dyn Fn(&Row) -> StoreResult<T> + Sync),
    ) -> StoreResult<Option<Created<T>>> {
        let (tenant, user) = (scope.tenant_id().as_uuid(), scope.user_id().as_uuid());
        let sql = format!("{EXISTING} AND created_at >= now() - make_interval(hours => $4)");
        let rows =
            self.read(scope.tenant_id(), &sql, &[&tenant, &user, &key.key(), &(KEY_LIFETIME_HOURS as i32)]).await?;
        let Some(existing) = rows.first() else { return Ok(None) };
        if existing.try_get::<_, &[u8]>("fingerprint")? != key.fingerprint().as_slice() {
            return Err(StoreError::IdempotencyMismatch);
        }
        let resource: Uuid = existing.try_get("resource_id")?;
        let rows = self.read(scope.tenant_id(), reload, &[&tenant, &resource]).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(Some(Created { value: map(row)?, replayed: true }))
    }

    /// Deletes idempotency keys past their lifetime, tenant by tenant. Returns how many.
    pub async fn purge_expired_idempotency_keys(&self) -> StoreResult<u64> {
        let tenants = self.platform("SELECT id FROM tenants", &[]).await?;
        let tenants = all(&tenants, |row| Ok(TenantId::from_uuid(row.try_get(0)?)))?;
        let mut purged = 0;
        for tenant in tenants {
            let rows = self
                .write(
                    tenant,
                    "DELETE FROM idempotency_keys WHERE tenant_id = $1 \
                     AND created_at < now() - make_interval(hours => $2) RETURNING 1",
                    &[&tenant.as_uuid(), &(KEY_LIFETIME_HOURS as i32)],
                )
                .await?;
            purged += rows.len() as u64;
        }
        Ok(purged)
    }
}

// ---------------------------------------------------------------------------------------------
// Creates inside an operation's transaction.
// ---------------------------------------------------------------------------------------------

use crate::feature::{Feature, Table, TenantExport};
use crate::sql::{Args, Sql, Stmt};
use crate::txn::Tx;

static CLAIM_NAMED: Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "INSERT INTO idempotency_keys (tenant_id, user_id, key, fingerprint, resource_id) \
         VALUES (:tenant, :user, :key, :fingerprint, :resource) \
         ON CONFLICT (tenant_id, user_id, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, resource_id = EXCLUDED.resource_id, created_at = now() \
           WHERE idempotency_keys.created_at < now() - make_interval(hours => :lifetime_hours) \
         RETURNING resource_id",
    )
});

static EXISTING_NAMED: Stmt = std::sync::LazyLock::new(|| {
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
