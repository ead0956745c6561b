//! ECR Public repositories: create, describe, delete, their catalog data, and
//! image tags. Images, layers, tags and policies use the private handlers.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use stowage_core::Digest;
use stowage_meta::{MetaError, Repository, TagStatus};

use crate::ecr::paging::Page;
use crate::ecr::repositories::{MAX_RESOURCE_TAGS, ResourceTag, too_many_tags, validate_tags};
use crate::ecr::{ApiCtx, EcrError, parse, timestamp};
use crate::services::repositories::Namespace;

/// Catalog-data members an input may carry, and the length limits of the model.
const TEXT_LIMITS: &[(&str, usize)] = &[("description", 1024), ("aboutText", 25_600), ("usageText", 25_600)];

/// The wire form of a public repository.
fn repository_json(ctx: &ApiCtx, r: &Repository) -> Value {
    json!({
        "repositoryArn": Namespace::Public.repository_arn("", &r.account_id, &r.name),
        "registryId": r.account_id,
        "repositoryName": r.name,
        "repositoryUri": format!("{}/{}", ctx.state.config.public_registry_host(), r.name),
        "createdAt": timestamp(r.created_at),
    })
}

/// The stored catalog data as `RepositoryCatalogData` (the logo's bytes are not echoed).
fn catalog_json(r: &Repository) -> Value {
    let mut data: Map<String, Value> = r
        .catalog_data
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    data.remove("logoImageBlob");
    data.entry("marketplaceCertified").or_insert(false.into());
    Value::Object(data)
}

/// Validates `RepositoryCatalogDataInput`; returns the text to store.
fn catalog_input(data: &Value) -> Result<String, EcrError> {
    let obj = data
        .as_object()
        .ok_or_else(|| EcrError::invalid_parameter("catalogData must be an object"))?;
    for (key, limit) in TEXT_LIMITS {
        match obj.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.chars().count() <= *limit => {}
            Some(_) => {
                return Err(EcrError::invalid_parameter(format!(
                    "Invalid parameter at 'catalogData.{key}' failed to satisfy constraint: 'Member must be a string of at most {limit} characters'"
                )));
            }
        }
    }
    for key in ["architectures", "operatingSystems"] {
        let ok = match obj.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(items)) => {
                items.len() <= 50
                    && items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| (1..=50).contains(&s.len())))
            }
            Some(_) => false,
        };
        if !ok {
            return Err(EcrError::invalid_parameter(format!(
                "Invalid parameter at 'catalogData.{key}' failed to satisfy constraint: 'Member must be a list of at most 50 strings of 1-50 characters'"
            )));
        }
    }
    if obj.get("logoImageBlob").is_some_and(|b| !b.is_string() && !b.is_null()) {
        return Err(EcrError::invalid_parameter(
            "catalogData.logoImageBlob must be base64 text",
        ));
    }
    Ok(data.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRepositoryRequest {
    repository_name: String,
    catalog_data: Option<Value>,
    tags: Option<Vec<ResourceTag>>,
}

/// `CreateRepository`: returns the repository and its catalog data.
pub async fn create_repository(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: CreateRepositoryRequest = parse(input)?;
    let name = super::repository_name(&req.repository_name)?;
    let catalog = req.catalog_data.as_ref().map(catalog_input).transpose()?;
    let tags = validate_tags(req.tags.as_deref().unwrap_or_default())?;
    let repo = match ctx
        .state
        .meta
        .create_public_repository(&ctx.account, name.as_str(), catalog.as_deref())
        .await
    {
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
    Ok(json!({ "repository": repository_json(ctx, &repo), "catalogData": catalog_json(&repo) }))
}

/// `DescribeRepositories`: named ones, or all in creation order, paged.
pub async fn describe_repositories(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    crate::ecr::repositories::describe_in(ctx, input, repository_json).await
}

/// `DeleteRepository`: refuses a repository with images unless `force`.
pub async fn delete_repository(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    crate::ecr::repositories::delete_in(ctx, input, repository_json).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryRequest {
    repository_name: String,
}

/// `GetRepositoryCatalogData`: the stored catalog data (`{}` when none was set).
pub async fn get_repository_catalog_data(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepositoryRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    Ok(json!({ "catalogData": catalog_json(&repo) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutCatalogDataRequest {
    repository_name: String,
    catalog_data: Value,
}

/// `PutRepositoryCatalogData`: replaces the catalog data, kept verbatim.
pub async fn put_repository_catalog_data(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutCatalogDataRequest = parse(input)?;
    let mut repo = ctx.repository(&req.repository_name).await?;
    let text = catalog_input(&req.catalog_data)?;
    ctx.state.meta.set_catalog_data(repo.id, &text).await?;
    ctx.state
        .repositories
        .invalidate_in(Namespace::Public, &ctx.account, &repo.name);
    repo.catalog_data = Some(text);
    Ok(json!({ "catalogData": catalog_json(&repo) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeImageTagsRequest {
    repository_name: String,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// `DescribeImageTags`: each tag with the image it names, paged by tag.
pub async fn describe_image_tags(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: DescribeImageTagsRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let mut pairs = ctx
        .state
        .meta
        .image_ids(repo.id, TagStatus::Tagged, page.offset, page.limit + 1)
        .await?;
    let more = pairs.len() > page.limit;
    pairs.truncate(page.limit);
    let mut digests: Vec<Digest> = pairs.iter().map(|(d, _)| *d).collect();
    digests.sort();
    digests.dedup();
    let images = ctx.state.meta.images_by_digest(repo.id, &digests).await?;
    let details: Vec<Value> = pairs
        .iter()
        .filter_map(|(digest, tag)| {
            let image = images.iter().find(|i| i.digest == *digest)?;
            let mut detail = json!({
                "imageDigest": digest.to_string(),
                "imageSizeInBytes": image.image_size,
                "imagePushedAt": timestamp(image.pushed_at),
                "imageManifestMediaType": image.media_type,
            });
            if let Some(a) = image.config_media_type.as_ref().or(image.artifact_type.as_ref()) {
                detail["artifactMediaType"] = a.clone().into();
            }
            Some(json!({ "imageTag": tag, "createdAt": timestamp(image.pushed_at), "imageDetail": detail }))
        })
        .collect();
    let mut out = json!({ "imageTagDetails": details });
    page.finish(&mut out, pairs.len(), more);
    Ok(out)
}
