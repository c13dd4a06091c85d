//! The command line.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use dui_app::platform;
use dui_domain::scope::{RequestContext, TenantScope};
use dui_domain::structure::Finess;
use dui_domain::tenant::{Tenant, TenantStatus};
use dui_domain::{TenantId, UserId};
use dui_storage::Db;
use uuid::Uuid;

use crate::config::Config;
use crate::server;

#[derive(Debug, Parser)]
#[command(name = "dui", version, about = "The dossier usager informatisé server")]
pub struct Cli {
    /// Configuration file (TOML). Environment variables DUI_<SECTION>__<KEY> override it.
    #[arg(long, short, global = true, env = "DUI_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply pending database migrations (as the owner role) and exit.
    Migrate,
    /// Bring up a local PostgreSQL, a demo tenant and its users, print their tokens, and serve.
    Demo(crate::demo::DemoArgs),
    /// Manage tenants (organismes gestionnaires).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage platform operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Mint a token signed by the server's own key.
    Token(TokenArgs),
    /// Signing keys of the server's own tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit trail: verify its hash chains, export it.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The drug referential (national public drug database, BDPM), shared by every tenant.
    #[command(subcommand)]
    Drugs(DrugsCommand),
    /// Check the configuration and print it (secrets redacted).
    CheckConfig,
}

