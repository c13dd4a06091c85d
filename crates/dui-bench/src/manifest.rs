//! What the generator made, for the load generator: written next to the dataset.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub profile: String,
    pub seed: u64,
    pub app_url: String,
    pub tenants: Vec<TenantData>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantData {
    pub id: Uuid,
    pub finess: String,
    pub establishments: Vec<EstablishmentData>,
    /// Notes in the tenant at the end of seeding.
    pub notes: u64,
    /// Hand-over events in the tenant at the end of seeding.
    #[serde(default)]
    pub events: u64,
    /// Former residents (discharged) in the tenant.
    #[serde(default)]
    pub former: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EstablishmentData {
    pub id: Uuid,
    pub unit: Uuid,
    pub residents: Vec<Uuid>,
    /// The birth name and birth date of each of `residents`, for searches.
    #[serde(default)]
    pub identities: Vec<(String, chrono::NaiveDate)>,
    pub staff: Vec<StaffData>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffData {
    pub id: Uuid,
    pub role: String,
}

impl Manifest {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} (run `dui-bench seed` first)", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a manifest", path.display()))
    }

    /// Written aside, then renamed: a manifest on disk is always whole.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let aside = path.with_extension("json.partial");
        std::fs::write(&aside, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&aside, path)?;
        Ok(())
    }

    pub fn residents(&self) -> usize {
        self.tenants.iter().flat_map(|t| &t.establishments).map(|e| e.residents.len()).sum()
    }

    pub fn notes(&self) -> u64 {
        self.tenants.iter().map(|t| t.notes).sum()
    }

    pub fn events(&self) -> u64 {
        self.tenants.iter().map(|t| t.events).sum()
    }
}
