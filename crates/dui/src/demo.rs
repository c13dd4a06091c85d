//! `dui demo`: everything needed to try dui on one machine, in one command.
//!
//! It finds (or starts, or creates) a local PostgreSQL, provisions the two roles and a
//! `dui_demo` database, applies the migrations, creates a signing key, seeds a demo tenant (an
//! organisation with two nursing homes and a home-help service, their units and staff), prints a
//! token and a ready-to-run `curl` line for a few of its users, and serves. Running it again
//! reuses all of that.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use dui_app::{people, platform, structure};
use dui_domain::pagination::PageRequest;
use dui_domain::people::{Profession, Role, User, UserKind};
use dui_domain::scope::{RequestContext, TenantScope};
use dui_domain::structure::{EstablishmentCategory, Finess};
use dui_domain::tenant::Tenant;
use dui_domain::transmission::{NoteContent, NoteDraft};
use dui_domain::{EstablishmentId, OperatorId};
use dui_storage::{Db, cluster};

use crate::config::{Config, LogFormat};
use crate::server;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where the demo keeps its key and, when it has to create one, its PostgreSQL cluster.
    #[arg(long, default_value = "target/dui-demo")]
    pub data_dir: PathBuf,
    /// A PostgreSQL superuser connection to use; when it does not work, a private cluster is
    /// created under the data directory.
    #[arg(long, env = "DUI_DEMO_ADMIN_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub admin_url: String,
    /// The demo's database on that server (created when missing, kept otherwise).
    #[arg(long, default_value = "dui_demo")]
    pub database: String,
    /// Set everything up and print the tokens, but do not serve.
    #[arg(long)]
    pub no_serve: bool,
}

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

const DEMO_FINESS_JURIDIQUE: &str = "750099990";

/// One seeded user and what to show about them.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub user: User,
    pub role_label: &'static str,
}

/// What the demo seeded.
#[derive(Debug, Clone)]
pub struct DemoData {
    pub tenant: Tenant,
    pub operator: OperatorId,
    pub users: Vec<DemoUser>,
}

struct StaffMember {
    family: &'static str,
    given: &'static str,
    profession: Profession,
    rpps: Option<&'static str>,
    label: &'static str,
    /// (index of establishment, role); `None` index: tenant-wide.
    roles: &'static [(Option<usize>, Role)],
}

const STAFF: &[StaffMember] = &[
    StaffMember {
        family: "Lefebvre",
        given: "Nathalie",
        profession: Profession::Administrative,
        rpps: None,
        label: "tenant admin",
        roles: &[(None, Role::TenantAdmin)],
    },
    StaffMember {
        family: "Garnier",
        given: "Olivier",
        profession: Profession::Director,
        rpps: None,
        label: "director of both nursing homes",
        roles: &[(Some(0), Role::Director), (Some(1), Role::Director)],
    },
    StaffMember {
        family: "Rousseau",
        given: "Hélène",
        profession: Profession::Physician,
        rpps: Some("10000000011"),
        label: "coordinating physician, Les Tilleuls",
        roles: &[(Some(0), Role::CoordinatingPhysician)],
    },
    StaffMember {
        family: "Moreau",
        given: "Claire",
        profession: Profession::Nurse,
        rpps: Some("10000000029"),
        label: "nurse, Les Tilleuls",
        roles: &[(Some(0), Role::Nurse)],
    },
    StaffMember {
        family: "Diallo",
        given: "Aminata",
        profession: Profession::CareAssistant,
        rpps: None,
        label: "care assistant, Le Verger",
        roles: &[(Some(1), Role::CareAssistant)],
    },
    StaffMember {
        family: "Petit",
        given: "Julien",
        profession: Profession::HomeHelper,
        rpps: None,
        label: "home helper, home-help service",
        roles: &[(Some(2), Role::HomeHelper)],
    },
];