#[derive(Debug, Subcommand)]
pub enum DrugsCommand {
    /// Import CIS_bdpm.txt, CIS_CIP_bdpm.txt and CIS_COMPO_bdpm.txt from a folder, as the owner
    /// role, in one transaction: specialities no longer listed are marked withdrawn, the same
    /// files imported again change nothing. Prints the counts and each line set aside, and why.
    Import {
        /// The folder holding the three files.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Chain what is pending, then recompute each tenant's hash chain from its first link and
    /// name the first broken one. Exits with an error if any chain is broken.
    Verify {
        /// One tenant (id or FINESS juridique); default: every tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Write a tenant's audit trail as JSON lines, one event per line (for its data-protection
    /// officer). The export is itself recorded.
    Export {
        tenant: String,
        /// The file to write (written aside first, then renamed).
        #[arg(long)]
        out: PathBuf,
        /// From (inclusive, RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// To (exclusive, RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, optionally with its first administrator.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        finess_juridique: String,
        /// Family name of a first tenant administrator to create.
        #[arg(long, requires = "admin_given_name")]
        admin_family_name: Option<String>,
        #[arg(long)]
        admin_given_name: Option<String>,
    },
    /// List tenants.
    List,
    /// Suspend a tenant (by id or FINESS juridique): its users are refused.
    Suspend { tenant: String },
    /// Resume a suspended tenant.
    Resume { tenant: String },
    /// Write everything of a tenant, decrypted, as JSON lines (reversibility; see
    /// docs/tenant-export.md).
    Export {
        tenant: String,
        /// The file to write (written aside first, then renamed: a partial export never has this name).
        #[arg(long)]
        out: PathBuf,
    },
    /// Offboard a tenant: export it, then destroy its keys. Its data is unreadable afterwards,
    /// by anyone, for good.
    Shred {
        tenant: String,
        /// Where to write the export first.
        #[arg(long)]
        export: PathBuf,
        /// The tenant's FINESS juridique, typed again, to confirm.
        #[arg(long)]
        confirm: String,
    },
    /// Read a tenant export (from this installation or another) into a new tenant, under keys of
    /// its own: all of it, or nothing.
    Import {
        /// The export file.
        file: PathBuf,
        /// The new tenant's name (default: the exported one's).
        #[arg(long)]
        name: Option<String>,
        /// The new tenant's FINESS juridique (default: the exported one's, which must then be free
        /// on this installation).
        #[arg(long)]
        finess_juridique: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create a platform operator.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List platform operators.
    List,
}

#[derive(Debug, Args)]
#[group(skip)]
#[command(group = clap::ArgGroup::new("subject").required(true).multiple(false))]
pub struct TokenArgs {
    /// The user (id), with --tenant.
    #[arg(long, requires = "tenant", group = "subject")]
    pub user: Option<Uuid>,
    /// The user's tenant (id or FINESS juridique).
    #[arg(long)]
    pub tenant: Option<String>,
    /// A platform operator (id or name).
    #[arg(long, group = "subject")]
    pub operator: Option<String>,
    /// Lifetime in seconds (default: auth.token_ttl_secs).
    #[arg(long)]
    pub ttl: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an Ed25519 signing key (PKCS#8 PEM) for auth.signing_key_file.
    GenerateSigningKey {
        /// Write to this file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Generate a key-encryption key (base64 of 32 random bytes) for crypto.keks.
    GenerateKek,
    /// Rewrap every tenant key under the active KEK (after adding a new KEK to the ring and
    /// making it active on every server). Data rows are untouched; the server keeps serving.
    RotateKek,
    /// Start a new data-key version for a tenant; run `reencrypt` afterwards.
    RotateDek {
        #[arg(long)]
        tenant: String,
    },
    /// Reseal every value still sealed with an older data key. Resumable and idempotent.
    Reencrypt {
        /// One tenant (default: all).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 500)]
        batch_size: i64,
        /// Stop after this many batches (a later run resumes).
        #[arg(long)]
        max_batches: Option<u64>,
    },
    /// Show a tenant's data-key versions and how many rows still use older ones.
    Status {
        #[arg(long)]
        tenant: String,
    },
}

pub async fn find_tenant(db: &Db, key: &str) -> anyhow::Result<Tenant> {
    let found = if let Ok(id) = key.parse::<Uuid>() {
        db.tenant_by_id(TenantId::from_uuid(id)).await?
    } else {
        let finess = Finess::parse(key).map_err(anyhow::Error::msg)?;
        db.tenant_by_finess(&finess).await?
    };
    found.with_context(|| format!("no tenant {key}"))
}

fn connect(config: &Config) -> anyhow::Result<Db> {
    Ok(Db::new(&server::db_config(config)?)?)
}

fn print_tenant(tenant: &Tenant) {
    println!("{}  {}  {:<9}  {}", tenant.id, tenant.finess_juridique, tenant.status.as_str(), tenant.name);
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Demo(args) => return crate::demo::run(args, config).await,
        Command::Keys(KeysCommand::GenerateKek) => {
            println!("{}", dui_crypto::KekRing::generate_base64()?);
            return Ok(());
        }
        Command::Keys(KeysCommand::GenerateSigningKey { out }) => {
            let pem = dui_auth::keys::generate_pem()?;
            match out {
                Some(path) => crate::demo::write_private_file(&path, pem.expose())?,
                None => print!("{}", pem.expose()),
            }
            return Ok(());
        }
        Command::CheckConfig => {
            println!("{config:#?}");
            return Ok(());
        }
        _ => {}
    }
    server::init_logging(config.log.format, &config.log.level);
    match cli.command {
        Command::Serve => server::serve(config).await,
        Command::Migrate => {
            let owner = config
                .database
                .owner_url
                .as_ref()
                .context("database.owner_url (DUI_DATABASE__OWNER_URL) is required")?;
            let applied = dui_storage::migrate::run_with_ca(owner.expose(), config.database.ca_file.as_deref()).await?;
            println!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::Tenant(command) => tenant(command, &connect(&config)?).await,
        Command::Operator(command) => {
            let db = connect(&config)?;
            match command {
                OperatorCommand::Create { name } => {
                    let name = dui_domain::validation::text(&name, 1, 200).map_err(anyhow::Error::msg)?;
                    let operator = db.create_operator(&name).await?;
                    println!("{}  {}", operator.id, operator.name);
                }
                OperatorCommand::List => {
                    for operator in db.list_operators().await? {
                        println!("{}  {:<8}  {}", operator.id, operator.status, operator.name);
                    }
                }
            }
            Ok(())
        }
        Command::Token(args) => {
            let db = connect(&config)?;
            println!("{}", token(&config, &db, &args).await?);
            Ok(())
        }
        Command::Keys(command) => keys(command, &connect(&config)?).await,
        Command::Audit(command) => audit(command, &connect(&config)?).await,
        Command::Drugs(DrugsCommand::Import { dir }) => {
            let owner = config
                .database
                .owner_url
                .as_ref()
                .context("database.owner_url (DUI_DATABASE__OWNER_URL) is required")?;
            let report = crate::drugs::import_dir(owner.expose(), config.database.ca_file.as_deref(), &dir).await?;
            crate::drugs::print(&report);
            Ok(())
        }
        Command::Demo(_) | Command::CheckConfig => unreachable!("handled above"),
    }
}

async fn tenant(command: TenantCommand, db: &Db) -> anyhow::Result<()> {
    let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
    let request = RequestContext::default();
    let console = platform::Operator::console(&request);
    match command {
        TenantCommand::Create { name, finess_juridique, admin_family_name, admin_given_name } => {
            let tenant = platform::create_tenant(&app, console, &name, &finess_juridique).await?;
            print_tenant(&tenant);
            if let Some(family_name) = admin_family_name {
                let admin =
                    dui_app::people::CreateUser { family_name, given_name: admin_given_name, ..Default::default() };
                let (user, _) = platform::create_admin(&app, console, tenant.id, admin).await?;
                println!("tenant admin {}  {} {}", user.id, user.given_name, user.family_name);
            }
        }
        TenantCommand::List => {
            let mut page = dui_domain::pagination::PageRequest::first(200);
            loop {
                let tenants = platform::list_tenants(&app, console, page).await?;
                tenants.items.iter().for_each(print_tenant);
                match tenants.next_after {
                    Some(after) => page.after = Some(after),
                    None => break,
                }
            }
        }
        TenantCommand::Suspend { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            print_tenant(&platform::set_status(&app, console, found.id, TenantStatus::Suspended).await?);
        }
        TenantCommand::Resume { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            print_tenant(&platform::set_status(&app, console, found.id, TenantStatus::Active).await?);
        }
        TenantCommand::Export { tenant, out } => {
            let found = find_tenant(db, &tenant).await?;
            export(db, &found, &out).await?;
        }
        TenantCommand::Shred { tenant, export: out, confirm } => {
            let found = find_tenant(db, &tenant).await?;
            shred(db, &found, &out, &confirm).await?;
        }
        TenantCommand::Import { file, name, finess_juridique } => {
            let finess = finess_juridique.map(|f| Finess::parse(&f)).transpose().map_err(anyhow::Error::msg)?;
            let options = dui_storage::tenant_export::ImportOptions { name, finess_juridique: finess };
            let input = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let mut input = std::io::BufReader::new(input);
            let report = platform::import_tenant(&app, console, &mut input, &options).await?;
            for (table, rows) in &report.rows.tables {
                eprintln!("  {table}: {rows}");
            }
            for skipped in &report.skipped_identity_providers {
                eprintln!(
                    "  identity provider {skipped} not made again: this installation has it for another tenant; \
                     its users' links to it were left out"
                );
            }
            print_tenant(&report.tenant);
        }
    }
    Ok(())
}

/// Writes a tenant's export to `path`, through a temporary file that is synced and renamed only
/// once complete.
pub async fn export(db: &Db, tenant: &Tenant, path: &std::path::Path) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
    let request = RequestContext::default();
    let summary = platform::export_tenant(&app, platform::Operator::console(&request), tenant.id, &mut writer).await?;
    let file = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", partial.display()))?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    for (table, rows) in &summary.tables {
        eprintln!("  {table}: {rows}");
    }
    eprintln!("exported tenant {} to {}", tenant.id, path.display());
    Ok(())
}

/// Exports a tenant, then destroys its keys.
pub async fn shred(db: &Db, tenant: &Tenant, export_to: &std::path::Path, confirm: &str) -> anyhow::Result<()> {
    if confirm.trim() != tenant.finess_juridique.as_str() {
        bail!(
            "not confirmed: --confirm must be the tenant's FINESS juridique ({}); nothing was done",
            tenant.finess_juridique
        );
    }
    if tenant.status == TenantStatus::Shredded {
        bail!("tenant {} is already shredded", tenant.id);
    }
    export(db, tenant, export_to).await?;
    let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
    let request = RequestContext::default();
    platform::shred_tenant(&app, platform::Operator::console(&request), tenant.id, confirm).await?;
    eprintln!("tenant {} shredded: its keys are destroyed and its data is unreadable", tenant.id);
    Ok(())
}

async fn keys(command: KeysCommand, db: &Db) -> anyhow::Result<()> {
    match command {
        KeysCommand::RotateKek => {
            let report = db.rewrap_all_keys().await?;
            println!(
                "{} tenant(s): {} key(s) rewrapped, {} already under the active KEK",
                report.tenants, report.rewrapped, report.already_current
            );
        }
        KeysCommand::RotateDek { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            let version = db.rotate_data_key(found.id).await?;
            println!("tenant {}: data key version {version} is active; run `dui keys reencrypt`", found.id);
        }
        KeysCommand::Reencrypt { tenant, batch_size, max_batches } => {
            let tenants = match tenant {
                Some(tenant) => vec![find_tenant(db, &tenant).await?.id],
                None => db.tenants_with_keys().await?,
            };
            let options = dui_storage::ReencryptOptions { batch_size: batch_size.clamp(1, 10_000), max_batches };
            reencrypt(db, &tenants, options).await?;
        }
        KeysCommand::Status { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            for (version, status, encryptions) in db.data_key_versions(found.id).await? {
                println!("data key v{version}  {status:<9}  {encryptions} encryptions reserved");
            }
            println!("{} row(s) sealed with an older key", db.count_stale_rows(found.id).await?);
        }
        KeysCommand::GenerateKek | KeysCommand::GenerateSigningKey { .. } => unreachable!("handled above"),
    }
    Ok(())
}

async fn audit(command: AuditCommand, db: &Db) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { tenant } => {
            let tenants = match tenant {
                Some(tenant) => vec![find_tenant(db, &tenant).await?.id],
                None => db.tenants_with_keys().await?,
            };
            let mut broken = 0;
            for tenant in tenants {
                db.chain_tenant(tenant).await?;
                let report = db.verify_audit(tenant).await?;
                match &report.broken {
                    None => println!(
                        "tenant {tenant}: intact, {} link(s); head {}",
                        report.links,
                        report.head.as_deref().unwrap_or("(empty)")
                    ),
                    Some(found) => {
                        broken += 1;
                        println!("tenant {tenant}: BROKEN after {} intact link(s): {found}", report.links);
                    }
                }
            }
            if broken > 0 {
                bail!("{broken} audit chain(s) broken");
            }
        }
        AuditCommand::Export { tenant, out, from, to } => {
            let found = find_tenant(db, &tenant).await?;
            let partial = out.with_extension("partial");
            let file =
                std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
            let scope = TenantScope::console(found.id);
            let events = dui_app::audit::export(&app, &scope, from, to, None, &mut writer).await?;
            let file = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", partial.display()))?;
            file.sync_all()?;
            std::fs::rename(&partial, &out)?;
            eprintln!("{events} event(s) of tenant {} written to {}", found.id, out.display());
        }
    }
    Ok(())
}

/// Runs the re-encryption job with a progress bar per tenant.
pub async fn reencrypt(db: &Db, tenants: &[TenantId], options: dui_storage::ReencryptOptions) -> anyhow::Result<u64> {
    let mut resealed = 0;
    for tenant in tenants {
        let total = db.count_stale_rows(*tenant).await?;
        if total == 0 {
            continue;
        }
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("tenant {tenant}"));
        let mut report = |progress: dui_storage::ReencryptProgress| bar.set_position(progress.done);
        resealed += db.reencrypt_tenant(*tenant, options, &mut report).await?;
        bar.finish();
        let left = db.count_stale_rows(*tenant).await?;
        if left > 0 {
            eprintln!("tenant {tenant}: {left} row(s) still to reseal (busy rows, or stopped early): run again");
        }
    }
    Ok(resealed)
}

