//! Periods asked in queries, with bounds written as days or instants
//! ([`dui_domain::period::TimeBound`]): days are read in the calendar of the person's
//! establishment.

use chrono::{DateTime, Utc};
use dui_domain::ResidentId;
use dui_domain::period::TimeBound;
use dui_storage::{Tx, stays};

use crate::AppResult;

/// The instants of a start and an end about a person: a start day from its first instant, an
/// end day up to the next day's first instant (the day included).
pub(crate) async fn resolve(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    bounds: [Option<TimeBound>; 2],
) -> AppResult<[Option<DateTime<Utc>>; 2]> {
    let days: Vec<_> = bounds.iter().enumerate().filter_map(|(i, b)| b.and_then(|b| b.local_start(i == 1))).collect();
    let mut starts =
        if days.is_empty() { Vec::new() } else { stays::day_starts(tx, resident, &days).await? }.into_iter();
    let mut resolved = [None, None];
    for (i, bound) in bounds.iter().enumerate() {
        resolved[i] = match bound {
            None => None,
            Some(TimeBound::At(at)) => Some(*at),
            Some(TimeBound::Day(_)) => starts.next(),
        };
    }
    Ok(resolved)
}
