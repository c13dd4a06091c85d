//! What each role may do with the tenant's structure and accounts. Every permission decision of
//! the administrative API is made here, in one place, so it can be read and tested as a table.

use crate::ids::EstablishmentId;
use crate::people::Role;
use crate::record::NoteScope;
use crate::scope::TenantScope;

/// Create establishments and change them.
pub fn can_manage_establishments(scope: &TenantScope) -> bool {
    scope.has_role(Role::TenantAdmin)
}

/// Change the tenant's settings of care: the tenant admin.
pub fn can_manage_settings(scope: &TenantScope) -> bool {
    scope.has_role(Role::TenantAdmin)
}

/// Validate an AGGIR assessment, which fixes the person's GIR: a holder, in one of
/// `establishments`, of one of the roles the tenant's settings name (`validators`; by default the
/// coordinating physician), not every professional who validates care.
pub fn can_validate_gir(scope: &TenantScope, establishments: &[EstablishmentId], validators: &[Role]) -> bool {
    holds_any(scope, validators, establishments)
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

/// Who may read which notes, by role. One table, read by the rules below and by storage.
///
/// | role | whole team | care team | medical | social |
/// |---|---|---|---|---|
/// | tenant admin | ✓ | | | |
/// | director | ✓ | | | ✓ |
/// | coordinating physician | ✓ | ✓ | ✓ | |
/// | nurse | ✓ | ✓ | ✓ | |
/// | care assistant | ✓ | ✓ | | |
/// | psychologist | ✓ | ✓ | | ✓ |
/// | social worker | ✓ | | | ✓ |
/// | educator | ✓ | ✓ | | ✓ |
/// | home helper | ✓ | | | |
/// | administrative staff | ✓ | | | |
/// | identity vigilance | ✓ | | | |
pub fn note_scopes(role: Role) -> &'static [NoteScope] {
    use NoteScope::*;
    match role {
        Role::TenantAdmin | Role::HomeHelper | Role::AdministrativeStaff | Role::IdentityVigilance => &[WholeTeam],
        // The secret partagé: care-team notes are for those who give care. A director reads
        // them only through a care role of their own.
        Role::Director | Role::SocialWorker => &[WholeTeam, Social],
        Role::Psychologist | Role::Educator => &[WholeTeam, CareTeam, Social],
        Role::CoordinatingPhysician | Role::Nurse => &[WholeTeam, CareTeam, Medical],
        Role::CareAssistant => &[WholeTeam, CareTeam],
    }
}

/// For one note scope, where the user may read it: everywhere, or in these establishments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeReach {
    pub all: bool,
    pub establishments: Vec<EstablishmentId>,
}

/// Where the user may read notes of `note_scope` (the roles held there grant it).
pub fn scope_reach(scope: &TenantScope, note_scope: NoteScope) -> ScopeReach {
    reach_of(scope, |role| note_scopes(role).contains(&note_scope))
}

/// Where the caller holds a role that `grants`: everywhere (a tenant-wide grant), or in these
/// establishments.
fn reach_of(scope: &TenantScope, grants: impl Fn(Role) -> bool) -> ScopeReach {
    let mut reach = ScopeReach::default();
    for grant in scope.grants().iter().filter(|g| grants(g.role)) {
        match grant.establishment {
            None => reach.all = true,
            Some(e) => reach.establishments.push(e),
        }
    }
    reach.establishments.sort();
    reach.establishments.dedup();
    reach
}

/// Write a note of `note_scope` about a resident supported in `establishments`: a role there
/// that writes notes at all (the people supporting the person) and reads that scope.
pub fn can_write_note(scope: &TenantScope, establishments: &[EstablishmentId], note_scope: NoteScope) -> bool {
    const WRITERS: [Role; 8] = [
        Role::Director,
        Role::CoordinatingPhysician,
        Role::Nurse,
        Role::CareAssistant,
        Role::Psychologist,
        Role::SocialWorker,
        Role::Educator,
        Role::HomeHelper,
    ];
    scope.grants().iter().any(|g| {
        WRITERS.contains(&g.role)
            && note_scopes(g.role).contains(&note_scope)
            && g.establishment.is_none_or(|e| establishments.contains(&e))
    })
}

/// Holds one of `roles` in one of `establishments` (or tenant-wide).
fn holds_any(scope: &TenantScope, roles: &[Role], establishments: &[EstablishmentId]) -> bool {
    scope
        .grants()
        .iter()
        .any(|g| roles.contains(&g.role) && g.establishment.is_none_or(|e| establishments.contains(&e)))
}

/// Admit a resident in `establishment`: create the record, or a new stay.
pub fn can_admit_residents(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    holds_any(
        scope,
        &[Role::TenantAdmin, Role::Director, Role::CoordinatingPhysician, Role::Nurse, Role::AdministrativeStaff],
        &[establishment],
    )
}

