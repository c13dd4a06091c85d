//! The dataset generator: tenants, establishments, units, staff, residents with their stays,
//! assessments and projets personnalisés — written through the same storage code and encryption
//! as production — and years of notes through the bulk import (binary COPY), the way a real
//! migration loads a previous DUI's history, with the hand-over events of those years (sealed
//! as the use cases seal them, loaded the same way).
//!
//! Resumable: every create carries an idempotency key derived from the seed, structure is
//! looked up before it is made, each establishment's notes are imported in one transaction and
//! marked done, and the manifest lists the tenants finished.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use dui_app::{people, platform, structure};
use dui_domain::idempotency::IdempotencyKey;
use dui_domain::pagination::PageRequest;
use dui_domain::people::{Profession, Role, UserKind};
use dui_domain::record::{DischargeMode, NoteScope, StayMode};
use dui_domain::resident::{Identity, Ins, InsOid, Sex};
use dui_domain::scope::{Grant, RequestContext, TenantScope};
use dui_domain::structure::{EstablishmentCategory, Finess};
use dui_domain::transmission::{Incident, IncidentType, NoteKind, Severity};
use dui_domain::{EstablishmentId, ResidentId, UnitId, UserId};
use dui_storage::Db;
use dui_storage::import::ImportedNote;
use indicatif::{ProgressBar, ProgressStyle};

use crate::manifest::{EstablishmentData, Manifest, StaffData, TenantData};
use crate::names;
use crate::profile::Profile;
use crate::rng::Rng;

/// Staff of each establishment: (role, profession, how many).
const STAFF: &[(Role, Profession, usize)] = &[
    (Role::Director, Profession::Director, 1),
    (Role::CoordinatingPhysician, Profession::Physician, 1),
    (Role::Nurse, Profession::Nurse, 3),
    (Role::CareAssistant, Profession::CareAssistant, 6),
];

pub fn tenant_finess(index: usize) -> String {
    format!("75{:07}", 1_000_000 + index)
}

fn establishment_finess(tenant: usize, index: usize) -> String {
    format!("69{:07}", tenant * 10 + index)
}

fn key(text: String) -> anyhow::Result<IdempotencyKey> {
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes())
    };
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(&digest);
    IdempotencyKey::new(&format!("bench-{text}"), fingerprint).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Seeds `profile` with `seed` into `db`; returns the manifest (also written to `manifest`).
pub async fn seed(
    db: &Db,
    profile: Profile,
    seed: u64,
    app_url: &str,
    dir: &Path,
    manifest_path: &Path,
) -> anyhow::Result<Manifest> {
    let mut manifest = match Manifest::read(manifest_path) {
        Ok(existing) if existing.profile == profile.name && existing.seed == seed => existing,
        _ => Manifest { profile: profile.name.to_owned(), seed, app_url: app_url.to_owned(), tenants: Vec::new() },
    };
    let done: Vec<String> = manifest.tenants.iter().map(|t| t.finess.clone()).collect();
    let todo: Vec<usize> = (0..profile.tenants).filter(|t| !done.contains(&tenant_finess(*t))).collect();
    if todo.is_empty() {
        eprintln!(
            "dataset {} already complete: {} residents, {} notes",
            profile.name,
            manifest.residents(),
            manifest.notes()
        );
        return Ok(manifest);
    }
    let per_tenant: usize = profile.establishments.iter().sum::<usize>() + profile.former;
    let bar = ProgressBar::new((todo.len() * per_tenant) as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} residents {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let bar = Arc::new(bar);
    let started = Instant::now();
    let markers = dir.join("notes-done");
    std::fs::create_dir_all(&markers)?;
    let mut queue = todo.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < profile.jobs.max(1) {
            let Some(index) = queue.next() else { break };
            let (db, bar, markers) = (db.clone(), bar.clone(), markers.clone());
            running.spawn(async move { seed_tenant(&db, profile, seed, index, &bar, &markers).await });
        }
        let Some(finished) = running.join_next().await else { break };
        let tenant = finished.context("a seeding task failed")??;
        manifest.tenants.push(tenant);
        manifest.tenants.sort_by(|a, b| a.finess.cmp(&b.finess));
        manifest.write(manifest_path)?;
    }
    bar.finish_with_message("done");
    eprintln!(
        "dataset {}: {} tenants, {} residents, {} notes, {} hand-over events, in {:.0} s",
        profile.name,
        manifest.tenants.len(),
        manifest.residents(),
        manifest.notes(),
        manifest.events(),
        started.elapsed().as_secs_f64()
    );
    Ok(manifest)
}