/// Seeds the demo tenant. Every step looks for what it would create first, so a run that was
/// interrupted midway is completed by the next one, and later runs change nothing.
pub async fn seed(db: &Db) -> anyhow::Result<DemoData> {
    let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
    let request = RequestContext::default();
    let operator = match db.find_operator("demo-operator").await? {
        Some(operator) => operator,
        None => db.create_operator("demo-operator").await?,
    };
    let finess = Finess::parse(DEMO_FINESS_JURIDIQUE).map_err(anyhow::Error::msg)?;
    let tenant = match db.tenant_by_finess(&finess).await? {
        Some(tenant) => tenant,
        None => {
            let console = platform::Operator::console(&request);
            platform::create_tenant(&app, console, "Association Les Tilleuls (démonstration)", DEMO_FINESS_JURIDIQUE)
                .await?
        }
    };
    let scope = TenantScope::console(tenant.id);
    let establishments = seed_structure(&app, &scope).await?;
    let mut users = people::list_users(&app, &scope, PageRequest::first(200)).await?.items;
    let mut seeded = Vec::new();
    for member in STAFF {
        let existing = users.iter().find(|u| u.family_name == member.family && u.given_name == member.given).cloned();
        let user = match existing {
            Some(user) => user,
            None => {
                let new = people::CreateUser {
                    kind: Some(UserKind::Person),
                    family_name: member.family.to_owned(),
                    given_name: Some(member.given.to_owned()),
                    profession: Some(member.profession),
                    rpps: member.rpps.map(str::to_owned),
                    ..people::CreateUser::default()
                };
                let user = people::create_user(&app, &scope, new).await?.value;
                users.push(user.clone());
                user
            }
        };
        for (establishment, role) in member.roles {
            ensure_membership(&app, &scope, user.id, establishment.map(|i| establishments[i]), *role).await?;
        }
        seeded.push(DemoUser { user, role_label: member.label });
    }
    let nurse = seeded.iter().find(|u| u.user.family_name == "Moreau").map(|u| u.user.id);
    let physician = seeded.iter().find(|u| u.user.family_name == "Rousseau").map(|u| u.user.id);
    seed_residents(&app, tenant.id, establishments[0], nurse.zip(physician)).await?;
    Ok(DemoData { tenant, operator: operator.id, users: seeded })
}

/// Fictional residents of the first nursing home, with the national test INS, and a few notes
/// written by the demo nurse.
async fn seed_residents(
    app: &dui_app::App,
    tenant: dui_domain::TenantId,
    ehpad: EstablishmentId,
    carers: Option<(dui_domain::UserId, dui_domain::UserId)>,
) -> anyhow::Result<()> {
    use dui_domain::people::Role;
    use dui_domain::record::{NoteScope, StayMode};
    use dui_domain::resident::{Identity, Ins, InsOid, ResidentLookup, Sex};
    use dui_domain::scope::Grant;
    // The national test INS agree with the traits they encode (sex, year and month of birth,
    // place): a woman born in August 1955 in the Calvados, a woman born in March 1979 in the
    // Marne.
    let people = [
        (
            "Lefort",
            "Madeleine Jeanne",
            Sex::Female,
            (1955, 8, 12),
            "14118",
            Some("255081416802538"),
            "Nuit calme. Lever à 7h30, petit-déjeuner pris en entier.",
        ),
        (
            "Garcia",
            "Antoine",
            Sex::Male,
            (1939, 11, 2),
            "75056",
            None,
            "Cible douleur — D : se plaint du genou droit (EVA 5). A : antalgique à 8h. R : EVA 2 à 9h.",
        ),
        (
            "Nguyen",
            "Thi Lan",
            Sex::Female,
            (1979, 3, 24),
            "51454",
            Some("279035121518989"),
            "Visite de sa fille l'après-midi, très souriante. Appétit conservé.",
        ),
    ];
    let console = TenantScope::console(tenant);
    for (birth_name, first_names, sex, (y, m, d), place, ins, note) in people {
        let birth_date = chrono::NaiveDate::from_ymd_opt(y, m, d).context("demo birth date")?;
        let lookup = ResidentLookup::BirthIdentity { birth_name: birth_name.to_owned(), birth_date };
        if !dui_app::residents::search(app, &console, lookup).await?.is_empty() {
            continue;
        }
        let identity = Identity {
            birth_name: birth_name.to_owned(),
            first_names: first_names.to_owned(),
            first_first_name: None,
            used_name: None,
            used_first_name: None,
            sex,
            birth_date,
            birth_place: Some(place.to_owned()),
        };
        let ins = ins.map(|matricule| Ins { matricule: matricule.to_owned(), oid: InsOid::NirTest });
        let admission = dui_app::residents::Admit {
            establishment: ehpad,
            unit: None,
            mode: Some(StayMode::Permanent),
            admitted_on: None,
            identity,
            ins,
            confirm_homonym: true,
            key: None,
        };
        let resident = dui_app::residents::admit(app, &console, admission).await?.value;
        if let Some((nurse, physician)) = carers {
            // The note is the nurse's, written under her own membership.
            let grant = Grant { establishment: Some(ehpad), role: Role::Nurse };
            let scope = TenantScope::new(tenant, nurse, vec![grant]);
            let grant = Grant { establishment: Some(ehpad), role: Role::CoordinatingPhysician };
            let physician = TenantScope::new(tenant, physician, vec![grant]);
            let draft = NoteDraft {
                scope: Some(NoteScope::WholeTeam),
                content: NoteContent { text: Some(note.to_owned()), ..NoteContent::default() },
                ..NoteDraft::default()
            };
            let note = dui_app::notes::WriteNote { resident: resident.id, draft, key: None };
            dui_app::notes::write(app, &scope, note).await?;
            if birth_name == "Lefort" {
                seed_care(app, &scope, &physician, resident.id).await?;
            }
        }
    }
    Ok(())
}

