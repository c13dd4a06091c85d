//! The access rule for residents' records, written once, in SQL.
//!
//! Every statement touching a resident starts with the `who` common table expression
//! ([`WHO_CTE`], see [`crate::who`]): the tenant, the user, where they reach residents, which
//! note scopes they read where, and the request's identity for the audit trail. A resident is
//! visible ([`visible`]) when one of their stays is current or recent in an establishment the
//! user reaches (home helpers: only if assigned to the person), when the user oversees an
//! establishment where the person ever stayed (directors and tenant admins keep the records of
//! former residents: archives, requests of access), or ([`urgent`]) through an emergency opening
//! by this user that has not expired.

use uuid::Uuid;

pub(crate) use crate::who::WHO_CTE;

/// Whether stay `s` is in the team's reach: not more than a year ahead (a planned admission is
/// prepared), and not discharged, or discharged at most `recent_days` ago (the team keeps the
/// record for a while after a discharge). The one statement of this rule.
pub(crate) fn stay_in_reach(s: &str) -> String {
    format!(
        "({s}.admitted_on <= current_date + 366 \
          AND ({s}.discharged_on IS NULL OR {s}.discharged_on >= current_date - who.recent_days))"
    )
}

/// Whether the establishment of stay `s` is overseen by `who` (directors and tenant
/// administrators keep the records of former residents: archives, requests of access).
pub(crate) fn stay_overseen(s: &str) -> String {
    format!("(who.archive_all OR {s}.establishment_id = ANY(who.archive_est))")
}

/// Whether resident `r` is visible to `who` through a stay (the normal way). A merged record
/// is visible with the record it was merged into (its stays moved there).
///
/// Every condition on the resident's rows is one an index can take under row-level security:
/// a leakproof comparison with the resident's own columns. (`coalesce(r.merged_into, r.id)`
/// cannot be, as PostgreSQL does not know it leaks nothing: the stays were then read by tenant,
/// every stay of the tenant for each check.)
pub(crate) fn visible(r: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = {r}.tenant_id \
           AND s.resident_id = ANY(ARRAY[{r}.id, {r}.merged_into]) \
           AND ({overseen} \
                OR ({in_reach} \
                    AND (who.all_est OR s.establishment_id = ANY(who.full_est) \
                         OR ((who.assigned_all OR s.establishment_id = ANY(who.assigned_est)) \
                             AND EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = {r}.tenant_id \
                                         AND a.resident_id = {r}.id AND a.user_id = who.user_id \
                                         AND a.starts_on <= current_date \
                                         AND (a.ends_on IS NULL OR a.ends_on >= current_date)))))))",
        overseen = stay_overseen("s"),
        in_reach = stay_in_reach("s"),
    )
}

/// Whether resident `r` is open to `who` through an unexpired emergency opening.
pub(crate) fn urgent(r: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM emergency_accesses e WHERE e.tenant_id = {r}.tenant_id AND e.resident_id = {r}.id \
           AND e.user_id = who.user_id AND e.expires_at > now())"
    )
}

/// Whether note `n` (of a resident `who` may see) is in a scope `who` reads where it was
/// written. An emergency opening reads every scope the user reads anywhere.
pub(crate) fn note_readable(n: &str, via_emergency: &str) -> String {
    format!(
        "({n}.scope = 'whole_team' \
          OR ({n}.scope = 'care_team' AND (who.care_all OR {n}.establishment_id = ANY(who.care_est) OR ({via_emergency} AND cardinality(who.care_est) > 0))) \
          OR ({n}.scope = 'medical' AND (who.medical_all OR {n}.establishment_id = ANY(who.medical_est) OR ({via_emergency} AND cardinality(who.medical_est) > 0))) \
          OR ({n}.scope = 'social' AND (who.social_all OR {n}.establishment_id = ANY(who.social_est) OR ({via_emergency} AND cardinality(who.social_est) > 0))))"
    )
}

/// Whether care data `d` of a resident `who` may see (measurements, absences, appointments,
/// restraints, wounds, diets, food and fluid watches) is the care team's to read where it was recorded: `who` reads care-team notes in
/// its establishment. Through an emergency opening (`via_emergency`), anywhere the user reads
/// them.
pub(crate) fn care_readable(d: &str, via_emergency: &str) -> String {
    format!(
        "(who.care_all OR {d}.establishment_id = ANY(who.care_est) OR ({via_emergency} AND cardinality(who.care_est) > 0))"
    )
}

/// Whether medical data `d` of a resident `who` may see (the medical file's history, problems
/// and vaccinations) is readable: `who` reads medical-scope notes where it was recorded (the
/// coordinating physician, the nurses). Through an emergency opening (`via_emergency`), anywhere
/// the user reads them.
pub(crate) fn medical_readable(d: &str, via_emergency: &str) -> String {
    format!(
        "(who.medical_all OR {d}.establishment_id = ANY(who.medical_est) OR ({via_emergency} AND cardinality(who.medical_est) > 0))"
    )
}

