//! Reading typed values out of rows. The database's CHECK constraints make a bad value
//! impossible in normal operation; should one appear, it is reported, never panicked on.

use tokio_postgres::Row;

use crate::{StoreError, StoreResult};

/// Parses a text column into a domain enum.
pub(crate) fn parse<T>(row: &Row, column: &'static str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    let value: &str = row.try_get(column)?;
    parse(value).ok_or_else(|| StoreError::Corrupt { column, value: value.to_owned() })
}

/// Parses a nullable text column into a domain enum.
pub(crate) fn parse_opt<T>(
    row: &Row,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let value: Option<&str> = row.try_get(column)?;
    value.map(|v| parse(v).ok_or_else(|| StoreError::Corrupt { column, value: v.to_owned() })).transpose()
}

/// The one row a statement returned, mapped; `NotFound` when it returned none.
pub(crate) fn one<T>(rows: Vec<Row>, map: fn(&Row) -> StoreResult<T>) -> StoreResult<T> {
    rows.first().map(map).transpose()?.ok_or(StoreError::NotFound)
}

/// Every row a statement returned, mapped.
pub(crate) fn all<T>(rows: &[Row], map: fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}

/// The row a statement returned, if any, mapped.
pub(crate) fn optional<T>(rows: Vec<Row>, map: fn(&Row) -> StoreResult<T>) -> StoreResult<Option<T>> {
    rows.first().map(map).transpose()
}

/// Why a conditional update of a resident's row touched nothing, asked in a transaction of its
/// own: the row is absent (404), at another version than `expected` (412), or its own
/// conditions refused the change (422, as `{table}_change_refused`).
pub(crate) async fn why_unchanged(
    mut tx: crate::tx::Tx<'_>,
    table: &'static str,
    resident: dui_domain::ResidentId,
    row: uuid::Uuid,
    expected: Option<i32>,
) -> StoreError {
    let sql = crate::sql::Sql::new(&format!(
        "SELECT row_version FROM {table} WHERE tenant_id = :tenant AND resident_id = :resident AND id = :id"
    ));
    let resident = resident.as_uuid();
    let found = tx.query_opt(&sql, &crate::args! { resident: &resident, id: &row }).await;
    drop(tx);
    match found {
        Ok(None) => StoreError::NotFound,
        Ok(Some(found)) => match found.try_get::<_, i32>(0) {
            Ok(current) if expected.is_some_and(|e| e != current) => StoreError::StaleVersion { current },
            Ok(_) => StoreError::Invalid { constraint: format!("{table}_change_refused") },
            Err(error) => error.into(),
        },
        Err(error) => error,
    }
}
