//! Dataset sizes and run lengths.

use std::time::Duration;

/// A dataset and how long the benchmark's phases run on it.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub tenants: usize,
    /// Residents of each establishment of a tenant (one unit each): the first is an 80-resident
    /// nursing-home unit, the unit the hand-over target is about.
    pub establishments: &'static [usize],
    /// Days of history.
    pub days: u32,
    /// Former residents of each tenant (admitted and discharged over `stay_years`), spread over
    /// its establishments: a large organisation's years of records.
    pub former: usize,
    /// How far back the former residents' stays go.
    pub stay_years: u32,
    /// Notes per resident per day, on average.
    pub notes_per_day: f64,
    /// Hand-over events (tasks refused or not done, abnormal measurements, falls, departures...)
    /// per resident per day, on average.
    pub events_per_day: f64,
    /// Saturation runs, open-loop steps.
    pub step: Duration,
    /// The fixed-rate runs (hand-over at 200 requests/s, the mix, the noisy neighbour).
    pub long_step: Duration,
    /// Seeding tenants at once.
    pub jobs: usize,
    /// Rounds of each measured phase (the report gives the median and the spread).
    pub rounds: usize,
}

pub const SMALL: Profile = Profile {
    name: "small",
    tenants: 2,
    establishments: &[80, 70],
    days: 730,
    former: 0,
    stay_years: 0,
    notes_per_day: 1.0,
    events_per_day: 0.3,
    step: Duration::from_secs(4),
    long_step: Duration::from_secs(10),
    jobs: 2,
    rounds: 3,
};

pub const PLATFORM: Profile = Profile {
    name: "platform",
    tenants: 200,
    establishments: &[80, 43, 43, 42, 42],
    days: 730,
    former: 0,
    stay_years: 0,
    notes_per_day: 1.0,
    events_per_day: 0.3,
    step: Duration::from_secs(4),
    long_step: Duration::from_secs(10),
    jobs: 2,
    rounds: 3,
};

/// One large organisation: twenty nursing homes of 80 residents today, and 98,400 people it
/// supported over ten years (100,000 records, each with its stays); a year of notes.
pub const LARGE: Profile = Profile {
    name: "large",
    tenants: 1,
    establishments: &[80; 20],
    days: 365,
    notes_per_day: 1.0,
    events_per_day: 0.3,
    former: 98_400,
    stay_years: 10,
    step: Duration::from_secs(4),
    long_step: Duration::from_secs(10),
    jobs: 1,
    rounds: 3,
};

/// The small profile's shape with two weeks of history and sub-second phases: checks the
/// tooling end to end (in CI), measures nothing.
pub const SMOKE: Profile = Profile {
    name: "smoke",
    tenants: 2,
    establishments: &[12, 8],
    days: 14,
    former: 40,
    stay_years: 2,
    notes_per_day: 1.0,
    events_per_day: 0.3,
    step: Duration::from_millis(400),
    long_step: Duration::from_millis(600),
    jobs: 2,
    rounds: 1,
};

impl Profile {
    pub fn named(name: &str) -> Option<Self> {
        [SMALL, PLATFORM, LARGE, SMOKE].into_iter().find(|p| p.name == name)
    }

    pub fn is_smoke(&self) -> bool {
        self.name == "smoke"
    }
}