/// Manage a resident's record (stays, contacts, consents, identity) where the resident is
/// supported.
pub fn can_manage_record(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(
        scope,
        &[
            Role::TenantAdmin,
            Role::Director,
            Role::CoordinatingPhysician,
            Role::Nurse,
            Role::SocialWorker,
            Role::Educator,
            Role::Psychologist,
            Role::AdministrativeStaff,
        ],
        establishments,
    )
}

/// Change the identity status (identitovigilance): staff who check identity documents and query
/// the INSi service.
pub fn can_manage_identity(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(
        scope,
        &[
            Role::TenantAdmin,
            Role::Director,
            Role::CoordinatingPhysician,
            Role::Nurse,
            Role::AdministrativeStaff,
            Role::IdentityVigilance,
        ],
        establishments,
    )
}

/// Read the tenant's identity-vigilance list (alerts, probable duplicates, identities waiting
/// for a check): the identity-vigilance referent, the tenant's administrators and directors
/// (each sees the records they reach).
pub fn can_read_identity_vigilance(scope: &TenantScope) -> bool {
    scope.has_role(Role::IdentityVigilance) || scope.has_role(Role::TenantAdmin) || scope.has_role(Role::Director)
}

/// Merge two records found to be the same person: the identity-vigilance referent alone (a
/// merge moves a person's whole record; RNIV), where both records are supported.
pub fn can_merge_records(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(scope, &[Role::IdentityVigilance], establishments)
}

/// Record needs assessments (drafts, corrections) about a person supported in
/// `establishments`: the care and support professionals there.
pub fn can_assess(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(
        scope,
        &[
            Role::Director,
            Role::CoordinatingPhysician,
            Role::Nurse,
            Role::CareAssistant,
            Role::Psychologist,
            Role::SocialWorker,
            Role::Educator,
        ],
        establishments,
    )
}

/// Validate an assessment, after which it cannot change; draw up, activate and close a
/// projet personnalisé: professionals with the responsibility for it (not care assistants or
/// home helpers, who contribute).
pub fn can_validate_care(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(
        scope,
        &[
            Role::Director,
            Role::CoordinatingPhysician,
            Role::Nurse,
            Role::Psychologist,
            Role::SocialWorker,
            Role::Educator,
        ],
        establishments,
    )
}

/// Read the care indicators of `establishment` (its open pressure ulcers, counted): those who read
/// the care team's data there, and its director (the counts, not the people: the director
/// answers for the quality of care). Tenant administrators administer accounts and structure,
/// as for the falls register: they do not read them.
pub fn can_read_care_indicators(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    let care = scope_reach(scope, NoteScope::CareTeam);
    let directs = reach_of(scope, |role| role == Role::Director);
    [care, directs].iter().any(|reach| reach.all || reach.establishments.contains(&establishment))
}

/// Record care data about a person supported in `establishments` — measurements, alerts and
/// allergies, falls, absences and appointments, wounds, diets, food and fluid watches — and
/// correct it: those who assess there and read the care team's notes (not a director as such,
/// nor a social worker or a home helper: the secret partagé keeps care data to those who give
/// care).
pub fn can_record_care_data(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    can_assess(scope, establishments) && can_write_note(scope, establishments, NoteScope::CareTeam)
}

/// Add a document to the record of a person supported in `establishments`, or flag one as
/// entered in error: those who record care data there, whatever the document's kind (the
/// directives anticipées and the designation of the personne de confiance included: the team
/// that cares for the person keeps their papers).
pub fn can_add_document(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    can_record_care_data(scope, establishments)
}

/// Prescribe a restraint (contention) for a person supported in `establishments`: the
/// coordinating physician there, who is then the prescriber.
pub fn can_prescribe_restraint(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(scope, &[Role::CoordinatingPhysician], establishments)
}

/// Record an external physician's prescription of a restraint, reassess a restraint, stop one:
/// the nurses and the coordinating physician there.
pub fn can_reassess_restraint(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(scope, &[Role::CoordinatingPhysician, Role::Nurse], establishments)
}

/// Record an alert or an allergy of `note_scope` about a person supported in `establishments`:
/// who records care data and reads that scope (a medical alert: the physician and the nurses).
pub fn can_record_alert(scope: &TenantScope, establishments: &[EstablishmentId], note_scope: NoteScope) -> bool {
    can_record_care_data(scope, establishments) && can_write_note(scope, establishments, note_scope)
}

/// Record or change the medical file (history, problems, vaccinations) of a person supported in
/// `establishments`: the health professionals who give care there — those who record care data
/// and read the medical scope (the coordinating physician and the nurses).
pub fn can_record_medical(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    can_record_alert(scope, establishments, NoteScope::Medical)
}

