//! The rest of a resident's record: stays, assignments, contacts, consents, identity-status
//! events, emergency openings, identity corrections, duplicates and merges. Each write checks the
//! access rule and records itself in the audit trail, in one statement.

use chrono::{DateTime, NaiveDate, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::{
    Consent, ConsentDecision, ConsentKind, Contact, ContactChange, ContactKind, DischargeMode, EmergencyAccess,
    ExpressedBy, IdentityDocument, NewConsent, NewContact, NewStay, ProtectionMeasure, ReviewOutcome, StatusChange,
    Stay,
};
use dui_domain::resident::{Identity, IdentityStatus, Ins, Resident, birth_identity_key};
use dui_domain::scope::TenantScope;
use dui_domain::{ConsentId, ContactId, EmergencyAccessId, ResidentId, StayId, UserId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, read_trace, urgent, visible};
use crate::idempotency::CreateStatement;
use crate::residents::{
    BIRTH_IDENTITY_INDEX, CURRENT_STAY, INS_INDEX, RESIDENT_COLUMNS, RESIDENT_IDENTITY, RESIDENT_INS, STAY_COLUMNS,
    open_json, seal_json, stay_with_prefix,
};
use crate::rows::{parse, parse_opt};
use crate::{Db, StoreError, StoreResult};

pub(crate) const CONTACT_DETAILS: Column = Column::new("contacts", "details");
pub(crate) const CONSENT_DETAILS: Column = Column::new("consents", "details");
pub(crate) const IDENTITY_EVENT_DETAILS: Column = Column::new("identity_events", "details");
pub(crate) const EMERGENCY_REASON: Column = Column::new("emergency_accesses", "reason");
pub(crate) const EMERGENCY_REVIEW: Column = Column::new("emergency_accesses", "review_comment");

type Param<'a> = &'a (dyn ToSql + Sync);

/// `target` (the resident `$19`, if `who` may see it) for a statement, with `normal` telling
/// whether it is visible without an emergency opening.
pub(crate) fn target(resident: &str) -> String {
    format!(
        "target AS (SELECT r.tenant_id, r.id, r.record_status, {} AS normal FROM residents r, who \
         WHERE r.tenant_id = who.tenant_id AND r.id = {resident} AND ({} OR {}))",
        visible("r"),
        visible("r"),
        urgent("r")
    )
}

/// `place`: the establishment of the `target` resident's stay in progress (or latest stay),
/// where what is written about them is filed.
pub(crate) const PLACE: &str = "place AS (SELECT s.establishment_id FROM stays s, target t WHERE s.tenant_id = t.tenant_id \
     AND s.resident_id = t.id ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1)";

pub(crate) const STAY_FIELDS: &str = "id, establishment_id, unit_id, mode, admitted_on, admission_mode, discharged_on, \
     discharge_mode, transferred_from, row_version, resident_id";

pub(crate) fn stay(row: &Row) -> StoreResult<Stay> {
    let resident: Uuid = row.try_get("resident_id")?;
    stay_with_prefix(row, "", resident)?.ok_or(StoreError::NotFound)
}

pub(crate) const CONTACT_FIELDS: &str =
    "id, resident_id, kind, protection_measure, details, emergency_contact, ended_at, row_version, dek_version";

pub(crate) fn contact(row: &Row, keys: &Keyring) -> StoreResult<Contact> {
    let id: Uuid = row.try_get("id")?;
    Ok(Contact {
        id: ContactId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        kind: parse(row, "kind", ContactKind::parse)?,
        protection_measure: parse_opt(row, "protection_measure", ProtectionMeasure::parse)?,
        details: open_json(keys, CONTACT_DETAILS, id, row.try_get("details")?)?,
        emergency_contact: row.try_get("emergency_contact")?,
        ended_at: row.try_get("ended_at")?,
        row_version: row.try_get("row_version")?,
    })
}

pub(crate) const CONSENT_FIELDS: &str = "id, resident_id, kind, decision, expressed_on, expressed_by, recorded_by, recorded_at, \
     revoked_at, revoked_by, details, dek_version";

pub(crate) fn consent(row: &Row, keys: &Keyring) -> StoreResult<Consent> {
    let id: Uuid = row.try_get("id")?;
    Ok(Consent {
        id: ConsentId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        kind: parse(row, "kind", ConsentKind::parse)?,
        decision: parse(row, "decision", ConsentDecision::parse)?,
        expressed_on: row.try_get("expressed_on")?,
        expressed_by: parse(row, "expressed_by", ExpressedBy::parse)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get::<_, Option<Uuid>>("revoked_by")?.map(UserId::from_uuid),
        comment: match row.try_get::<_, Option<&[u8]>>("details")? {
            Some(sealed) => open_json(keys, CONSENT_DETAILS, id, sealed)?,
            None => None,
        },
    })
}

/// An identity-status change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityEvent {
    pub id: Uuid,
    pub from_status: Option<IdentityStatus>,
    pub to_status: IdentityStatus,
    pub document: Option<IdentityDocument>,
    pub insi_lookup: bool,
    pub comment: Option<String>,
    pub recorded_by: Option<UserId>,
    pub recorded_at: DateTime<Utc>,
}

pub(crate) const EVENT_FIELDS: &str =
    "id, from_status, to_status, document, insi_lookup, details, recorded_by, recorded_at, dek_version";

