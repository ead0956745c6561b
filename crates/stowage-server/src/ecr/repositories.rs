//! Repository operations: create, describe, delete, tag mutability, resource tags.

use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::TagMutability;
use stowage_meta::{MetaError, NewRepository, Repository};

use super::paging::Page;
use super::{ApiCtx, EcrError, parse, repository_name, timestamp};
use crate::auth;
use crate::services::kms;
use crate::services::repositories::Namespace;

/// Most resource tags a repository may carry.
pub(crate) const MAX_RESOURCE_TAGS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExclusionFilter {
    filter_type: String,
    filter: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScanningConfiguration {
    #[serde(default)]
    scan_on_push: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionConfiguration {
    encryption_type: String,
    kms_key: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ResourceTag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRepositoryRequest {
    repository_name: String,
    tags: Option<Vec<ResourceTag>>,
    image_tag_mutability: Option<String>,
    image_tag_mutability_exclusion_filters: Option<Vec<ExclusionFilter>>,
    image_scanning_configuration: Option<ScanningConfiguration>,
    encryption_configuration: Option<EncryptionConfiguration>,
}

/// The wire form of a repository.
pub fn repository_json(ctx: &ApiCtx, r: &Repository) -> Value {
    let mut v = json!({
        "repositoryArn": auth::repository_arn(&ctx.state.config.region, &r.account_id, &r.name),
        "registryId": r.account_id,
        "repositoryName": r.name,
        "repositoryUri": format!("{}/{}", ctx.state.config.registry_host(), r.name),
        "createdAt": timestamp(r.created_at),
        "imageTagMutability": r.tag_mutability.as_str(),
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
        "encryptionConfiguration": { "encryptionType": r.encryption_type },
    });
    if r.tag_mutability.takes_filters() {
        v["imageTagMutabilityExclusionFilters"] = r
            .tag_mutability_filters
            .iter()
            .map(|f| json!({ "filterType": "WILDCARD", "filter": f }))
            .collect();
    }
    if let Some(k) = &r.kms_key {
        v["encryptionConfiguration"]["kmsKey"] = k.clone().into();
    }
    v
}

/// Validates a mutability mode and its exclusion filters.
fn mutability(
    mode: Option<&str>,
    filters: Option<Vec<ExclusionFilter>>,
) -> Result<(TagMutability, Vec<String>), EcrError> {
    let mode: TagMutability = match mode {
        None => TagMutability::Mutable,
        Some(m) => m.parse().map_err(|()| {
            EcrError::invalid_parameter(format!(
                "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]' (got '{m}')"
            ))
        })?,
    };
    let filters = filters.unwrap_or_default();
    if !mode.takes_filters() && !filters.is_empty() {
        return Err(EcrError::invalid_parameter(
            "imageTagMutabilityExclusionFilters can only be used with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION",
        ));
    }
    if mode.takes_filters() && filters.is_empty() {
        return Err(EcrError::invalid_parameter(format!(
            "imageTagMutabilityExclusionFilters are required with {mode}"
        )));
    }
    let valid =
        |f: &str| (1..=128).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"._*-".contains(&b));
    for f in &filters {
        if f.filter_type != "WILDCARD" || !valid(&f.filter) {
            return Err(EcrError::invalid_parameter(format!(
                "Invalid exclusion filter {{filterType: {}, filter: {}}}: filterType must be WILDCARD and filter must match ^[0-9a-zA-Z._*-]{{1,128}}$",
                f.filter_type, f.filter
            )));
        }
    }
    Ok((mode, filters.into_iter().map(|f| f.filter).collect()))
}

pub(crate) fn validate_tags(tags: &[ResourceTag]) -> Result<Vec<(String, String)>, EcrError> {
    if tags.len() > MAX_RESOURCE_TAGS {
        return Err(EcrError::new(
            "TooManyTagsException",
            format!("a repository can have at most {MAX_RESOURCE_TAGS} tags"),
        ));
    }
    tags.iter()
        .map(|t| {
            if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
                return Err(EcrError::new(
                    "InvalidTagParameterException",
                    "Tag keys must be 1-128 characters and values 0-256 characters",
                ));
            }
            if t.key.to_ascii_lowercase().starts_with("aws:") {
                return Err(EcrError::new(
                    "InvalidTagParameterException",
                    "Tag keys may not start with 'aws:'",
                ));
            }
            Ok((t.key.clone(), t.value.clone()))
        })
        .collect()
}

/// `KmsException` with the key service's exception name as `kmsError`.
fn kms_exception(e: kms::KeyError) -> EcrError {
    match e {
        kms::KeyError::Meta(e) => e.into(),
        e => EcrError::new("KmsException", e.to_string()).with("kmsError", e.kms_error()),
    }
}

pub(crate) fn too_many_tags(e: MetaError) -> EcrError {
    match e {
        MetaError::TooManyTags => EcrError::new(
            "TooManyTagsException",
            format!("a repository can have at most {MAX_RESOURCE_TAGS} tags"),
        ),
        other => other.into(),
    }
}

/// `CreateRepository`.
pub async fn create_repository(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: CreateRepositoryRequest = parse(input)?;
    let name = repository_name(&req.repository_name)?;
    let (tag_mutability, tag_mutability_filters) = mutability(
        req.image_tag_mutability.as_deref(),
        req.image_tag_mutability_exclusion_filters,
    )?;
    let (encryption_type, kms_key) = match req.encryption_configuration {
        None => ("AES256".to_string(), None),
        Some(e) => {
            if !["AES256", "KMS", "KMS_DSSE"].contains(&e.encryption_type.as_str()) {
                return Err(EcrError::invalid_parameter(format!(
                    "Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]' (got '{}')",
                    e.encryption_type
                )));
            }
            if let Some(k) = &e.kms_key {
                if e.encryption_type == "AES256" {
                    return Err(EcrError::invalid_parameter(
                        "kmsKey may only be given with encryptionType KMS or KMS_DSSE",
                    ));
                }
                if k.is_empty() || k.len() > 2048 {
                    return Err(EcrError::invalid_parameter("kmsKey must be 1-2048 characters"));
                }
            }
            (e.encryption_type, e.kms_key)
        }
    };
    let tags = validate_tags(req.tags.as_deref().unwrap_or_default())?;
    // KMS and KMS_DSSE wrap the repository's data keys under a key-service key
    // (the account's alias/aws/ecr key without kmsKey, which is then echoed as its ARN).
    let (kms_key, key_id) = if encryption_type == "AES256" {
        (None, None)
    } else {
        let key = kms::resolve(&ctx.state, &ctx.account, kms_key.as_deref())
            .await
            .map_err(kms_exception)?;
        (Some(kms_key.unwrap_or(key.arn)), Some(key.key_id))
    };
    let new = NewRepository {
        tag_mutability,
        tag_mutability_filters,
        scan_on_push: req.image_scanning_configuration.is_some_and(|s| s.scan_on_push),
        encryption_type: Some(encryption_type),
        kms_key,
        key_id,
    };
    let repo = match ctx.state.meta.create_repository(&ctx.account, name.as_str(), new).await {
        Ok(r) => r,
        Err(MetaError::RepositoryAlreadyExists(n)) => {
            return Err(EcrError::new(
                "RepositoryAlreadyExistsException",
                format!(
                    "The repository with name '{n}' already exists in the registry with id '{}'",
                    ctx.account
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if !tags.is_empty() {
        ctx.state
            .meta
            .put_resource_tags(repo.id, &tags, MAX_RESOURCE_TAGS)
            .await
            .map_err(too_many_tags)?;
    }
    Ok(json!({ "repository": repository_json(ctx, &repo) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeRepositoriesRequest {
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// `DescribeRepositories`: named ones, or all in creation order, paged.
pub async fn describe_repositories(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    describe_in(ctx, input, repository_json).await
}

/// DescribeRepositories in the context's namespace (private or ECR Public),
/// each repository shown by `to_json`.
pub(crate) async fn describe_in(
    ctx: &ApiCtx,
    input: Value,
    to_json: fn(&ApiCtx, &Repository) -> Value,
) -> Result<Value, EcrError> {
    let req: DescribeRepositoriesRequest = parse(input)?;
    if let Some(names) = req.repository_names {
        if req.next_token.is_some() || req.max_results.is_some() {
            return Err(EcrError::invalid_parameter(
                "repositoryNames cannot be combined with nextToken or maxResults",
            ));
        }
        let mut out = Vec::with_capacity(names.len());
        for n in &names {
            name_in(ctx, n)?;
            out.push(to_json(ctx, &ctx.repository(n).await?));
        }
        return Ok(json!({ "repositories": out }));
    }
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let (offset, limit) = (page.offset, page.limit + 1);
    let mut repos = match ctx.namespace {
        Namespace::Private => ctx.state.meta.repositories(&ctx.account, offset, limit).await?,
        Namespace::Public => ctx.state.meta.public_repositories(&ctx.account, offset, limit).await?,
    };
    let more = repos.len() > page.limit;
    repos.truncate(page.limit);
    let mut out = json!({ "repositories": repos.iter().map(|r| to_json(ctx, r)).collect::<Vec<_>>() });
    page.finish(&mut out, repos.len(), more);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteRepositoryRequest {
    repository_name: String,
    #[serde(default)]
    force: bool,
}

/// `DeleteRepository`: refuses a repository with images unless `force`.
pub async fn delete_repository(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    delete_in(ctx, input, repository_json).await
}

/// DeleteRepository in the context's namespace, the deleted repository shown by `to_json`.
pub(crate) async fn delete_in(
    ctx: &ApiCtx,
    input: Value,
    to_json: fn(&ApiCtx, &Repository) -> Value,
) -> Result<Value, EcrError> {
    let req: DeleteRepositoryRequest = parse(input)?;
    name_in(ctx, &req.repository_name)?;
    let repo = remove_repository(ctx, &req.repository_name, req.force).await?;
    Ok(json!({ "repository": to_json(ctx, &repo) }))
}

/// Validates a repository name by the grammar of the context's namespace.
fn name_in(ctx: &ApiCtx, name: &str) -> Result<(), EcrError> {
    match ctx.namespace {
        Namespace::Private => repository_name(name).map(drop),
        Namespace::Public => crate::ecr_public::repository_name(name).map(drop),
    }
}

/// Deletes the repository `name` of the context's namespace (and, unless
/// `force`, only without images); returns what was deleted.
pub(crate) async fn remove_repository(ctx: &ApiCtx, name: &str, force: bool) -> Result<Repository, EcrError> {
    let repo = ctx.repository(name).await?;
    let deleted = ctx.state.meta.delete_repository(&repo, force).await;
    ctx.state
        .repositories
        .invalidate_in(ctx.namespace, &ctx.account, &repo.name);
    ctx.state.tag_cache.forget(repo.id);
    match deleted {
        Ok(()) => Ok(repo),
        Err(MetaError::RepositoryNotEmpty(n)) => Err(EcrError::new(
            "RepositoryNotEmptyException",
            format!(
                "The repository with name '{n}' in registry with id '{}' cannot be deleted because it still contains images",
                ctx.account
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageTagMutabilityRequest {
    repository_name: String,
    image_tag_mutability: String,
    image_tag_mutability_exclusion_filters: Option<Vec<ExclusionFilter>>,
}

/// `PutImageTagMutability`: sets the mode and filters, echoing them.
pub async fn put_image_tag_mutability(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutImageTagMutabilityRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let (mode, filters) = mutability(
        Some(&req.image_tag_mutability),
        req.image_tag_mutability_exclusion_filters,
    )?;
    ctx.state.meta.set_tag_mutability(repo.id, mode, &filters).await?;
    ctx.state.repositories.invalidate(&ctx.account, &repo.name);
    let mut out = json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageTagMutability": mode.as_str(),
    });
    if mode.takes_filters() {
        out["imageTagMutabilityExclusionFilters"] = filters
            .iter()
            .map(|f| json!({ "filterType": "WILDCARD", "filter": f }))
            .collect();
    }
    Ok(out)
}

/// The repository a resource ARN names.
async fn repository_of_arn(ctx: &ApiCtx, arn: &str) -> Result<Repository, EcrError> {
    let bad = || {
        EcrError::invalid_parameter(format!(
            "Invalid parameter at 'resourceArn': '{arn}' is not a repository ARN"
        ))
    };
    let prefix = match ctx.namespace {
        Namespace::Private => "arn:aws:ecr:",
        Namespace::Public => "arn:aws:ecr-public:",
    };
    let rest = arn.strip_prefix(prefix).ok_or_else(bad)?;
    let mut parts = rest.splitn(3, ':');
    let (_region, account, resource) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    let name = resource.strip_prefix("repository/").ok_or_else(bad)?;
    repository_name(name)?;
    if account != ctx.account {
        return Err(EcrError::repository_not_found(name, account));
    }
    ctx.repository(name).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagResourceRequest {
    resource_arn: String,
    tags: Vec<ResourceTag>,
}

/// `TagResource`.
pub async fn tag_resource(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: TagResourceRequest = parse(input)?;
    let repo = repository_of_arn(ctx, &req.resource_arn).await?;
    let tags = validate_tags(&req.tags)?;
    ctx.state
        .meta
        .put_resource_tags(repo.id, &tags, MAX_RESOURCE_TAGS)
        .await
        .map_err(too_many_tags)?;
    // Resource tags are condition keys: this node must not decide on stale ones.
    ctx.state.policies.forget_repository(repo.id);
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagResourceRequest {
    resource_arn: String,
    tag_keys: Vec<String>,
}

/// `UntagResource`.
pub async fn untag_resource(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: UntagResourceRequest = parse(input)?;
    let repo = repository_of_arn(ctx, &req.resource_arn).await?;
    ctx.state.meta.remove_resource_tags(repo.id, &req.tag_keys).await?;
    ctx.state.policies.forget_repository(repo.id);
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTagsForResourceRequest {
    resource_arn: String,
}

/// `ListTagsForResource`.
pub async fn list_tags_for_resource(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: ListTagsForResourceRequest = parse(input)?;
    let repo = repository_of_arn(ctx, &req.resource_arn).await?;
    let tags = ctx.state.meta.resource_tags(repo.id).await?;
    Ok(json!({ "tags": tags.into_iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>() }))
}
