//! Transmissions: writing, amending and flagging notes, a resident's notes, and the hand-over
//! feed every shift starts with.

use chrono::{DateTime, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy;
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::transmission::{NewNote, Note, NoteDraft};
use dui_domain::{EstablishmentId, NoteId, ResidentId, UnitId};
use dui_storage::import::ImportedNote;
use dui_storage::notes::{self, Feed, FeedStart, HandoverPage};
use dui_storage::{Mode, Reading, Tx, care_plans};

use crate::access::{acting, found, refuse};
use crate::{App, AppError, AppResult};

/// A note to write about a person.
#[derive(Debug, Clone)]
pub struct WriteNote {
    pub resident: ResidentId,
    pub draft: NoteDraft,
    pub key: Option<IdempotencyKey>,
}

/// An amendment of a note: kind and scope default to the original's and must be the same.
#[derive(Debug, Clone)]
pub struct AmendNote {
    pub resident: ResidentId,
    pub note: NoteId,
    pub draft: NoteDraft,
    pub key: Option<IdempotencyKey>,
}

/// Which notes of which feed.
#[derive(Debug, Clone)]
pub struct Handover {
    pub establishment: EstablishmentId,
    pub unit: Option<UnitId>,
    /// Notes written from this time on (default: the start of the previous shift).
    pub since: Option<DateTime<Utc>>,
    /// Only the notes after the reader's marker.
    pub unread: bool,
    pub page: PageRequest,
}

/// A note's objective must be one of the plan in force: a check, read without recording.
async fn check_objective(tx: &mut Tx<'_>, resident: ResidentId, objective: Option<uuid::Uuid>) -> AppResult<()> {
    let Some(objective) = objective else { return Ok(()) };
    if care_plans::objectives_in_force(tx, resident).await?.contains(&objective) {
        Ok(())
    } else {
        Err(AppError::invalid("objective_id", "is not an objective of the projet personnalisé in force"))
    }
}

/// Writes a professional note about a resident — a transmission ciblée, an observation, an
/// incident or a free note — in a confidentiality scope the writer reads.
pub async fn write(app: &App, scope: &TenantScope, command: WriteNote) -> AppResult<Created<Note>> {
    let new = NewNote::validate(command.draft, Utc::now())?;
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, AuditAction::NoteCreate).await?;
    if !policy::can_write_note(scope, &establishments, new.scope) {
        return Err(refuse(&mut tx, AuditAction::NoteCreate, resident, "write this kind of note").await);
    }
    check_objective(&mut tx, resident, new.objective_id).await?;
    Ok(notes::write(tx, command.key.as_ref(), resident, &new, None, AuditAction::NoteCreate).await?)
}

/// Corrects a note: a new note of the same kind and scope that points to the original, which
/// stays. Only the author amends a note, and not one entered in error.
pub async fn amend(app: &App, scope: &TenantScope, command: AmendNote) -> AppResult<Created<Note>> {
    let resident = command.resident;
    let action = AuditAction::NoteAmend;
    let mut tx = app.db().begin(scope, Mode::Write);
    let entry = notes::meta(&mut tx, resident, command.note).await;
    let original = found(&mut tx, action, resident, entry).await?;
    let draft = NoteDraft {
        kind: command.draft.kind.or(Some(original.kind)),
        scope: command.draft.scope.or(Some(original.scope)),
        ..command.draft
    };
    let new = NewNote::validate(draft, Utc::now())?;
    if new.kind != original.kind || new.scope != original.scope {
        return Err(AppError::invalid(
            if new.kind != original.kind { "kind" } else { "scope" },
            "an amendment keeps the kind and scope of the note it corrects",
        ));
    }
    if original.author_id != scope.user_id() {
        return Err(refuse(&mut tx, action, resident, "amend another professional's note").await);
    }
    if original.in_error {
        return Err(AppError::Conflict("This note was entered in error: write a new note instead.".to_owned()));
    }
    check_objective(&mut tx, resident, new.objective_id).await?;
    Ok(notes::write(tx, command.key.as_ref(), resident, &new, Some(command.note), action).await?)
}

/// Flags a note as entered in error (written about the wrong person, or by mistake), by its
/// author or a director of its establishment. The note stays, flagged, with who, when and why.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    note: NoteId,
    reason: &str,
) -> AppResult<Note> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::NoteFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let entry = notes::meta(&mut tx, resident, note).await;
    let meta = found(&mut tx, action, resident, entry).await?;
    if meta.author_id != scope.user_id() && !policy::can_oversee_records(scope, &[meta.establishment_id]) {
        return Err(refuse(&mut tx, action, resident, "flag another professional's note").await);
    }
    if meta.in_error {
        return Err(AppError::Conflict("This note is flagged as entered in error already.".to_owned()));
    }
    Ok(notes::flag_error(tx, resident, note, &reason).await?)
}

/// A resident's notes the caller may read, newest first, amendments and notes entered in error
/// included (flagged).
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId, page: PageRequest) -> AppResult<Page<Note>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(notes::list(tx, resident, page, Reading::Recorded(AuditAction::NoteRead)).await?)
}

/// The hand-over feed of a unit or an establishment: notes since a time (by default, the start
/// of the previous shift), newest first, with the people's names; only the notes the caller may
/// read, about people they may see. Each person shown is recorded as read.
pub async fn handover(app: &App, scope: &TenantScope, query: Handover) -> AppResult<HandoverPage> {
    let start = match (query.since, query.unread) {
        (Some(_), true) => return Err(AppError::invalid("unread", "cannot be combined with since")),
        (Some(at), false) if at > Utc::now() => return Err(AppError::invalid("since", "is in the future")),
        (Some(at), false) => FeedStart::Since(at),
        (None, true) => FeedStart::Unread,
        (None, false) => FeedStart::PreviousShift,
    };
    if !scope.resident_access().reaches(query.establishment) {
        return Err(AppError::NotFound);
    }
    let feed = Feed { establishment: query.establishment, unit: query.unit };
    Ok(notes::handover(app.db().begin(scope, Mode::Write), feed, start, query.page).await?)
}

/// Moves the caller's read marker on a feed (never backwards).
pub async fn set_read_marker(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    up_to: NoteId,
) -> AppResult<NoteId> {
    if !scope.resident_access().reaches(establishment) {
        return Err(AppError::NotFound);
    }
    let feed = Feed { establishment, unit };
    Ok(notes::set_read_marker(app.db().begin(scope, Mode::Write), feed, up_to).await?)
}

/// Loads notes written in a previous record system, as they were (tenant-wide administrators
/// migrating an organisation); returns how many were written. Every person, author and
/// establishment must exist in the tenant, or nothing is written.
pub async fn import(app: &App, scope: &TenantScope, history: &[ImportedNote]) -> AppResult<u64> {
    if !policy::can_import_history(scope) {
        return Err(AppError::Forbidden("only a tenant-wide administrator loads a previous record's history".into()));
    }
    Ok(dui_storage::import::import_notes(app.db().begin(scope, dui_storage::Mode::Write), history).await?)
}
