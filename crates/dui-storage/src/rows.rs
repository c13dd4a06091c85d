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
