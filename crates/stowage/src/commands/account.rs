//! `stowage account create`: another account on this deployment, with an
//! administrator user (AdministratorAccess) whose key is printed once in AWS
//! credentials-file format.

use std::io::Write;

use anyhow::Context;
use stowage_server::AppState;
use stowage_server::services::iam;

/// `stowage account …`.
#[derive(clap::Subcommand)]
pub enum AccountCommand {
    /// Create an account with an administrator user and print its credentials
    /// (AWS credentials-file format, a profile named after the account).
    Create {
        /// The 12-digit account id (default: a random one).
        #[arg(long)]
        id: Option<String>,
        /// The administrator's user name.
        #[arg(long, default_value = "admin")]
        admin: String,
    },
}

/// Runs an account subcommand, printing to `out`.
pub async fn execute(state: &AppState, command: AccountCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        AccountCommand::Create { id, admin } => {
            let id = id.unwrap_or_else(crate::random_account_id);
            let key = iam::create_account(state, &id, &admin)
                .await
                .with_context(|| format!("creating account {id}"))?;
            writeln!(
                out,
                "[{id}]\naws_access_key_id = {}\naws_secret_access_key = {}",
                key.access_key_id, key.secret_access_key
            )?;
        }
    }
    Ok(())
}
