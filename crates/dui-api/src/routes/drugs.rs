//! The drug referential (national public drug database, BDPM): search and detail, the same for
//! every tenant; and a drug checked against a person's allergies.

use axum::extract::State;
use dui_app::drugs;
use dui_domain::ResidentId;
use dui_domain::drug::{AllergyCheck, DrugDetail, DrugSummary};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{Json, Path, Query};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type DrugPage = PageBody<DrugSummary>;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DrugSearchParams {
    /// A CIS (8 digits), CIP7 (7) or CIP13 (13) code, or words of the name, with or without
    /// accents ("doliprane", "amoxicilline acide clavulanique"): a name that starts with them, or
    /// has each of them as a whole word. Absent, blank or without a letter or digit: every
    /// speciality.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// The `next_cursor` of the previous page, unchanged; absent for the first page.
    #[param(pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Searches the specialities: those still listed before withdrawn ones, marketed ones first,
/// then by name.
#[utoipa::path(get, path = "/drugs", tag = "drugs", params(DrugSearchParams),
    responses((status = 200, body = PageBody<DrugSummary>), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn search_drugs(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<DrugSearchParams>,
) -> Result<Json<DrugPage>, ApiError> {
    let page = ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    Ok(Json(drugs::search(state.app(), &scope, params.q.as_deref(), page).await?.into()))
}

/// One speciality: its presentations, its composition line by line (active substances and
/// therapeutic fractions both), and its active substances as displayed (the therapeutic
/// fraction when there is one).
#[utoipa::path(get, path = "/drugs/{cis}", tag = "drugs",
    params(("cis" = String, Path, pattern = "^[0-9]{8}$", example = "60234100")),
    responses((status = 200, body = DrugDetail), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_drug(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(cis): Path<String>,
) -> Result<Json<DrugDetail>, ApiError> {
    Ok(Json(drugs::get(state.app(), &scope, &cis).await?))
}

/// Which of the person's allergies in force (those you may read) one of the drug's active
/// substances matches, by name (accents and case aside, whole words) or code. Recorded as a
/// read of the person's alerts.
#[utoipa::path(get, path = "/residents/{resident_id}/drugs/{cis}/allergy-check", tag = "drugs",
    params(("resident_id" = ResidentId, Path), ("cis" = String, Path, pattern = "^[0-9]{8}$", example = "68585615")),
    responses((status = 200, body = AllergyCheck), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn check_allergies(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, cis)): Path<(ResidentId, String)>,
) -> Result<Json<AllergyCheck>, ApiError> {
    Ok(Json(drugs::check_allergies(state.app(), &scope, resident, &cis).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(search_drugs))
        .routes(routes!(get_drug))
        .routes(routes!(check_allergies))
}