async fn seed_tenant(
    db: &Db,
    profile: Profile,
    seed: u64,
    index: usize,
    bar: &ProgressBar,
    markers: &Path,
) -> anyhow::Result<TenantData> {
    let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
    let request = RequestContext::default();
    let finess = tenant_finess(index);
    let tenant = match db.tenant_by_finess(&Finess::parse(&finess).map_err(anyhow::Error::msg)?).await? {
        Some(tenant) => tenant,
        None => {
            let name = format!("Association {} {}", names::FAMILY[index % names::FAMILY.len()], index + 1);
            platform::create_tenant(&app, platform::Operator::console(&request), &name, &finess).await?
        }
    };
    let console = TenantScope::console(tenant.id);
    let existing = structure::list_establishments(&app, &console, PageRequest::first(200)).await?.items;
    let users = people::list_users(&app, &console, PageRequest::first(200)).await?.items;
    // The account the migration runs as: records are created under it, with idempotency keys.
    let migration = match users.iter().find(|u| u.family_name == "Reprise des données") {
        Some(user) => user.id,
        None => {
            let new = people::CreateUser {
                kind: Some(UserKind::Person),
                family_name: "Reprise des données".to_owned(),
                given_name: Some("Compte".to_owned()),
                profession: Some(Profession::Administrative),
                ..people::CreateUser::default()
            };
            people::create_user(&app, &console, new).await?.value.id
        }
    };
    dui::demo::ensure_membership(&app, &console, migration, None, Role::TenantAdmin).await?;
    let console = TenantScope::new(tenant.id, migration, vec![Grant { establishment: None, role: Role::TenantAdmin }]);
    let mut establishments = Vec::new();
    let mut notes = 0;
    let mut events_seeded = 0;
    for (e, &size) in profile.establishments.iter().enumerate() {
        let code = establishment_finess(index, e);
        let establishment = match existing.iter().find(|x| x.finess.as_str() == code) {
            Some(found) => found.clone(),
            None => {
                let name = format!("EHPAD {} {}", names::FAMILY[(index * 7 + e) % names::FAMILY.len()], e + 1);
                structure::create_establishment(&app, &console, &code, &name, EstablishmentCategory::Ehpad, None)
                    .await?
                    .value
            }
        };
        let units = structure::list_units(&app, &console, establishment.id, PageRequest::first(10)).await?.items;
        let unit = match units.first() {
            Some(unit) => unit.clone(),
            None => structure::create_unit(&app, &console, establishment.id, "Unité principale", None).await?.value,
        };
        let mut staff = Vec::new();
        let mut rng = Rng::derive(seed, &[index as u64, e as u64, 1]);
        for (role, profession, count) in STAFF {
            for n in 0..*count {
                let family = format!("{} {}{}", rng.pick(names::FAMILY), e + 1, n + 1);
                let pool = if rng.chance(0.8) { names::WOMEN } else { names::MEN };
                let given = (*rng.pick(pool)).to_owned();
                let user = match users.iter().find(|u| u.family_name == family && u.given_name == given) {
                    Some(user) => user.id,
                    None => {
                        let new = people::CreateUser {
                            kind: Some(UserKind::Person),
                            family_name: family.clone(),
                            given_name: Some(given.clone()),
                            profession: Some(*profession),
                            ..people::CreateUser::default()
                        };
                        people::create_user(&app, &console, new).await?.value.id
                    }
                };
                dui::demo::ensure_membership(&app, &console, user, Some(establishment.id), *role).await?;
                staff.push(StaffData { id: user.as_uuid(), role: role.as_str().to_owned() });
            }
        }
        let nurse = staff.iter().find(|s| s.role == Role::Nurse.as_str()).map(|s| UserId::from_uuid(s.id));
        let nurse = nurse.context("an establishment without a nurse")?;
        let nurse_scope = TenantScope::new(
            tenant.id,
            nurse,
            vec![Grant { establishment: Some(establishment.id), role: Role::Nurse }],
        );
        let physician = staff.iter().find(|s| s.role == Role::CoordinatingPhysician.as_str());
        let physician = physician.map(|s| UserId::from_uuid(s.id)).context("an establishment without a physician")?;
        let physician_scope = TenantScope::new(
            tenant.id,
            physician,
            vec![Grant { establishment: Some(establishment.id), role: Role::CoordinatingPhysician }],
        );
        let carers = (&nurse_scope, &physician_scope);
        let mut residents = Vec::with_capacity(size);
        let mut admissions = Vec::with_capacity(size);
        let mut identities = Vec::with_capacity(size);
        for r in 0..size {
            let mut rng = Rng::derive(seed, &[index as u64, e as u64, 2, r as u64]);
            let (resident, admitted, identity) =
                seed_resident(&app, &console, carers, &mut rng, (index, e, r), establishment.id, unit.id).await?;
            residents.push(resident);
            admissions.push(admitted);
            identities.push(identity);
            bar.inc(1);
        }
        // The marker holds the establishment's own counts: "<notes> <events>".
        let marker = markers.join(format!("{}.done", establishment.id));
        let counted: Option<(u64, u64)> = std::fs::read_to_string(&marker).ok().and_then(|text| {
            let mut counts = text.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((counts.next()??, counts.next().flatten().unwrap_or(0)))
        });
        let (notes_here, events_here) = match counted {
            Some(counts) => counts,
            None => {
                let writers: Vec<UserId> = staff
                    .iter()
                    .filter(|s| s.role == Role::Nurse.as_str() || s.role == Role::CareAssistant.as_str())
                    .map(|s| UserId::from_uuid(s.id))
                    .collect();
                let mut rng = Rng::derive(seed, &[index as u64, e as u64, 3]);
                let history = history(&mut rng, profile, &residents, &admissions, &writers, establishment.id, unit.id);
                let mut notes_here = 0;
                for chunk in history.chunks(25_000) {
                    notes_here += dui_app::notes::import(&app, &console, chunk).await?;
                }
                drop(history);
                let mut rng = Rng::derive(seed, &[index as u64, e as u64, 4]);
                let told = events(&mut rng, profile, &residents, &admissions, &writers, establishment.id, unit.id);
                let mut events_here = 0;
                for chunk in told.chunks(25_000) {
                    let tx = app.db().begin(&console, dui_storage::Mode::Write);
                    events_here += dui_storage::bench::seed_handover_events(tx, chunk).await?;
                }
                std::fs::write(&marker, format!("{notes_here} {events_here}"))?;
                (notes_here, events_here)
            }
        };
        notes += notes_here;
        events_seeded += events_here;
        bar.set_message(format!("{notes} notes"));
        establishments.push(EstablishmentData {
            id: establishment.id.as_uuid(),
            unit: unit.id.as_uuid(),
            residents: residents.iter().map(|r| r.as_uuid()).collect(),
            identities,
            staff,
        });
    }
    let places: Vec<(EstablishmentId, UnitId)> =
        establishments.iter().map(|e| (EstablishmentId::from_uuid(e.id), UnitId::from_uuid(e.unit))).collect();
    let former = seed_former(&app, &console, profile, seed, index, &places, bar).await?;
    Ok(TenantData { id: tenant.id.as_uuid(), finess, establishments, notes, events: events_seeded, former })
}