pub(crate) fn identity_event(row: &Row, keys: &Keyring) -> StoreResult<IdentityEvent> {
    let id: Uuid = row.try_get("id")?;
    Ok(IdentityEvent {
        id,
        from_status: parse_opt(row, "from_status", IdentityStatus::parse)?,
        to_status: parse(row, "to_status", IdentityStatus::parse)?,
        document: parse_opt(row, "document", IdentityDocument::parse)?,
        insi_lookup: row.try_get("insi_lookup")?,
        comment: match row.try_get::<_, Option<&[u8]>>("details")? {
            Some(sealed) => open_json(keys, IDENTITY_EVENT_DETAILS, id, sealed)?,
            None => None,
        },
        recorded_by: row.try_get::<_, Option<Uuid>>("recorded_by")?.map(UserId::from_uuid),
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) const EMERGENCY_FIELDS: &str = "id, resident_id, user_id, reason, opened_at, expires_at, reviewed_by, reviewed_at, \
     review_outcome, review_comment, dek_version";

pub(crate) fn emergency(row: &Row, keys: &Keyring) -> StoreResult<EmergencyAccess> {
    let id: Uuid = row.try_get("id")?;
    Ok(EmergencyAccess {
        id: EmergencyAccessId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        reason: open_json(keys, EMERGENCY_REASON, id, row.try_get("reason")?)?,
        opened_at: row.try_get("opened_at")?,
        expires_at: row.try_get("expires_at")?,
        reviewed_by: row.try_get::<_, Option<Uuid>>("reviewed_by")?.map(UserId::from_uuid),
        reviewed_at: row.try_get("reviewed_at")?,
        review_outcome: parse_opt(row, "review_outcome", ReviewOutcome::parse)?,
        review_comment: match row.try_get::<_, Option<&[u8]>>("review_comment")? {
            Some(sealed) => Some(open_json(keys, EMERGENCY_REVIEW, id, sealed)?),
            None => None,
        },
    })
}

/// A change to a stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayChange {
    Discharge {
        on: NaiveDate,
        mode: DischargeMode,
    },
    /// Moves to another unit of the same establishment.
    MoveUnit {
        unit: Option<dui_domain::UnitId>,
    },
}

/// A correction of identity traits (the INS, if given, replaces the stored one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCorrection {
    pub identity: Identity,
    pub ins: Option<Ins>,
}

