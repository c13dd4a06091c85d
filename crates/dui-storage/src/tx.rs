//! Tenant-scoped transactions.
//!
//! Row-level security reads the transaction-local setting `app.tenant_id`. [`TenantTx`] sets it
//! in the same round trip as the transaction's first statement: both are sent before either
//! answer is awaited (tokio-postgres pipelines requests made concurrently on one connection), and
//! PostgreSQL runs them in order. The tenant context therefore costs no extra round trip.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Object, Transaction};
use dui_domain::TenantId;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{StoreError, StoreResult};

pub(crate) const SET_TENANT: &str = "SELECT set_config('app.tenant_id', $1, true)";

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A transaction bound to one tenant. Dropped without [`TenantTx::commit`], it rolls back.
pub(crate) struct TenantTx<'a> {
    tx: Transaction<'a>,
    tenant: String,
    context_pending: AtomicBool,
}

impl<'a> TenantTx<'a> {
    pub(crate) async fn begin(conn: &'a mut Object, tenant: TenantId) -> StoreResult<Self> {
        let tx = conn.transaction().await?;
        Ok(Self { tx, tenant: tenant.to_string(), context_pending: AtomicBool::new(true) })
    }

    /// A read-only transaction on one snapshot of the database (REPEATABLE READ): every
    /// statement sees the same state, however long the reading takes.
    pub(crate) async fn begin_snapshot(conn: &'a mut Object, tenant: TenantId) -> StoreResult<Self> {
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        Ok(Self { tx, tenant: tenant.to_string(), context_pending: AtomicBool::new(true) })
    }

    pub(crate) async fn query(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        let statement = self.tx.prepare_cached(sql).await?;
        if self.context_pending.swap(false, Ordering::Relaxed) {
            let set_tenant = self.tx.prepare_cached(SET_TENANT).await?;
            let tenant: [&(dyn ToSql + Sync); 1] = [&self.tenant];
            let (_, rows) = tokio::try_join!(self.tx.query(&set_tenant, &tenant), self.tx.query(&statement, params))?;
            Ok(rows)
        } else {
            Ok(self.tx.query(&statement, params).await?)
        }
    }

    pub(crate) async fn query_opt(&self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop()),
            n => Err(StoreError::Corrupt { column: "row count", value: format!("{n} rows where one was expected") }),
        }
    }

    pub(crate) async fn query_one(&self, sql: &str, params: Params<'_>) -> StoreResult<Row> {
        self.query_opt(sql, params).await?.ok_or(StoreError::NotFound)
    }

    /// Commits; the request's place is given up for the flush (see [`crate::place`]).
    pub(crate) async fn commit(self) -> StoreResult<()> {
        crate::place::leave();
        Ok(self.tx.commit().await?)
    }
}

/// The transaction's last statement: once it has answered, only the COMMIT (already sent) is
/// left, and the request's place is given up for its flush ([`crate::place`]).
async fn last<T>(answer: impl std::future::Future<Output = T>) -> T {
    let answer = answer.await;
    crate::place::leave();
    answer
}

/// Whether a single-statement transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Runs one statement for `tenant` in a single round trip: BEGIN, the tenant setting, the
/// statement and COMMIT are all sent before the first answer is awaited. Every request is handed
/// to the connection on the first poll, so even if the caller gives up midway the connection
/// still receives the COMMIT and goes back to the pool clean. When the statement fails, the
/// transaction is aborted and PostgreSQL turns the COMMIT into a rollback. The request's place
/// is given up as soon as the statement has answered, while the commit is flushed
/// ([`crate::place`]).
pub(crate) async fn single(
    conn: &Object,
    tenant: TenantId,
    access: Access,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let set_tenant = conn.prepare_cached(SET_TENANT).await?;
    let statement = conn.prepare_cached(sql).await?;
    let tenant = tenant.to_string();
    let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant];
    let client: &tokio_postgres::Client = conn;
    let begin = match access {
        Access::Read => "BEGIN READ ONLY",
        Access::Write => "BEGIN",
    };
    let (_, _, rows, _) = tokio::try_join!(
        client.batch_execute(begin),
        client.query(&set_tenant, &tenant_param),
        last(client.query(&statement, params)),
        client.batch_execute("COMMIT"),
    )?;
    Ok(rows)
}

/// Runs two statements for `tenant` in one transaction and one round trip, like [`single`]:
/// for a read made of two result shapes (a record and its list), seen in one snapshot.
pub(crate) async fn pair(
    conn: &Object,
    tenant: TenantId,
    access: Access,
    first: (&str, Params<'_>),
    second: (&str, Params<'_>),
) -> StoreResult<(Vec<Row>, Vec<Row>)> {
    let set_tenant = conn.prepare_cached(SET_TENANT).await?;
    let (a, b) = tokio::try_join!(conn.prepare_cached(first.0), conn.prepare_cached(second.0))?;
    let tenant = tenant.to_string();
    let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant];
    let client: &tokio_postgres::Client = conn;
    let begin = match access {
        Access::Read => "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ",
        Access::Write => "BEGIN ISOLATION LEVEL REPEATABLE READ",
    };
    let (_, _, one, two, _) = tokio::try_join!(
        client.batch_execute(begin),
        client.query(&set_tenant, &tenant_param),
        client.query(&a, first.1),
        last(client.query(&b, second.1)),
        client.batch_execute("COMMIT"),
    )?;
    Ok((one, two))
}
