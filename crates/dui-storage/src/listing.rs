//! Lists about one resident that tell, in the same statement, an empty list from a resident out
//! of reach: the statement always returns a first row saying whether `target` (the resident,
//! when visible) exists, so an empty answer never costs a second round trip to find out.

use dui_crypto::Keyring;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::sql::{Args, Sql};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// The final `SELECT` of a list: `select`'s rows (aliased `x`, ordered by `order`, which names
/// them as `x.column`) beside `visible`, or a single row of nulls when there are none.
pub(crate) fn listed(select: &str, order: &str) -> String {
    format!(
        "SELECT v.visible, v.via_emergency, x.* FROM (SELECT EXISTS (SELECT 1 FROM target) AS visible, \
           coalesce((SELECT NOT t.normal FROM target t), false) AS via_emergency) v \
         LEFT JOIN LATERAL ({select}) x ON v.visible ORDER BY {order}"
    )
}

/// The rows of a [`listed`] answer (those with an `id`); `NotFound` when the resident is out of
/// reach.
pub(crate) fn present(rows: Vec<Row>) -> StoreResult<Vec<Row>> {
    match rows.first() {
        Some(first) if first.try_get::<_, bool>("visible")? => {}
        _ => return Err(StoreError::NotFound),
    }
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        if row.try_get::<_, Option<Uuid>>("id")?.is_some() {
            kept.push(row);
        }
    }
    Ok(kept)
}

/// Runs a [`listed`] statement within an operation that goes on. When the resident is out of
/// reach, what the statement recorded (the refusal) is committed at once, and `NotFound`
/// returned.
pub(crate) async fn query_listed(tx: &mut Tx<'_>, sql: &Sql, args: &Args<'_>) -> StoreResult<Vec<Row>> {
    match present(tx.query(sql, args).await?) {
        Err(StoreError::NotFound) => {
            tx.commit_now().await?;
            Err(StoreError::NotFound)
        }
        found => found,
    }
}

/// Runs a [`listed`] statement as the transaction's last and opens its rows; with `trace`, the
/// read's event is recorded through the trail ([`crate::trail`]).
pub(crate) async fn open_listed<T>(
    tx: Tx<'_>,
    sql: &Sql,
    args: &Args<'_>,
    trace: Option<crate::trail::ReadTrace>,
    map: fn(&Row, &Keyring) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = present(tx.finish_read(sql, args, trace).await?)?;
    db.open_rows(tenant, &rows, map).await
}

/// Records that each of `residents` was shown to the caller as `action` (one event each), in
/// the operation's transaction: for a list whose rows are chosen after its statement (by a rule
/// of the domain), so that only the people shown are recorded.
pub(crate) async fn record_shown(
    tx: &mut Tx<'_>,
    residents: &[Uuid],
    action: dui_domain::audit::AuditAction,
) -> StoreResult<()> {
    static SHOWN: crate::sql::Stmt = std::sync::LazyLock::new(|| {
        let each = crate::trace::Trace {
            from: "who, shown",
            resident: "shown.id",
            resource: "shown.id",
            outcome: "'success'",
            emergency: "false",
        };
        Sql::new(&format!(
            "WITH {}, shown AS (SELECT DISTINCT unnest(:shown::uuid[]) AS id) {}",
            crate::access::WHO_CTE,
            each.sql()
        ))
    });
    if residents.is_empty() {
        return Ok(());
    }
    tx.query(&SHOWN, &crate::args! { shown: &residents }.action(action)).await?;
    Ok(())
}
