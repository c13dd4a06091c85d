//! The command line.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use dui_domain::people::{NewUser, Role, UserInput};
use dui_domain::scope::{PlatformScope, TenantScope};
use dui_domain::structure::Finess;
use dui_domain::tenant::{NewTenant, Tenant, TenantStatus};
use dui_domain::{OperatorId, TenantId, UserId};
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
    /// Check the configuration and print it (secrets redacted).
    CheckConfig,
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
#[group(required = true, multiple = false, id = "subject")]
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
    Generate {
        /// Write to this file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The platform scope of the command line: operators at the console act as the platform.
fn console_scope() -> PlatformScope {
    PlatformScope::new(OperatorId::from_uuid(Uuid::nil()))
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
        Command::Keys(KeysCommand::Generate { out }) => {
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
            let applied = dui_storage::migrate::run(owner.expose()).await?;
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
        Command::Demo(_) | Command::Keys(_) | Command::CheckConfig => unreachable!("handled above"),
    }
}

async fn tenant(command: TenantCommand, db: &Db) -> anyhow::Result<()> {
    let scope = console_scope();
    match command {
        TenantCommand::Create { name, finess_juridique, admin_family_name, admin_given_name } => {
            let new = NewTenant::validate(&name, &finess_juridique)?;
            let tenant = db.create_tenant(&scope, &new).await?;
            print_tenant(&tenant);
            if let Some(family_name) = admin_family_name {
                let admin = NewUser::validate(UserInput {
                    family_name: Some(&family_name),
                    given_name: admin_given_name.as_deref(),
                    ..UserInput::default()
                })?;
                let (user, _) = db.create_user_with_role(tenant.id, &admin, Role::TenantAdmin).await?;
                println!("tenant admin {}  {} {}", user.id, user.given_name, user.family_name);
            }
        }
        TenantCommand::List => {
            let mut page = dui_domain::pagination::PageRequest::first(200);
            loop {
                let tenants = db.list_tenants(&scope, page).await?;
                tenants.items.iter().for_each(print_tenant);
                match tenants.next_after {
                    Some(after) => page.after = Some(after),
                    None => break,
                }
            }
        }
        TenantCommand::Suspend { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            print_tenant(&db.set_tenant_status(&scope, found.id, TenantStatus::Suspended).await?);
        }
        TenantCommand::Resume { tenant } => {
            let found = find_tenant(db, &tenant).await?;
            print_tenant(&db.set_tenant_status(&scope, found.id, TenantStatus::Active).await?);
        }
    }
    Ok(())
}

/// Mints a token after checking that its subject exists and may log in.
pub async fn token(config: &Config, db: &Db, args: &TokenArgs) -> anyhow::Result<String> {
    let issuer = server::own_issuer(config)?;
    let ttl = chrono::Duration::seconds(i64::try_from(args.ttl.unwrap_or(config.auth.token_ttl_secs))?);
    let subject = match (&args.user, &args.tenant, &args.operator) {
        (Some(user), Some(tenant), None) => {
            let tenant = find_tenant(db, tenant).await?;
            if tenant.status == TenantStatus::Suspended {
                bail!("tenant {} is suspended", tenant.id);
            }
            let user = UserId::from_uuid(*user);
            let scope = TenantScope::console(tenant.id);
            let found =
                db.get_user(&scope, user).await.with_context(|| format!("no user {user} in tenant {}", tenant.id))?;
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
