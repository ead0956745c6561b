//! `stowage iam set-console-password USER`: the password an IAM user signs in
//! to the web console with, read from standard input (not from the command
//! line, where other users of the machine could see it).

use std::io::{BufRead, Write};

use stowage_server::AppState;
use stowage_server::services::console_passwords;

/// `stowage iam …`.
#[derive(clap::Subcommand)]
pub enum IamCommand {
    /// Set an IAM user's console password, read from the first line of standard input.
    SetConsolePassword {
        /// The user's name.
        user: String,
        /// The account (default: the registry's).
        #[arg(long)]
        account: Option<String>,
    },
}

/// Runs an iam subcommand, reading the password from `input`.
pub async fn execute(
    state: &AppState,
    command: IamCommand,
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        IamCommand::SetConsolePassword { user, account } => {
            let mut line = String::new();
            input.take(4096).read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            let account = account.unwrap_or_else(|| state.config.account_id.clone());
            console_passwords::set(state, &account, &user, password).await?;
            writeln!(
                out,
                "{}",
                serde_json::json!({ "user": user, "account": account, "consolePassword": "set" })
            )?;
        }
    }
    Ok(())
}
