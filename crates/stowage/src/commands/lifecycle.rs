//! `stowage lifecycle run|preview`: apply lifecycle policies now, or see what
//! a policy would expire without deleting anything. Output is JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};
use stowage_meta::{ExpiredImage, ExpiryOutcome, Repository};
use stowage_server::AppState;
use stowage_server::services::lifecycle;

/// `stowage lifecycle …`.
#[derive(clap::Subcommand)]
pub enum LifecycleCommand {
    /// Run lifecycle policies now: one JSON line per repository with what expired.
    Run {
        /// Only this repository (default: every repository with a policy).
        #[arg(long)]
        repository: Option<String>,
    },
    /// Print what a policy would expire now and the bytes that would free; deletes nothing.
    Preview {
        #[arg(long)]
        repository: String,
        /// Policy text to preview instead of the repository's policy.
        #[arg(long)]
        policy_file: Option<PathBuf>,
    },
}

/// Runs a lifecycle subcommand, printing to `out`.
pub async fn execute(state: &AppState, command: LifecycleCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        LifecycleCommand::Run { repository: Some(name) } => {
            let repo = repository(state, &name).await?;
            let outcome = lifecycle::run(state, &repo)
                .await
                .with_context(|| format!("running the lifecycle policy of '{name}'"))?;
            writeln!(out, "{}", run_json(&repo, &outcome))?;
        }
        LifecycleCommand::Run { repository: None } => {
            let mut failed = 0;
            for (repo, outcome) in lifecycle::run_all(state).await? {
                let line = match outcome {
                    Ok(outcome) => run_json(&repo, &outcome),
                    Err(e) => {
                        failed += 1;
                        json!({ "repositoryName": repo.name, "error": e.to_string() })
                    }
                };
                writeln!(out, "{line}")?;
            }
            anyhow::ensure!(failed == 0, "the lifecycle run failed in {failed} repositories");
        }
        LifecycleCommand::Preview {
            repository: name,
            policy_file,
        } => {
            let repo = repository(state, &name).await?;
            let text = match policy_file {
                Some(path) => {
                    Some(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?)
                }
                None => None,
            };
            let (_, outcome) = lifecycle::preview(state, &repo, text)
                .await
                .with_context(|| format!("previewing the lifecycle policy of '{name}'"))?;
            let preview = json!({
                "repositoryName": repo.name,
                "expiringImageTotalCount": outcome.images.len(),
                "reclaimableBytes": outcome.reclaimable_bytes,
                "previewResults": outcome.images.iter().map(image_json).collect::<Vec<_>>(),
            });
            writeln!(out, "{preview}")?;
        }
    }
    Ok(())
}

async fn repository(state: &AppState, name: &str) -> anyhow::Result<Repository> {
    state
        .meta
        .repository(&state.config.account_id, name)
        .await?
        .with_context(|| format!("repository '{name}' does not exist"))
}

fn run_json(repo: &Repository, outcome: &ExpiryOutcome) -> Value {
    json!({
        "repositoryName": repo.name,
        "imagesExpired": outcome.images.len(),
        "reclaimableBytes": outcome.reclaimable_bytes,
        "expiredImages": outcome.images.iter().map(image_json).collect::<Vec<_>>(),
    })
}

/// An image as the preview API shows it, plus the image it followed.
fn image_json(i: &ExpiredImage) -> Value {
    let mut v = json!({
        "imageDigest": i.digest.to_string(),
        "imageTags": i.tags,
        "imagePushedAt": i.pushed_at as f64 / 1000.0,
        "appliedRulePriority": i.rule_priority,
    });
    if let Some(f) = i.follows {
        v["follows"] = f.to_string().into();
    }
    v
}
