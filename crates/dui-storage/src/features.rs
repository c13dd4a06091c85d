//! The registry of features: every kind of record and of the tenant's data, in the order their
//! tables are exported and imported (a row after those it refers to). What spans every kind is
//! derived from here (see [`crate::feature`]).

use dui_crypto::Column;

use crate::feature::{Feature, Table, TenantExport};

/// Every feature.
pub const ALL: &[&Feature] = &[
    &crate::structure::FEATURE,
    &crate::people::FEATURE,
    &crate::settings::FEATURE,
    &crate::residents::FEATURE,
    &crate::stays::FEATURE,
    &crate::assignments::FEATURE,
    &crate::contacts::FEATURE,
    &crate::consents::FEATURE,
    &crate::insi_calls::FEATURE,
    &crate::identity::FEATURE,
    &crate::record_merges::FEATURE,
    &crate::emergency::FEATURE,
    &crate::notes::FEATURE,
    &crate::assessments::FEATURE,
    &crate::care_plans::FEATURE,
    // Before the tasks: a dressing's record names its protocol.
    &crate::wounds::FEATURE,
    &crate::care_tasks::FEATURE,
    &crate::measurements::FEATURE,
    &crate::nutrition::FEATURE,
    &crate::absences::FEATURE,
    &crate::restraints::FEATURE,
    &crate::handover::FEATURE,
    &crate::alerts::FEATURE,
    &crate::falls::FEATURE,
    &crate::medical::FEATURE,
    &crate::documents::FEATURE,
    &crate::prescriptions::FEATURE,
    &crate::administrations::FEATURE,
    &crate::outbox::FEATURE,
    &crate::audit::FEATURE,
    &crate::keys::FEATURE,
    &crate::idempotency::FEATURE,
];

/// Every table the features declare, in registry order.
pub fn tables() -> impl Iterator<Item = &'static Table> {
    ALL.iter().flat_map(|feature| feature.tables.iter())
}

/// The tables whose sealed columns the re-encryption job reseals, with those columns.
pub(crate) fn resealed() -> impl Iterator<Item = (&'static str, &'static [Column])> {
    tables().filter(|t| t.reseal && !t.sealed.is_empty()).map(|t| (t.name, t.sealed))
}

/// Every sealed column, as `table.column`.
pub fn sealed_columns() -> Vec<String> {
    tables().flat_map(|t| t.sealed.iter().map(|c| format!("{}.{}", c.table, c.column))).collect()
}

/// Columns made on import from other values (blind indexes), as `table.column`.
pub fn derived_columns() -> Vec<String> {
    tables()
        .flat_map(|t| match t.tenant_export {
            TenantExport::Rows { derived, .. } => derived.iter().map(|d| format!("{}.{}", t.name, d.column)).collect(),
            TenantExport::Omitted(_) => Vec::new(),
        })
        .collect()
}

/// The tenant tables the tenant's export leaves out, and why.
pub fn not_exported() -> Vec<(&'static str, &'static str)> {
    tables()
        .filter_map(|t| match t.tenant_export {
            TenantExport::Omitted(why) => Some((t.name, why)),
            TenantExport::Rows { .. } => None,
        })
        .collect()
}
