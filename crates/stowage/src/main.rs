//! `stowage`: run the registry, or administer it.

use clap::{Parser, Subcommand};
use stowage::{Config, LogFormat, Overrides};
use stowage_server::auth::Identity;
use stowage_server::services::{credentials, tokens};

#[derive(Parser)]
#[command(
    name = "stowage",
    version,
    about = "A self-hosted container registry that speaks the AWS ECR API"
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server.
    Serve,
    /// Manage repositories.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Administer keys and credentials.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage accounts: one deployment can host several.
    Account {
        #[command(subcommand)]
        command: stowage::commands::account::AccountCommand,
    },
    /// Apply lifecycle policies now, or preview one.
    Lifecycle {
        #[command(subcommand)]
        command: stowage::commands::lifecycle::LifecycleCommand,
    },
    /// Print the audit trail (mutating requests and denials) as JSON lines, oldest first.
    Audit(stowage::commands::audit::AuditArgs),
    /// Load vulnerability advisories (OSV) for image scanning, or show what is loaded.
    Vulndb {
        #[command(subcommand)]
        command: stowage::commands::vulndb::VulndbCommand,
    },
    /// IAM users' console passwords.
    Iam {
        #[command(subcommand)]
        command: stowage::commands::iam::IamCommand,
    },
    /// Image scanning: print an image's packages as an SBOM.
    Scan {
        #[command(subcommand)]
        command: stowage::commands::scan::ScanCommand,
    },
    /// Run a garbage-collection pass now and report what it freed (JSON).
    Gc {
        /// List what would be deleted without deleting anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Create a repository.
    Create {
        /// Repository name, e.g. `team/app`.
        name: String,
        /// MUTABLE (default), IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
        #[arg(long, default_value = "MUTABLE")]
        image_tag_mutability: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Replace the registry token key: every issued login password stops working.
    RotateTokenKey,
    /// Replace the master key: re-seal every secret it seals (key-service material,
    /// access-key secrets and session tokens) with a new key, in one transaction.
    ///
    /// Stop every node sharing the database first: a node still running holds the
    /// old key, can no longer open what it reads, and would seal what it writes with
    /// the old key. Afterwards every node needs the new key, and a node started with
    /// the old one refuses to start (master key check).
    ///
    /// With the key in <data-dir>/master.key (no master_key or master_key_file), the
    /// new key is written to master.key.next (mode 0600) before the database changes
    /// and renamed over master.key after; if the command stops between the two, the
    /// next start (or run of any command) finishes the rename. Copy the new
    /// master.key to the other nodes sharing the database.
    ///
    /// With a configured key (master_key, STOWAGE_MASTER_KEY or master_key_file),
    /// which Stowage never rewrites, --new-key-file is required: the new key is
    /// written there before the database changes; then set master_key_file to that
    /// file on every node. If the command fails after the database changed, the new
    /// key is in that file all the same.
    RotateMasterKey {
        /// The new key: read from this file (64 hex characters) when it exists,
        /// otherwise generated and written to it (mode 0600).
        #[arg(long, value_name = "PATH")]
        new_key_file: Option<std::path::PathBuf>,
    },
    /// Create an access key for a user of the registry's account (printed once, as JSON).
    ///
    /// A user that does not exist yet is created with the AdministratorAccess
    /// policy, as every user could do everything before IAM; create restricted
    /// users with `aws iam create-user` instead.
    CreateAccessKey {
        #[arg(long, default_value = "admin")]
        user: String,
        /// Make temporary credentials (ASIA… with a session token) valid this long.
        #[arg(long)]
        session_seconds: Option<i64>,
    },
    /// Print a registry login password for a user, like `aws ecr get-login-password`.
    GetLoginPassword {
        #[arg(long, default_value = "admin")]
        user: String,
        /// Lifetime of the password, at most 12 hours.
        #[arg(long, default_value_t = tokens::TOKEN_LIFETIME_SECS,
              value_parser = clap::value_parser!(i64).range(1..=tokens::TOKEN_LIFETIME_SECS))]
        lifetime_seconds: i64,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STOWAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.overrides)?;
    init_tracing(config.log_format);
    match cli.command {
        Command::Serve => stowage::serve::run(config).await,
        Command::Repo {
            command: RepoCommand::Create {
                name,
                image_tag_mutability,
            },
        } => {
            let name: stowage_core::RepositoryName = name
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid repository name '{name}': {e}"))?;
            let tag_mutability = image_tag_mutability
                .parse()
                .map_err(|()| anyhow::anyhow!("unknown tag mutability '{image_tag_mutability}'"))?;
            let state = stowage::open(&config, None).await?;
            let new = stowage_meta::NewRepository {
                tag_mutability,
                ..Default::default()
            };
            let repo = state
                .meta
                .create_repository(&state.config.account_id, name.as_str(), new)
                .await?;
            println!(
                "{}",
                serde_json::json!({
                    "repositoryName": repo.name,
                    "registryId": repo.account_id,
                    "createdAt": repo.created_at as f64 / 1000.0,
                })
            );
            Ok(())
        }
        Command::Admin { command } => admin(config, command).await,
        Command::Account { command } => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::account::execute(&state, command, &mut std::io::stdout().lock()).await
        }
        Command::Lifecycle { command } => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::lifecycle::execute(&state, command, &mut std::io::stdout().lock()).await
        }
        Command::Audit(args) => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::audit::execute(&state, args, &mut std::io::stdout().lock()).await
        }
        Command::Vulndb { command } => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::vulndb::execute(&state, command, &mut std::io::stdout().lock()).await
        }
        Command::Iam { command } => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::iam::execute(&state, command, std::io::stdin().lock(), &mut std::io::stdout().lock())
                .await
        }
        Command::Scan { command } => {
            let state = stowage::open(&config, None).await?;
            stowage::commands::scan::execute(&state, command, &mut std::io::stdout().lock()).await
        }
        Command::Gc { dry_run } => {
            let state = stowage::open(&config, None).await?;
            let report = stowage_server::services::gc::pass(&state, dry_run).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let state = stowage::open(&config, None).await?;
    let account = state.config.account_id.clone();
    match command {
        AdminCommand::RotateTokenKey => {
            stowage_server::keys::rotate_token_key(&state.meta, &state.master_key).await?;
            eprintln!("token key rotated: passwords issued before now are no longer accepted");
        }
        AdminCommand::RotateMasterKey { new_key_file } => {
            let done =
                stowage::master_key::rotate(&config, &state.meta, &state.master_key, new_key_file.as_deref()).await?;
            let r = done.resealed;
            eprintln!(
                "master key rotated: re-sealed {} key-material versions, {} access-key secrets and {} session tokens",
                r.kms_key_versions, r.access_key_secrets, r.session_tokens
            );
            if done.configured {
                eprintln!(
                    "the new key is in {}: set master_key_file to it (and unset master_key / STOWAGE_MASTER_KEY) \
                     on every node, then start them",
                    done.key_file.display()
                );
            } else {
                eprintln!(
                    "the new key is in {}: copy it to every other node sharing this database, then start them",
                    done.key_file.display()
                );
            }
        }
        AdminCommand::CreateAccessKey { user, session_seconds } => {
            let key = credentials::create_key(&state, &account, &user, session_seconds).await?;
            println!(
                "{}",
                serde_json::json!({
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                    "SessionToken": key.session_token,
                    "Arn": key.principal_arn,
                })
            );
        }
        AdminCommand::GetLoginPassword { user, lifetime_seconds } => {
            let who = Identity {
                principal_arn: credentials::user_arn(&account, &user),
                account_id: account,
                session_key: None,
            };
            let token = tokens::issue(&state, &who, stowage_meta::now_ms() / 1000, lifetime_seconds).await?;
            println!("{}", token.password);
        }
    }
    Ok(())
}