/// The organisation's former residents: `profile.former` people admitted over the last
/// `profile.stay_years` years and discharged at least 31 days ago (out of the teams' reach,
/// still in the directors' archives), spread over its establishments; several at once.
async fn seed_former(
    app: &dui_app::App,
    console: &TenantScope,
    profile: Profile,
    seed: u64,
    tenant: usize,
    places: &[(EstablishmentId, UnitId)],
    bar: &ProgressBar,
) -> anyhow::Result<u64> {
    if profile.former == 0 || places.is_empty() {
        return Ok(0);
    }
    let today = Utc::now().date_naive();
    let span = i64::from(profile.stay_years.max(1)) * 365;
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut done = 0u64;
    loop {
        while running.len() < 4 && next < profile.former {
            let (app, console, n) = (app.clone(), console.clone(), next);
            let (establishment, unit) = places[n % places.len()];
            running.spawn(async move {
                let mut rng = Rng::derive(seed, &[tenant as u64, 9, n as u64]);
                let person = names::person(&mut rng, 500_000 + n as u32);
                let admitted = today - Duration::days(60 + rng.below((span - 60).max(1) as u64) as i64);
                let discharged =
                    (admitted + Duration::days(7 + rng.below(1000) as i64)).min(today - Duration::days(31));
                let identity = identity_of(&person);
                let admission = dui_app::residents::Admit {
                    establishment,
                    unit: Some(unit),
                    mode: Some(StayMode::Permanent),
                    admitted_on: Some(admitted),
                    identity,
                    ins: None,
                    confirm_homonym: true,
                    key: Some(key(format!("former-{tenant}-{n}"))?),
                };
                let created = dui_app::residents::admit(&app, &console, admission).await?;
                // Replayed after an interruption: discharged already, or not yet.
                let Some(stay) = created.value.current_stay.filter(|s| s.discharged_on.is_none()) else {
                    return Ok(());
                };
                let mode = if rng.chance(0.6) { DischargeMode::Death } else { DischargeMode::OtherEstablishment };
                let change = dui_app::stays::ChangeStay {
                    resident: created.value.id,
                    stay: stay.id,
                    expected_version: stay.row_version,
                    discharged_on: Some(discharged),
                    discharge_mode: Some(mode),
                    unit: None,
                };
                dui_app::stays::change(&app, &console, change).await?;
                anyhow::Ok(())
            });
            next += 1;
        }
        let Some(finished) = running.join_next().await else { break };
        finished.context("a seeding task failed")??;
        done += 1;
        bar.inc(1);
    }
    Ok(done)
}

