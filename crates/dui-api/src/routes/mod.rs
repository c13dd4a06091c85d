//! The routes, grouped by audience. Each module of the tenant API holds its handlers and says
//! which are its routes (`routes()`); naming the module below mounts them under `/api/v1`.

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod platform;
pub mod system;

/// Declares the tenant API's modules and mounts their routes, in one list.
macro_rules! tenant_api {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every route of the tenant API (paths relative to `/api/v1`).
        pub(crate) fn tenant_routes() -> OpenApiRouter<AppState> {
            OpenApiRouter::new()$(.merge($module::routes()))+
        }
    };
}

tenant_api!(
    people,
    structure,
    residents,
    instruments,
    assessments,
    care_plans,
    measurements,
    wounds,
    nutrition,
    alerts,
    drugs,
    falls,
    medical,
    documents,
    prescriptions,
    administrations,
    timeline,
    care_tasks,
    absences,
    restraints,
    notes,
    audit,
    outbox,
);
