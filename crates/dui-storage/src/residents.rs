//! Residents and their notes: the first records with sealed fields.
//!
//! Identity traits and the INS are sealed (see dui-crypto); the INS and the normalised birth name
//! and date are also kept as blind indexes, for search and duplicate detection without plaintext.

use dui_crypto::{BlindIndex, Column, CryptoError, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::resident::{
    Identity, IdentityStatus, Ins, NewResident, Note, Resident, ResidentLookup, birth_identity_key, matricule,
};
use dui_domain::scope::{EstablishmentVisibility, TenantScope};
use dui_domain::{EstablishmentId, NoteId, ResidentId, TenantId, UserId};
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::idempotency::CreateStatement;
use crate::rows::parse;
use crate::tx::Params;
use crate::{Db, StoreError, StoreResult};

pub(crate) const RESIDENT_IDENTITY: Column = Column::new("residents", "identity");
pub(crate) const RESIDENT_INS: Column = Column::new("residents", "ins");
pub(crate) const NOTE_BODY: Column = Column::new("notes", "body");

const INS_INDEX: BlindIndex = BlindIndex::new("ins");
const BIRTH_IDENTITY_INDEX: BlindIndex = BlindIndex::new("birth_identity");

pub(crate) const RESIDENT_COLUMNS: &str =
    "id, establishment_id, identity_status, identity, ins, dek_version, created_at, updated_at";
pub(crate) const NOTE_COLUMNS: &str =
    "id, resident_id, author_id, establishment_id, written_at, facts_at, body, dek_version";

/// The sealed columns of every table, for the re-encryption job (and a test that checks that no
/// sealed column is forgotten).
pub(crate) const SEALED_TABLES: &[(&str, &[Column])] =
    &[("residents", &[RESIDENT_IDENTITY, RESIDENT_INS]), ("notes", &[NOTE_BODY])];

/// The sealed columns, as `table.column`.
pub fn sealed_columns() -> Vec<String> {
    SEALED_TABLES.iter().flat_map(|(_, columns)| columns.iter().map(|c| format!("{}.{}", c.table, c.column))).collect()
}

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

fn open_json<T: DeserializeOwned>(keys: &Keyring, column: Column, row: Uuid, sealed: &[u8]) -> StoreResult<T> {
    keys.open_json(column, row, sealed).map_err(|e| refuse_sealed(keys.tenant(), column, row, e))
}

fn seal_json<T: serde::Serialize + ?Sized>(
    keys: &Keyring,
    column: Column,
    row: Uuid,
    value: &T,
) -> StoreResult<Vec<u8>> {
    keys.seal_json(column, row, value).map_err(|e| StoreError::Crypto(e.to_string()))
}

pub(crate) fn resident(row: &Row, keys: &Keyring) -> StoreResult<Resident> {
    let id: Uuid = row.try_get("id")?;
    let identity: Identity = open_json(keys, RESIDENT_IDENTITY, id, row.try_get("identity")?)?;
    let ins: Option<Ins> = match row.try_get::<_, Option<&[u8]>>("ins")? {
        Some(sealed) => Some(open_json(keys, RESIDENT_INS, id, sealed)?),
        None => None,
    };
    Ok(Resident {
        id: ResidentId::from_uuid(id),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        identity_status: parse(row, "identity_status", IdentityStatus::parse)?,
        identity,
        ins,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn note(row: &Row, keys: &Keyring) -> StoreResult<Note> {
    let id: Uuid = row.try_get("id")?;
    Ok(Note {
        id: NoteId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        author_id: UserId::from_uuid(row.try_get("author_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        written_at: row.try_get("written_at")?,
        facts_at: row.try_get("facts_at")?,
        text: open_json(keys, NOTE_BODY, id, row.try_get("body")?)?,
    })
}

/// The key versions rows were sealed with.
fn versions(rows: &[Row]) -> StoreResult<Vec<u32>> {
    rows.iter().map(|r| Ok(r.try_get::<_, i32>("dek_version")? as u32)).collect()
}

fn visible(scope: &TenantScope) -> Option<Vec<Uuid>> {
    match scope.establishments() {
        EstablishmentVisibility::All => None,
        EstablishmentVisibility::Only(ids) => Some(ids.into_iter().map(|id| id.as_uuid()).collect()),
    }
}

impl Db {
    /// Opens rows with the tenant's keyring (read again if a row names a newer key).
    async fn open_rows<T>(
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

    /// Records sharing the INS, or the normalised birth name and birth date, of a new record.
    /// Returns (resident id, same INS) pairs.
    pub(crate) async fn duplicate_candidates(
        &self,
        scope: &TenantScope,
        new: &NewResident,
    ) -> StoreResult<Vec<(ResidentId, bool)>> {
        let keys = self.keyring(scope.tenant_id(), []).await?;
        let ins_index = new.ins.as_ref().map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
        let birth_index = keys
            .blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(&new.identity.birth_name, new.identity.birth_date));
        let rows = self
            .read(
                scope.tenant_id(),
                "SELECT id, coalesce(ins_index = $2, false) AS same_ins FROM residents \
                 WHERE tenant_id = $1 AND (ins_index = $2 OR birth_identity_index = $3) ORDER BY id LIMIT 20",
                &[&scope.tenant_id().as_uuid(), &ins_index, &birth_index.as_slice()],
            )
            .await?;
        rows.iter().map(|r| Ok((ResidentId::from_uuid(r.try_get(0)?), r.try_get(1)?))).collect()
    }

    /// Creates a resident's record, unless it would duplicate one: the same INS is always refused,
    /// the same birth name and birth date unless `confirm_homonym` says it is another person. A
    /// retry with the same idempotency key returns the record created first.
    pub async fn create_resident(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        new: &NewResident,
        confirm_homonym: bool,
    ) -> StoreResult<Created<Resident>> {
        let tenant = scope.tenant_id();
        let reload = format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE tenant_id = $1 AND id = $2");
        if let Some(key) = key {
            let keys = self.keyring(tenant, []).await?;
            let map = |row: &Row| resident(row, &keys);
            if let Some(replayed) = self.replay(scope, key, &reload, &map).await? {
                return Ok(replayed);
            }
        }
        let candidates = self.duplicate_candidates(scope, new).await?;
        let same_ins = candidates.iter().any(|(_, same)| *same);
        if same_ins || (!candidates.is_empty() && !confirm_homonym) {
            return Err(StoreError::Duplicate {
                candidates: candidates.iter().map(|(id, _)| id.as_uuid()).collect(),
                same_ins,
            });
        }
        let keys = self.keyring_for_sealing(tenant, 2).await?;
        let id = Uuid::now_v7();
        let identity = seal_json(&keys, RESIDENT_IDENTITY, id, &new.identity)?;
        let ins = new.ins.as_ref().map(|ins| seal_json(&keys, RESIDENT_INS, id, ins)).transpose()?;
        let ins_index = new.ins.as_ref().map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
        let birth_index = keys
            .blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(&new.identity.birth_name, new.identity.birth_date));
        let insert = format!(
            "INSERT INTO residents (tenant_id, id, establishment_id, identity_status, identity, ins, ins_index, \
             birth_identity_index, dek_version) \
             SELECT e.tenant_id, $2, e.id, $4, $5, $6, $7, $8, $9 FROM establishments e \
             WHERE e.tenant_id = $1 AND e.id = $3 RETURNING {RESIDENT_COLUMNS}"
        );
        let params: Params<'_> = &[
            &tenant.as_uuid(),
            &id,
            &new.establishment_id.as_uuid(),
            &new.identity_status.as_str(),
            &identity,
            &ins,
            &ins_index,
            &birth_index.as_slice(),
            &(keys.active_version() as i32),
        ];
        let map = |row: &Row| resident(row, &keys);
        self.create_once(scope, key, CreateStatement { id, insert: &insert, params, reload: &reload, map: &map }).await
    }

    /// One resident, if the scope sees the establishment.
    pub async fn get_resident(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<Resident> {
        let sql = format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents \
             WHERE tenant_id = $1 AND id = $2 AND ($3::uuid[] IS NULL OR establishment_id = ANY($3))"
        );
        let rows =
            self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid(), &visible(scope)]).await?;
        self.open_rows(scope.tenant_id(), &rows, resident).await?.pop().ok_or(StoreError::NotFound)
    }

    /// The residents the scope sees, optionally of one establishment.
    pub async fn list_residents(
        &self,
        scope: &TenantScope,
        establishment: Option<EstablishmentId>,
        page: PageRequest,
    ) -> StoreResult<Page<Resident>> {
        let sql = format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents \
             WHERE tenant_id = $1 AND ($2::uuid[] IS NULL OR establishment_id = ANY($2)) \
             AND ($3::uuid IS NULL OR establishment_id = $3) AND ($4::uuid IS NULL OR id > $4) ORDER BY id LIMIT $5"
        );
        let rows = self
            .read(
                scope.tenant_id(),
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &visible(scope),
                    &establishment.map(|e| e.as_uuid()),
                    &page.after,
                    &page.fetch_limit(),
                ],
            )
            .await?;
        let items = self.open_rows(scope.tenant_id(), &rows, resident).await?;
        Ok(Page::from_rows(items, page, |r| r.id.as_uuid()))
    }

    /// Residents the scope sees matching a look-up, through the blind indexes.
    pub async fn find_residents(&self, scope: &TenantScope, lookup: &ResidentLookup) -> StoreResult<Vec<Resident>> {
        let keys = self.keyring(scope.tenant_id(), []).await?;
        let (column, index) = match lookup {
            ResidentLookup::Ins(value) => {
                // An invalid matricule matches nothing; normalising it lets spaces and case vary.
                let normalised = matricule(value).unwrap_or_else(|_| value.clone());
                ("ins_index", keys.blind_index(INS_INDEX, &normalised))
            }
            ResidentLookup::BirthIdentity { birth_name, birth_date } => (
                "birth_identity_index",
                keys.blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(birth_name, *birth_date)),
            ),
        };
        let sql = format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents \
             WHERE tenant_id = $1 AND {column} = $2 AND ($3::uuid[] IS NULL OR establishment_id = ANY($3)) \
             ORDER BY id LIMIT 50"
        );
        let rows = self
            .read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &index.as_slice(), &visible(scope)])
            .await?;
        self.open_rows(scope.tenant_id(), &rows, resident).await
    }

    /// Adds a note about a resident the scope sees, in the resident's establishment.
    pub async fn add_note(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident_id: ResidentId,
        text: &str,
        facts_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<Created<Note>> {
        let tenant = scope.tenant_id();
        let keys = self.keyring_for_sealing(tenant, 1).await?;
        let id = Uuid::now_v7();
        let body = seal_json(&keys, NOTE_BODY, id, text)?;
        let insert = format!(
            "INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, facts_at, body, dek_version) \
             SELECT r.tenant_id, $2, r.id, $4, r.establishment_id, coalesce($5, now()), $6, $7 FROM residents r \
             WHERE r.tenant_id = $1 AND r.id = $3 AND ($8::uuid[] IS NULL OR r.establishment_id = ANY($8)) \
             RETURNING {NOTE_COLUMNS}"
        );
        let reload = format!("SELECT {NOTE_COLUMNS} FROM notes WHERE tenant_id = $1 AND id = $2");
        let visible = visible(scope);
        let params: Params<'_> = &[
            &tenant.as_uuid(),
            &id,
            &resident_id.as_uuid(),
            &scope.user_id().as_uuid(),
            &facts_at,
            &body,
            &(keys.active_version() as i32),
            &visible,
        ];
        let map = |row: &Row| note(row, &keys);
        self.create_once(scope, key, CreateStatement { id, insert: &insert, params, reload: &reload, map: &map }).await
    }

    /// A resident's notes, newest first.
    pub async fn list_notes(
        &self,
        scope: &TenantScope,
        resident_id: ResidentId,
        page: PageRequest,
    ) -> StoreResult<Page<Note>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM notes \
             WHERE tenant_id = $1 AND resident_id = $2 AND ($3::uuid[] IS NULL OR establishment_id = ANY($3)) \
             AND ($4::uuid IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = self
            .read(
                scope.tenant_id(),
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &resident_id.as_uuid(),
                    &visible(scope),
                    &page.after,
                    &page.fetch_limit(),
                ],
            )
            .await?;
        let items = self.open_rows(scope.tenant_id(), &rows, note).await?;
        Ok(Page::from_rows(items, page, |n| n.id.as_uuid()))
    }
}
