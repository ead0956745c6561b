//! `stowage vulndb import|status`: load OSV advisories into the vulnerability
//! database that scans match against, and show what it holds. Output is JSON.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use stowage_server::AppState;
use stowage_server::services::vulndb;

/// `stowage vulndb …`.
#[derive(clap::Subcommand)]
pub enum VulndbCommand {
    /// Import OSV advisories: JSON or YAML files, directories of them, or `.zip`
    /// dumps as osv.dev publishes them (`<ecosystem>/all.zip`). Idempotent, and
    /// safe while the registry serves. Prints one JSON line per path.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the sources with their advisory counts and update times (JSON).
    Status,
}

/// Runs a vulndb subcommand, printing to `out`.
pub async fn execute(state: &AppState, command: VulndbCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        VulndbCommand::Import { paths } => {
            for path in paths {
                let report = vulndb::import(&state.meta, &path, |origin, e| {
                    eprintln!("skipped {origin}: {e}");
                })
                .await?;
                let mut line = serde_json::to_value(&report)?;
                line["path"] = json!(path.display().to_string());
                writeln!(out, "{line}")?;
            }
        }
        VulndbCommand::Status => {
            let sources: Vec<_> = state
                .meta
                .vuln_sources()
                .await?
                .into_iter()
                .map(|s| {
                    json!({
                        "source": s.name,
                        "advisories": s.advisories,
                        "updatedAt": s.updated_at as f64 / 1000.0,
                        "importedAt": s.imported_at as f64 / 1000.0,
                    })
                })
                .collect();
            writeln!(out, "{}", json!({ "sources": sources }))?;
        }
    }
    Ok(())
}
