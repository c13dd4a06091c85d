//! Residents' records: identity (sealed, with blind indexes), stays, notes; every access checked
//! against the access rule and recorded in the audit trail in the same statement.

use chrono::Utc;
use dui_crypto::{BlindIndex, Column, CryptoError, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::record::{AdmissionMode, DischargeMode, Stay, StayMode};
use dui_domain::resident::{
    Identity, IdentityStatus, Ins, NewResident, RecordStatus, Resident, ResidentLookup, birth_identity_key, matricule,
};
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, ResidentId, StayId, TenantId, UnitId};
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, WHO_PARAMS, Who, audit_insert, urgent, visible};
use crate::idempotency::CreateStatement;
use crate::rows::parse;
use crate::{Db, StoreError, StoreResult};

pub(crate) const RESIDENT_IDENTITY: Column = Column::new("residents", "identity");
pub(crate) const RESIDENT_INS: Column = Column::new("residents", "ins");

pub(crate) const INS_INDEX: BlindIndex = BlindIndex::new("ins");
pub(crate) const BIRTH_IDENTITY_INDEX: BlindIndex = BlindIndex::new("birth_identity");

/// The resident's columns, from alias `r`.
pub(crate) const RESIDENT_COLUMNS: &str = "r.id, r.identity_status, r.identity, r.ins, r.dek_version, r.record_status, \
     r.merged_into, r.row_version, r.created_at, r.updated_at";
/// The current stay's columns, from alias `st` (see [`CURRENT_STAY`]).
pub(crate) const STAY_COLUMNS: &str = "st.id AS stay_id, st.establishment_id AS stay_establishment_id, \
     st.unit_id AS stay_unit_id, st.mode AS stay_mode, st.admitted_on AS stay_admitted_on, \
     st.admission_mode AS stay_admission_mode, st.discharged_on AS stay_discharged_on, \
     st.discharge_mode AS stay_discharge_mode, st.transferred_from AS stay_transferred_from, \
     st.row_version AS stay_row_version";
/// Joins resident `r` to its current stay as `st`.
pub(crate) const CURRENT_STAY: &str = "LEFT JOIN LATERAL (SELECT * FROM stays s WHERE s.tenant_id = r.tenant_id \
     AND s.resident_id = r.id AND s.admitted_on <= current_date \
     AND (s.discharged_on IS NULL OR s.discharged_on > current_date) \
     ORDER BY s.admitted_on DESC, s.id DESC LIMIT 1) st ON true";

