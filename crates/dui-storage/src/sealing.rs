//! Sealed values in rows: sealing a value for its place, opening it with the tenant's keyring,
//! and what happens when a value does not open (it was altered or moved: the row is named in
//! the log, the caller learns nothing of the value).

use dui_crypto::{Column, CryptoError, Keyring};
use dui_domain::TenantId;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Db, StoreError, StoreResult};

/// Records a sealed value that does not open, with the identity of its row, and returns the
/// error the caller gets (which says nothing of the value).
pub(crate) fn refuse_sealed(tenant: TenantId, column: Column, row: Uuid, error: CryptoError) -> StoreError {
    match error {
        CryptoError::UnknownKeyVersion(version) => {
            tracing::error!(%tenant, table = column.table, column = column.column, %row, version, "sealed value names a key version that does not exist");
        }
        other => {
            tracing::error!(%tenant, table = column.table, column = column.column, %row, error = %other, "sealed value failed authentication: altered or moved");
        }
    }
    StoreError::Tampered { table: column.table, column: column.column }
}

pub(crate) fn open_json<T: DeserializeOwned>(
    keys: &Keyring,
    column: Column,
    row: Uuid,
    sealed: &[u8],
) -> StoreResult<T> {
    keys.open_json(column, row, sealed).map_err(|e| refuse_sealed(keys.tenant(), column, row, e))
}

pub(crate) fn seal_json<T: serde::Serialize + ?Sized>(
    keys: &Keyring,
    column: Column,
    row: Uuid,
    value: &T,
) -> StoreResult<Vec<u8>> {
    keys.seal_json(column, row, value).map_err(|e| StoreError::Crypto(e.to_string()))
}

/// The key versions rows were sealed with (none for rows without sealed values).
pub(crate) fn versions(rows: &[Row]) -> StoreResult<Vec<u32>> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    if !first.columns().iter().any(|c| c.name() == "dek_version") {
        return Ok(Vec::new());
    }
    rows.iter().filter_map(|r| r.try_get::<_, Option<i32>>("dek_version").transpose()).map(|v| Ok(v? as u32)).collect()
}

impl Db {
    /// Opens rows with the tenant's keyring (read again if a row names a newer key).
    pub(crate) async fn open_rows<T>(
        &self,
        tenant: TenantId,
        rows: &[Row],
        map: fn(&Row, &Keyring) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keyring(tenant, versions(rows)?).await?;
        rows.iter().map(|row| map(row, &keys)).collect()
    }

    /// [`Db::open_rows`] for the one row a write returned.
    pub(crate) async fn open_one<T>(
        &self,
        tenant: TenantId,
        row: &Row,
        map: fn(&Row, &Keyring) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.open_rows(tenant, std::slice::from_ref(row), map).await?.pop().ok_or(StoreError::NotFound)
    }
}
