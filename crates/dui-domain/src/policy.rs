//! What each role may do with the tenant's structure and accounts. Every permission decision of
//! the administrative API is made here, in one place, so it can be read and tested as a table.

use crate::ids::EstablishmentId;
use crate::people::Role;
use crate::scope::TenantScope;

/// Create establishments and change them.
pub fn can_manage_establishments(scope: &TenantScope) -> bool {
    scope.has_role(Role::TenantAdmin)
}

/// Create and change the units of `establishment`: the tenant admin, or a director of it.
pub fn can_manage_units(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    scope.has_role(Role::TenantAdmin) || scope.has_role_in(Role::Director, establishment)
}

/// See the tenant's directory of users.
pub fn can_read_users(scope: &TenantScope) -> bool {
    scope.has_role(Role::TenantAdmin) || scope.has_role(Role::Director)
}

/// Create users, change them, disable them, link them to an external identity.
pub fn can_manage_users(scope: &TenantScope) -> bool {
    scope.has_role(Role::TenantAdmin)
}

/// Give or end the membership `role` in `establishment` (`None`: tenant-wide). Directors staff
/// their own establishments, but cannot create directors, tenant admins or tenant-wide roles.
pub fn can_manage_membership(scope: &TenantScope, establishment: Option<EstablishmentId>, role: Role) -> bool {
    if scope.has_role(Role::TenantAdmin) {
        return true;
    }
    match establishment {
        Some(establishment) => {
            !matches!(role, Role::TenantAdmin | Role::Director) && scope.has_role_in(Role::Director, establishment)
        }
        None => false,
    }
}

/// Open a resident's record in `establishment` (provisional rule until stays and teams are
/// modelled: every member of the establishment, and tenant-wide roles).
pub fn can_read_residents(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    scope.establishments().includes(establishment)
}

/// Admit a resident (create the record) in `establishment`.
pub fn can_admit_residents(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    [Role::TenantAdmin, Role::Director, Role::CoordinatingPhysician, Role::Nurse, Role::AdministrativeStaff]
        .into_iter()
        .any(|role| scope.has_role_in(role, establishment))
}

/// Write professional notes about residents of `establishment`: the people who support them.
pub fn can_write_notes(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    [
        Role::Director,
        Role::CoordinatingPhysician,
        Role::Nurse,
        Role::CareAssistant,
        Role::Psychologist,
        Role::SocialWorker,
        Role::Educator,
        Role::HomeHelper,
    ]
    .into_iter()
    .any(|role| scope.has_role_in(role, establishment))
}

/// A membership's shape: the tenant admin role is tenant-wide by nature.
pub fn membership_shape(establishment: Option<EstablishmentId>, role: Role) -> Result<(), String> {
    if role == Role::TenantAdmin && establishment.is_some() {
        return Err("the tenant_admin role is tenant-wide: leave establishment_id empty".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::ids::{TenantId, UserId};
    use crate::scope::Grant;

    fn est(n: u128) -> EstablishmentId {
        EstablishmentId::from_uuid(Uuid::from_u128(n))
    }

    fn scope(grants: &[(Option<u128>, Role)]) -> TenantScope {
        TenantScope::new(
            TenantId::from_uuid(Uuid::from_u128(1)),
            UserId::from_uuid(Uuid::from_u128(2)),
            grants.iter().map(|(e, role)| Grant { establishment: e.map(est), role: *role }).collect(),
        )
    }

    #[test]
    fn permission_table() {
        let admin = scope(&[(None, Role::TenantAdmin)]);
        let director = scope(&[(Some(10), Role::Director)]);
        let nurse = scope(&[(Some(10), Role::Nurse)]);

        // (who, establishments, units of 10, units of 20, read users, manage users)
        let table = [
            ("admin", &admin, true, true, true, true, true),
            ("director", &director, false, true, false, true, false),
            ("nurse", &nurse, false, false, false, false, false),
        ];
        for (name, scope, establishments, units10, units20, read_users, manage_users) in table {
            assert_eq!(can_manage_establishments(scope), establishments, "{name}");
            assert_eq!(can_manage_units(scope, est(10)), units10, "{name}");
            assert_eq!(can_manage_units(scope, est(20)), units20, "{name}");
            assert_eq!(can_read_users(scope), read_users, "{name}");
            assert_eq!(can_manage_users(scope), manage_users, "{name}");
        }
    }

    #[test]
    fn directors_staff_their_own_establishments_only() {
        let director = scope(&[(Some(10), Role::Director)]);
        assert!(can_manage_membership(&director, Some(est(10)), Role::Nurse));
        assert!(!can_manage_membership(&director, Some(est(20)), Role::Nurse));
        assert!(!can_manage_membership(&director, Some(est(10)), Role::Director));
        assert!(!can_manage_membership(&director, Some(est(10)), Role::TenantAdmin));
        assert!(!can_manage_membership(&director, None, Role::Nurse));
        let admin = scope(&[(None, Role::TenantAdmin)]);
        assert!(can_manage_membership(&admin, None, Role::Director));
    }

    #[test]
    fn tenant_admin_is_tenant_wide() {
        assert!(membership_shape(Some(est(1)), Role::TenantAdmin).is_err());
        assert!(membership_shape(None, Role::TenantAdmin).is_ok());
        assert!(membership_shape(Some(est(1)), Role::Nurse).is_ok());
    }
}