/// Records that `who` was refused `action` on a resident.
pub(crate) fn denial(action: &str, resident: &str) -> String {
    audit_insert(action, "'denied'", resident, "resident", resident, "false", "who")
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

fn has_column(row: &Row, name: &str) -> bool {
    row.columns().iter().any(|c| c.name() == name)
}

/// A stay from columns named with `prefix` (`""` for a stays row, `"stay_"` for a joined one).
pub(crate) fn stay_with_prefix(row: &Row, prefix: &str, resident: Uuid) -> StoreResult<Option<Stay>> {
    let column = |name: &str| format!("{prefix}{name}");
    let Some(id) = row.try_get::<_, Option<Uuid>>(column("id").as_str())? else { return Ok(None) };
    let text = |name: &str| -> StoreResult<Option<String>> { Ok(row.try_get(column(name).as_str())?) };
    let corrupt = |name: &'static str, value: String| StoreError::Corrupt { column: name, value };
    let mode = text("mode")?.unwrap_or_default();
    let admission = text("admission_mode")?.unwrap_or_default();
    Ok(Some(Stay {
        id: StayId::from_uuid(id),
        resident_id: ResidentId::from_uuid(resident),
        establishment_id: EstablishmentId::from_uuid(row.try_get(column("establishment_id").as_str())?),
        unit_id: row.try_get::<_, Option<Uuid>>(column("unit_id").as_str())?.map(UnitId::from_uuid),
        mode: StayMode::parse(&mode).ok_or_else(|| corrupt("stays.mode", mode.clone()))?,
        admitted_on: row.try_get(column("admitted_on").as_str())?,
        admission_mode: AdmissionMode::parse(&admission)
            .ok_or_else(|| corrupt("stays.admission_mode", admission.clone()))?,
        discharged_on: row.try_get(column("discharged_on").as_str())?,
        discharge_mode: match text("discharge_mode")? {
            Some(v) => Some(DischargeMode::parse(&v).ok_or_else(|| corrupt("stays.discharge_mode", v.clone()))?),
            None => None,
        },
        transferred_from: row.try_get::<_, Option<Uuid>>(column("transferred_from").as_str())?.map(StayId::from_uuid),
        row_version: row.try_get(column("row_version").as_str())?,
    }))
}

pub(crate) fn resident(row: &Row, keys: &Keyring) -> StoreResult<Resident> {
    let id: Uuid = row.try_get("id")?;
    let identity: Identity = open_json(keys, RESIDENT_IDENTITY, id, row.try_get("identity")?)?;
    let ins: Option<Ins> = match row.try_get::<_, Option<&[u8]>>("ins")? {
        Some(sealed) => Some(open_json(keys, RESIDENT_INS, id, sealed)?),
        None => None,
    };
    let current_stay = if has_column(row, "stay_id") { stay_with_prefix(row, "stay_", id)? } else { None };
    Ok(Resident {
        id: ResidentId::from_uuid(id),
        identity_status: parse(row, "identity_status", IdentityStatus::parse)?,
        identity,
        ins,
        current_stay,
        record_status: parse(row, "record_status", RecordStatus::parse)?,
        merged_into: row.try_get::<_, Option<Uuid>>("merged_into")?.map(ResidentId::from_uuid),
        row_version: row.try_get("row_version")?,
        emergency: has_column(row, "via_emergency") && row.try_get::<_, bool>("via_emergency")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The key versions rows were sealed with.
pub(crate) fn versions(rows: &[Row]) -> StoreResult<Vec<u32>> {
    rows.iter().filter_map(|r| r.try_get::<_, Option<i32>>("dek_version").transpose()).map(|v| Ok(v? as u32)).collect()
}

/// What storage needs to know about a resident before acting on their record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentContext {
    pub resident: ResidentId,
    /// Establishments of the resident's current and recent stays (the record's "owners").
    pub establishments: Vec<EstablishmentId>,
    /// Visible only through an emergency opening.
    pub emergency: bool,
    pub record_status: RecordStatus,
}

/// How to narrow a list of residents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentFilter {
    pub establishment: Option<EstablishmentId>,
    pub unit: Option<UnitId>,
    /// Only residents with (`Some(true)`) or without (`Some(false)`) a current stay.
    pub current: Option<bool>,
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

    pub(crate) fn who(&self, scope: &TenantScope) -> Who {
        Who::of(scope, self.recent_stay_days)
    }

    /// Records with the same INS, or the same normalised birth name and birth date, as a new one.
    /// Returns (resident id, same INS) pairs. Only ids: nothing of those records is read.
    pub(crate) async fn duplicate_candidates(
        &self,
        scope: &TenantScope,
        identity: &Identity,
        ins: Option<&Ins>,
        except: Option<ResidentId>,
    ) -> StoreResult<Vec<(ResidentId, bool)>> {
        let keys = self.keyring(scope.tenant_id(), []).await?;
        let ins_index = ins.map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
        let birth_index =
            keys.blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(&identity.birth_name, identity.birth_date));
        let rows = self
            .read(
                scope.tenant_id(),
                "SELECT id, coalesce(ins_index = $2, false) AS same_ins FROM residents \
                 WHERE tenant_id = $1 AND record_status = 'active' AND ($4::uuid IS NULL OR id <> $4) \
                 AND (ins_index = $2 OR birth_identity_index = $3) ORDER BY id LIMIT 20",
                &[&scope.tenant_id().as_uuid(), &ins_index, &birth_index.as_slice(), &except.map(|e| e.as_uuid())],
            )
            .await?;
        rows.iter().map(|r| Ok((ResidentId::from_uuid(r.try_get(0)?), r.try_get(1)?))).collect()
    }

    /// Creates a resident's record with their first stay and first identity event, unless it
    /// would duplicate one: the same INS is always refused, the same birth name and birth date
    /// unless `confirm_homonym` says it is another person. A retry with the same idempotency key
    /// returns the record created first.
    pub async fn create_resident(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        new: &NewResident,
        confirm_homonym: bool,
    ) -> StoreResult<Created<Resident>> {
        let tenant = scope.tenant_id();
        let reload = format!(
            "SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM residents r {CURRENT_STAY} WHERE r.tenant_id = $1 AND r.id = $2"
        );
        if let Some(key) = key {
            let keys = self.keyring(tenant, []).await?;
            let map = |row: &Row| resident(row, &keys);
            if let Some(replayed) = self.replay(scope, key, &reload, &map).await? {
                return Ok(replayed);
            }
        }
        let candidates = self.duplicate_candidates(scope, &new.identity, new.ins.as_ref(), None).await?;
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
            .blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(&new.identity.birth_name, new.identity.birth_date))
            .to_vec();
        let who = self.who(scope);
        // One statement: the record, its first stay (in a unit of that establishment, if given),
        // its first identity event, and the trace.
        let insert = format!(
            "WITH {WHO}, \
             place AS (SELECT e.id FROM establishments e, who WHERE e.tenant_id = who.tenant_id AND e.id = $21 \
                       AND ($22::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id \
                            AND u.id = $22 AND u.establishment_id = e.id))), \
             r AS (INSERT INTO residents (tenant_id, id, identity_status, identity, ins, ins_index, birth_identity_index, dek_version) \
                   SELECT who.tenant_id, $19, $23, $24, $25, $26, $27, $28 FROM who, place RETURNING *), \
             st AS (INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, admission_mode) \
                    SELECT r.tenant_id, $20, r.id, $21, $22, $29, $30, $31 FROM r RETURNING *), \
             ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, to_status, insi_lookup, recorded_by, dek_version) \
                    SELECT r.tenant_id, dui_uuid_v7(), r.id, r.identity_status, r.ins IS NOT NULL, \
                           CASE WHEN who.console THEN NULL ELSE who.user_id END, r.dek_version FROM r, who RETURNING id), \
             trace AS ({}) \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM r, st",
            audit_insert("resident.create", "'success'", "r.id", "resident", "r.id", "false", "who, r")
        );
        let stay_id = Uuid::now_v7();
        let establishment = new.stay.establishment_id.as_uuid();
        let unit = new.stay.unit_id.map(|u| u.as_uuid());
        let dek = keys.active_version() as i32;
        let (status, mode, admission_mode) =
            (new.identity_status.as_str(), new.stay.mode.as_str(), new.stay.admission_mode.as_str());
        let mut params = who.params();
        params.extend::<[&(dyn tokio_postgres::types::ToSql + Sync); 13]>([
            &id,
            &stay_id,
            &establishment,
            &unit,
            &status,
            &identity,
            &ins,
            &ins_index,
            &birth_index,
            &dek,
            &mode,
            &new.stay.admitted_on,
            &admission_mode,
        ]);
        debug_assert_eq!(params.len(), WHO_PARAMS + 13);
        // A current stay must be today's to show as current; the returned row gives the stay
        // whatever its date.
        let map = |row: &Row| {
            let mut created = resident(row, &keys)?;
            if created.current_stay.as_ref().is_some_and(|s| !s.is_current(Utc::now().date_naive())) {
                created.current_stay = None;
            }
            Ok(created)
        };
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params: &params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// One resident, if visible; the read (or the refusal) is recorded.
    pub async fn get_resident(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<Resident> {
        self.resident_read(scope, id, true).await
    }

    /// The same read, not recorded: for the benchmark that measures what recording costs, and
    /// nothing else (an architecture test checks that no crate's code calls it).
    #[cfg(feature = "bench-untraced")]
    pub async fn get_resident_untraced(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<Resident> {
        self.resident_read(scope, id, false).await
    }

    async fn resident_read(&self, scope: &TenantScope, id: ResidentId, traced: bool) -> StoreResult<Resident> {
        let who = self.who(scope);
        let trace = traced.then(|| {
            audit_insert(
                "resident.read",
                "CASE WHEN data.id IS NULL THEN 'denied' ELSE 'success' END",
                "$19",
                "resident",
                "$19",
                "coalesce(NOT data.normal, false)",
                "who LEFT JOIN data ON true",
            )
        });
        let sql = format!(
            "WITH {WHO}, \
             target AS (SELECT r.*, {} AS normal, {} AS urgent FROM residents r, who \
                        WHERE r.tenant_id = who.tenant_id AND r.id = $19), \
             data AS MATERIALIZED (SELECT * FROM target WHERE normal OR urgent){} \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY}",
            visible("r"),
            urgent("r"),
            trace.map(|t| format!(", trace AS ({t})")).unwrap_or_default()
        );
        let id_param = id.as_uuid();
        let mut params = who.params();
        params.push(&id_param);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        self.open_rows(scope.tenant_id(), &rows, resident).await?.pop().ok_or(StoreError::NotFound)
    }

    /// What is needed to act on a resident's record: the establishments of their current and
    /// recent stays, and whether the user sees them only through an emergency opening. If the
    /// resident is not visible, the refusal of `action` is recorded and `NotFound` returned.
    pub async fn resident_context(
        &self,
        scope: &TenantScope,
        id: ResidentId,
        action: &str,
    ) -> StoreResult<ResidentContext> {
        self.context_of(scope, id, Some(action)).await
    }

    /// Whether the scope sees the resident (`NotFound` otherwise), recording nothing: for a
    /// statement that recorded its own refusal and only needs absence told from emptiness.
    pub(crate) async fn ensure_visible(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<()> {
        self.context_of(scope, id, None).await.map(|_| ())
    }

    async fn context_of(
        &self,
        scope: &TenantScope,
        id: ResidentId,
        action: Option<&str>,
    ) -> StoreResult<ResidentContext> {
        let who = self.who(scope);
        let sql = context_sql(action);
        let id_param = id.as_uuid();
        let mut params = who.params();
        params.push(&id_param);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let establishments: Vec<Uuid> = row.try_get("establishments")?;
        Ok(ResidentContext {
            resident: id,
            establishments: establishments.into_iter().map(EstablishmentId::from_uuid).collect(),
            emergency: row.try_get("via_emergency")?,
            record_status: parse(row, "record_status", RecordStatus::parse)?,
        })
    }

    /// Records that `action` on a resident was refused (the user sees the record but their
    /// roles do not allow the action).
    pub async fn record_denial(&self, scope: &TenantScope, action: &str, resident: ResidentId) -> StoreResult<()> {
        let who = self.who(scope);
        let sql = format!("WITH {WHO} {}", denial(action, "$19"));
        let id = resident.as_uuid();
        let mut params = who.params();
        params.push(&id);
        self.write(scope.tenant_id(), &sql, &params).await?;
        Ok(())
    }

    /// The residents the scope sees, narrowed by `filter`; each one listed is recorded as read.
    pub async fn list_residents(
        &self,
        scope: &TenantScope,
        filter: ResidentFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Resident>> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, \
             data AS (SELECT r.*, {} AS normal FROM residents r, who \
                      WHERE r.tenant_id = who.tenant_id AND r.record_status = 'active' \
                      AND ($22::uuid IS NULL OR r.id > $22) \
                      AND ($19::uuid IS NULL AND $20::uuid IS NULL AND $21::bool IS NULL \
                           OR EXISTS (SELECT 1 FROM stays f WHERE f.tenant_id = r.tenant_id AND f.resident_id = r.id \
                                      AND ($19::uuid IS NULL OR f.establishment_id = $19) \
                                      AND ($20::uuid IS NULL OR f.unit_id = $20) \
                                      AND ($21::bool IS NULL OR ($21 = (f.admitted_on <= current_date \
                                           AND (f.discharged_on IS NULL OR f.discharged_on > current_date)))))) \
                      AND ({} OR {}) ORDER BY r.id LIMIT $23), \
             trace AS ({}) \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY} ORDER BY r.id",
            visible("r"),
            visible("r"),
            urgent("r"),
            audit_insert(
                "resident.list",
                "'success'",
                "data.id",
                "resident",
                "data.id",
                "NOT data.normal",
                "who, data"
            )
        );
        let establishment = filter.establishment.map(|e| e.as_uuid());
        let unit = filter.unit.map(|u| u.as_uuid());
        let limit = page.fetch_limit();
        let mut params = who.params();
        params.extend::<[&(dyn tokio_postgres::types::ToSql + Sync); 5]>([
            &establishment,
            &unit,
            &filter.current,
            &page.after,
            &limit,
        ]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        let items = self.open_rows(scope.tenant_id(), &rows, resident).await?;
        Ok(Page::from_rows(items, page, |r| r.id.as_uuid()))
    }

    /// Residents the scope sees matching a look-up, through the blind indexes; each one found is
    /// recorded as read.
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
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, \
             data AS (SELECT r.*, {} AS normal FROM residents r, who \
                      WHERE r.tenant_id = who.tenant_id AND r.{column} = $19 AND r.record_status = 'active' \
                      AND ({} OR {}) ORDER BY r.id LIMIT 50), \
             trace AS ({}) \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY} ORDER BY r.id",
            visible("r"),
            visible("r"),
            urgent("r"),
            audit_insert(
                "resident.search",
                "'success'",
                "data.id",
                "resident",
                "data.id",
                "NOT data.normal",
                "who, data"
            )
        );
        let index = index.to_vec();
        let mut params = who.params();
        params.push(&index);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        self.open_rows(scope.tenant_id(), &rows, resident).await
    }

    /// `NotFound` unless the resident is visible (no trace: the caller has recorded its access).
    pub(crate) async fn resident_exists_for(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<()> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO} SELECT 1 FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = $19 AND ({} OR {})",
            visible("r"),
            urgent("r")
        );
        let id_param = id.as_uuid();
        let mut params = who.params();
        params.push(&id_param);
        let rows = self.read(scope.tenant_id(), &sql, &params).await?;
        if rows.is_empty() { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

/// The sealed columns of every table, for the re-encryption job (and a test that checks that no
/// sealed column is forgotten).
pub(crate) const SEALED_TABLES: &[(&str, &[Column])] = &[
    ("residents", &[RESIDENT_IDENTITY, RESIDENT_INS]),
    ("notes", &[crate::notes::NOTE_BODY, crate::notes::NOTE_ERROR_REASON]),
    ("contacts", &[crate::record::CONTACT_DETAILS]),
    ("consents", &[crate::record::CONSENT_DETAILS]),
    ("identity_events", &[crate::record::IDENTITY_EVENT_DETAILS]),
    ("emergency_accesses", &[crate::record::EMERGENCY_REASON, crate::record::EMERGENCY_REVIEW]),
    ("assessments", &[crate::assessments::ASSESSMENT_ANSWERS]),
    ("care_plan_versions", &[crate::care_plans::PLAN_CONTENT, crate::care_plans::PLAN_VALIDATION]),
    ("measurements", &[crate::measurements::MEASUREMENT_VALUE]),
    ("care_task_records", &[crate::care_tasks::TASK_REASON]),
];

/// Sealed columns that are never resealed: the audit trail is append-only (and its hash chain
/// covers the ciphertext). Retired keys are kept to open them.
pub const APPEND_ONLY_SEALED: &[&str] = &["audit_events.reason"];

/// The sealed columns, as `table.column`.
pub fn sealed_columns() -> Vec<String> {
    SEALED_TABLES.iter().flat_map(|(_, columns)| columns.iter().map(|c| format!("{}.{}", c.table, c.column))).collect()
}

/// Where resident `$19` is supported, for deciding on an action; a refusal of `action` is
/// recorded when they are not visible.
pub(crate) fn context_sql(action: Option<&str>) -> String {
    let refusal = match action {
        Some(action) => format!(", refusal AS ({} WHERE NOT EXISTS (SELECT 1 FROM data))", denial(action, "$19")),
        None => String::new(),
    };
    format!(
        "WITH {WHO}, \
         target AS (SELECT r.id, r.record_status, {} AS normal, {} AS urgent FROM residents r, who \
                    WHERE r.tenant_id = who.tenant_id AND r.id = $19), \
         data AS (SELECT * FROM target WHERE normal OR urgent){refusal} \
         SELECT d.record_status, NOT d.normal AS via_emergency, \
           coalesce((SELECT array_agg(DISTINCT s.establishment_id) FROM stays s, who \
                     WHERE s.tenant_id = who.tenant_id AND s.resident_id = d.id \
                     AND ({} OR {})), '{{}}') \
             AS establishments \
         FROM data d",
        visible("r"),
        urgent("r"),
        crate::access::stay_in_reach("s"),
        crate::access::stay_overseen("s"),
    )
}
