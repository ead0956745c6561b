//! Lifecycle policies: storing them validated, previewing what they would
//! expire, and running them — on a schedule over every repository that has
//! one, or on demand.
//!
//! Only images that stand on their own are evaluated: an index's children
//! follow their index and referrers follow their subject (see
//! `stowage_meta::Meta::expire_images`).

use std::time::Duration;

use stowage_core::lifecycle::{self, ImageFacts, LifecyclePolicy, PolicyError};
use stowage_meta::{
    ExpiredImage, Expiring, ExpiryOutcome, ImageRole, LifecycleImage, LifecyclePolicyRecord, MetaError, PreviewRecord,
    Repository,
};

use crate::AppState;

/// How long a preview no GetLifecyclePolicyPreview has seen blocks the next one.
pub const PREVIEW_HOLD: Duration = Duration::from_secs(60);

/// Why a lifecycle request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    #[error("the repository has no lifecycle policy")]
    PolicyNotFound,
    #[error("a lifecycle policy preview is in progress")]
    PreviewInProgress,
    #[error("no lifecycle policy preview was started")]
    PreviewNotFound,
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// Validates and stores a repository's policy.
pub async fn put_policy(state: &AppState, repo: &Repository, text: &str) -> Result<(), LifecycleError> {
    LifecyclePolicy::parse(text)?;
    state.meta.put_lifecycle_policy(repo.id, text).await?;
    Ok(())
}

/// A repository's stored policy.
pub async fn get_policy(state: &AppState, repo: &Repository) -> Result<LifecyclePolicyRecord, LifecycleError> {
    state
        .meta
        .lifecycle_policy(repo.id)
        .await?
        .ok_or(LifecycleError::PolicyNotFound)
}

/// Deletes a repository's policy, returning it.
pub async fn delete_policy(state: &AppState, repo: &Repository) -> Result<LifecyclePolicyRecord, LifecycleError> {
    state
        .meta
        .delete_lifecycle_policy(repo.id)
        .await?
        .ok_or(LifecycleError::PolicyNotFound)
}

/// The images `policy` selects among a repository's `images` at `now_ms`, oldest first.
fn select(images: &[LifecycleImage], policy: &LifecyclePolicy, now_ms: i64) -> Vec<Expiring> {
    let own: Vec<_> = images.iter().filter(|i| i.role == ImageRole::Own).collect();
    let facts: Vec<ImageFacts<'_>> = own.iter().map(|i| i.facts()).collect();
    lifecycle::evaluate(policy, &facts, now_ms)
        .into_iter()
        .map(|e| Expiring {
            digest: own[e.index].digest,
            tags: own[e.index].tags.clone(),
            rule_priority: e.rule_priority,
        })
        .collect()
}

/// What `text` (else the stored policy) would expire now, deleting nothing.
/// Returns the policy text evaluated.
pub async fn preview(
    state: &AppState,
    repo: &Repository,
    text: Option<String>,
) -> Result<(String, ExpiryOutcome), LifecycleError> {
    let text = match text {
        Some(t) => t,
        None => get_policy(state, repo).await?.text,
    };
    let policy = LifecyclePolicy::parse(&text)?;
    let now = stowage_meta::now_ms();
    let outcome = state
        .meta
        .preview_lifecycle(repo.id, |images| select(images, &policy, now))
        .await?;
    Ok((text, outcome))
}

/// Runs the repository's policy now: expires what it selects.
pub async fn run(state: &AppState, repo: &Repository) -> Result<ExpiryOutcome, LifecycleError> {
    let stored = get_policy(state, repo).await?;
    let policy = LifecyclePolicy::parse(&stored.text)?;
    let now = stowage_meta::now_ms();
    let images = state.meta.lifecycle_images(repo.id).await?;
    let selected = select(&images, &policy, now);
    let expired = state.meta.expire_images(repo.id, &selected, false).await;
    // Whatever happened, this node must not serve a tag an expiry may have removed.
    state.tag_cache.forget(repo.id);
    let outcome = expired?;
    state.meta.set_lifecycle_evaluated(repo.id, now).await?;
    state
        .metrics
        .lifecycle_images_expired
        .inc_by(outcome.images.len() as u64);
    tracing::info!(
        repo.name = %repo.name,
        images_expired = outcome.images.len(),
        reclaimable_bytes = outcome.reclaimable_bytes,
        "lifecycle policy run"
    );
    Ok(outcome)
}

/// Runs every repository's policy, one repository after another; a failure in
/// one does not stop the others, and a policy deleted meanwhile is skipped.
pub async fn run_all(state: &AppState) -> Result<Vec<(Repository, Result<ExpiryOutcome, LifecycleError>)>, MetaError> {
    let mut done = Vec::new();
    for repo in state.meta.lifecycle_repositories().await? {
        match run(state, &repo).await {
            Err(LifecycleError::PolicyNotFound) => {}
            outcome => done.push((repo, outcome)),
        }
    }
    Ok(done)
}

/// `StartLifecyclePolicyPreview`: evaluates now and keeps the result for
/// GetLifecyclePolicyPreview. Returns the policy text previewed.
pub async fn start_preview(
    state: &AppState,
    repo: &Repository,
    text: Option<String>,
) -> Result<String, LifecycleError> {
    let (text, outcome) = preview(state, repo, text).await?;
    let since = stowage_meta::now_ms() - PREVIEW_HOLD.as_millis() as i64;
    if !state
        .meta
        .store_lifecycle_preview(repo.id, &text, &outcome, since)
        .await?
    {
        return Err(LifecycleError::PreviewInProgress);
    }
    Ok(text)
}

/// The repository's latest preview, now seen (so complete).
pub async fn get_preview(state: &AppState, repo: &Repository) -> Result<PreviewRecord, LifecycleError> {
    state
        .meta
        .see_lifecycle_preview(repo.id)
        .await?
        .ok_or(LifecycleError::PreviewNotFound)
}

/// The latest preview's images, only tagged (`Some(true)`) or untagged ones if asked.
pub async fn preview_results(
    state: &AppState,
    repo: &Repository,
    tagged: Option<bool>,
    offset: usize,
    limit: usize,
) -> Result<Vec<ExpiredImage>, MetaError> {
    state
        .meta
        .lifecycle_preview_results(repo.id, tagged, offset, limit)
        .await
}
