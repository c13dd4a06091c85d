//! The drug referential, read by any professional of a tenant (it is national public data, the
//! same for every tenant, and says nothing of anyone); and a drug's active substances checked
//! against a person's allergies, read as the person's alerts are (the care team's rule, each
//! read recorded).

use dui_domain::ResidentId;
use dui_domain::alert::AlertEntry;
use dui_domain::drug::{AllergyCheck, DrugDetail, DrugQuery, DrugSummary, allergy_check, is_cis};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::scope::TenantScope;
use dui_domain::validation::ValidationErrors;
use dui_storage::Mode;
use dui_storage::drugs as store;

use crate::{App, AppError, AppResult};

/// The specialities that the text typed finds (a CIS, CIP7 or CIP13 code, or words of the
/// name, with or without accents), marketed ones first.
pub async fn search(
    app: &App,
    scope: &TenantScope,
    q: Option<&str>,
    page: PageRequest,
) -> AppResult<Page<DrugSummary>> {
    let query = DrugQuery::parse(q)?;
    Ok(store::search(app.db().begin(scope, Mode::Read), &query, page).await?)
}

fn checked_cis(cis: &str) -> AppResult<&str> {
    if is_cis(cis) { Ok(cis) } else { Err(ValidationErrors::single("cis", "must be 8 digits").into()) }
}

/// One speciality with its presentations and composition.
pub async fn get(app: &App, scope: &TenantScope, cis: &str) -> AppResult<DrugDetail> {
    let cis = checked_cis(cis)?;
    store::get(app.db().begin(scope, Mode::Read), cis).await?.ok_or(AppError::NotFound)
}

/// Checks a drug against the person's allergies in force that the caller may read (recorded as
/// a read of the person's alerts).
pub async fn check_allergies(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    cis: &str,
) -> AppResult<AllergyCheck> {
    let cis = checked_cis(cis)?;
    // The person first: one the caller may not read is absent, whatever the drug.
    let allergies: Vec<_> = crate::alerts::list(app, scope, resident, false)
        .await?
        .into_iter()
        .filter_map(|entry| match entry {
            AlertEntry::Allergy { allergy, .. } => Some(*allergy),
            AlertEntry::Alert { .. } => None,
        })
        .collect();
    let drug = store::get(app.db().begin(scope, Mode::Read), cis).await?.ok_or(AppError::NotFound)?;
    let matches = allergy_check(&drug.active_substances, &allergies);
    Ok(AllergyCheck { cis: drug.speciality.cis, active_substances: drug.active_substances, matches })
}
