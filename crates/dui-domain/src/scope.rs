//! Who is asking. A request's validated identity becomes a scope, and every storage call takes the
//! scope first: a query that does not know its tenant cannot be written.

use crate::ids::{EstablishmentId, OperatorId, TenantId, UserId};
use crate::people::Role;

/// One role of a user, in one establishment or (`establishment: None`) in the whole tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grant {
    pub establishment: Option<EstablishmentId>,
    pub role: Role,
}

/// The establishments a scope can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstablishmentVisibility {
    /// A tenant-wide membership sees every establishment of the tenant.
    All,
    /// Otherwise, only the establishments of the user's memberships.
    Only(Vec<EstablishmentId>),
}

impl EstablishmentVisibility {
    pub fn includes(&self, establishment: EstablishmentId) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(&establishment),
        }
    }
}

/// Where a request comes from, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub client_address: Option<core::net::IpAddr>,
}

/// The residents a scope reaches through its memberships (see [`TenantScope::resident_access`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResidentAccess {
    /// Every establishment of the tenant, fully.
    pub all: bool,
    /// These establishments, fully.
    pub full: Vec<EstablishmentId>,
    /// Home help: the people of these establishments (or of all, with `assigned_all`) the user
    /// is assigned to.
    pub assigned_all: bool,
    pub assigned: Vec<EstablishmentId>,
}

impl ResidentAccess {
    /// Reaches some of the people of `establishment` (fully, or those assigned).
    pub fn reaches(&self, establishment: EstablishmentId) -> bool {
        self.all || self.assigned_all || self.full.contains(&establishment) || self.assigned.contains(&establishment)
    }
}

/// An authenticated user of a tenant, with the roles they currently hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: TenantId,
    user_id: UserId,
    grants: Vec<Grant>,
    request: RequestContext,
}

impl TenantScope {
    pub fn new(tenant_id: TenantId, user_id: UserId, grants: Vec<Grant>) -> Self {
        Self { tenant_id, user_id, grants, request: RequestContext::default() }
    }

    /// The same scope, tagged with where its request comes from.
    pub fn with_request(mut self, request: RequestContext) -> Self {
        self.request = request;
        self
    }

    pub fn request(&self) -> &RequestContext {
        &self.request
    }

    /// Whether this is the console's scope (set-up code), not a user's.
    pub fn is_console(&self) -> bool {
        self.user_id.as_uuid().is_nil()
    }

    /// The scope of set-up code run at the server's console (the demo seed, `dui tenant create`):
    /// tenant-wide administration, no user. Whoever runs it already holds the database
    /// credentials; it is never built from a request.
    pub fn console(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            grants: vec![Grant { establishment: None, role: Role::TenantAdmin }],
            request: RequestContext::default(),
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Holds `role` somewhere in the tenant.
    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// Holds `role` tenant-wide.
    pub fn has_tenant_wide_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role && g.establishment.is_none())
    }

    /// Holds `role` in `establishment`, or tenant-wide.
    pub fn has_role_in(&self, role: Role, establishment: EstablishmentId) -> bool {
        self.grants.iter().any(|g| g.role == role && g.establishment.is_none_or(|e| e == establishment))
    }

    /// Which residents the user reaches: those with a current or recent stay in an
    /// establishment where the user has a role (tenant-wide roles: every establishment), except
    /// that home helpers reach only the people they are assigned to.
    pub fn resident_access(&self) -> ResidentAccess {
        let mut access = ResidentAccess::default();
        for grant in &self.grants {
            let assigned_only = grant.role == Role::HomeHelper;
            match (grant.establishment, assigned_only) {
                (None, false) => access.all = true,
                (None, true) => access.assigned_all = true,
                (Some(e), false) => access.full.push(e),
                (Some(e), true) => access.assigned.push(e),
            }
        }
        for list in [&mut access.full, &mut access.assigned] {
            list.sort();
            list.dedup();
        }
        access
    }

    pub fn establishments(&self) -> EstablishmentVisibility {
        if self.grants.iter().any(|g| g.establishment.is_none()) {
            return EstablishmentVisibility::All;
        }
        let mut ids: Vec<_> = self.grants.iter().filter_map(|g| g.establishment).collect();
        ids.sort();
        ids.dedup();
        EstablishmentVisibility::Only(ids)
    }
}

/// An authenticated platform operator. Holds no tenant: storage calls that read a tenant's data
/// cannot be given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformScope {
    operator_id: OperatorId,
}

impl PlatformScope {
    pub fn new(operator_id: OperatorId) -> Self {
        Self { operator_id }
    }

    pub fn operator_id(&self) -> OperatorId {
        self.operator_id
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn est(n: u128) -> EstablishmentId {
        EstablishmentId::from_uuid(Uuid::from_u128(n))
    }

    fn scope(grants: Vec<Grant>) -> TenantScope {
        TenantScope::new(TenantId::from_uuid(Uuid::from_u128(1)), UserId::from_uuid(Uuid::from_u128(2)), grants)
    }

    #[test]
    fn visibility_follows_memberships() {
        let nurse = scope(vec![
            Grant { establishment: Some(est(20)), role: Role::Nurse },
            Grant { establishment: Some(est(10)), role: Role::Nurse },
            Grant { establishment: Some(est(10)), role: Role::CareAssistant },
        ]);
        assert_eq!(nurse.establishments(), EstablishmentVisibility::Only(vec![est(10), est(20)]));
        assert!(nurse.has_role_in(Role::Nurse, est(20)));
        assert!(!nurse.has_role_in(Role::CareAssistant, est(20)));
        assert!(!nurse.establishments().includes(est(30)));

        let admin = scope(vec![Grant { establishment: None, role: Role::TenantAdmin }]);
        assert_eq!(admin.establishments(), EstablishmentVisibility::All);
        assert!(admin.has_role_in(Role::TenantAdmin, est(30)));
        assert!(admin.has_tenant_wide_role(Role::TenantAdmin));

        let nobody = scope(vec![]);
        assert_eq!(nobody.establishments(), EstablishmentVisibility::Only(vec![]));
    }

    #[test]
    fn home_helpers_reach_assigned_people_only() {
        let mixed = scope(vec![
            Grant { establishment: Some(est(1)), role: Role::HomeHelper },
            Grant { establishment: Some(est(2)), role: Role::Nurse },
        ]);
        let access = mixed.resident_access();
        assert_eq!((access.all, access.full, access.assigned), (false, vec![est(2)], vec![est(1)]));
        let admin = scope(vec![Grant { establishment: None, role: Role::TenantAdmin }]);
        assert!(admin.resident_access().all);
    }
}
