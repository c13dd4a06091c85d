//! The record each merge leaves with the record kept: which record was merged into it, by whom
//! and when, whether it was undone, and the ids of the rows it moved (what undoing it reads; see
//! [`crate::merge`]).

use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::feature::{Feature, Merge, Table, to_json};

/// A merge, as the record kept keeps it (the ids of the rows it moved are left out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordMerge {
    pub id: Uuid,
    pub duplicate_id: ResidentId,
    pub merged_by: Option<UserId>,
    pub merged_at: chrono::DateTime<chrono::Utc>,
    pub undone_by: Option<UserId>,
    pub undone_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn record_merge(row: &Row) -> StoreResult<RecordMerge> {
    let user = |column: &str| -> StoreResult<Option<UserId>> {
        Ok(row.try_get::<_, Option<Uuid>>(column)?.map(UserId::from_uuid))
    };
    Ok(RecordMerge {
        id: row.try_get("id")?,
        duplicate_id: ResidentId::from_uuid(row.try_get("duplicate_id")?),
        merged_by: user("merged_by")?,
        merged_at: row.try_get("merged_at")?,
        undone_by: user("undone_by")?,
        undone_at: row.try_get("undone_at")?,
    })
}

/// Merges: each is kept by the record that kept the rows, with the ids undoing it reads; the
/// person's export lists them (without those ids), oldest first.
pub(crate) const FEATURE: Feature = Feature {
    name: "merges",
    tables: &[Table::of_person(
        "record_merges",
        &[],
        "record_merges m",
        "m.id, m.duplicate_id, m.merged_by, m.merged_at, m.undone_by, m.undone_at",
        "m.merged_at, m.id",
        |row, _| to_json(record_merge(row)),
    )
    .in_section("merges")
    .merged(Merge::Keep("a merge stays with the record that kept the rows: undoing it reads the ids it kept"))],
};
