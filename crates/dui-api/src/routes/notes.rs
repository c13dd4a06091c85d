//! Transmissions: writing, amending and flagging notes, a resident's notes, and the hand-over
//! feed every shift starts with.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dui_app::notes::{self, AmendNote, Handover, WriteNote};
use dui_domain::handover::HandoverEvent;
use dui_domain::pagination::PageRequest;
use dui_domain::record::NoteScope;
use dui_domain::transmission::{FeedNote, IncidentType, Note, NoteContent, NoteDraft, NoteKind, Severity};
use dui_domain::{EstablishmentId, NoteId, ResidentId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::pagination::{ListParams, PageBody, encode_cursor};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type NotePage = PageBody<Note>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// Default: `targeted` when a `target` is given, `incident` when an `incident_type` is,
    /// `free` otherwise.
    pub kind: Option<NoteKind>,
    /// Who may read it (default: the whole team).
    pub scope: Option<NoteScope>,
    /// The note, for every kind but a targeted transmission.
    pub text: Option<String>,
    /// Cible, for a targeted transmission ("chute", "douleur").
    pub target: Option<String>,
    /// Données.
    pub data: Option<String>,
    /// Actions.
    pub actions: Option<String>,
    /// Résultats.
    pub results: Option<String>,
    /// For an incident.
    pub incident_type: Option<IncidentType>,
    /// For an incident.
    pub severity: Option<Severity>,
    /// When what the note reports happened (default: now).
    pub facts_at: Option<DateTime<Utc>>,
    /// The objective of the projet personnalisé in force it reports on.
    pub objective_id: Option<uuid::Uuid>,
}

impl CreateNote {
    fn into_draft(self) -> NoteDraft {
        NoteDraft {
            kind: self.kind,
            scope: self.scope,
            content: NoteContent {
                text: self.text,
                target: self.target,
                data: self.data,
                actions: self.actions,
                results: self.results,
            },
            incident_type: self.incident_type,
            severity: self.severity,
            facts_at: self.facts_at,
            objective_id: self.objective_id,
        }
    }
}

/// Writes a professional note about a resident — a transmission ciblée (target and Données /
/// Actions / Résultats), an observation, an incident or a free note — in a confidentiality scope
/// the writer reads. It is filed under the establishment and unit of the person's stay.
#[utoipa::path(post, path = "/residents/{resident_id}/notes", tag = "notes",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateNote,
    responses((status = 201, body = Note), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_note(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident_id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateNote>,
) -> Result<Response, ApiError> {
    let command = WriteNote { resident: resident_id, draft: body.into_draft(), key };
    Ok(created(notes::write(state.app(), &scope, command).await?))
}

/// A resident's notes you may read, newest first, amendments and notes entered in error
/// included (flagged).
#[utoipa::path(get, path = "/residents/{resident_id}/notes", tag = "notes",
    params(("resident_id" = ResidentId, Path), ListParams),
    responses((status = 200, body = PageBody<Note>), (status = 404, body = Problem)))]
pub async fn list_notes(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident_id): Path<ResidentId>,
    Query(params): Query<ListParams>,
) -> Result<Json<NotePage>, ApiError> {
    let page: PageRequest = params.page()?;
    Ok(Json(notes::list(state.app(), &scope, resident_id, page).await?.into()))
}