// ---------------------------------------------------------------------------------------------
// The context of an action on a resident's record, for the use case that decides.
// ---------------------------------------------------------------------------------------------

/// What a use case needs to know about a resident before deciding on an action on the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    pub resident: dui_domain::ResidentId,
    /// Establishments of the resident's stays in the caller's reach (current or recent), and of
    /// those the caller oversees: where the record is looked after.
    pub establishments: Vec<dui_domain::EstablishmentId>,
    /// Visible only through an emergency opening.
    pub emergency: bool,
    pub record_status: dui_domain::resident::RecordStatus,
}

pub(crate) static CONTEXT: crate::sql::Stmt = std::sync::LazyLock::new(|| {
    crate::sql::Sql::new(&format!(
        "WITH {WHO_CTE}, \
         target AS MATERIALIZED (SELECT r.id, r.record_status, {visible} AS normal, {urgent} AS urgent FROM residents r, who \
                    WHERE r.tenant_id = who.tenant_id AND r.id = :resident), \
         data AS (SELECT * FROM target WHERE normal OR urgent), \
         refusal AS ({denial} WHERE NOT EXISTS (SELECT 1 FROM data)) \
         SELECT d.record_status, NOT d.normal AS via_emergency, \
           coalesce((SELECT array_agg(DISTINCT s.establishment_id) FROM stays s, who \
                     WHERE s.tenant_id = who.tenant_id AND s.resident_id = d.id \
                     AND ({in_reach} OR {overseen})), '{{}}') AS establishments \
         FROM data d",
        visible = visible("r"),
        urgent = urgent("r"),
        denial = crate::trace::Trace::denial(),
        in_reach = stay_in_reach("s"),
        overseen = stay_overseen("s"),
    ))
});

static DENIAL: crate::sql::Stmt =
    std::sync::LazyLock::new(|| crate::sql::Sql::new(&format!("WITH {WHO_CTE} {}", crate::trace::Trace::denial())));

/// The statement of [`record_context`], for the benchmark's baseline.
#[cfg(feature = "bench")]
pub(crate) fn context_statement() -> &'static crate::sql::Sql {
    &CONTEXT
}

/// The context of `resident` for `action`. When the caller does not see the resident, the
/// refusal of `action` is recorded and committed at once — it stays whatever the operation does
/// next — and `NotFound` is returned.
pub async fn record_context(
    tx: &mut crate::tx::Tx<'_>,
    resident: dui_domain::ResidentId,
    action: dui_domain::audit::AuditAction,
) -> crate::StoreResult<RecordContext> {
    let id = resident.as_uuid();
    let row = tx.query_opt(&CONTEXT, &crate::args! { resident: &id }.action(action)).await?;
    let Some(row) = row else {
        tx.commit_now().await?;
        return Err(crate::StoreError::NotFound);
    };
    let establishments: Vec<Uuid> = row.try_get("establishments")?;
    Ok(RecordContext {
        resident,
        establishments: establishments.into_iter().map(dui_domain::EstablishmentId::from_uuid).collect(),
        emergency: row.try_get("via_emergency")?,
        record_status: crate::rows::parse(&row, "record_status", dui_domain::resident::RecordStatus::parse)?,
    })
}

/// Records that `action` on `resident` was refused (the caller sees the record but may not do
/// this), and commits at once.
pub async fn deny(
    tx: &mut crate::tx::Tx<'_>,
    action: dui_domain::audit::AuditAction,
    resident: dui_domain::ResidentId,
) -> crate::StoreResult<()> {
    let id = resident.as_uuid();
    tx.query(&DENIAL, &crate::args! { resident: &id }.action(action)).await?;
    tx.commit_now().await
}

/// `target`: resident `:resident` when the caller may see them, with `normal` telling whether
/// without an emergency opening. Statements about one resident act on `target`, so that what
/// they read or write, and its trace, exists only for a visible resident.
///
/// The rule is checked once: `candidate` (kept apart by `MATERIALIZED`) holds both answers for
/// the one resident, and `target` keeps them when one is yes. (Written as a condition on the
/// row and a column of it, the check of the stays was made twice.)
pub(crate) fn target() -> String {
    format!(
        "candidate AS MATERIALIZED (SELECT r.tenant_id, r.id, r.record_status, {visible} AS normal, {urgent} AS urgent \
           FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = :resident), \
         target AS (SELECT tenant_id, id, record_status, normal FROM candidate WHERE normal OR urgent)",
        visible = visible("r"),
        urgent = urgent("r")
    )
}

/// `seen`, a lateral item for a list of residents `r` (after `r` in the `FROM` list): whether
/// `who` sees each (`seen.normal`, through a stay) or opened it in an emergency
/// (`seen.urgent`), checked once per resident — `OFFSET 0` keeps the planner from copying the
/// check into every condition and column that names it. Filter with `(seen.normal OR
/// seen.urgent)`.
pub(crate) fn seen(r: &str) -> String {
    format!(
        "LATERAL (SELECT {visible} AS normal, {urgent} AS urgent OFFSET 0) seen",
        visible = visible(r),
        urgent = urgent(r)
    )
}
