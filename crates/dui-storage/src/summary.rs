//! The summary of a person's record: what the first screen of a record shows, read in one
//! round trip (three statements in one snapshot) and recorded once.

use std::sync::LazyLock;

use dui_domain::ResidentId;
use dui_domain::alert::order_alerts;
use dui_domain::audit::AuditAction;
use dui_domain::resident::{AttendingPhysician, PlanInForce, ResidentSummary};
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, note_readable, target, urgent, visible};
use crate::args;
use crate::notes::NOTE_COLUMNS;
use crate::residents::RESIDENT_COLUMNS;
use crate::sealing::versions;
use crate::sql::{Sql, Stmt};
use crate::stays::{CURRENT_STAY, STAY_COLUMNS};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// The statements, written once (they are the same for every request).
pub(crate) static SUMMARY: Stmt = LazyLock::new(|| Sql::new(&summary_sql(false)));
static SUMMARY_NOTES: Stmt = LazyLock::new(|| Sql::new(&summary_notes_sql()));

/// The most notes a summary shows.
pub const MAX_SUMMARY_NOTES: i64 = 20;

/// The record, its current stay, the latest GIR the reader may see and the plan in force; the
/// read (or its refusal) is recorded. `:resident` the resident.
pub(crate) fn summary_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, \
         candidate AS MATERIALIZED (SELECT r.*, {visible} AS normal, {urgent} AS urgent FROM residents r, who \
                    WHERE r.tenant_id = who.tenant_id AND r.id = :resident), \
         target AS (SELECT * FROM candidate WHERE normal OR urgent){trace} \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency, \
                g.id AS gir_id, g.assessed_on AS gir_assessed_on, g.gir AS gir_gir, g.gir_group AS gir_gir_group, \
                g.gir_rank AS gir_gir_rank, g.assessor_id AS gir_assessor_id, g.establishment_id AS gir_establishment_id, \
                p.id AS plan_version_id, p.version AS plan_version, p.review_due_on AS plan_review_due_on, \
                d.id AS attending_id, d.details AS attending_details, d.dek_version AS attending_dek_version, \
                d.since AS attending_since \
         FROM target r {CURRENT_STAY} \
         LEFT JOIN LATERAL (SELECT a.* FROM assessments a, who WHERE a.tenant_id = r.tenant_id AND a.resident_id = r.id \
                 AND a.instrument = 'aggir' AND a.status = 'validated' AND {gir_readable} \
                 AND NOT EXISTS (SELECT 1 FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id \
                                 AND c.status = 'validated') \
                 ORDER BY a.assessed_on DESC, a.id DESC LIMIT 1) g ON true \
         LEFT JOIN LATERAL (SELECT p.id, p.version, p.review_due_on FROM care_plan_versions p \
                 WHERE p.tenant_id = r.tenant_id AND p.resident_id = r.id AND p.status = 'active' \
                 ORDER BY p.version DESC LIMIT 1) p ON true \
         LEFT JOIN LATERAL (SELECT d.id, d.details, d.dek_version, d.since FROM physicians d, who \
                 WHERE d.tenant_id = r.tenant_id AND d.resident_id = r.id AND d.role = 'attending' \
                 AND d.until IS NULL AND d.error_at IS NULL AND {physician_readable} LIMIT 1) d ON true",
        physician_readable = care_readable("d", "NOT r.normal"),
        visible = visible("r"),
        urgent = urgent("r"),
        trace = crate::trace::read_trace(recorded),
        gir_readable = note_readable("a", "NOT r.normal"),
    )
}

/// The latest notes of the person that the reader may read, not entered in error, newest
/// first: `:resident` the resident, `:limit` how many.
pub(crate) fn summary_notes_sql() -> String {
    format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT n.* FROM notes n, target t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id \
                  AND n.resident_id = :resident AND n.error_at IS NULL AND {readable} ORDER BY n.id DESC LIMIT :limit) \
         SELECT {NOTE_COLUMNS} FROM data n ORDER BY n.id DESC",
        target = target(),
        readable = note_readable("n", "NOT t.normal"),
    )
}

/// The summary of a visible resident's record — their alerts and allergies in force that the
/// reader may read, the most severe first, then the record — with their `notes` latest notes
/// (at most [`MAX_SUMMARY_NOTES`]), read in one round trip and recorded once. `NotFound`
/// (recorded as refused) otherwise.
pub async fn summary(tx: Tx<'_>, id: ResidentId, notes: i64) -> StoreResult<ResidentSummary> {
    let resident = id.as_uuid();
    let limit = notes.clamp(0, MAX_SUMMARY_NOTES);
    let record_args = args! { resident: &resident };
    let notes_args = args! { resident: &resident, limit: &limit };
    let alerts_args = args! { resident: &resident, all: &false };
    let (db, tenant) = (tx.db(), tx.tenant());
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::ResidentSummary, resident };
    let (record, alerts, notes) = tx
        .finish_three_read(
            (&SUMMARY, &record_args),
            (&crate::alerts::SUMMARY_ALERTS, &alerts_args),
            (&SUMMARY_NOTES, &notes_args),
            trace,
        )
        .await?;
    let row = record.first().ok_or(StoreError::NotFound)?;
    let mut wanted = versions(&record)?;
    wanted.extend(versions(&alerts)?);
    wanted.extend(versions(&notes)?);
    if let Some(version) = row.try_get::<_, Option<i32>>("attending_dek_version")? {
        wanted.push(version as u32);
    }
    let keys = db.keyring(tenant, wanted).await?;
    let gir = match row.try_get::<_, Option<Uuid>>("gir_id")? {
        Some(_) => Some(crate::assessments::gir_point(row, "gir_")?),
        None => None,
    };
    let mut alerts = alerts.iter().map(|row| crate::alerts::entry(row, &keys)).collect::<StoreResult<Vec<_>>>()?;
    order_alerts(&mut alerts);
    let care_plan = match row.try_get::<_, Option<Uuid>>("plan_version_id")? {
        Some(version_id) => Some(PlanInForce {
            version_id,
            version: row.try_get("plan_version")?,
            review_due_on: row.try_get("plan_review_due_on")?,
        }),
        None => None,
    };
    let attending_physician = match row.try_get::<_, Option<Uuid>>("attending_id")? {
        Some(id) => {
            let details: dui_domain::medical::PhysicianDetails = crate::sealing::open_json(
                &keys,
                crate::medical::PHYSICIAN_DETAILS,
                id,
                row.try_get("attending_details")?,
            )?;
            Some(AttendingPhysician {
                id: dui_domain::PhysicianId::from_uuid(id),
                name: details.name,
                rpps: details.rpps,
                phone: details.phone,
                email: details.email,
                since: row.try_get("attending_since")?,
            })
        }
        None => None,
    };
    Ok(ResidentSummary {
        attending_physician,
        alerts,
        resident: crate::residents::resident(row, &keys)?,
        gir,
        care_plan,
        last_notes: notes.iter().map(|n| crate::notes::note(n, &keys)).collect::<StoreResult<_>>()?,
    })
}
