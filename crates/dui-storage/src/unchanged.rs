//! Why a conditional update of a row of a resident touched nothing: the row is gone, at
//! another version, or its own conditions refused the change. Asked after the update, so that
//! the update itself stays one statement.

use crate::StoreError;

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
