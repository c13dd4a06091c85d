//! Assignments of professionals to a person: home helpers reach only the people they are
//! assigned to (see [`crate::access`]).

use std::sync::LazyLock;

use chrono::NaiveDate;
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;

pub(crate) const ASSIGNMENT_FIELDS: &str = "id, resident_id, user_id, starts_on, ends_on, created_at";

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         a AS (INSERT INTO assignments (tenant_id, id, resident_id, user_id, starts_on, ends_on) \
               SELECT t.tenant_id, :id, t.id, u.id, :starts_on, :ends_on FROM target t \
               JOIN users u ON u.tenant_id = t.tenant_id AND u.id = :user_id RETURNING *), \
         trace AS ({trace}) SELECT id FROM a",
        target = target(),
        trace = Trace {
            from: "who, a, target",
            resident: "a.resident_id",
            resource: "a.user_id",
            outcome: "'success'",
            emergency: "NOT target.normal"
        }
        .sql(),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| Sql::new("SELECT id FROM assignments WHERE tenant_id = :tenant AND id = :id"));

/// Assigns a user to a resident, and commits.
pub async fn assign(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    user: UserId,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
) -> StoreResult<Created<Uuid>> {
    let id = Uuid::now_v7();
    let (resident, user) = (resident.as_uuid(), user.as_uuid());
    let args = args! { resident: &resident, user_id: &user, starts_on: &starts_on, ends_on: &ends_on, id: &id }
        .action(AuditAction::AssignmentCreate);
    let map = |row: &Row| Ok(row.try_get::<_, Uuid>(0)?);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// Assignments: a merge moves them; the resident's export lists who was assigned, and when.
pub(crate) const FEATURE: Feature = Feature {
    name: "assignments",
    tables: &[Table::of_person("assignments", &[], "assignments", ASSIGNMENT_FIELDS, "starts_on, id", |row, _| {
        to_json(assignment(row))
    })],
};

/// An assignment as exported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    pub id: Uuid,
    pub user_id: UserId,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub(crate) fn assignment(row: &Row) -> StoreResult<Assignment> {
    Ok(Assignment {
        id: row.try_get("id")?,
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        starts_on: row.try_get("starts_on")?,
        ends_on: row.try_get("ends_on")?,
        created_at: row.try_get("created_at")?,
    })
}
