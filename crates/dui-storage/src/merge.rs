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

/// The tables a merge moves rows of (all but those that keep theirs): name, resident column,
/// and what the feature declares.
fn moved_tables() -> impl Iterator<Item = (&'static str, &'static str, &'static Merge)> {
    crate::features::tables().filter_map(|table| {
        let rows = table.resident.as_ref()?;
        (!matches!(rows.merge, Merge::Keep(_))).then_some((table.name, rows.column, &rows.merge))
    })
}

fn merge_sql() -> String {
    let mut moves = Vec::new();
    let mut recorded = Vec::new();
    for (name, column, merge) in moved_tables() {
        moves.push(match merge {
            Merge::Rule { merge, .. } => format!("moved_{name} AS ({})", merge()),
            _ => format!(
                "moved_{name} AS (UPDATE {name} SET {column} = :survivor FROM ok, who WHERE ok.found_both \
                 AND {name}.tenant_id = who.tenant_id AND {name}.{column} = :duplicate \
                 RETURNING {name}.id, false AS ended)"
            ),
        });
        recorded.push(format!(
            "'{name}', jsonb_build_object('moved', (SELECT coalesce(jsonb_agg(id), '[]') FROM moved_{name}), \
             'ended', (SELECT coalesce(jsonb_agg(id) FILTER (WHERE ended), '[]') FROM moved_{name}))"
        ));
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
                     AND residents.tenant_id = who.tenant_id AND residents.merged_into = :duplicate \
                     RETURNING residents.id), \
         merge_event AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, \
                           details, merged_record_id, recorded_by, dek_version) \
                         SELECT r.tenant_id, :event, r.id, 'merge', r.identity_status, r.identity_status, :details, \
                           :duplicate, who.user_id, :dek_version \
                         FROM residents r, ok, who WHERE ok.found_both AND r.tenant_id = who.tenant_id \
                         AND r.id = :survivor RETURNING 1), \
         merge_record AS (INSERT INTO record_merges (tenant_id, id, resident_id, duplicate_id, moved, merged_by) \
                          SELECT who.tenant_id, :merge, :survivor, :duplicate, \
                            jsonb_build_object({recorded}) || jsonb_build_object('earlier', \
                              (SELECT coalesce(jsonb_agg(id), '[]') FROM earlier)), \
                            CASE WHEN who.console THEN NULL ELSE who.user_id END \
                          FROM ok, who WHERE ok.found_both RETURNING 1), \
         trace AS ({on_survivor}), \
         trace_duplicate AS ({on_duplicate}) \
         SELECT (SELECT found_both FROM ok) AS merged",
        visible = visible("r"),
        moves = moves.join(", "),
        recorded = recorded.join(", "),
        on_survivor = on(":survivor", ":duplicate"),
        on_duplicate = on(":duplicate", ":survivor"),
    )
}