/// One resident: admitted some time ago, with one or two AGGIR grids the nurse assessed and the
/// coordinating physician validated, and a plan in force. Returns the resident and the admission date.
async fn seed_resident(
    app: &dui_app::App,
    console: &TenantScope,
    (nurse, physician): (&TenantScope, &TenantScope),
    rng: &mut Rng,
    (t, e, r): (usize, usize, usize),
    establishment: EstablishmentId,
    unit: UnitId,
) -> anyhow::Result<(ResidentId, NaiveDate, (String, NaiveDate))> {
    let today = Utc::now().date_naive();
    let person = names::person(rng, (e * 1000 + r) as u32);
    let admitted = today - Duration::days(30 + rng.below(365 * 5) as i64);
    let identity = identity_of(&person);
    let ins = Ins { matricule: person.ins.clone(), oid: InsOid::NirTest };
    let admission = dui_app::residents::Admit {
        establishment,
        unit: Some(unit),
        mode: Some(StayMode::Permanent),
        admitted_on: Some(admitted),
        identity,
        ins: Some(ins),
        confirm_homonym: true,
        key: Some(key(format!("resident-{t}-{e}-{r}"))?),
    };
    let resident = dui_app::residents::admit(app, console, admission).await?.value.id;

    // GIR: a grid at admission for some, the latest one for all.
    let grids = if rng.chance(0.4) { 2 } else { 1 };
    for g in 0..grids {
        let assessed_on = if g + 1 == grids {
            today - Duration::days(rng.below(180) as i64)
        } else {
            admitted.max(today - Duration::days(700))
        };
        let grid = dui_app::assessments::RecordAssessment {
            resident,
            instrument: "aggir".to_owned(),
            version: None,
            scope: Some(NoteScope::CareTeam),
            assessed_on,
            answers: aggir_grid(rng),
            supersedes: None,
            key: Some(key(format!("aggir-{t}-{e}-{r}-{g}"))?),
        };
        let created = dui_app::assessments::record(app, nurse, grid).await?.value;
        match dui_app::assessments::validate(app, physician, resident, created.id, created.row_version).await {
            Ok(_) | Err(dui_app::AppError::Conflict(_) | dui_app::AppError::NotFound) => {}
            Err(error) => return Err(anyhow::anyhow!("validating a seeded grid: {error}")),
        }
    }

    // The projet personnalisé in force.
    let content = dui::demo::sample_plan()?;
    let start = dui_app::care_plans::StartPlan {
        resident,
        content,
        review_due_on: None,
        key: Some(key(format!("plan-{t}-{e}-{r}"))?),
    };
    let plan = dui_app::care_plans::start(app, nurse, start).await?;
    if !plan.replayed || plan.value.status == dui_domain::care_plan::PlanStatus::Draft {
        let version = dui_domain::PlanVersionId::from_uuid(plan.value.id);
        let name = format!("{} {}", person.first_names, person.birth_name);
        dui::demo::validate_and_activate(app, nurse, resident, version, &name).await?;
    }
    Ok((resident, admitted, (person.birth_name, person.birth_date)))
}

