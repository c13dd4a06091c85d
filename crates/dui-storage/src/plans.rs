//! The query plans of the statements that find one resident and decide who sees them: for the
//! test that keeps them on the resident's index entries whatever the tenant's size, and for
//! diagnosing a slow tenant.
//!
//! A large organisation holds a hundred thousand records and ten years of discharged stays. A
//! statement about one resident must cost the same there as in a small service: the rule of
//! access ([`crate::access::visible`], [`crate::access::urgent`]) is evaluated for the
//! resident's own rows, found by their index on `(tenant_id, resident_id, …)`, never by a scan
//! of the tenant's rows filtered afterwards.

use dui_domain::audit::AuditAction;
use dui_domain::{EstablishmentId, ResidentId, UnitId};
use uuid::Uuid;

use crate::StoreResult;
use crate::sql::{Args, Sql};
use crate::trace::Reading;
use crate::tx::Tx;

/// What the plans are asked about: a resident, the blind index of a birth identity to search
/// for, and the unit whose current residents are listed.
#[derive(Debug, Clone, Copy)]
pub struct PlanProbe<'a> {
    pub resident: ResidentId,
    pub birth_index: &'a [u8],
    pub establishment: EstablishmentId,
    pub unit: UnitId,
}

/// The plan of each statement, by name: with `analyze`, the generic plan the server's
/// connections run, executed (`EXPLAIN (ANALYZE, BUFFERS)`; the transaction is rolled back);
/// without, `EXPLAIN` of the statement for these values.
///
/// # Errors
///
/// A database error.
pub async fn access_plans(
    mut tx: Tx<'_>,
    probe: PlanProbe<'_>,
    analyze: bool,
) -> StoreResult<Vec<(&'static str, String)>> {
    let resident = probe.resident.as_uuid();
    let (establishment, unit) = (Some(probe.establishment.as_uuid()), Some(probe.unit.as_uuid()));
    let (after, limit, notes) = (None::<Uuid>, 51_i64, 21_i64);
    let index = probe.birth_index;
    let read = crate::residents::READ.pick_final(
        Reading::Recorded(AuditAction::ResidentRead),
        crate::args! { resident: &resident },
        |action| crate::trail::ReadTrace::Record { action, resident },
    );
    let notes_list = crate::notes::LIST.pick_final(
        Reading::Recorded(AuditAction::NoteRead),
        crate::args! { resident: &resident, after: &after, limit: &notes },
        |action| crate::trail::ReadTrace::Record { action, resident },
    );
    let reached = crate::residents::unfiltered_list(&tx);
    let none = (None::<Uuid>, None::<Uuid>, None::<bool>);
    let statements: [(&'static str, &Sql, Args<'_>); 8] = [
        (
            "records the caller sees",
            reached,
            crate::args! { after: &after, limit: &limit, establishment: &none.0, unit: &none.1, current: &none.2 },
        ),
        (
            "record context",
            &crate::access::CONTEXT,
            crate::args! { resident: &resident }.action(AuditAction::NoteCreate),
        ),
        ("resident read", read.0, read.1),
        ("summary", &crate::summary::SUMMARY, crate::args! { resident: &resident }),
        ("notes of a resident", notes_list.0, notes_list.1),
        ("search", &crate::residents::SEARCH_BY_BIRTH_IDENTITY, crate::args! { index: &index }),
        (
            "residents of a unit now",
            &crate::residents::PRESENT_IN_UNIT,
            crate::args! { place: &unit, establishment: &establishment, after: &after, limit: &limit },
        ),
        (
            "residents of an establishment now",
            &crate::residents::PRESENT_IN_ESTABLISHMENT,
            crate::args! { place: &establishment, establishment: &establishment, after: &after, limit: &limit },
        ),
    ];
    let mut plans = Vec::with_capacity(statements.len());
    for (name, sql, args) in statements {
        let lines = if analyze {
            tx.explain_generic(sql, &args).await?
        } else {
            let rows = tx.query(&sql.explained(false), &args).await?;
            rows.iter().map(|row| Ok(row.try_get::<_, String>(0)?)).collect::<StoreResult<Vec<_>>>()?
        };
        plans.push((name, lines.join("\n")));
    }
    tx.rollback().await?;
    Ok(plans)
}

static HORIZON: crate::sql::Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "SELECT coalesce((SELECT horizon::text FROM audit_chain_cursors WHERE tenant_id = :tenant), '0') AS horizon",
    )
});

/// The generic plan of the chainer's look for the tenant's events not chained yet, from the
/// tenant's horizon, executed (`tx`, for the tenant, is rolled back). However long the trail,
/// the look reads the events beyond the horizon, each checked in the chain's index.
///
/// # Errors
///
/// A database error.
pub async fn chain_plan(mut tx: Tx<'_>) -> StoreResult<String> {
    let horizon: String = tx.query_one(&HORIZON, &crate::args! {}).await?.try_get("horizon")?;
    let lines = tx.explain_generic(&crate::audit::UNCHAINED, &crate::args! { horizon: &horizon }).await?;
    tx.rollback().await?;
    Ok(lines.join("\n"))
}
