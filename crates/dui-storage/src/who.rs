//! Who is asking: the caller's parameters of every statement about residents, bound by the
//! transaction from its scope (the `who` common table expression; the rules that use them are
//! [`crate::access`]'s).

use std::net::IpAddr;

use dui_domain::policy::{ScopeReach, oversight_reach, scope_reach};
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The caller's parameters of every resident statement (see [`WHO_CTE`]).
#[derive(Debug, Clone)]
pub(crate) struct Who {
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

/// The `who` expression with named parameters, bound by the transaction from its caller's
/// scope (see [`Who::param`]). Statements write `WITH {WHO_CTE}, ...`.
pub(crate) const WHO_CTE: &str = "who AS (SELECT :tenant::uuid AS tenant_id, :user::uuid AS user_id, \
     :all_est::bool AS all_est, :full_est::uuid[] AS full_est, :assigned_all::bool AS assigned_all, \
     :assigned_est::uuid[] AS assigned_est, :recent_days::int AS recent_days, :care_all::bool AS care_all, \
     :care_est::uuid[] AS care_est, :medical_all::bool AS medical_all, :medical_est::uuid[] AS medical_est, \
     :social_all::bool AS social_all, :social_est::uuid[] AS social_est, :request_id::text AS request_id, \
     :client_address::inet AS client_address, :console::bool AS console, :archive_all::bool AS archive_all, \
     :archive_est::uuid[] AS archive_est)";

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

    /// Whether the caller reaches the people of every establishment (or oversees them all):
    /// otherwise, the records they see are among those of the establishments they reach.
    pub(crate) fn reaches_every_establishment(&self) -> bool {
        self.all || self.assigned_all || self.archive.all
    }

    /// Whether the caller oversees some establishment (keeps its former residents' records).
    pub(crate) fn oversees_some_establishment(&self) -> bool {
        self.archive.all || !self.archive_ids.is_empty()
    }

    /// Who reads, for the events of a read in `tenant`.
    pub(crate) fn reader(&self, tenant: Uuid) -> crate::trail::Reader {
        crate::trail::Reader {
            tenant,
            user: self.user,
            console: self.console,
            request_id: self.request_id.clone(),
            client_address: self.client,
        }
    }

    /// The value of one of [`WHO_CTE`]'s parameters (`tenant` is the transaction's own).
    pub(crate) fn param(&self, name: &str) -> Option<&(dyn ToSql + Sync)> {
        Some(match name {
            "user" => &self.user,
            "all_est" => &self.all,
            "full_est" => &self.full,
            "assigned_all" => &self.assigned_all,
            "assigned_est" => &self.assigned,
            "recent_days" => &self.recent_days,
            "care_all" => &self.care.all,
            "care_est" => &self.care_ids,
            "medical_all" => &self.medical.all,
            "medical_est" => &self.medical_ids,
            "social_all" => &self.social.all,
            "social_est" => &self.social_ids,
            "request_id" => &self.request_id,
            "client_address" => &self.client,
            "console" => &self.console,
            "archive_all" => &self.archive.all,
            "archive_est" => &self.archive_ids,
            _ => return None,
        })
    }
}

impl crate::Db {
    /// The caller's parameters of every resident statement.
    pub(crate) fn who(&self, scope: &TenantScope) -> Who {
        Who::of(scope, self.recent_stay_days)
    }
}