/// Undoing the latest merge of `:duplicate` into `:survivor`: the rows it moved that are still
/// on the record kept go back, with what the merge ended reopened; the duplicate is active
/// again, and the records merged into it before point at it again.
fn unmerge_sql() -> String {
    let mut backs = Vec::new();
    for (name, column, merge) in moved_tables() {
        let undo = match merge {
            Merge::Rule { undo, .. } => format!(", {undo}"),
            _ => String::new(),
        };
        backs.push(format!(
            "back_{name} AS (UPDATE {name} t SET {column} = :duplicate{undo} FROM ok, \
               (SELECT rm.tenant_id, \
                  ARRAY(SELECT jsonb_array_elements_text(rm.moved -> '{name}' -> 'moved')) AS moved, \
                  ARRAY(SELECT jsonb_array_elements_text(rm.moved -> '{name}' -> 'ended')) AS ended FROM rm) m \
             WHERE ok.found_both AND t.tenant_id = m.tenant_id AND t.{column} = :survivor \
             AND t.id::text = ANY(m.moved) RETURNING 1)"
        ));
    }
    let on = |resident: &'static str, resource: &'static str| {
        Trace { from: "who, restored", resident, resource, outcome: "'success'", emergency: "false" }.sql()
    };
    format!(
        "WITH {WHO_CTE}, \
         rm AS (SELECT m.* FROM record_merges m, who WHERE m.tenant_id = who.tenant_id AND m.resident_id = :survivor \
                AND m.duplicate_id = :duplicate AND m.undone_at IS NULL ORDER BY m.merged_at DESC LIMIT 1 FOR UPDATE), \
         pair AS (SELECT r.id FROM residents r, who WHERE r.tenant_id = who.tenant_id \
                  AND ((r.id = :survivor AND r.record_status = 'active' AND ({visible})) \
                       OR (r.id = :duplicate AND r.record_status = 'merged' AND r.merged_into = :survivor)) \
                  FOR UPDATE OF r), \
         ok AS (SELECT count(*) = 2 AND EXISTS (SELECT 1 FROM rm) AS found_both FROM pair), \
         {backs}, \
         restored AS (UPDATE residents SET record_status = 'active', merged_into = NULL, \
                        row_version = row_version + 1, updated_at = now() \
                      FROM ok, who WHERE ok.found_both AND residents.tenant_id = who.tenant_id \
                      AND residents.id = :duplicate RETURNING residents.id), \
         earlier AS (UPDATE residents SET merged_into = :duplicate FROM ok, rm WHERE ok.found_both \
                     AND residents.tenant_id = rm.tenant_id AND residents.merged_into = :survivor \
                     AND residents.id::text IN (SELECT jsonb_array_elements_text(rm.moved -> 'earlier')) RETURNING 1), \
         undone AS (UPDATE record_merges m SET undone_at = now(), \
                      undone_by = CASE WHEN who.console THEN NULL ELSE who.user_id END \
                    FROM ok, rm, who WHERE ok.found_both AND m.tenant_id = rm.tenant_id AND m.id = rm.id RETURNING 1), \
         unmerge_event AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, \
                             details, merged_record_id, recorded_by, dek_version) \
                           SELECT r.tenant_id, :event, r.id, 'unmerge', r.identity_status, r.identity_status, \
                             :details, :duplicate, who.user_id, :dek_version \
                           FROM residents r, ok, who WHERE ok.found_both AND r.tenant_id = who.tenant_id \
                           AND r.id = :survivor RETURNING 1), \
         trace AS ({on_survivor}), \
         trace_duplicate AS ({on_duplicate}) \
         SELECT (SELECT found_both FROM ok) AS undone",
        visible = visible("r"),
        backs = backs.join(", "),
        on_survivor = on(":survivor", ":duplicate"),
        on_duplicate = on(":duplicate", ":survivor"),
    )
}

static UNMERGE: Stmt = LazyLock::new(|| Sql::new(&unmerge_sql()));

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
    let (kept, merged, record) = (survivor.as_uuid(), duplicate.as_uuid(), uuid::Uuid::now_v7());
    let args = args! { survivor: &kept, duplicate: &merged, event: &event, details: &details, dek_version: &dek,
    merge: &record }
    .action(AuditAction::ResidentMerge);
    let row = tx.query_one(&MERGE, &args).await?;
    if !row.try_get::<_, bool>("merged")? {
        return Err(StoreError::Invalid { constraint: "residents_merged_is_final".to_owned() });
    }
    crate::residents::read(tx, survivor, Reading::Unrecorded).await
}

/// Undoes the latest merge of `duplicate` into `survivor` (a mistaken merge), saying why: the
/// rows it moved go back (those still on the record kept: what was written there since stays),
/// what it ended is reopened, the duplicate is active again; the record kept gets an identity
/// event of the undoing, with its `reason` sealed. Recorded on both. Commits and returns the
/// record kept.
pub async fn unmerge(
    mut tx: Tx<'_>,
    survivor: ResidentId,
    duplicate: ResidentId,
    reason: &str,
) -> StoreResult<Resident> {
    let keys = tx.sealing_keys(1).await?;
    let event = uuid::Uuid::now_v7();
    let details = seal_json(&keys, IDENTITY_EVENT_DETAILS, event, &Some(reason))?;
    let dek = keys.active_version() as i32;
    let (kept, merged) = (survivor.as_uuid(), duplicate.as_uuid());
    let args = args! { survivor: &kept, duplicate: &merged, event: &event, details: &details, dek_version: &dek }
        .action(AuditAction::ResidentUnmerge);
    let row = tx.query_one(&UNMERGE, &args).await?;
    if !row.try_get::<_, bool>("undone")? {
        return Err(StoreError::Invalid { constraint: "residents_no_merge_to_undo".to_owned() });
    }
    crate::residents::read(tx, survivor, Reading::Unrecorded).await
}