/// The identity traits of a generated person, born in Paris.
fn identity_of(person: &names::Person) -> Identity {
    Identity {
        birth_name: person.birth_name.clone(),
        first_names: person.first_names.clone(),
        first_first_name: None,
        used_name: None,
        used_first_name: None,
        sex: if person.female { Sex::Female } else { Sex::Male },
        birth_date: person.birth_date,
        birth_place: Some("75056".to_owned()),
    }
}

fn aggir_grid(rng: &mut Rng) -> serde_json::Value {
    // Mostly dependent residents, as in nursing homes (GIR 1-4 dominate).
    let dependence = rng.unit();
    let letter = |rng: &mut Rng| {
        let x = rng.unit() * 0.6 + dependence * 0.8;
        if x < 0.45 {
            "A"
        } else if x < 0.85 {
            "B"
        } else {
            "C"
        }
    };
    serde_json::json!({"variables": {
        "coherence": letter(rng), "orientation": letter(rng),
        "toilette": {"haut": letter(rng), "bas": letter(rng)},
        "habillage": letter(rng), "alimentation": letter(rng), "elimination": letter(rng),
        "transferts": letter(rng), "deplacement_interieur": letter(rng), "deplacement_exterieur": letter(rng),
        "alerter": letter(rng)}})
}

/// The notes of an establishment's residents over the profile's days, up to a few minutes ago.
fn history(
    rng: &mut Rng,
    profile: Profile,
    residents: &[ResidentId],
    admissions: &[NaiveDate],
    writers: &[UserId],
    establishment: EstablishmentId,
    unit: UnitId,
) -> Vec<ImportedNote> {
    let now = Utc::now();
    let first_day = now.date_naive() - Duration::days(i64::from(profile.days));
    let mut notes = Vec::new();
    for (resident, admitted) in residents.iter().zip(admissions) {
        let start = first_day.max(*admitted);
        let mut day = start;
        while day <= now.date_naive() {
            // About `notes_per_day` a day: 0, 1 or 2 with that mean.
            let count = {
                let x = rng.unit() * 2.0 * profile.notes_per_day;
                x.floor() as usize + usize::from(rng.chance(x.fract()))
            };
            for _ in 0..count {
                let seconds = 6 * 3600 + rng.below(16 * 3600) as i64;
                let Some(midnight) = day.and_hms_opt(0, 0, 0) else { continue };
                let written_at = Utc.from_utc_datetime(&midnight) + Duration::seconds(seconds);
                if written_at > now - Duration::minutes(5) {
                    continue;
                }
                let roll = rng.unit();
                let (kind, incident) = if roll < 0.35 {
                    (NoteKind::Targeted, None)
                } else if roll < 0.40 {
                    let incident = Incident {
                        incident_type: *rng.pick(&[
                            IncidentType::Fall,
                            IncidentType::Choking,
                            IncidentType::Aggression,
                        ]),
                        severity: *rng.pick(&[Severity::Minor, Severity::Minor, Severity::Moderate]),
                    };
                    (NoteKind::Incident, Some(incident))
                } else if roll < 0.50 {
                    (NoteKind::Observation, None)
                } else {
                    (NoteKind::Free, None)
                };
                let scope = match rng.unit() {
                    x if x < 0.65 => NoteScope::WholeTeam,
                    x if x < 0.90 => NoteScope::CareTeam,
                    x if x < 0.97 => NoteScope::Medical,
                    _ => NoteScope::Social,
                };
                notes.push(ImportedNote {
                    resident: *resident,
                    author: *rng.pick(writers),
                    establishment,
                    unit: Some(unit),
                    kind,
                    scope,
                    written_at,
                    facts_at: written_at - Duration::minutes(rng.below(90) as i64),
                    content: names::note_content(rng, kind == NoteKind::Targeted),
                    incident,
                });
            }
            day += Duration::days(1);
        }
    }
    notes
}

