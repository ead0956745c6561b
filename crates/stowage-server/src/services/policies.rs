//! Repository and registry policies: validated as IAM resource policies, kept
//! verbatim, and dropped from this node's policy cache when they change.

use stowage_meta::{MetaError, Repository};
use stowage_policy::{Policy, PolicyKind};

use crate::AppState;
use crate::auth::Principal;

/// Longest policy text ECR accepts [model].
pub const MAX_POLICY_CHARS: usize = 10_240;

/// Why a policy operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyOpError {
    /// Not a valid resource policy (the detail is for logs; ECR's message is fixed).
    #[error("invalid policy: {0}")]
    Invalid(String),
    /// The policy would deny the caller `ecr:SetRepositoryPolicy` and `force` was not set.
    #[error("the policy would lock the caller out")]
    LockOut,
    #[error("no policy is set")]
    NotFound,
    #[error(transparent)]
    Meta(#[from] MetaError),
}

fn validate(text: &str) -> Result<Policy, PolicyOpError> {
    if text.is_empty() || text.chars().count() > MAX_POLICY_CHARS {
        return Err(PolicyOpError::Invalid(format!(
            "policy text must be 1 to {MAX_POLICY_CHARS} characters"
        )));
    }
    Policy::parse(text, PolicyKind::Resource).map_err(|e| PolicyOpError::Invalid(e.to_string()))
}

/// Sets the repository's policy, refusing one that would lock the caller out unless `force`.
pub async fn set_repository_policy(
    state: &AppState,
    caller: &Principal,
    repo: &Repository,
    repository_arn: &str,
    text: &str,
    force: bool,
) -> Result<(), PolicyOpError> {
    let policy = validate(text)?;
    if !force && crate::services::authz::would_lock_out(state, caller, &policy, repository_arn) {
        return Err(PolicyOpError::LockOut);
    }
    state.meta.put_repository_policy(repo.id, text).await?;
    state.policies.forget_repository(repo.id);
    Ok(())
}

/// The repository's policy text.
pub async fn repository_policy(state: &AppState, repo: &Repository) -> Result<String, PolicyOpError> {
    state
        .meta
        .repository_policy(repo.id)
        .await?
        .ok_or(PolicyOpError::NotFound)
}

/// Removes the repository's policy; returns the text it had.
pub async fn delete_repository_policy(state: &AppState, repo: &Repository) -> Result<String, PolicyOpError> {
    let text = state
        .meta
        .delete_repository_policy(repo.id)
        .await?
        .ok_or(PolicyOpError::NotFound)?;
    state.policies.forget_repository(repo.id);
    Ok(text)
}

/// Sets the account's registry policy.
pub async fn put_registry_policy(state: &AppState, account_id: &str, text: &str) -> Result<(), PolicyOpError> {
    validate(text)?;
    state.meta.put_registry_policy(account_id, text).await?;
    state.policies.forget_registry(account_id);
    Ok(())
}

/// The account's registry policy text.
pub async fn registry_policy(state: &AppState, account_id: &str) -> Result<String, PolicyOpError> {
    state
        .meta
        .registry_policy(account_id)
        .await?
        .ok_or(PolicyOpError::NotFound)
}

/// Removes the account's registry policy; returns the text it had.
pub async fn delete_registry_policy(state: &AppState, account_id: &str) -> Result<String, PolicyOpError> {
    let text = state
        .meta
        .delete_registry_policy(account_id)
        .await?
        .ok_or(PolicyOpError::NotFound)?;
    state.policies.forget_registry(account_id);
    Ok(text)
}