/// Which act the caller's records of doses are for a person supported in `establishments`: the
/// administration of the nurses and the coordinating physician there; the help with taking of
/// the care assistants (aides-soignants, AES), who give prepared drugs by the routes without
/// difficulty; none for the others.
pub fn administration_act(
    scope: &TenantScope,
    establishments: &[EstablishmentId],
) -> Option<crate::administration::Act> {
    if holds_any(scope, &[Role::CoordinatingPhysician, Role::Nurse], establishments) {
        Some(crate::administration::Act::Administration)
    } else if holds_any(scope, &[Role::CareAssistant], establishments) {
        Some(crate::administration::Act::HelpWithTaking)
    } else {
        None
    }
}

/// Where the caller reads the falls register without what is said about each fall: as director
/// (of the establishment, or tenant-wide). The director answers for the quality of care and
/// declares serious adverse events (a fall with a fracture, a death) to the authorities, for
/// which the times, places and consequences are enough; the account of the fall and the care
/// given stay with the care team (the secret partagé). A director who also holds a care role
/// reads the register in full where that role is held. Tenant administrators administer accounts
/// and structure: they do not read it.
pub fn fall_register_oversight(scope: &TenantScope) -> ScopeReach {
    reach_of(scope, |role| role == Role::Director)
}

/// How the caller reads the falls register of `establishment`: in full with the care team there
/// (whoever reads its notes), without details as its director, or not at all.
pub fn fall_register_view(scope: &TenantScope, establishment: EstablishmentId) -> Option<crate::fall::RegisterView> {
    let care = scope_reach(scope, NoteScope::CareTeam);
    if care.all || care.establishments.contains(&establishment) {
        return Some(crate::fall::RegisterView::Full);
    }
    let oversight = fall_register_oversight(scope);
    (oversight.all || oversight.establishments.contains(&establishment))
        .then_some(crate::fall::RegisterView::WithoutDetails)
}

/// Assign home-help staff to people of `establishment`.
pub fn can_assign(scope: &TenantScope, establishment: EstablishmentId) -> bool {
    holds_any(scope, &[Role::TenantAdmin, Role::Director, Role::AdministrativeStaff], &[establishment])
}

/// Review emergency openings of records of residents supported in `establishments`, see who
/// accessed a record (GDPR access report), export a resident's whole record.
pub fn can_oversee_records(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    holds_any(scope, &[Role::TenantAdmin, Role::Director], establishments)
}

/// Where the scope oversees records (reviews emergency openings): as director there, or
/// everywhere as tenant admin or tenant-wide director.
pub fn oversight_reach(scope: &TenantScope) -> ScopeReach {
    reach_of(scope, |role| matches!(role, Role::TenantAdmin | Role::Director))
}

/// Follow, retry and cancel the messages leaving from `establishment` (`None`: from the tenant
/// as a whole): those who oversee records there ([`oversight_reach`]).
pub fn can_manage_outbox(scope: &TenantScope, establishment: Option<EstablishmentId>) -> bool {
    let reach = oversight_reach(scope);
    reach.all || establishment.is_some_and(|e| reach.establishments.contains(&e))
}

/// Load the history of a previous record system (data migration): the tenant-wide administrator.
pub fn can_import_history(scope: &TenantScope) -> bool {
    scope.has_tenant_wide_role(Role::TenantAdmin)
}