/// Care data for one demo resident, as her nurse records it: a validated AGGIR grid, a
/// transmission ciblée, and a projet personnalisé in force with scheduled care.
async fn seed_care(
    app: &dui_app::App,
    scope: &TenantScope,
    physician: &TenantScope,
    resident: dui_domain::ResidentId,
) -> anyhow::Result<()> {
    use dui_domain::record::NoteScope;
    let today = chrono::Utc::now().date_naive();
    let grid = serde_json::json!({"variables": {
        "coherence": "A", "orientation": "B", "toilette": {"haut": "A", "bas": "B"}, "habillage": "B",
        "alimentation": "A", "elimination": "B", "transferts": "A", "deplacement_interieur": "A",
        "deplacement_exterieur": "C", "alerter": "A"}});
    let grid = dui_app::assessments::RecordAssessment {
        resident,
        instrument: "aggir".to_owned(),
        version: None,
        scope: Some(NoteScope::CareTeam),
        assessed_on: today,
        answers: grid,
        supersedes: None,
        key: None,
    };
    let assessment = dui_app::assessments::record(app, scope, grid).await?.value;
    // The coordinating physician validates the GIR the nurse assessed.
    dui_app::assessments::validate(app, physician, resident, assessment.id, assessment.row_version).await?;

    let draft = NoteDraft {
        scope: Some(NoteScope::CareTeam),
        content: NoteContent {
            target: Some("Douleur".to_owned()),
            data: Some("Se plaint du genou droit au lever (EVA 5).".to_owned()),
            actions: Some("Antalgique selon protocole à 8 h, coussin de positionnement.".to_owned()),
            results: Some("EVA 2 à 9 h, a participé à l'atelier mémoire.".to_owned()),
            ..NoteContent::default()
        },
        ..NoteDraft::default()
    };
    dui_app::notes::write(app, scope, dui_app::notes::WriteNote { resident, draft, key: None }).await?;

    let content = sample_plan()?;
    let start = dui_app::care_plans::StartPlan { resident, content, review_due_on: None, key: None };
    let plan = dui_app::care_plans::start(app, scope, start).await?.value;
    let version = dui_domain::PlanVersionId::from_uuid(plan.id);
    validate_and_activate(app, scope, resident, version, "Madeleine Lefort").await
}

