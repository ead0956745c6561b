//! Repository and registry policy operations (spec §2.6, §5.6).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCtx, EcrError, parse, repository_name};
use crate::auth::{self, Principal};
use crate::services::policies::{self, PolicyOpError};

fn repository_error(e: PolicyOpError, name: &str, account: &str) -> EcrError {
    match e {
        PolicyOpError::Invalid(detail) => {
            tracing::debug!(%detail, "refused a repository policy");
            EcrError::invalid_parameter(stowage_policy::messages::ECR_INVALID_REPOSITORY_POLICY)
        }
        PolicyOpError::LockOut => EcrError::invalid_parameter(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository policy would prevent \
             the caller from calling SetRepositoryPolicy in the future; set force to apply it anyway'",
        ),
        PolicyOpError::NotFound => EcrError::new(
            "RepositoryPolicyNotFoundException",
            format!(
                "Repository policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
            ),
        ),
        PolicyOpError::Meta(e) => e.into(),
    }
}

fn registry_error(e: PolicyOpError, account: &str) -> EcrError {
    match e {
        PolicyOpError::NotFound => EcrError::new(
            "RegistryPolicyNotFoundException",
            format!("Registry policy does not exist in the registry with id '{account}'"),
        ),
        other => repository_error(other, "", account),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetRepositoryPolicyRequest {
    repository_name: String,
    policy_text: String,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryRequest {
    repository_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRegistryPolicyRequest {
    policy_text: String,
}

/// `SetRepositoryPolicy`.
pub async fn set_repository_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: SetRepositoryPolicyRequest = parse(input)?;
    repository_name(&req.repository_name)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let arn = auth::repository_arn(&ctx.state.config.region, &ctx.account, &repo.name);
    let caller = Principal::Authenticated(ctx.identity.clone());
    policies::set_repository_policy(&ctx.state, &caller, &repo, &arn, &req.policy_text, req.force)
        .await
        .map_err(|e| repository_error(e, &repo.name, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "repositoryName": repo.name, "policyText": req.policy_text}))
}

/// `GetRepositoryPolicy`.
pub async fn get_repository_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepositoryRequest = parse(input)?;
    repository_name(&req.repository_name)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let text = policies::repository_policy(&ctx.state, &repo)
        .await
        .map_err(|e| repository_error(e, &repo.name, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "repositoryName": repo.name, "policyText": text}))
}

/// `DeleteRepositoryPolicy`: returns the deleted text.
pub async fn delete_repository_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepositoryRequest = parse(input)?;
    repository_name(&req.repository_name)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let text = policies::delete_repository_policy(&ctx.state, &repo)
        .await
        .map_err(|e| repository_error(e, &repo.name, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "repositoryName": repo.name, "policyText": text}))
}

/// `PutRegistryPolicy`.
pub async fn put_registry_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutRegistryPolicyRequest = parse(input)?;
    policies::put_registry_policy(&ctx.state, &ctx.account, &req.policy_text)
        .await
        .map_err(|e| registry_error(e, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "policyText": req.policy_text}))
}

/// `GetRegistryPolicy`.
pub async fn get_registry_policy(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    let text = policies::registry_policy(&ctx.state, &ctx.account)
        .await
        .map_err(|e| registry_error(e, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "policyText": text}))
}

/// `DeleteRegistryPolicy`: returns the deleted text.
pub async fn delete_registry_policy(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    let text = policies::delete_registry_policy(&ctx.state, &ctx.account)
        .await
        .map_err(|e| registry_error(e, &ctx.account))?;
    Ok(json!({"registryId": ctx.account, "policyText": text}))
}
