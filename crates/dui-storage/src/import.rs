//! Bulk import of notes: how the history of a previous DUI is loaded when an organisation moves
//! to dui. Bodies are sealed exactly as [`crate::notes::write`] seals them; the rows travel by binary
//! `COPY` into a temporary table (PostgreSQL refuses `COPY FROM` into a table under row-level
//! security) and reach `notes` in one `INSERT ... SELECT`, which the policies check like any
//! other write. Each person whose notes were imported is recorded once per batch.

use chrono::{DateTime, Utc};
use dui_domain::record::NoteScope;
use dui_domain::transmission::{Incident, NoteContent, NoteKind};
use dui_domain::{EstablishmentId, ResidentId, UnitId, UserId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::WHO_CTE;
use crate::args;
use crate::notes::NOTE_BODY;
use crate::sealing::seal_json;
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// A note written elsewhere, to import as it was.
#[derive(Debug, Clone)]
pub struct ImportedNote {
    pub resident: ResidentId,
    pub author: UserId,
    pub establishment: EstablishmentId,
    pub unit: Option<UnitId>,
    pub kind: NoteKind,
    pub scope: NoteScope,
    pub written_at: DateTime<Utc>,
    pub facts_at: DateTime<Utc>,
    pub content: NoteContent,
    pub incident: Option<Incident>,
}

const STAGE: &str = "CREATE TEMPORARY TABLE import_notes (tenant_id uuid, id uuid, resident_id uuid, author_id uuid, \
     establishment_id uuid, unit_id uuid, kind text, scope text, written_at timestamptz, facts_at timestamptz, body bytea, \
     dek_version integer, incident_type text, severity text) ON COMMIT DROP";

const COPY: &str = "COPY import_notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, \
     written_at, facts_at, body, dek_version, incident_type, severity) FROM STDIN (FORMAT binary)";

const TYPES: [Type; 14] = [
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::BYTEA,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
];

/// The id a note written at `at` gets: a UUIDv7 of that time, as if it had been written then
/// (the feed and the pagination rely on ids following time).
pub fn note_id_at(at: DateTime<Utc>) -> Uuid {
    let seconds = at.timestamp().max(0) as u64;
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, at.timestamp_subsec_nanos()))
}

static IMPORTED: Stmt = LazyLock::new(|| {
    let each_resident = Trace {
        from: "who, (SELECT DISTINCT resident_id FROM n) d",
        resident: "d.resident_id",
        resource: "d.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         n AS (INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, \
                                  written_at, facts_at, body, dek_version, incident_type, severity) \
               SELECT i.tenant_id, i.id, i.resident_id, i.author_id, i.establishment_id, i.unit_id, i.kind, i.scope, \
                      i.written_at, i.facts_at, i.body, i.dek_version, i.incident_type, i.severity \
               FROM import_notes i, who WHERE i.tenant_id = who.tenant_id RETURNING resident_id), \
         trace AS ({trace}) \
         SELECT count(*) FROM n",
        trace = each_resident.sql()
    ))
});

/// Imports `notes` of the caller's tenant in one transaction, and commits; returns how many were
/// written. Every person, author and establishment must exist in the tenant (else nothing is
/// written and the error says which reference failed).
pub async fn import_notes(mut tx: Tx<'_>, notes: &[ImportedNote]) -> StoreResult<u64> {
    if notes.is_empty() {
        return Ok(0);
    }
    let tenant = tx.tenant();
    let keys = tx.sealing_keys(notes.len() as u64).await?;
    let dek = keys.active_version() as i32;
    let tenant_id = tenant.as_uuid();
    let mut sealed = Vec::with_capacity(notes.len());
    for note in notes {
        let id = note_id_at(note.written_at);
        sealed.push((id, seal_json(&keys, NOTE_BODY, id, &note.content)?));
    }
    tx.batch(STAGE).await?;
    let sink = tx.copy_in(COPY).await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &TYPES));
    for (note, (id, body)) in notes.iter().zip(&sealed) {
        let (resident, author, establishment) =
            (note.resident.as_uuid(), note.author.as_uuid(), note.establishment.as_uuid());
        let unit = note.unit.map(|u| u.as_uuid());
        let incident_type = note.incident.map(|i| i.incident_type.as_str());
        let severity = note.incident.map(|i| i.severity.as_str());
        let row: [&(dyn ToSql + Sync); 14] = [
            &tenant_id,
            id,
            &resident,
            &author,
            &establishment,
            &unit,
            &note.kind.as_str(),
            &note.scope.as_str(),
            &note.written_at,
            &note.facts_at,
            body,
            &dek,
            &incident_type,
            &severity,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.as_mut().finish().await?;
    let rows = tx.finish(&IMPORTED, &args! {}.action(AuditAction::NoteImport)).await?;
    let written: i64 = rows.first().ok_or(StoreError::NotFound)?.try_get(0)?;
    if written as usize != notes.len() {
        return Err(StoreError::Corrupt { column: "import", value: format!("{written} of {} notes", notes.len()) });
    }
    Ok(written as u64)
}