/// Records that the person (`name`) signed the plan version, then puts it in force. The day of
/// the signature is today in the establishment's calendar, which is UTC's or the next or the
/// previous day: the first the server accepts.
pub async fn validate_and_activate(
    app: &dui_app::App,
    scope: &TenantScope,
    resident: dui_domain::ResidentId,
    version: dui_domain::PlanVersionId,
    name: &str,
) -> anyhow::Result<()> {
    use dui_domain::care_plan::{ValidatedBy, Validation, ValidationMethod};
    let today = chrono::Utc::now().date_naive();
    let mut refused = None;
    for on in [Some(today), today.succ_opt(), today.pred_opt()].into_iter().flatten() {
        let validation =
            Validation { by: ValidatedBy::Person, name: name.to_owned(), on, method: ValidationMethod::Signature };
        match dui_app::care_plans::record_validation(app, scope, resident, version, validation).await {
            Ok(validated) => {
                dui_app::care_plans::activate(app, scope, resident, version, validated.row_version).await?;
                return Ok(());
            }
            Err(dui_app::AppError::Invalid(errors)) => refused = Some(errors),
            Err(other) => return Err(other.into()),
        }
    }
    anyhow::bail!("the validation was refused: {refused:?}")
}

/// The demo's establishments, with their units; returns their ids in order.
async fn seed_structure(app: &dui_app::App, scope: &TenantScope) -> anyhow::Result<Vec<EstablishmentId>> {
    let wanted = [
        (
            "750099991",
            "EHPAD Les Tilleuls",
            EstablishmentCategory::Ehpad,
            &["Aile des Lilas", "Aile des Roses", "Unité protégée"][..],
        ),
        ("920099992", "EHPAD Le Verger", EstablishmentCategory::Ehpad, &["Rez-de-jardin", "Premier étage"][..]),
        ("750099993", "Les Tilleuls à domicile", EstablishmentCategory::Saad, &["Tournée Nord", "Tournée Sud"][..]),
    ];
    let existing = structure::list_establishments(app, scope, PageRequest::first(200)).await?.items;
    let mut ids = Vec::new();
    for (finess, name, category, units) in wanted {
        let establishment = match existing.iter().find(|e| e.finess.as_str() == finess) {
            Some(found) => found.clone(),
            None => structure::create_establishment(app, scope, finess, name, category, None).await?.value,
        };
        let existing_units = structure::list_units(app, scope, establishment.id, PageRequest::first(200)).await?.items;
        for unit in units {
            if !existing_units.iter().any(|u| u.name == *unit) {
                structure::create_unit(app, scope, establishment.id, unit, None).await?;
            }
        }
        ids.push(establishment.id);
    }
    Ok(ids)
}