impl Db {
    /// Runs one audited statement over resident `$19` (and `extra` parameters from `$20`), in one
    /// round trip.
    pub(crate) async fn on_resident(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        sql: &str,
        extra: &[Param<'_>],
    ) -> StoreResult<Vec<Row>> {
        let who = self.who(scope);
        let id = resident.as_uuid();
        let mut params = who.params();
        params.push(&id);
        params.extend_from_slice(extra);
        self.write(scope.tenant_id(), sql, &params).await
    }

    // ------------------------------------------------------------------------------------------
    // Stays
    // ------------------------------------------------------------------------------------------

    /// A resident's stays, most recent first.
    pub async fn list_stays(&self, scope: &TenantScope, resident: ResidentId) -> StoreResult<Vec<Stay>> {
        let sql = format!(
            "WITH {WHO}, {}, data AS (SELECT s.* FROM stays s, target t WHERE s.tenant_id = t.tenant_id AND s.resident_id = t.id), \
             trace AS ({}) SELECT {STAY_FIELDS} FROM data ORDER BY admitted_on DESC, id DESC",
            target("$19"),
            read_trace("stay.read")
        );
        let rows = self.on_resident(scope, resident, &sql, &[]).await?;
        if rows.is_empty() {
            self.ensure_visible(scope, resident).await?;
        }
        rows.iter().map(stay).collect()
    }

    /// Admits a resident already known into a new stay (a return, a temporary stay, another
    /// service). A transfer closes `transferred_from` (discharged the day of the admission, mode
    /// transfer) in the same transaction.
    pub async fn admit(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewStay,
        transferred_from: Option<StayId>,
    ) -> StoreResult<Created<Stay>> {
        let who = self.who(scope);
        let id = Uuid::now_v7();
        let insert = format!(
            "WITH {WHO}, {}, \
             place AS (SELECT e.id FROM establishments e, who WHERE e.tenant_id = who.tenant_id AND e.id = $21 \
                       AND ($22::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id \
                            AND u.id = $22 AND u.establishment_id = e.id))), \
             closed AS (UPDATE stays s SET discharged_on = $24, discharge_mode = 'transfer', row_version = row_version + 1, \
                        updated_at = now() FROM target t \
                        WHERE $26::uuid IS NOT NULL AND s.tenant_id = t.tenant_id AND s.resident_id = t.id AND s.id = $26 \
                        AND s.discharged_on IS NULL AND s.admitted_on <= $24 RETURNING s.id), \
             st AS (INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, admission_mode, \
                                       transferred_from) \
                    SELECT t.tenant_id, $20, t.id, place.id, $22, $23, $24, $25, (SELECT id FROM closed) FROM target t, place \
                    WHERE t.record_status = 'active' AND ($26::uuid IS NULL OR EXISTS (SELECT 1 FROM closed)) RETURNING *), \
             trace AS ({}) SELECT {STAY_FIELDS} FROM st",
            target("$19"),
            audit_insert(
                "stay.create",
                "'success'",
                "st.resident_id",
                "stay",
                "st.id",
                "NOT target.normal",
                "who, st, target"
            )
        );
        let reload = format!("SELECT {STAY_FIELDS} FROM stays WHERE tenant_id = $1 AND id = $2");
        let resident_id = resident.as_uuid();
        let establishment = new.establishment_id.as_uuid();
        let unit = new.unit_id.map(|u| u.as_uuid());
        let from = transferred_from.map(|s| s.as_uuid());
        let (mode, admission_mode) = (new.mode.as_str(), new.admission_mode.as_str());
        let mut params = who.params();
        params.extend::<[Param<'_>; 8]>([
            &resident_id,
            &id,
            &establishment,
            &unit,
            &mode,
            &new.admitted_on,
            &admission_mode,
            &from,
        ]);
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params: &params, reload: &reload, map: &stay, audit: None },
        )
        .await
    }

    /// Changes a stay (discharge, unit), if it is still at `expected_version`.
    pub async fn change_stay(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        stay_id: StayId,
        expected_version: Option<i32>,
        change: StayChange,
    ) -> StoreResult<Stay> {
        let (on, mode, unit, move_unit) = match change {
            StayChange::Discharge { on, mode } => (Some(on), Some(mode.as_str()), None, false),
            StayChange::MoveUnit { unit } => (None, None, unit.map(|u| u.as_uuid()), true),
        };
        let sql = format!(
            "WITH {WHO}, {}, \
             changed AS (UPDATE stays s SET \
                           discharged_on = CASE WHEN $23 THEN s.discharged_on ELSE $21 END, \
                           discharge_mode = CASE WHEN $23 THEN s.discharge_mode ELSE $22 END, \
                           unit_id = CASE WHEN $23 THEN $24 ELSE s.unit_id END, \
                           row_version = s.row_version + 1, updated_at = now() \
                         FROM target t WHERE s.tenant_id = t.tenant_id AND s.resident_id = t.id AND s.id = $20 \
                         AND ($25::int IS NULL OR s.row_version = $25) \
                         AND ($23 OR (s.discharged_on IS NULL AND $21 >= s.admitted_on)) \
                         AND (NOT $23 OR $24::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = s.tenant_id \
                              AND u.id = $24 AND u.establishment_id = s.establishment_id)) \
                         RETURNING s.*), \
             trace AS ({}) SELECT {STAY_FIELDS} FROM changed",
            target("$19"),
            audit_insert(
                "stay.update",
                "'success'",
                "changed.resident_id",
                "stay",
                "changed.id",
                "NOT target.normal",
                "who, changed, target"
            )
        );
        let stay_param = stay_id.as_uuid();
        let rows = self
            .on_resident(scope, resident, &sql, &[&stay_param, &on, &mode, &move_unit, &unit, &expected_version])
            .await?;
        match rows.first() {
            Some(row) => stay(row),
            None => Err(self
                .why_unchanged(scope, resident, "stays", stay_id.as_uuid(), expected_version, "stay.update")
                .await),
        }
    }

    /// Why an update touched nothing: not visible (404), stale version (412), or refused by its
    /// own conditions (a closed stay, a unit elsewhere: 422).
    pub(crate) async fn why_unchanged(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        table: &'static str,
        row: Uuid,
        expected: Option<i32>,
        action: &str,
    ) -> StoreError {
        if let Err(error) = self.resident_context(scope, resident, action).await {
            return error;
        }
        let sql = format!("SELECT row_version FROM {table} WHERE tenant_id = $1 AND resident_id = $2 AND id = $3");
        match self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &resident.as_uuid(), &row]).await {
            Ok(rows) => match rows.first().map(|r| r.get::<_, i32>(0)) {
                None => StoreError::NotFound,
                Some(current) if expected.is_some_and(|e| e != current) => StoreError::StaleVersion { current },
                Some(_) => StoreError::Invalid { constraint: format!("{table}_change_refused") },
            },
            Err(error) => error,
        }
    }

    // ------------------------------------------------------------------------------------------
    // Assignments (home help)
    // ------------------------------------------------------------------------------------------

    /// Assigns a user to a resident (home help reaches only assigned people).
    pub async fn assign(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        user: UserId,
        starts_on: NaiveDate,
        ends_on: Option<NaiveDate>,
    ) -> StoreResult<Created<Uuid>> {
        let id = Uuid::now_v7();
        let insert = format!(
            "WITH {WHO}, {}, \
             a AS (INSERT INTO assignments (tenant_id, id, resident_id, user_id, starts_on, ends_on) \
                   SELECT t.tenant_id, $23, t.id, u.id, $21, $22 FROM target t \
                   JOIN users u ON u.tenant_id = t.tenant_id AND u.id = $20 RETURNING *), \
             trace AS ({}) SELECT id FROM a",
            target("$19"),
            audit_insert(
                "assignment.create",
                "'success'",
                "a.resident_id",
                "user",
                "a.user_id",
                "NOT target.normal",
                "who, a, target"
            )
        );
        let who = self.who(scope);
        let (resident_param, user_param) = (resident.as_uuid(), user.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 5]>([&resident_param, &user_param, &starts_on, &ends_on, &id]);
        let map = |row: &Row| Ok(row.try_get::<_, Uuid>(0)?);
        self.create_once(
            scope,
            key,
            CreateStatement {
                id,
                insert: &insert,
                params: &params,
                reload: "SELECT id FROM assignments WHERE tenant_id = $1 AND id = $2",
                map: &map,
                audit: None,
            },
        )
        .await
    }

    // ------------------------------------------------------------------------------------------
    // Contacts
    // ------------------------------------------------------------------------------------------

    pub async fn list_contacts(&self, scope: &TenantScope, resident: ResidentId) -> StoreResult<Vec<Contact>> {
        let sql = format!(
            "WITH {WHO}, {}, data AS (SELECT c.* FROM contacts c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id), \
             trace AS ({}) SELECT {CONTACT_FIELDS} FROM data ORDER BY ended_at NULLS FIRST, created_at, id",
            target("$19"),
            read_trace("contact.read")
        );
        let rows = self.on_resident(scope, resident, &sql, &[]).await?;
        if rows.is_empty() {
            self.ensure_visible(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, contact).await
    }

    pub async fn add_contact(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewContact,
    ) -> StoreResult<Created<Contact>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let sealed = seal_json(&keys, CONTACT_DETAILS, id, &new.details)?;
        let who = self.who(scope);
        let insert = format!(
            "WITH {WHO}, {}, \
             c AS (INSERT INTO contacts (tenant_id, id, resident_id, kind, protection_measure, details, emergency_contact, dek_version) \
                   SELECT t.tenant_id, $20, t.id, $21, $22, $23, $24, $25 FROM target t WHERE t.record_status = 'active' RETURNING *), \
             trace AS ({}) SELECT {CONTACT_FIELDS} FROM c",
            target("$19"),
            audit_insert(
                "contact.create",
                "'success'",
                "c.resident_id",
                "contact",
                "c.id",
                "NOT target.normal",
                "who, c, target"
            )
        );
        let reload = format!("SELECT {CONTACT_FIELDS} FROM contacts WHERE tenant_id = $1 AND id = $2");
        let resident_id = resident.as_uuid();
        let dek = keys.active_version() as i32;
        let measure = new.protection_measure.map(ProtectionMeasure::as_str);
        let kind = new.kind.as_str();
        let emergency_contact = new.emergency_contact;
        let mut params = who.params();
        params.extend::<[Param<'_>; 7]>([&resident_id, &id, &kind, &measure, &sealed, &emergency_contact, &dek]);
        let map = |row: &Row| contact(row, &keys);
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params: &params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// Replaces a contact's details (or ends it), if it is still at `expected_version`.
    pub async fn update_contact(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        contact_id: ContactId,
        expected_version: Option<i32>,
        change: &ContactChange,
    ) -> StoreResult<Contact> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = contact_id.as_uuid();
        let sealed = change.details.as_ref().map(|d| seal_json(&keys, CONTACT_DETAILS, id, d)).transpose()?;
        let (emergency_contact, end) = (change.emergency_contact, change.end);
        let sql = format!(
            "WITH {WHO}, {}, \
             changed AS (UPDATE contacts c SET details = coalesce($21, c.details), \
                           dek_version = CASE WHEN $21 IS NULL THEN c.dek_version ELSE $22 END, \
                           emergency_contact = coalesce($23, c.emergency_contact), \
                           ended_at = CASE WHEN $24 THEN coalesce(c.ended_at, now()) ELSE c.ended_at END, \
                           row_version = c.row_version + 1, updated_at = now() \
                         FROM target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = $20 \
                         AND ($25::int IS NULL OR c.row_version = $25) RETURNING c.*), \
             trace AS ({}) SELECT {CONTACT_FIELDS} FROM changed",
            target("$19"),
            audit_insert(
                "contact.update",
                "'success'",
                "changed.resident_id",
                "contact",
                "changed.id",
                "NOT target.normal",
                "who, changed, target"
            )
        );
        let dek = keys.active_version() as i32;
        let rows = self
            .on_resident(scope, resident, &sql, &[&id, &sealed, &dek, &emergency_contact, &end, &expected_version])
            .await?;
        match rows.first() {
            Some(row) => contact(row, &keys),
            None => Err(self.why_unchanged(scope, resident, "contacts", id, expected_version, "contact.update").await),
        }
    }

    // ------------------------------------------------------------------------------------------
    // Consents
    // ------------------------------------------------------------------------------------------

    pub async fn list_consents(&self, scope: &TenantScope, resident: ResidentId) -> StoreResult<Vec<Consent>> {
        let sql = format!(
            "WITH {WHO}, {}, data AS (SELECT c.* FROM consents c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id), \
             trace AS ({}) SELECT {CONSENT_FIELDS} FROM data ORDER BY recorded_at DESC, id DESC",
            target("$19"),
            read_trace("consent.read")
        );
        let rows = self.on_resident(scope, resident, &sql, &[]).await?;
        if rows.is_empty() {
            self.ensure_visible(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, consent).await
    }

    pub async fn record_consent(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewConsent,
    ) -> StoreResult<Created<Consent>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let sealed = new.comment.as_ref().map(|c| seal_json(&keys, CONSENT_DETAILS, id, &Some(c))).transpose()?;
        let expressed_on = new.expressed_on;
        let who = self.who(scope);
        let insert = format!(
            "WITH {WHO}, {}, \
             c AS (INSERT INTO consents (tenant_id, id, resident_id, kind, decision, expressed_on, expressed_by, recorded_by, \
                                         details, dek_version) \
                   SELECT t.tenant_id, $20, t.id, $21, $22, $23, $24, who.user_id, $25, $26 FROM target t, who \
                   WHERE t.record_status = 'active' RETURNING *), \
             trace AS ({}) SELECT {CONSENT_FIELDS} FROM c",
            target("$19"),
            audit_insert(
                "consent.create",
                "'success'",
                "c.resident_id",
                "consent",
                "c.id",
                "NOT target.normal",
                "who, c, target"
            )
        );
        let reload = format!("SELECT {CONSENT_FIELDS} FROM consents WHERE tenant_id = $1 AND id = $2");
        let resident_id = resident.as_uuid();
        let dek = keys.active_version() as i32;
        let (kind, decision, expressed_by) = (new.kind.as_str(), new.decision.as_str(), new.expressed_by.as_str());
        let mut params = who.params();
        params.extend::<[Param<'_>; 8]>([
            &resident_id,
            &id,
            &kind,
            &decision,
            &expressed_on,
            &expressed_by,
            &sealed,
            &dek,
        ]);
        let map = |row: &Row| consent(row, &keys);
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params: &params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// Revokes a consent decision (idempotent: revoking twice keeps the first revocation).
    pub async fn revoke_consent(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        consent_id: ConsentId,
    ) -> StoreResult<Consent> {
        let sql = format!(
            "WITH {WHO}, {}, \
             changed AS (UPDATE consents c SET revoked_at = coalesce(c.revoked_at, now()), revoked_by = coalesce(c.revoked_by, who.user_id) \
                         FROM target t, who WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = $20 RETURNING c.*), \
             trace AS ({}) SELECT {CONSENT_FIELDS} FROM changed",
            target("$19"),
            audit_insert(
                "consent.revoke",
                "'success'",
                "changed.resident_id",
                "consent",
                "changed.id",
                "NOT target.normal",
                "who, changed, target"
            )
        );
        let id = consent_id.as_uuid();
        let rows = self.on_resident(scope, resident, &sql, &[&id]).await?;
        if rows.is_empty() {
            self.resident_context(scope, resident, "consent.revoke").await?;
            return Err(StoreError::NotFound);
        }
        self.open_rows(scope.tenant_id(), &rows, consent).await?.pop().ok_or(StoreError::NotFound)
    }

    // ------------------------------------------------------------------------------------------
    // Identity: status events, corrections
    // ------------------------------------------------------------------------------------------

    pub async fn list_identity_events(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
    ) -> StoreResult<Vec<IdentityEvent>> {
        let sql = format!(
            "WITH {WHO}, {}, data AS (SELECT e.* FROM identity_events e, target t WHERE e.tenant_id = t.tenant_id AND e.resident_id = t.id), \
             trace AS ({}) SELECT {EVENT_FIELDS} FROM data ORDER BY recorded_at, id",
            target("$19"),
            read_trace("identity.read_history")
        );
        let rows = self.on_resident(scope, resident, &sql, &[]).await?;
        if rows.is_empty() {
            self.ensure_visible(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, identity_event).await
    }

    /// The evidence already on a record, and its INS: what a status change is checked against.
    pub async fn identity_evidence(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
    ) -> StoreResult<(IdentityStatus, dui_domain::record::Evidence, Option<Ins>, i32)> {
        let rows = self
            .read(
                scope.tenant_id(),
                "SELECT r.identity_status, r.ins, r.dek_version, r.row_version, \
                   EXISTS (SELECT 1 FROM identity_events e WHERE e.tenant_id = r.tenant_id AND e.resident_id = r.id AND e.document IS NOT NULL) AS has_document, \
                   EXISTS (SELECT 1 FROM identity_events e WHERE e.tenant_id = r.tenant_id AND e.resident_id = r.id AND e.insi_lookup) AS has_insi \
                 FROM residents r WHERE r.tenant_id = $1 AND r.id = $2",
                &[&scope.tenant_id().as_uuid(), &resident.as_uuid()],
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let keys = self.keyring(scope.tenant_id(), [row.try_get::<_, i32>("dek_version")? as u32]).await?;
        let ins = match row.try_get::<_, Option<&[u8]>>("ins")? {
            Some(sealed) => Some(open_json(&keys, RESIDENT_INS, resident.as_uuid(), sealed)?),
            None => None,
        };
        let evidence = dui_domain::record::Evidence {
            document: row.try_get("has_document")?,
            insi_lookup: row.try_get("has_insi")?,
        };
        Ok((parse(row, "identity_status", IdentityStatus::parse)?, evidence, ins, row.try_get("row_version")?))
    }

    /// Records a change of identity status with its evidence, and updates the record, if it is
    /// still at `expected_version` (the caller checked the transition).
    pub async fn change_identity_status(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        expected_version: i32,
        change: &StatusChange,
    ) -> StoreResult<Resident> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let event_id = Uuid::now_v7();
        let sealed =
            change.reason.as_ref().map(|c| seal_json(&keys, IDENTITY_EVENT_DETAILS, event_id, &Some(c))).transpose()?;
        let insi_lookup = change.insi_lookup;
        let sql = format!(
            "WITH {WHO}, {}, \
             changed AS (UPDATE residents r SET identity_status = $22, row_version = r.row_version + 1, updated_at = now() \
                         FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id AND r.row_version = $20 \
                         AND r.identity_status = $21 AND r.record_status = 'active' RETURNING r.*), \
             ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, from_status, to_status, document, insi_lookup, details, \
                                                 recorded_by, dek_version) \
                    SELECT c.tenant_id, $23, c.id, $21, $22, $24, $25, $26, who.user_id, $27 FROM changed c, who RETURNING id), \
             trace AS ({}) \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM changed r {CURRENT_STAY}",
            target("$19"),
            audit_insert(
                "identity.change_status",
                "'success'",
                "changed.id",
                "identity_event",
                "$23",
                "NOT target.normal",
                "who, changed, target"
            )
        );
        let dek = keys.active_version() as i32;
        let document = change.document.map(IdentityDocument::as_str);
        let (from, to) = (change.from.as_str(), change.to.as_str());
        let rows = self
            .on_resident(
                scope,
                resident,
                &sql,
                &[&expected_version, &from, &to, &event_id, &document, &insi_lookup, &sealed, &dek],
            )
            .await?;
        if rows.is_empty() {
            return Err(self
                .why_resident_unchanged(scope, resident, Some(expected_version), "identity.change_status")
                .await);
        }
        self.open_rows(scope.tenant_id(), &rows, crate::residents::resident).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn why_resident_unchanged(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        expected: Option<i32>,
        action: &str,
    ) -> StoreError {
        match self.resident_context(scope, resident, action).await {
            Err(error) => error,
            Ok(context) if context.record_status != dui_domain::resident::RecordStatus::Active => {
                StoreError::Invalid { constraint: "residents_merged_is_final".to_owned() }
            }
            Ok(_) => match self.identity_evidence(scope, resident).await {
                Ok((_, _, _, current)) if expected.is_some_and(|e| e != current) => {
                    StoreError::StaleVersion { current }
                }
                Ok(_) => StoreError::Invalid { constraint: "residents_change_refused".to_owned() },
                Err(error) => error,
            },
        }
    }

    /// Corrects identity traits (and the INS), if the record is still at `expected_version`.
    /// The blind indexes follow; another record with the same INS refuses it.
    pub async fn correct_identity(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        expected_version: i32,
        correction: &IdentityCorrection,
    ) -> StoreResult<Resident> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 2).await?;
        let id = resident.as_uuid();
        let identity = seal_json(&keys, RESIDENT_IDENTITY, id, &correction.identity)?;
        let ins = correction.ins.as_ref().map(|ins| seal_json(&keys, RESIDENT_INS, id, ins)).transpose()?;
        let ins_index = correction.ins.as_ref().map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
        let birth_index = keys
            .blind_index(
                BIRTH_IDENTITY_INDEX,
                &birth_identity_key(&correction.identity.birth_name, correction.identity.birth_date),
            )
            .to_vec();
        // Resealing re-encrypts the values of both columns: the old INS (if kept) is resealed too.
        let sql = format!(
            "WITH {WHO}, {}, \
             changed AS (UPDATE residents r SET identity = $21, ins = $22, ins_index = $23, birth_identity_index = $24, \
                           dek_version = $25, row_version = r.row_version + 1, updated_at = now() \
                         FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id AND r.row_version = $20 \
                         AND r.record_status = 'active' RETURNING r.*), \
             trace AS ({}) \
             SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM changed r {CURRENT_STAY}",
            target("$19"),
            audit_insert(
                "resident.update",
                "'success'",
                "changed.id",
                "resident",
                "changed.id",
                "NOT target.normal",
                "who, changed, target"
            )
        );
        let dek = keys.active_version() as i32;
        let rows = self
            .on_resident(scope, resident, &sql, &[&expected_version, &identity, &ins, &ins_index, &birth_index, &dek])
            .await?;
        if rows.is_empty() {
            return Err(self.why_resident_unchanged(scope, resident, Some(expected_version), "resident.update").await);
        }
        self.open_rows(scope.tenant_id(), &rows, crate::residents::resident).await?.pop().ok_or(StoreError::NotFound)
    }

    // ------------------------------------------------------------------------------------------
    // Emergency access
    // ------------------------------------------------------------------------------------------

    /// Opens a record outside the user's scope for `minutes`, with a written reason. The record
    /// must exist in the tenant; the opening is recorded (and flagged for review).
    pub async fn open_emergency_access(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        reason: &str,
        minutes: i32,
    ) -> StoreResult<Created<EmergencyAccess>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 2).await?;
        let id = Uuid::now_v7();
        let sealed = seal_json(&keys, EMERGENCY_REASON, id, reason)?;
        let audit_reason = seal_json(&keys, crate::audit::AUDIT_REASON, id, reason)?;
        let insert = format!(
            "WITH {WHO}, \
             r AS (SELECT r.tenant_id, r.id FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = $19 \
                   AND r.record_status = 'active'), \
             e AS (INSERT INTO emergency_accesses (tenant_id, id, resident_id, user_id, reason, expires_at, dek_version) \
                   SELECT r.tenant_id, $20, r.id, who.user_id, $21, now() + make_interval(mins => $22), $23 FROM r, who \
                   RETURNING *), \
             trace AS (INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resident_id, \
                         resource_type, resource_id, request_id, client_address, emergency, reason, dek_version) \
                       SELECT who.tenant_id, $20, who.user_id, 'user', 'emergency_access.open', 'success', e.resident_id, \
                         'emergency_access', e.id, who.request_id, who.client_address, true, $24, $23 FROM who, e) \
             SELECT {EMERGENCY_FIELDS} FROM e"
        );
        let reload = format!("SELECT {EMERGENCY_FIELDS} FROM emergency_accesses WHERE tenant_id = $1 AND id = $2");
        let dek = keys.active_version() as i32;
        let who = self.who(scope);
        let resident_param = resident.as_uuid();
        let mut params = who.params();
        params.extend::<[Param<'_>; 6]>([&resident_param, &id, &sealed, &minutes, &dek, &audit_reason]);
        let map = |row: &Row| emergency(row, &keys);
        let opened = self
            .create_once(
                scope,
                key,
                CreateStatement { id, insert: &insert, params: &params, reload: &reload, map: &map, audit: None },
            )
            .await;
        if matches!(opened, Err(StoreError::NotFound)) {
            self.record_denial(scope, "emergency_access.open", resident).await?;
        }
        opened
    }

    /// Emergency openings of records of residents supported in establishments the scope
    /// oversees (all, for tenant-wide roles), most recent first; `pending` keeps those not
    /// reviewed yet. The listing is recorded.
    pub async fn list_emergency_accesses(
        &self,
        scope: &TenantScope,
        pending: bool,
    ) -> StoreResult<Vec<EmergencyAccess>> {
        let sql = format!(
            "WITH {WHO}, \
             data AS (SELECT e.* FROM emergency_accesses e, who WHERE e.tenant_id = who.tenant_id \
                      AND (NOT $19 OR e.reviewed_at IS NULL) \
                      AND ($20 OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = e.tenant_id \
                           AND s.resident_id = e.resident_id AND s.establishment_id = ANY($21))) \
                      ORDER BY e.opened_at DESC LIMIT 500), \
             trace AS ({}) SELECT {EMERGENCY_FIELDS} FROM data ORDER BY opened_at DESC",
            audit_insert(
                "emergency_access.list",
                "'success'",
                "data.resident_id",
                "emergency_access",
                "data.id",
                "false",
                "who, data"
            )
        );
        let who = self.who(scope);
        let reach = dui_domain::policy::oversight_reach(scope);
        let establishments: Vec<Uuid> = reach.establishments.iter().map(|e| e.as_uuid()).collect();
        let mut params = who.params();
        params.extend::<[Param<'_>; 3]>([&pending, &reach.all, &establishments]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        self.open_rows(scope.tenant_id(), &rows, emergency).await
    }

    /// Records a director's review of an emergency opening.
    pub async fn review_emergency_access(
        &self,
        scope: &TenantScope,
        id: EmergencyAccessId,
        outcome: ReviewOutcome,
        comment: &str,
    ) -> StoreResult<EmergencyAccess> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let sealed = seal_json(&keys, EMERGENCY_REVIEW, id.as_uuid(), comment)?;
        let sql = format!(
            "WITH {WHO}, \
             changed AS (UPDATE emergency_accesses e SET reviewed_by = who.user_id, reviewed_at = now(), review_outcome = $20, \
                           review_comment = $21 FROM who WHERE e.tenant_id = who.tenant_id AND e.id = $19 AND e.reviewed_at IS NULL \
                         AND e.user_id <> who.user_id \
                         AND ($22 OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = e.tenant_id \
                              AND s.resident_id = e.resident_id AND s.establishment_id = ANY($23))) RETURNING e.*), \
             trace AS ({}) SELECT {EMERGENCY_FIELDS} FROM changed",
            audit_insert(
                "emergency_access.review",
                "'success'",
                "changed.resident_id",
                "emergency_access",
                "changed.id",
                "false",
                "who, changed"
            )
        );
        let who = self.who(scope);
        let id_param = id.as_uuid();
        let reach = dui_domain::policy::oversight_reach(scope);
        let establishments: Vec<Uuid> = reach.establishments.iter().map(|e| e.as_uuid()).collect();
        let outcome = outcome.as_str();
        let mut params = who.params();
        params.extend::<[Param<'_>; 5]>([&id_param, &outcome, &sealed, &reach.all, &establishments]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        emergency(row, &keys)
    }

    /// Why a review did not apply, for an opening the scope oversees: `Some((own, reviewed))`
    /// (the reviewer opened it; it was reviewed already), `None` when out of reach or absent.
    pub async fn emergency_access_review_state(
        &self,
        scope: &TenantScope,
        id: EmergencyAccessId,
    ) -> StoreResult<Option<(bool, bool)>> {
        let reach = dui_domain::policy::oversight_reach(scope);
        let establishments: Vec<Uuid> = reach.establishments.iter().map(|e| e.as_uuid()).collect();
        let rows = self
            .read(
                scope.tenant_id(),
                "SELECT e.user_id = $3 AS own, e.reviewed_at IS NOT NULL AS reviewed FROM emergency_accesses e \
                 WHERE e.tenant_id = $1 AND e.id = $2 AND ($4 OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = e.tenant_id \
                   AND s.resident_id = e.resident_id AND s.establishment_id = ANY($5)))",
                &[&scope.tenant_id().as_uuid(), &id.as_uuid(), &scope.user_id().as_uuid(), &reach.all, &establishments],
            )
            .await?;
        rows.first().map(|row| Ok((row.try_get("own")?, row.try_get("reviewed")?))).transpose()
    }

    // ------------------------------------------------------------------------------------------
    // Duplicates and merges
    // ------------------------------------------------------------------------------------------

    /// Other active records sharing this one's INS or birth identity (ids only, with whether the
    /// INS is the same). Recorded as a read of the record.
    pub async fn find_duplicates(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<Vec<(ResidentId, bool)>> {
        let record = self.get_resident(scope, id).await?;
        self.duplicate_candidates(scope, &record.identity, record.ins.as_ref(), Some(id)).await
    }

    /// Merges `duplicate` into `survivor`: stays, contacts, consents, notes, identity events,
    /// assignments, emergency openings, assessments, measurements, task records and plan versions
    /// move over (their seals bind their own row, not the resident, so they open as before; the
    /// duplicate's plan in force is closed if the survivor has one); the duplicate is marked merged and points at the
    /// survivor (as do records merged into the duplicate before). Both must be visible and
    /// active. Recorded on both.
    pub async fn merge_residents(
        &self,
        scope: &TenantScope,
        survivor: ResidentId,
        duplicate: ResidentId,
    ) -> StoreResult<Resident> {
        if survivor == duplicate {
            return Err(StoreError::Invalid { constraint: "residents_merge_into_itself".to_owned() });
        }
        let sql = format!(
            "WITH {WHO}, \
             pair AS (SELECT r.id FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id IN ($19, $20) \
                      AND r.record_status = 'active' AND ({}) FOR UPDATE OF r), \
             ok AS (SELECT count(*) = 2 AS found_both FROM pair), \
             moved_stays AS (UPDATE stays SET resident_id = $19 FROM ok, who WHERE ok.found_both AND stays.tenant_id = who.tenant_id AND stays.resident_id = $20 RETURNING 1), \
             moved_contacts AS (UPDATE contacts SET resident_id = $19 FROM ok, who WHERE ok.found_both AND contacts.tenant_id = who.tenant_id AND contacts.resident_id = $20 RETURNING 1), \
             moved_assignments AS (UPDATE assignments SET resident_id = $19 FROM ok, who WHERE ok.found_both AND assignments.tenant_id = who.tenant_id AND assignments.resident_id = $20 RETURNING 1), \
             moved_emergencies AS (UPDATE emergency_accesses SET resident_id = $19 FROM ok, who WHERE ok.found_both AND emergency_accesses.tenant_id = who.tenant_id AND emergency_accesses.resident_id = $20 RETURNING 1), \
             moved_notes AS (UPDATE notes SET resident_id = $19 FROM ok, who WHERE ok.found_both AND notes.tenant_id = who.tenant_id AND notes.resident_id = $20 RETURNING 1), \
             moved_consents AS (UPDATE consents SET resident_id = $19 FROM ok, who WHERE ok.found_both AND consents.tenant_id = who.tenant_id AND consents.resident_id = $20 RETURNING 1), \
             moved_events AS (UPDATE identity_events SET resident_id = $19 FROM ok, who WHERE ok.found_both AND identity_events.tenant_id = who.tenant_id AND identity_events.resident_id = $20 RETURNING 1), \
             moved_assessments AS (UPDATE assessments SET resident_id = $19 FROM ok, who WHERE ok.found_both AND assessments.tenant_id = who.tenant_id AND assessments.resident_id = $20 RETURNING 1), \
             moved_measurements AS (UPDATE measurements SET resident_id = $19 FROM ok, who WHERE ok.found_both AND measurements.tenant_id = who.tenant_id AND measurements.resident_id = $20 RETURNING 1), \
             moved_tasks AS (UPDATE care_task_records SET resident_id = $19 FROM ok, who WHERE ok.found_both AND care_task_records.tenant_id = who.tenant_id AND care_task_records.resident_id = $20 RETURNING 1), \
             moved_plans AS (UPDATE care_plan_versions p SET resident_id = $19, \
                               status = CASE WHEN p.status = 'active' AND EXISTS (SELECT 1 FROM care_plan_versions k \
                                   WHERE k.tenant_id = p.tenant_id AND k.resident_id = $19 AND k.status = 'active') \
                                 THEN 'closed' ELSE p.status END, \
                               ended_at = CASE WHEN p.status = 'active' AND EXISTS (SELECT 1 FROM care_plan_versions k \
                                   WHERE k.tenant_id = p.tenant_id AND k.resident_id = $19 AND k.status = 'active') \
                                 THEN now() ELSE p.ended_at END \
                             FROM ok, who WHERE ok.found_both AND p.tenant_id = who.tenant_id AND p.resident_id = $20 RETURNING 1), \
             merged AS (UPDATE residents SET record_status = 'merged', merged_into = $19, row_version = row_version + 1, updated_at = now() \
                        FROM ok, who WHERE ok.found_both AND residents.tenant_id = who.tenant_id AND residents.id = $20 RETURNING residents.id), \
             earlier AS (UPDATE residents SET merged_into = $19 FROM ok, who WHERE ok.found_both \
                         AND residents.tenant_id = who.tenant_id AND residents.merged_into = $20 RETURNING 1), \
             trace AS ({}), \
             trace2 AS ({}) \
             SELECT (SELECT found_both FROM ok) AS merged",
            visible("r"),
            audit_insert("resident.merge", "'success'", "$19", "resident", "$20", "false", "who, merged"),
            audit_insert("resident.merge", "'success'", "$20", "resident", "$19", "false", "who, merged")
        );
        let who = self.who(scope);
        let (a, b) = (survivor.as_uuid(), duplicate.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&a, &b]);
        let mut conn = self.conn().await?;
        let tx = crate::tx::TenantTx::begin(&mut conn, scope.tenant_id()).await?;
        let row = tx.query_one(&sql, &params).await?;
        if !row.get::<_, bool>("merged") {
            drop(tx);
            self.resident_context(scope, survivor, "resident.merge").await?;
            self.resident_context(scope, duplicate, "resident.merge").await?;
            return Err(StoreError::Invalid { constraint: "residents_merged_is_final".to_owned() });
        }
        tx.commit().await?;
        // The connection goes back before the next one is asked for (see `crate::place`).
        drop(conn);
        self.get_resident(scope, survivor).await
    }
}