/// What the hand-over told of an establishment's residents over the profile's days, as the use
/// cases write it: mostly tasks refused or not done and abnormal measurements, some falls,
/// departures and returns.
fn events(
    rng: &mut Rng,
    profile: Profile,
    residents: &[ResidentId],
    admissions: &[NaiveDate],
    writers: &[UserId],
    establishment: EstablishmentId,
    unit: UnitId,
) -> Vec<dui_storage::bench::SeededEvent> {
    use dui_domain::handover::HandoverEventKind as Kind;
    const TOLD: &[(Kind, &str, NoteScope, &str)] = &[
        (Kind::TaskRefused, "care_task_record", NoteScope::WholeTeam, "Toilette : refusé — Ne voulait pas ce matin"),
        (Kind::TaskRefused, "care_task_record", NoteScope::WholeTeam, "Douche : refusé — Trop fatiguée"),
        (Kind::TaskNotDone, "care_task_record", NoteScope::WholeTeam, "Lever : non fait — Endormie"),
        (Kind::TaskNotDone, "care_task_record", NoteScope::WholeTeam, "Aide au repas : non fait — Absente du service"),
        (Kind::AbnormalMeasurement, "measurement", NoteScope::CareTeam, "Température 38,4 °C (haute)"),
        (Kind::AbnormalMeasurement, "measurement", NoteScope::CareTeam, "SpO2 91 % (basse)"),
        (Kind::AbnormalMeasurement, "measurement", NoteScope::CareTeam, "Tension artérielle 172/95 mmHg (haute)"),
        (Kind::Fall, "fall", NoteScope::CareTeam, "Chute (room, retrouvé(e) au sol) : bruise"),
        (Kind::Absence, "absence", NoteScope::WholeTeam, "Consultation à l'extérieur à partir du 12/11/2026 14:00 UTC"),
        (Kind::Return, "absence", NoteScope::WholeTeam, "Retour le 12/11/2026 17:30 UTC"),
    ];
    let now = Utc::now();
    let first_day = now.date_naive() - Duration::days(i64::from(profile.days));
    let mut events = Vec::new();
    for (resident, admitted) in residents.iter().zip(admissions) {
        let mut day = first_day.max(*admitted);
        while day <= now.date_naive() {
            let x = rng.unit() * 2.0 * profile.events_per_day;
            let count = x.floor() as usize + usize::from(rng.chance(x.fract()));
            for _ in 0..count {
                let seconds = 6 * 3600 + rng.below(16 * 3600) as i64;
                let Some(midnight) = day.and_hms_opt(0, 0, 0) else { continue };
                let occurred_at = Utc.from_utc_datetime(&midnight) + Duration::seconds(seconds);
                if occurred_at > now - Duration::minutes(5) {
                    continue;
                }
                let (kind, source_type, scope, summary) = *rng.pick(TOLD);
                events.push(dui_storage::bench::SeededEvent {
                    resident: *resident,
                    establishment,
                    unit: Some(unit),
                    kind,
                    source_type,
                    scope,
                    summary: summary.to_owned(),
                    occurred_at,
                    recorded_by: *rng.pick(writers),
                });
            }
            day += Duration::days(1);
        }
    }
    events
}

/// Refreshes the planner's statistics after a load.
pub async fn analyze(owner_url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(owner_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute("ANALYZE").await?;
    Ok(())
}

pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}
