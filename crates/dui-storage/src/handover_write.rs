//! The write side of the hand-over's events: what a statement adds to report the change it
//! makes (see [`crate::handover`] for the reading and the declaration).

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::handover::NewHandoverEvent;
use uuid::Uuid;

use crate::StoreResult;
use crate::sealing::seal_json;
use crate::sql::Args;

pub(crate) const EVENT_SUMMARY: Column = Column::new("handover_events", "summary");

/// The values of the event a write reports, sealed: all NULL when it reports none.
#[derive(Default)]
pub(crate) struct EventRow {
    id: Option<Uuid>,
    kind: Option<&'static str>,
    source_type: Option<&'static str>,
    scope: Option<&'static str>,
    summary: Option<Vec<u8>>,
    dek: Option<i32>,
    at: Option<DateTime<Utc>>,
}

impl EventRow {
    /// Seals `event` under the active key of `keys`.
    pub(crate) fn seal(keys: &Keyring, event: Option<&NewHandoverEvent>) -> StoreResult<Self> {
        let Some(event) = event else { return Ok(Self::default()) };
        let id = Uuid::now_v7();
        Ok(Self {
            id: Some(id),
            kind: Some(event.kind.as_str()),
            source_type: Some(event.source_type),
            scope: Some(event.scope.as_str()),
            summary: Some(seal_json(keys, EVENT_SUMMARY, id, &event.summary)?),
            dek: Some(keys.active_version() as i32),
            at: Some(event.occurred_at),
        })
    }

    /// [`EventRow::seal`] for a write that seals nothing else: the transaction's keys are taken
    /// only when there is an event.
    pub(crate) async fn seal_in(tx: &crate::tx::Tx<'_>, event: Option<&NewHandoverEvent>) -> StoreResult<Self> {
        match event {
            Some(event) => Self::seal(&*tx.sealing_keys(1).await?, Some(event)),
            None => Ok(Self::default()),
        }
    }

    /// Binds the event's values (`:ev_*`) to a statement that has [`emit`] in its `WITH` clause.
    pub(crate) fn bind<'a>(&'a self, args: Args<'a>) -> Args<'a> {
        args.set("ev_id", &self.id)
            .set("ev_kind", &self.kind)
            .set("ev_source_type", &self.source_type)
            .set("ev_scope", &self.scope)
            .set("ev_summary", &self.summary)
            .set("ev_dek", &self.dek)
            .set("ev_at", &self.at)
    }
}

/// The `WITH` item writing the event (`:ev_*`, nothing when `:ev_id` is NULL) of the row the
/// statement wrote, `rows` (with `id` and `resident_id`): filed in the establishment and unit of
/// the person's stay in progress (else the latest), as notes are.
pub(crate) fn emit(rows: &str) -> String {
    emit_as("ev", rows, None)
}

/// [`emit`] as the `WITH` item `name`; `stay`, when given, names the stay row (with
/// `establishment_id` and `unit_id`) the event is filed in — a stay the same statement writes,
/// which its other items cannot read back.
pub(crate) fn emit_as(name: &str, rows: &str, stay: Option<&str>) -> String {
    let (place, from) = match stay {
        Some(stay) => (format!("{stay}.establishment_id, {stay}.unit_id"), String::new()),
        None => (
            "st.establishment_id, st.unit_id".to_owned(),
            format!(
                ", LATERAL (SELECT s.establishment_id, s.unit_id FROM stays s WHERE s.tenant_id = who.tenant_id \
                 AND s.resident_id = {rows}.resident_id ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC \
                 LIMIT 1) st"
            ),
        ),
    };
    format!(
        "{name} AS (INSERT INTO handover_events (tenant_id, id, resident_id, establishment_id, unit_id, kind, source_type, \
           source_id, scope, summary, dek_version, occurred_at, recorded_by) \
         SELECT who.tenant_id, :ev_id, {rows}.resident_id, {place}, :ev_kind, :ev_source_type, \
           {rows}.id, :ev_scope, :ev_summary, :ev_dek, :ev_at, CASE WHEN who.console THEN NULL ELSE who.user_id END \
         FROM who, {rows}{from} \
         WHERE :ev_id::uuid IS NOT NULL)"
    )
}
