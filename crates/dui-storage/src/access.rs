//! The access rule for residents' records, written once, in SQL.
//!
//! Every statement touching a resident starts with the `who` common table expression, bound to
//! the first [`WHO_PARAMS`] parameters: the tenant, the user, where they reach residents, which
//! note scopes they read where, and the request's identity for the audit trail. A resident is
//! visible ([`visible`]) when one of their stays is current or recent in an establishment the
//! user reaches (home helpers: only if assigned to the person), when the user oversees an
//! establishment where the person ever stayed (directors and tenant admins keep the records of
//! former residents: archives, requests of access), or ([`urgent`]) through an emergency opening
//! by this user that has not expired.

use std::net::IpAddr;

use dui_domain::policy::{ScopeReach, oversight_reach, scope_reach};
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The parameters `$1`..`$18` of every resident statement.
#[derive(Debug)]
pub(crate) struct Who {
    tenant: Uuid,
    user: Uuid,
    all: bool,
    full: Vec<Uuid>,
    assigned_all: bool,
    assigned: Vec<Uuid>,
    recent_days: i32,
    care: ScopeReach,
    care_ids: Vec<Uuid>,
    medical: ScopeReach,
    medical_ids: Vec<Uuid>,
    social: ScopeReach,
    social_ids: Vec<Uuid>,
    request_id: Option<String>,
    client: Option<IpAddr>,
    console: bool,
    archive: ScopeReach,
    archive_ids: Vec<Uuid>,
}

pub(crate) const WHO_PARAMS: usize = 18;

/// The `who` expression. Statements write `WITH {WHO}, ...` and continue at `$19`.
pub(crate) const WHO: &str = "who AS (SELECT $1::uuid AS tenant_id, $2::uuid AS user_id, \
     $3::bool AS all_est, $4::uuid[] AS full_est, $5::bool AS assigned_all, $6::uuid[] AS assigned_est, \
     $7::int AS recent_days, $8::bool AS care_all, $9::uuid[] AS care_est, $10::bool AS medical_all, \
     $11::uuid[] AS medical_est, $12::bool AS social_all, $13::uuid[] AS social_est, \
     $14::text AS request_id, $15::inet AS client_address, $16::bool AS console, \
     $17::bool AS archive_all, $18::uuid[] AS archive_est)";

fn ids(reach: &ScopeReach) -> Vec<Uuid> {
    reach.establishments.iter().map(|e| e.as_uuid()).collect()
}

impl Who {
    pub(crate) fn of(scope: &TenantScope, recent_days: i32) -> Self {
        let access = scope.resident_access();
        let care = scope_reach(scope, NoteScope::CareTeam);
        let medical = scope_reach(scope, NoteScope::Medical);
        let social = scope_reach(scope, NoteScope::Social);
        let archive = oversight_reach(scope);
        Self {
            tenant: scope.tenant_id().as_uuid(),
            user: scope.user_id().as_uuid(),
            all: access.all,
            full: access.full.iter().map(|e| e.as_uuid()).collect(),
            assigned_all: access.assigned_all,
            assigned: access.assigned.iter().map(|e| e.as_uuid()).collect(),
            recent_days,
            care_ids: ids(&care),
            medical_ids: ids(&medical),
            social_ids: ids(&social),
            care,
            medical,
            social,
            request_id: scope.request().request_id.clone(),
            client: scope.request().client_address,
            console: scope.is_console(),
            archive_ids: ids(&archive),
            archive,
        }
    }

    /// `$1`..`$18`, to which a statement appends its own parameters.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.tenant,
            &self.user,
            &self.all,
            &self.full,
            &self.assigned_all,
            &self.assigned,
            &self.recent_days,
            &self.care.all,
            &self.care_ids,
            &self.medical.all,
            &self.medical_ids,
            &self.social.all,
            &self.social_ids,
            &self.request_id,
            &self.client,
            &self.console,
            &self.archive.all,
            &self.archive_ids,
        ]
    }
}

/// Whether resident `r` is visible to `who` through a stay (the normal way). A merged record
/// is visible with the record it was merged into (its stays moved there).
pub(crate) fn visible(r: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = {r}.tenant_id \
           AND s.resident_id = coalesce({r}.merged_into, {r}.id) \
           AND ((who.archive_all OR s.establishment_id = ANY(who.archive_est)) \
                OR (s.admitted_on <= current_date + 366 \
                    AND (s.discharged_on IS NULL OR s.discharged_on >= current_date - who.recent_days) \
                    AND (who.all_est OR s.establishment_id = ANY(who.full_est) \
                         OR ((who.assigned_all OR s.establishment_id = ANY(who.assigned_est)) \
                             AND EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = {r}.tenant_id \
                                         AND a.resident_id = {r}.id AND a.user_id = who.user_id \
                                         AND a.starts_on <= current_date \
                                         AND (a.ends_on IS NULL OR a.ends_on >= current_date)))))))"
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

/// An `INSERT INTO audit_events` writing one event per row of `from` (which must bring `who`
/// into scope). The other arguments are SQL expressions over `from`; `action` is a constant of
/// the code, never input.
pub(crate) fn audit_insert(
    action: &str,
    outcome: &str,
    resident: &str,
    resource_type: &str,
    resource: &str,
    emergency: &str,
    from: &str,
) -> String {
    format!(
        "INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resident_id, resource_type, \
         resource_id, request_id, client_address, emergency) \
         SELECT who.tenant_id, dui_uuid_v7(), CASE WHEN who.console THEN NULL ELSE who.user_id END, \
           CASE WHEN who.console THEN 'console' ELSE 'user' END, '{action}', {outcome}, {resident}, '{resource_type}', \
           {resource}, who.request_id, who.client_address, {emergency} FROM {from}"
    )
}

/// The trace of a read of one resident's data (`$19`) through the `target` expression: a
/// success when the resident is visible, a refusal otherwise, flagged when through an
/// emergency opening.
pub(crate) fn read_trace(action: &str) -> String {
    audit_insert(
        action,
        "CASE WHEN target.id IS NULL THEN 'denied' ELSE 'success' END",
        "$19",
        "resident",
        "$19",
        "coalesce(NOT target.normal, false)",
        "who LEFT JOIN target ON true",
    )
}