/// A resident's whole record, opened: what the person may ask for (GDPR right of access).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResidentRecord {
    pub resident: Resident,
    pub identity_events: Vec<IdentityEvent>,
    pub stays: Vec<Stay>,
    pub contacts: Vec<Contact>,
    pub consents: Vec<Consent>,
    /// Every note, whatever its confidentiality scope: the right of access covers them all.
    pub notes: Vec<dui_domain::resident::Note>,
    pub emergency_accesses: Vec<EmergencyAccess>,
    /// Every assessment, drafts and superseded ones included.
    pub assessments: Vec<dui_domain::assessment::recorded::Assessment>,
    /// Every version of the projet personnalisé.
    pub care_plan_versions: Vec<dui_domain::care_plan::PlanVersion>,
}

impl Db {
    /// Reads a resident's whole record in one snapshot. The export is recorded first (so that
    /// no export goes unrecorded), on a visible resident only.
    pub async fn resident_record(&self, scope: &TenantScope, id: ResidentId) -> StoreResult<ResidentRecord> {
        let sql = format!(
            "WITH {WHO}, {}, trace AS ({}) SELECT t.id FROM target t",
            target("$19"),
            audit_insert(
                "resident.export",
                "'success'",
                "target.id",
                "resident",
                "target.id",
                "NOT target.normal",
                "who, target"
            )
        );
        if self.on_resident(scope, id, &sql, &[]).await?.is_empty() {
            self.resident_context(scope, id, "resident.export").await?;
            return Err(StoreError::NotFound);
        }
        let tenant = scope.tenant_id();
        let (t, r) = (tenant.as_uuid(), id.as_uuid());
        let mut conn = self.conn().await?;
        let tx = crate::tx::TenantTx::begin_snapshot(&mut conn, tenant).await?;
        let params: [Param<'_>; 2] = [&t, &r];
        let resident_rows = tx
            .query(&format!("SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM residents r {CURRENT_STAY} WHERE r.tenant_id = $1 AND r.id = $2"), &params)
            .await?;
        let events = tx
            .query(&format!("SELECT {EVENT_FIELDS} FROM identity_events WHERE tenant_id = $1 AND resident_id = $2 ORDER BY recorded_at, id"), &params)
            .await?;
        let stays = tx
            .query(
                &format!(
                    "SELECT {STAY_FIELDS} FROM stays WHERE tenant_id = $1 AND resident_id = $2 ORDER BY admitted_on, id"
                ),
                &params,
            )
            .await?;
        let contacts = tx
            .query(&format!("SELECT {CONTACT_FIELDS} FROM contacts WHERE tenant_id = $1 AND resident_id = $2 ORDER BY created_at, id"), &params)
            .await?;
        let consents = tx
            .query(&format!("SELECT {CONSENT_FIELDS} FROM consents WHERE tenant_id = $1 AND resident_id = $2 ORDER BY recorded_at, id"), &params)
            .await?;
        let notes = tx
            .query(
                &format!(
                    "SELECT {} FROM notes n WHERE n.tenant_id = $1 AND n.resident_id = $2 ORDER BY n.id",
                    crate::notes::NOTE_COLUMNS
                ),
                &params,
            )
            .await?;
        let emergencies = tx
            .query(&format!("SELECT {EMERGENCY_FIELDS} FROM emergency_accesses WHERE tenant_id = $1 AND resident_id = $2 ORDER BY opened_at, id"), &params)
            .await?;
        let assessments = tx
            .query(
                &format!(
                    "SELECT {} FROM assessments a WHERE a.tenant_id = $1 AND a.resident_id = $2 ORDER BY a.assessed_on, a.id",
                    crate::assessments::ASSESSMENT_COLUMNS
                ),
                &params,
            )
            .await?;
        let plans = tx
            .query(
                &format!(
                    "SELECT {} FROM care_plan_versions p WHERE p.tenant_id = $1 AND p.resident_id = $2 ORDER BY p.version",
                    crate::care_plans::PLAN_COLUMNS
                ),
                &params,
            )
            .await?;
        tx.commit().await?;
        drop(conn);
        let mut versions = Vec::new();
        for rows in [&resident_rows, &events, &contacts, &consents, &notes, &emergencies, &assessments, &plans] {
            versions.extend(crate::residents::versions(rows)?);
        }
        let keys = self.keyring(tenant, versions).await?;
        Ok(ResidentRecord {
            resident: resident_rows
                .first()
                .map(|r| crate::residents::resident(r, &keys))
                .transpose()?
                .ok_or(StoreError::NotFound)?,
            identity_events: open_all(&events, &keys, identity_event)?,
            stays: stays.iter().map(stay).collect::<StoreResult<Vec<_>>>()?,
            contacts: open_all(&contacts, &keys, contact)?,
            consents: open_all(&consents, &keys, consent)?,
            notes: open_all(&notes, &keys, crate::notes::note)?,
            emergency_accesses: open_all(&emergencies, &keys, emergency)?,
            assessments: open_all(&assessments, &keys, crate::assessments::assessment)?,
            care_plan_versions: open_all(&plans, &keys, crate::care_plans::plan_version)?,
        })
    }
}

fn open_all<T>(rows: &[Row], keys: &Keyring, map: fn(&Row, &Keyring) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(|row| map(row, keys)).collect()
}
