//! Lifecycle policy operations: put, get, delete, and the preview pair.
//!
//! A preview is evaluated when it starts; Start reports `IN_PROGRESS` and the
//! next Get `COMPLETE` (so the CLI's waiter works). Until a Get has seen it, or
//! for at most a minute, another Start gets `LifecyclePolicyPreviewInProgressException`.

use serde::Deserialize;
use serde_json::{Value, json};
use stowage_meta::{ExpiredImage, Repository};

use super::paging::Page;
use super::{ApiCtx, EcrError, parse, repository_name, timestamp};
use crate::services::lifecycle::{self, LifecycleError};

/// Most `previewResults` a page may ask for [model].
const MAX_PREVIEW_PAGE: i64 = 100;

fn lifecycle_error(e: LifecycleError, repo: &Repository, account: &str) -> EcrError {
    match e {
        LifecycleError::Invalid(e) => EcrError::invalid_parameter(e.to_string()),
        LifecycleError::PolicyNotFound => EcrError::lifecycle_policy_not_found(&repo.name, account),
        LifecycleError::PreviewInProgress => EcrError::lifecycle_policy_preview_in_progress(&repo.name, account),
        LifecycleError::PreviewNotFound => EcrError::lifecycle_policy_preview_not_found(&repo.name, account),
        LifecycleError::Meta(e) => e.into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryRequest {
    repository_name: String,
}

/// The validated repository of a request.
async fn repository(ctx: &ApiCtx, name: &str) -> Result<Repository, EcrError> {
    repository_name(name)?;
    ctx.repository(name).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutLifecyclePolicyRequest {
    repository_name: String,
    lifecycle_policy_text: String,
}

/// `PutLifecyclePolicy`: validates the text and stores it verbatim.
pub async fn put_lifecycle_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutLifecyclePolicyRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    lifecycle::put_policy(&ctx.state, &repo, &req.lifecycle_policy_text)
        .await
        .map_err(|e| lifecycle_error(e, &repo, &ctx.account))?;
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "lifecyclePolicyText": req.lifecycle_policy_text,
    }))
}

/// The answer of Get and Delete: the policy with when it last ran.
fn policy_json(ctx: &ApiCtx, repo: &Repository, text: String, last_evaluated_at: Option<i64>) -> Value {
    let mut out = json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "lifecyclePolicyText": text,
    });
    if let Some(at) = last_evaluated_at {
        out["lastEvaluatedAt"] = timestamp(at);
    }
    out
}

/// `GetLifecyclePolicy`.
pub async fn get_lifecycle_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepositoryRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let policy = lifecycle::get_policy(&ctx.state, &repo)
        .await
        .map_err(|e| lifecycle_error(e, &repo, &ctx.account))?;
    Ok(policy_json(ctx, &repo, policy.text, policy.last_evaluated_at))
}

/// `DeleteLifecyclePolicy`: returns the deleted policy.
pub async fn delete_lifecycle_policy(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepositoryRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let policy = lifecycle::delete_policy(&ctx.state, &repo)
        .await
        .map_err(|e| lifecycle_error(e, &repo, &ctx.account))?;
    Ok(policy_json(ctx, &repo, policy.text, policy.last_evaluated_at))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartPreviewRequest {
    repository_name: String,
    lifecycle_policy_text: Option<String>,
}

/// `StartLifecyclePolicyPreview`: the given text, else the stored policy.
pub async fn start_lifecycle_policy_preview(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: StartPreviewRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let text = lifecycle::start_preview(&ctx.state, &repo, req.lifecycle_policy_text)
        .await
        .map_err(|e| lifecycle_error(e, &repo, &ctx.account))?;
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreviewFilter {
    tag_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPreviewRequest {
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<PreviewFilter>,
}

/// `filter.tagStatus` as "tagged only" / "untagged only" / all.
fn tagged_filter(filter: Option<&PreviewFilter>) -> Result<Option<bool>, EcrError> {
    match filter.and_then(|f| f.tag_status.as_deref()) {
        None | Some("ANY") => Ok(None),
        Some("TAGGED") => Ok(Some(true)),
        Some("UNTAGGED") => Ok(Some(false)),
        Some(other) => Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]' (got '{other}')"
        ))),
    }
}

fn result_json(i: &ExpiredImage) -> Value {
    let mut v = json!({
        "imageDigest": i.digest.to_string(),
        "imagePushedAt": timestamp(i.pushed_at),
        "action": { "type": "EXPIRE" },
        "appliedRulePriority": i.rule_priority,
    });
    if !i.tags.is_empty() {
        v["imageTags"] = i.tags.clone().into();
    }
    v
}

/// `GetLifecyclePolicyPreview`: the latest preview's results, filtered and
/// paged, with `summary.reclaimableBytes` (our extension) beside the count.
pub async fn get_lifecycle_policy_preview(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: GetPreviewRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let tagged = tagged_filter(req.filter.as_ref())?;
    if req.image_ids.is_some() && (req.next_token.is_some() || req.max_results.is_some()) {
        return Err(EcrError::invalid_parameter(
            "imageIds cannot be combined with nextToken or maxResults",
        ));
    }
    if let Some(ids) = &req.image_ids
        && ids.iter().any(|id| id.image_digest.is_none() && id.image_tag.is_none())
    {
        return Err(EcrError::invalid_parameter(
            "Invalid request parameters: both tag and digest cannot be null",
        ));
    }
    if let Some(n) = req.max_results
        && !(1..=MAX_PREVIEW_PAGE).contains(&n)
    {
        return Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and {MAX_PREVIEW_PAGE}' (got {n})"
        )));
    }
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let preview = lifecycle::get_preview(&ctx.state, &repo)
        .await
        .map_err(|e| lifecycle_error(e, &repo, &ctx.account))?;
    let mut out = json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "lifecyclePolicyText": preview.text,
        "status": "COMPLETE",
        "summary": {
            "expiringImageTotalCount": preview.expiring,
            "reclaimableBytes": preview.reclaimable_bytes,
        },
    });
    if let Some(ids) = &req.image_ids {
        let all = lifecycle::preview_results(&ctx.state, &repo, tagged, 0, i64::MAX as usize).await?;
        let wanted = |i: &ExpiredImage| {
            ids.iter().any(|id| {
                id.image_digest.as_ref().is_none_or(|d| *d == i.digest.to_string())
                    && id.image_tag.as_ref().is_none_or(|t| i.tags.contains(t))
            })
        };
        out["previewResults"] = all.iter().filter(|i| wanted(i)).map(result_json).collect();
        return Ok(out);
    }
    let mut results = lifecycle::preview_results(&ctx.state, &repo, tagged, page.offset, page.limit + 1).await?;
    let more = results.len() > page.limit;
    results.truncate(page.limit);
    out["previewResults"] = results.iter().map(result_json).collect();
    page.finish(&mut out, results.len(), more);
    Ok(out)
}