/// Mints a token after checking that its subject exists and may log in.
pub async fn token(config: &Config, db: &Db, args: &TokenArgs) -> anyhow::Result<String> {
    let issuer = server::own_issuer(config)?;
    let ttl = chrono::Duration::seconds(i64::try_from(args.ttl.unwrap_or(config.auth.token_ttl_secs))?);
    let subject = match (&args.user, &args.tenant, &args.operator) {
        (Some(user), Some(tenant), None) => {
            let tenant = find_tenant(db, tenant).await?;
            if tenant.status != TenantStatus::Active {
                bail!("tenant {} is {}", tenant.id, tenant.status);
            }
            let user = UserId::from_uuid(*user);
            let scope = TenantScope::console(tenant.id);
            let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
            let found = dui_app::people::get_user(&app, &scope, user)
                .await
                .with_context(|| format!("no user {user} in tenant {}", tenant.id))?;
            if found.status != dui_domain::people::UserStatus::Active {
                bail!("user {user} is disabled");
            }
            dui_auth::own::Subject::TenantUser { tenant: tenant.id, user }
        }
        (None, _, Some(operator)) => {
            let found = db.find_operator(operator).await?.with_context(|| format!("no operator {operator}"))?;
            if found.status != "active" {
                bail!("operator {operator} is disabled");
            }
            dui_auth::own::Subject::Operator(found.id)
        }
        _ => bail!("give --user with --tenant, or --operator"),
    };
    Ok(issuer.mint(subject, chrono::Utc::now(), ttl))
}