/// Corrects a note: the amendment is a new note of the same kind and scope that points to the
/// original (`amends`); the original stays readable and shows its latest amendment
/// (`amended_by`). Only the author amends a note.
#[utoipa::path(post, path = "/residents/{resident_id}/notes/{note_id}/amendments", tag = "notes",
    params(("resident_id" = ResidentId, Path), ("note_id" = NoteId, Path), IdempotencyHeader), request_body = CreateNote,
    responses((status = 201, body = Note), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn amend_note(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident_id, note_id)): Path<(ResidentId, NoteId)>,
    CreateRequest { body, key }: CreateRequest<CreateNote>,
) -> Result<Response, ApiError> {
    let command = AmendNote { resident: resident_id, note: note_id, draft: body.into_draft(), key };
    Ok(created(notes::amend(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagNoteError {
    /// Why (wrong person, written by mistake...).
    pub reason: String,
}

/// Flags a note as entered in error (written about the wrong person, or by mistake). The note
/// is never deleted: it stays, flagged, with who flagged it, when and why. By its author, or a
/// director of its establishment.
#[utoipa::path(post, path = "/residents/{resident_id}/notes/{note_id}/entered-in-error", tag = "notes",
    params(("resident_id" = ResidentId, Path), ("note_id" = NoteId, Path)), request_body = FlagNoteError,
    responses((status = 200, body = Note), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_note_error(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident_id, note_id)): Path<(ResidentId, NoteId)>,
    Json(body): Json<FlagNoteError>,
) -> Result<Json<Note>, ApiError> {
    Ok(Json(notes::flag_error(state.app(), &scope, resident_id, note_id, &body.reason).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HandoverParams {
    /// One unit of the establishment (default: the whole establishment).
    pub unit_id: Option<UnitId>,
    /// Notes written from this time on (default: the start of the previous shift, in the
    /// establishment's time zone).
    pub since: Option<DateTime<Utc>>,
    /// Only the notes written after your read marker on this feed (`true`); without a marker,
    /// the previous shift's.
    #[serde(default)]
    pub unread: bool,
    #[param(pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of the hand-over feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverBody {
    /// Notes written from this time on.
    pub since: DateTime<Utc>,
    /// Your marker on this feed: notes after it are `unread`.
    pub read_up_to: Option<NoteId>,
    /// The notes, an amended note once (its latest text, `amends` naming the original); a note
    /// entered in error only to those who had read it (with `entered_in_error`).
    pub items: Vec<FeedNote>,
    /// Older notes of the same period.
    pub next_cursor: Option<String>,
    /// What else happened in the period, newest first, each linked to its source: tasks refused
    /// or not done, measurements outside their usual range, admissions and discharges... (with
    /// the first page only; at most 200).
    pub events: Vec<HandoverEvent>,
}

/// The hand-over feed: the notes of a unit or an establishment since a time (by default, the
/// start of the previous shift), newest first, with the people's names; only the notes you may
/// read, about people you may see. Each person shown is recorded as read.
#[utoipa::path(get, path = "/establishments/{establishment_id}/handover", tag = "notes",
    params(("establishment_id" = EstablishmentId, Path), HandoverParams),
    responses((status = 200, body = HandoverBody), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn handover(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<HandoverParams>,
) -> Result<Json<HandoverBody>, ApiError> {
    let page = ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    let query = Handover { establishment, unit: params.unit_id, since: params.since, unread: params.unread, page };
    let result = notes::handover(state.app(), &scope, query).await?;
    Ok(Json(HandoverBody {
        since: result.since,
        read_up_to: result.read_up_to,
        items: result.page.items,
        next_cursor: result.page.next_after.map(encode_cursor),
        events: result.events,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadMarker {
    /// The unit's feed (default: the whole establishment's).
    pub unit_id: Option<UnitId>,
    /// The newest note read.
    pub up_to: NoteId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadMarkerBody {
    pub read_up_to: NoteId,
}

/// Moves your read marker on a feed (never backwards): notes after it are `unread`, and
/// `?unread=true` starts from it.
#[utoipa::path(put, path = "/establishments/{establishment_id}/handover/read-marker", tag = "notes",
    params(("establishment_id" = EstablishmentId, Path)), request_body = ReadMarker,
    responses((status = 200, body = ReadMarkerBody), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_read_marker(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Json(body): Json<ReadMarker>,
) -> Result<Json<ReadMarkerBody>, ApiError> {
    let read_up_to = notes::set_read_marker(state.app(), &scope, establishment, body.unit_id, body.up_to).await?;
    Ok(Json(ReadMarkerBody { read_up_to }))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_notes, create_note))
        .routes(routes!(amend_note))
        .routes(routes!(flag_note_error))
        .routes(routes!(handover))
        .routes(routes!(set_read_marker))
}
