//! Merging a duplicate record into the record kept: what each kind of record does with the
//! duplicate's rows is its own declaration ([`crate::feature::Merge`]); this module puts them
//! in one statement.

use std::sync::LazyLock;

use dui_domain::ResidentId;
use dui_domain::audit::AuditAction;
use dui_domain::resident::Resident;

use crate::access::{WHO_CTE, visible};
use crate::args;
use crate::feature::Merge;
use crate::residents::IDENTITY_EVENT_DETAILS;
use crate::sealing::seal_json;
use crate::sql::{Sql, Stmt};
use crate::trace::{Reading, Trace};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

fn merge_sql() -> String {
    let mut moves = Vec::new();
    for feature in crate::features::ALL {
        for table in feature.tables {
            let Some(rows) = &table.resident else { continue };
            let name = table.name;
            let column = rows.column;
            match rows.merge {
                Merge::Move => moves.push(format!(
                    "moved_{name} AS (UPDATE {name} SET {column} = :survivor FROM ok, who WHERE ok.found_both \
                     AND {name}.tenant_id = who.tenant_id AND {name}.{column} = :duplicate RETURNING 1)"
                )),
                Merge::Rule(rule) => moves.push(format!("moved_{name} AS ({})", rule())),
                Merge::Keep(_) => {}
            }
        }
    }
    let on = |resident: &'static str, resource: &'static str| {
        Trace { from: "who, merged", resident, resource, outcome: "'success'", emergency: "false" }.sql()
    };
    format!(
        "WITH {WHO_CTE}, \
         pair AS (SELECT r.id FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id IN (:survivor, :duplicate) \
                  AND r.record_status = 'active' AND ({visible}) FOR UPDATE OF r), \
         ok AS (SELECT count(*) = 2 AS found_both FROM pair), \
         {moves}, \
         merged AS (UPDATE residents SET record_status = 'merged', merged_into = :survivor, \
                      row_version = row_version + 1, updated_at = now() \
                    FROM ok, who WHERE ok.found_both AND residents.tenant_id = who.tenant_id \
                    AND residents.id = :duplicate RETURNING residents.id), \
         earlier AS (UPDATE residents SET merged_into = :survivor FROM ok, who WHERE ok.found_both \
                     AND residents.tenant_id = who.tenant_id AND residents.merged_into = :duplicate RETURNING 1), \
         merge_event AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, \
                           details, merged_record_id, recorded_by, dek_version) \
                         SELECT r.tenant_id, :event, r.id, 'merge', r.identity_status, r.identity_status, :details, \
                           :duplicate, who.user_id, :dek_version \
                         FROM residents r, ok, who WHERE ok.found_both AND r.tenant_id = who.tenant_id \
                         AND r.id = :survivor RETURNING 1), \
         trace AS ({on_survivor}), \
         trace_duplicate AS ({on_duplicate}) \
         SELECT (SELECT found_both FROM ok) AS merged",
        visible = visible("r"),
        moves = moves.join(", "),
        on_survivor = on(":survivor", ":duplicate"),
        on_duplicate = on(":duplicate", ":survivor"),
    )
}

static MERGE: Stmt = LazyLock::new(|| Sql::new(&merge_sql()));

/// Merges `duplicate` into `survivor` (both visible and active, the caller checked): each kind
/// of record moves the duplicate's rows as it declares (their seals bind their own row, not the
/// resident, so they open as before); the duplicate is marked merged and points at the
/// survivor, as do records merged into the duplicate before; the record kept gets an identity
/// event of the merge with its `reason`, sealed. Recorded on both. Commits and returns the
/// record kept (not recorded as a reading: the caller asked for a merge).
pub async fn merge(mut tx: Tx<'_>, survivor: ResidentId, duplicate: ResidentId, reason: &str) -> StoreResult<Resident> {
    if survivor == duplicate {
        return Err(StoreError::Invalid { constraint: "residents_merge_into_itself".to_owned() });
    }
    let keys = tx.sealing_keys(1).await?;
    let event = uuid::Uuid::now_v7();
    let details = seal_json(&keys, IDENTITY_EVENT_DETAILS, event, &Some(reason))?;
    let dek = keys.active_version() as i32;
    let (kept, merged) = (survivor.as_uuid(), duplicate.as_uuid());
    let args = args! { survivor: &kept, duplicate: &merged, event: &event, details: &details, dek_version: &dek }
        .action(AuditAction::ResidentMerge);
    let row = tx.query_one(&MERGE, &args).await?;
    if !row.try_get::<_, bool>("merged")? {
        return Err(StoreError::Invalid { constraint: "residents_merged_is_final".to_owned() });
    }
    crate::residents::read(tx, survivor, Reading::Unrecorded).await
}