/// Export the tenant's audit trail (for its data-protection officer).
pub fn can_export_audit(scope: &TenantScope) -> bool {
    scope.has_tenant_wide_role(Role::TenantAdmin)
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
    fn care_indicators_are_for_the_care_team_and_the_director() {
        // (who, establishment 10, establishment 20)
        let table = [
            (scope(&[(None, Role::TenantAdmin)]), false, false),
            (scope(&[(None, Role::Director)]), true, true),
            (scope(&[(Some(10), Role::Director)]), true, false),
            (scope(&[(Some(10), Role::Nurse)]), true, false),
            (scope(&[(Some(10), Role::CareAssistant)]), true, false),
            (scope(&[(Some(10), Role::SocialWorker)]), false, false),
            (scope(&[(Some(10), Role::HomeHelper)]), false, false),
            (scope(&[(Some(10), Role::AdministrativeStaff)]), false, false),
        ];
        for (scope, ten, twenty) in table {
            assert_eq!(
                (can_read_care_indicators(&scope, est(10)), can_read_care_indicators(&scope, est(20))),
                (ten, twenty),
                "{:?}",
                scope.grants()
            );
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
    fn note_scopes_follow_roles_where_they_are_held() {
        let nurse_here_helper_there = scope(&[(Some(10), Role::Nurse), (Some(20), Role::HomeHelper)]);
        assert_eq!(scope_reach(&nurse_here_helper_there, NoteScope::Medical).establishments, [est(10)]);
        assert!(scope_reach(&nurse_here_helper_there, NoteScope::Social).establishments.is_empty());
        assert!(can_write_note(&nurse_here_helper_there, &[est(10)], NoteScope::Medical));
        assert!(!can_write_note(&nurse_here_helper_there, &[est(20)], NoteScope::Medical));
        assert!(can_write_note(&nurse_here_helper_there, &[est(20)], NoteScope::WholeTeam));
        let admin = scope(&[(None, Role::TenantAdmin)]);
        assert!(!can_write_note(&admin, &[est(10)], NoteScope::WholeTeam), "administrators do not write care notes");
        assert!(scope_reach(&admin, NoteScope::WholeTeam).all);
        for role in Role::ALL {
            assert!(note_scopes(*role).contains(&NoteScope::WholeTeam), "{role:?} reads whole-team notes");
        }
    }

    #[test]
    fn restraints_are_prescribed_by_physicians_and_reassessed_by_nurses() {
        // (role, record care data, prescribe, record an external prescription / reassess / stop)
        let table = [
            (Role::CoordinatingPhysician, true, true, true),
            (Role::Nurse, true, false, true),
            (Role::CareAssistant, true, false, false),
            (Role::Director, false, false, false),
            (Role::SocialWorker, false, false, false),
            (Role::HomeHelper, false, false, false),
            (Role::TenantAdmin, false, false, false),
        ];
        for (role, care, prescribe, reassess) in table {
            let here = scope(&[(Some(10), role)]);
            assert_eq!(can_record_care_data(&here, &[est(10)]), care, "{role:?}");
            assert_eq!(can_prescribe_restraint(&here, &[est(10)]), prescribe, "{role:?}");
            assert_eq!(can_reassess_restraint(&here, &[est(10)]), reassess, "{role:?}");
            assert!(!can_prescribe_restraint(&here, &[est(20)]), "{role:?} elsewhere");
        }
    }

    #[test]
    fn care_data_is_recorded_by_carers_and_the_falls_register_read_by_them_and_the_director() {
        use crate::fall::RegisterView::*;
        // (role in 10, records care data in 10, a medical alert in 10, register of 10, of 20)
        let table = [
            (Role::Nurse, true, true, Some(Full), None),
            (Role::CoordinatingPhysician, true, true, Some(Full), None),
            (Role::CareAssistant, true, false, Some(Full), None),
            (Role::Psychologist, true, false, Some(Full), None),
            (Role::Educator, true, false, Some(Full), None),
            (Role::Director, false, false, Some(WithoutDetails), None),
            (Role::SocialWorker, false, false, None, None),
            (Role::HomeHelper, false, false, None, None),
            (Role::AdministrativeStaff, false, false, None, None),
            (Role::IdentityVigilance, false, false, None, None),
        ];
        for (role, records, medical, here, there) in table {
            let scope = scope(&[(Some(10), role)]);
            assert_eq!(can_record_care_data(&scope, &[est(10)]), records, "{role:?}");
            assert!(!can_record_care_data(&scope, &[est(20)]), "{role:?} elsewhere");
            assert_eq!(can_record_alert(&scope, &[est(10)], NoteScope::Medical), medical, "{role:?}");
            assert_eq!(can_record_alert(&scope, &[est(10)], NoteScope::WholeTeam), records, "{role:?}");
            assert_eq!(fall_register_view(&scope, est(10)), here, "{role:?}");
            assert_eq!(fall_register_view(&scope, est(20)), there, "{role:?}");
        }
        let admin = scope(&[(None, Role::TenantAdmin)]);
        assert_eq!(fall_register_view(&admin, est(10)), None, "administrators do not read the register");
        let director_and_nurse = scope(&[(Some(10), Role::Director), (Some(20), Role::Nurse)]);
        assert_eq!(fall_register_view(&director_and_nurse, est(10)), Some(WithoutDetails));
        assert_eq!(fall_register_view(&director_and_nurse, est(20)), Some(Full));
        let everywhere = scope(&[(None, Role::Director)]);
        assert!(fall_register_oversight(&everywhere).all);
        assert_eq!(fall_register_view(&everywhere, est(30)), Some(WithoutDetails));
    }

    #[test]
    fn tenant_admin_is_tenant_wide() {
        assert!(membership_shape(Some(est(1)), Role::TenantAdmin).is_err());
        assert!(membership_shape(None, Role::TenantAdmin).is_ok());
        assert!(membership_shape(Some(est(1)), Role::Nurse).is_ok());
    }
}
