//! What the audit trail records: the closed set of actions, each with the kind of resource it
//! names. Stored as text (`resident.read`), read back with [`AuditAction::parse`].

/// Whether what was asked happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
        }
    }
}

macro_rules! actions {
    ($($variant:ident = $text:literal on $resource:literal, $doc:literal;)+) => {
        /// An action recorded in the audit trail.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AuditAction {
            $(#[doc = $doc] $variant,)+
        }

        impl AuditAction {
            /// Every action, in the order of the enumeration.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            /// The action as stored (`resident.read`).
            pub fn as_str(self) -> &'static str {
                match self { $(AuditAction::$variant => $text,)+ }
            }

            /// The kind of resource the event's `resource_id` designates.
            pub fn resource_type(self) -> &'static str {
                match self { $(AuditAction::$variant => $resource,)+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(AuditAction::$variant),)+ _ => None }
            }
        }
    };
}

actions! {
    // The record.
    ResidentCreate = "resident.create" on "resident", "A record created, with its first stay.";
    ResidentRead = "resident.read" on "resident", "A record read.";
    ResidentList = "resident.list" on "resident", "A record shown in a list (one event per record).";
    ResidentSearch = "resident.search" on "resident", "A record found by a search (one event per record).";
    ResidentSummary = "resident.summary" on "resident", "The first screen of a record read.";
    ResidentTimeline = "resident.timeline" on "resident", "A record's timeline read.";
    ResidentDuplicates = "resident.duplicates" on "resident", "The possible duplicates of a record looked for.";
    ResidentUpdate = "resident.update" on "resident", "Identity traits corrected.";
    ResidentMerge = "resident.merge" on "resident", "A duplicate merged (one event on each record).";
    ResidentUnmerge = "resident.unmerge" on "resident", "A mistaken merge undone (one event on each record).";
    ResidentExport = "resident.export" on "resident", "A whole record exported (right of access).";
    StayRead = "stay.read" on "resident", "A record's stays read.";
    StayCreate = "stay.create" on "stay", "An admission.";
    StayUpdate = "stay.update" on "stay", "A discharge or a move.";
    AssignmentCreate = "assignment.create" on "user", "A professional assigned to the person.";
    ContactRead = "contact.read" on "resident", "A record's contacts read.";
    ContactCreate = "contact.create" on "contact", "A contact added.";
    ContactUpdate = "contact.update" on "contact", "A contact changed or ended.";
    ConsentRead = "consent.read" on "resident", "A record's consents read.";
    ConsentCreate = "consent.create" on "consent", "A consent or an opposition recorded.";
    ConsentRevoke = "consent.revoke" on "consent", "A consent revoked.";
    IdentityReadHistory = "identity.read_history" on "resident", "The identity-status history read.";
    IdentityChangeStatus = "identity.change_status" on "identity_event", "The identity status changed.";
    IdentityInsiRetrieve = "identity.insi_retrieve" on "insi_call", "The INS searched for with the INSi teleservice (whatever it answered).";
    IdentityInsiConfirm = "identity.insi_confirm" on "identity_event", "The identity the INSi teleservice found confirmed: the INS and its traits on the record.";
    IdentityInsiHistory = "identity.insi_history" on "resident", "The calls made to the INSi teleservice about a record read.";
    IdentityInsiVerify = "identity.insi_verify" on "insi_call", "A record's INS verified with its traits through the INSi teleservice; a mismatch withdraws the INS and lowers the identity.";
    IdentityVigilanceList = "identity.vigilance_list" on "resident", "The identity-vigilance list read: alerts, probable duplicates, identities waiting for a check.";
    EmergencyAccessOpen = "emergency_access.open" on "emergency_access", "A record opened in an emergency.";
    EmergencyAccessList = "emergency_access.list" on "emergency_access", "An emergency opening listed for review.";
    EmergencyAccessReview = "emergency_access.review" on "emergency_access", "An emergency opening reviewed.";
    // Care.
    NoteCreate = "note.create" on "note", "A note written.";
    NoteAmend = "note.amend" on "note", "A note amended.";
    NoteRead = "note.read" on "resident", "A record's notes read.";
    NoteFlagError = "note.flag_error" on "note", "A note flagged as entered in error.";
    NoteImport = "note.import" on "resident", "Notes of a record imported in bulk.";
    HandoverRead = "handover.read" on "resident", "A record's notes shown in a hand-over feed.";
    AssessmentCreate = "assessment.create" on "assessment", "An assessment recorded.";
    AssessmentUpdate = "assessment.update" on "assessment", "A draft assessment changed.";
    AssessmentValidate = "assessment.validate" on "assessment", "An assessment validated.";
    AssessmentRead = "assessment.read" on "resident", "A record's assessments read.";
    AssessmentGirHistory = "assessment.gir_history" on "resident", "A record's GIR history read.";
    CarePlanCreate = "care_plan.create" on "care_plan_version", "A projet personnalisé started.";
    CarePlanRead = "care_plan.read" on "resident", "A record's projet personnalisé read.";
    CarePlanPrint = "care_plan.print" on "resident", "A version of the projet personnalisé printed (PDF).";
    CarePlanUpdate = "care_plan.update" on "care_plan_version", "A draft changed.";
    CarePlanActivate = "care_plan.activate" on "care_plan_version", "A version put in force.";
    CarePlanValidate = "care_plan.validate" on "care_plan_version", "The person's validation recorded.";
    CarePlanClose = "care_plan.close" on "care_plan_version", "The plan in force closed.";
    CarePlanReview = "care_plan.review" on "care_plan_version", "The plan reviewed (its next version).";
    CarePlanDueList = "care_plan.due_list" on "resident", "A plan listed as due for review.";
    CareTaskList = "care_task.list" on "resident", "A person's tasks listed in a day's plan.";
    CareTaskRecord = "care_task.record" on "care_task_record", "A task recorded.";
    CareTaskAmend = "care_task.amend" on "care_task_record", "A task record amended.";
    CareTaskRead = "care_task.read" on "resident", "A record's task records read.";
    MeasurementCreate = "measurement.create" on "measurement", "A measurement recorded.";
    MeasurementRead = "measurement.read" on "resident", "A record's measurements read.";
    MeasurementFlagError = "measurement.flag_error" on "measurement", "A measurement flagged as entered in error.";
    WoundCreate = "wound.create" on "wound", "A wound or pressure ulcer recorded.";
    WoundRead = "wound.read" on "resident", "A record's wounds read (assessments and protocols with them).";
    WoundAssess = "wound.assess" on "wound_assessment", "A wound assessed (size, stage, wound bed...).";
    WoundProtocol = "wound.protocol" on "wound_protocol", "A wound's care protocol set (a new version).";
    WoundClose = "wound.close" on "wound", "A wound closed (healed, or why it is no longer followed).";
    WoundList = "wound.list" on "resident", "A person's pressure ulcer listed for their establishment.";
    DietCreate = "diet.create" on "diet_prescription", "A person's diet and textures set (a new version).";
    DietRead = "diet.read" on "resident", "A record's diets and textures read.";
    NutritionWatchStart = "nutrition_watch.start" on "nutrition_watch", "A food and fluid watch started.";
    NutritionWatchEnd = "nutrition_watch.end" on "nutrition_watch", "A food and fluid watch ended.";
    NutritionWatchRead = "nutrition_watch.read" on "resident", "A record's food and fluid watches read.";
    IntakeCreate = "intake.create" on "intake", "What the person ate and drank at a meal recorded.";
    IntakeRead = "intake.read" on "resident", "A record's food and fluid intake read (days, totals, alerts).";
    NutritionRead = "nutrition.read" on "resident", "A record's nutrition summary read.";
    AbsenceCreate = "absence.create" on "absence", "An absence recorded (a departure, or one planned).";
    AbsenceRead = "absence.read" on "resident", "A record's absences read.";
    AbsenceReturn = "absence.return" on "absence", "The return from an absence recorded.";
    AbsenceCancel = "absence.cancel" on "absence", "An absence cancelled (it did not take place).";
    AbsenceDayList = "absence.day_list" on "resident", "A person listed among those away or with an appointment on a day of an establishment.";
    AppointmentCreate = "appointment.create" on "appointment", "An appointment recorded.";
    AppointmentRead = "appointment.read" on "resident", "A record's appointments read.";
    AppointmentDone = "appointment.done" on "appointment", "An appointment marked as having taken place.";
    AppointmentCancel = "appointment.cancel" on "appointment", "An appointment cancelled.";
    RestraintPrescribe = "restraint.prescribe" on "restraint", "A restraint prescribed, or an external prescription recorded.";
    RestraintRead = "restraint.read" on "resident", "A record's restraints and their reassessments read.";
    RestraintReassess = "restraint.reassess" on "restraint_reassessment", "A restraint reassessed.";
    RestraintStop = "restraint.stop" on "restraint", "A restraint ended: stopped, stopped at a reassessment, or replaced by a new prescription.";
    RestraintOverdueList = "restraint.overdue_list" on "resident", "A person's restraint listed as overdue for reassessment or expired.";
    AlertRead = "alert.read" on "resident", "A record's alerts and allergies read.";
    AllergyCreate = "allergy.create" on "allergy", "An allergy or intolerance recorded.";
    AllergyResolve = "allergy.resolve" on "allergy", "An allergy resolved.";
    AllergyFlagError = "allergy.flag_error" on "allergy", "An allergy flagged as entered in error.";
    AlertCreate = "alert.create" on "alert", "A major alert recorded.";
    AlertEnd = "alert.end" on "alert", "A major alert ended.";
    AlertFlagError = "alert.flag_error" on "alert", "A major alert flagged as entered in error.";
    FallCreate = "fall.create" on "fall", "A fall recorded.";
    FallAmend = "fall.amend" on "fall", "A fall's record corrected (a record that amends the first).";
    FallFlagError = "fall.flag_error" on "fall", "A fall flagged as entered in error.";
    FallRead = "fall.read" on "resident", "A record's falls register read.";
    FallList = "fall.list" on "resident", "A person's falls shown in an establishment's falls register (one event per person).";
    MedicalProblemCreate = "medical_problem.create" on "medical_problem", "A medical history entry or an active problem recorded.";
    MedicalProblemResolve = "medical_problem.resolve" on "medical_problem", "An active problem resolved.";
    MedicalProblemFlagError = "medical_problem.flag_error" on "medical_problem", "A medical history entry or problem flagged as entered in error.";
    VaccinationCreate = "vaccination.create" on "vaccination", "A vaccination recorded.";
    VaccinationFlagError = "vaccination.flag_error" on "vaccination", "A vaccination flagged as entered in error.";
    PhysicianCreate = "physician.create" on "physician", "An attending physician or a specialist of the person recorded.";
    PhysicianEnd = "physician.end" on "physician", "A physician of the person no longer in charge.";
    PhysicianFlagError = "physician.flag_error" on "physician", "A physician recorded by mistake flagged as entered in error.";
    MedicalRead = "medical.read" on "resident", "A record's medical file read.";
    DocumentCreate = "document.create" on "document", "A document attached to a record.";
    DocumentFlagError = "document.flag_error" on "document", "A document flagged as entered in error.";
    DocumentRead = "document.read" on "resident", "A record's documents listed, or one document's metadata read.";
    DocumentDownload = "document.download" on "document", "A document's content read (downloaded).";
    PrescriptionCreate = "prescription.create" on "prescription", "A prescription recorded (its first version).";
    PrescriptionRevise = "prescription.revise" on "prescription", "A new version of a prescription, superseding the one in force.";
    PrescriptionStop = "prescription.stop" on "prescription", "A prescription stopped, with a reason.";
    PrescriptionList = "prescription.list" on "resident", "A record's prescriptions listed.";
    PrescriptionRead = "prescription.read" on "resident", "A prescription read with its versions.";
    AdministrationCreate = "administration.create" on "administration", "A dose recorded: given, partly given, refused or not given.";
    AdministrationFlagError = "administration.flag_error" on "administration", "A dose's record flagged as entered in error.";
    AdministrationPlan = "administration.plan" on "resident", "A person's doses of the day listed in a round's plan.";
    AdministrationList = "administration.list" on "resident", "A record's doses given, refused or not given listed.";
    // Exchanges.
    OutboxEnqueue = "outbox.enqueue" on "outbox_message", "A message put in the outbox.";
    OutboxRead = "outbox.read" on "resident", "A record's outgoing messages read.";
    OutboxList = "outbox.list" on "outbox_message", "An outgoing message listed.";
    OutboxView = "outbox.view" on "outbox_message", "An outgoing message and its attempts read.";
    OutboxRetry = "outbox.retry" on "outbox_message", "A failed message sent again.";
    OutboxCancel = "outbox.cancel" on "outbox_message", "A message cancelled.";
    OutboxSend = "outbox.send" on "outbox_message", "A message taken by its recipient (sent by the system).";
    // The trail itself.
    AuditAccessReport = "audit.access_report" on "resident", "Who accessed a record, read.";
    AuditExport = "audit.export" on "tenant", "The tenant's trail exported.";
    // Administration.
    TenantImport = "tenant.import" on "tenant", "The tenant's data imported from another installation.";
    TenantExport = "tenant.export" on "tenant", "The tenant's whole data exported (reversibility).";
    EstablishmentCreate = "establishment.create" on "establishment", "An establishment created.";
    EstablishmentUpdate = "establishment.update" on "establishment", "An establishment changed.";
    UnitCreate = "unit.create" on "unit", "A unit created.";
    UnitUpdate = "unit.update" on "unit", "A unit changed.";
    SettingsUpdate = "settings.update" on "tenant", "The tenant's settings of care changed.";
    UserCreate = "user.create" on "user", "A user created.";
    UserUpdate = "user.update" on "user", "A user changed or disabled.";
    MembershipCreate = "membership.create" on "membership", "A role given.";
    MembershipEnd = "membership.end" on "membership", "A role ended.";
    ExternalIdentityLink = "external_identity.link" on "user", "A user linked to an external identity.";
    ExternalIdentityUnlink = "external_identity.unlink" on "user", "A user unlinked from an external identity.";
    AuthLogin = "auth.login" on "user", "A refused login of a known user.";
}

/// An action recorded in the platform operators' trail (`platform_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformAction {
    TenantCreate,
    TenantSuspend,
    TenantResume,
    TenantCreateAdmin,
    TenantImport,
    TenantExport,
    TenantShred,
    IdentityProviderCreate,
    IdentityProviderDelete,
}

impl PlatformAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformAction::TenantCreate => "tenant.create",
            PlatformAction::TenantSuspend => "tenant.suspend",
            PlatformAction::TenantResume => "tenant.resume",
            PlatformAction::TenantCreateAdmin => "tenant.create_admin",
            PlatformAction::TenantImport => "tenant.import",
            PlatformAction::TenantExport => "tenant.export",
            PlatformAction::TenantShred => "tenant.shred",
            PlatformAction::IdentityProviderCreate => "identity_provider.create",
            PlatformAction::IdentityProviderDelete => "identity_provider.delete",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_and_has_the_stored_shape() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
            let (area, verb) = action.as_str().split_once('.').unwrap();
            assert!(!area.is_empty() && !verb.is_empty());
            assert!(action.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'));
        }
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len(), "each action once");
    }
}