pub async fn run(args: DemoArgs, mut config: Config) -> anyhow::Result<()> {
    server::init_logging(LogFormat::Pretty, &config.log.level);
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;

    eprintln!("Looking for PostgreSQL...");
    let admin_url = cluster::ensure_server(&args.admin_url, &data_dir.join("pg")).await?;
    let database = cluster::provision(&admin_url, &args.database).await?;

    let key_file = data_dir.join("signing-key.pem");
    if !key_file.exists() {
        write_private_file(&key_file, dui_auth::keys::generate_pem()?.expose())?;
    }
    let kek_file = data_dir.join("keks.toml");
    if !kek_file.exists() {
        let kek = dui_crypto::KekRing::generate_base64()?;
        write_private_file(&kek_file, &format!("active_kek = 1\n\n[keks]\n1 = \"{kek}\"\n"))?;
    }
    config.crypto.kek_file = Some(kek_file);
    config.crypto.active_kek = None;
    config.crypto.keks.clear();
    let base_url = format!("http://{}", args.listen);
    config.http.listen = args.listen.clone();
    config.auth.issuer = base_url.clone();
    config.auth.signing_key_file = Some(key_file);
    config.auth.signing_key = None;
    config.database.url = Some(database.app_url.clone().into());
    config.database.owner_url = Some(database.owner_url.clone().into());
    config.database.migrate_on_start = true;
    config.validate()?;

    let state = server::build_state(&config).await?;
    let demo = seed(state.db()).await?;
    let issuer = state.issuer();
    let ttl = chrono::Duration::hours(12);
    let now = chrono::Utc::now();

    let mut banner = String::new();
    banner.push_str(&format!(
        "\ndui demo: tenant \"{}\" ({})\nOpenAPI: {base_url}/api/v1/openapi.json\n\
         Residents of EHPAD Les Tilleuls: curl -s -H \"Authorization: Bearer $DUI_DEMO_TOKEN_4\" {base_url}/api/v1/residents\n\n\
         Tokens (valid 12 h):\n",
        demo.tenant.name, demo.tenant.id
    ));
    let mut env_file = String::new();
    for (i, demo_user) in demo.users.iter().enumerate() {
        let token = issuer.mint(
            dui_auth::own::Subject::TenantUser { tenant: demo.tenant.id, user: demo_user.user.id },
            now,
            ttl,
        );
        let variable = format!("DUI_DEMO_TOKEN_{}", i + 1);
        banner.push_str(&format!(
            "\n  {} {} — {}\n  export {variable}={token}\n  curl -s -H \"Authorization: Bearer ${variable}\" {base_url}/api/v1/me\n",
            demo_user.user.given_name, demo_user.user.family_name, demo_user.role_label
        ));
        env_file.push_str(&format!("{variable}={token}\n"));
    }
    let operator_token = issuer.mint(dui_auth::own::Subject::Operator(demo.operator), now, ttl);
    banner.push_str(&format!(
        "\n  Platform operator (sees tenants, never their residents)\n  export DUI_DEMO_OPERATOR_TOKEN={operator_token}\n  curl -s -H \"Authorization: Bearer $DUI_DEMO_OPERATOR_TOKEN\" {base_url}/platform/v1/tenants\n"
    ));
    env_file.push_str(&format!("DUI_DEMO_OPERATOR_TOKEN={operator_token}\n"));
    let env_path = data_dir.join("tokens.env");
    write_private_file(&env_path, &env_file)?;
    banner.push_str(&format!("\nThe same tokens are in {} (source it in your shell).\n", env_path.display()));
    println!("{banner}");

    if args.no_serve {
        state.db().close();
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("Serving on {base_url} — Ctrl-C to stop.");
    let _background = server::spawn_background(&state, &server::Exchanges::from_config(&config));
    dui_api::serve(
        listener,
        state,
        server::termination_signal(),
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(5),
    )
    .await?;
    Ok(())
}

/// A projet personnalisé as a nursing home writes one (expectations, needs, objectives, and
/// scheduled care that fills the day's task list), with new ids: the demo's, and the load
/// benchmark's for every resident.
pub fn sample_plan() -> anyhow::Result<dui_domain::care_plan::PlanContent> {
    let content: dui_domain::care_plan::PlanContent = serde_json::from_value(serde_json::json!({
    "expectations": "Rester autonome pour la toilette et continuer à jardiner avec sa fille le dimanche.",
    "needs": [{"domain": "autonomy", "text": "Aide partielle pour la toilette du bas et l'habillage"},
              {"domain": "health", "text": "Surveillance de la douleur du genou droit"}],
    "objectives": [{"domain": "autonomy", "text": "Faire seule la toilette du haut", "status": "in_progress"},
                   {"domain": "social_life", "text": "Participer à l'atelier jardin", "status": "planned"}],
    "actions": [
        {"what": "Aide à la toilette", "who": {"role": "care_assistant"}, "frequency": "chaque matin",
         "schedule": {"kind": "daily", "times": ["08:00"]}},
        {"what": "Évaluation de la douleur", "who": {"role": "nurse"}, "frequency": "matin et soir",
         "schedule": {"kind": "daily", "times": ["09:00", "19:00"]}},
        {"what": "Pesée", "who": {"role": "care_assistant"}, "frequency": "une fois par mois",
         "schedule": {"kind": "monthly", "day": 1, "time": "10:00"}}
    ]}))?;
    content.validate(uuid::Uuid::now_v7).map_err(|e| anyhow::anyhow!("sample care plan: {e:?}"))
}

/// Gives `user` the role `role` in `establishment` (or tenant-wide), unless they have it: for
/// seeding that can run again.
pub async fn ensure_membership(
    app: &dui_app::App,
    scope: &TenantScope,
    user: dui_domain::UserId,
    establishment: Option<EstablishmentId>,
    role: dui_domain::people::Role,
) -> anyhow::Result<()> {
    match people::add_membership(app, scope, user, establishment, role, None).await {
        Ok(_) | Err(dui_app::AppError::Store(dui_storage::StoreError::Conflict { .. })) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
