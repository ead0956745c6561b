//! Image operations: put, get, delete, describe, list — one store with `/v2/`.

use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::{Digest, Tag};
use stowage_meta::{ImageRecord, MetaError, Repository, TagStatus};

use super::paging::Page;
use super::{ApiCtx, EcrError, parse, timestamp};
use crate::services::manifests::{self, PushError, Target};
use crate::services::pulls;

/// An `imageId`: a digest, a tag, or both.
#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

impl ImageId {
    /// The wire form.
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({});
        if let Some(d) = &self.image_digest {
            v["imageDigest"] = d.clone().into();
        }
        if let Some(t) = &self.image_tag {
            v["imageTag"] = t.clone().into();
        }
        v
    }
}

fn failure(id: &ImageId, code: &str, reason: &str) -> Value {
    json!({ "imageId": id.json(), "failureCode": code, "failureReason": reason })
}

fn tag_status(filter: &Option<Value>) -> Result<TagStatus, EcrError> {
    match filter.as_ref().and_then(|f| f.get("tagStatus")).and_then(Value::as_str) {
        None | Some("ANY") => Ok(TagStatus::Any),
        Some("TAGGED") => Ok(TagStatus::Tagged),
        Some("UNTAGGED") => Ok(TagStatus::Untagged),
        Some(other) => Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]' (got '{other}')"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageRequest {
    repository_name: String,
    image_manifest: String,
    image_manifest_media_type: Option<String>,
    image_tag: Option<String>,
    image_digest: Option<String>,
}

/// `PutImage`: stores a manifest (and tag) exactly as `PUT /v2/…/manifests` does.
pub async fn put_image(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutImageRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let body = req.image_manifest.as_bytes();
    let digest = Digest::of(body);
    if let Some(given) = &req.image_digest
        && given.parse::<Digest>().ok() != Some(digest)
    {
        return Err(EcrError::new(
            "ImageDigestDoesNotMatchException",
            format!("The provided digest '{given}' does not match the digest of the manifest ('{digest}')"),
        ));
    }
    let tag = match &req.image_tag {
        None => None,
        Some(t) => Some(
            t.parse::<Tag>()
                .map_err(|e| EcrError::invalid_parameter(format!("Invalid parameter at 'imageTag': {e}")))?,
        ),
    };
    if let Some(t) = &tag
        && ctx.state.meta.tag_digest(repo.id, t.as_str()).await? == Some(digest)
    {
        return Err(EcrError::new(
            "ImageAlreadyExistsException",
            format!(
                "Image with digest '{digest}' and tag '{t}' already exists in the repository with name '{}' in registry with id '{}'",
                repo.name, ctx.account
            ),
        ));
    }
    let target = match &tag {
        Some(t) => Target::Tag(t.clone()),
        None => Target::Digest(digest),
    };
    let pushed = manifests::push(
        &ctx.state,
        &repo,
        &target,
        req.image_manifest_media_type.as_deref(),
        body,
    )
    .await
    .map_err(|e| push_error(e, &repo, ctx))?;
    Ok(json!({ "image": {
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageId": ImageId { image_digest: Some(pushed.digest.to_string()), image_tag: req.image_tag }.json(),
        "imageManifest": req.image_manifest,
        "imageManifestMediaType": pushed.media_type.as_str(),
    }}))
}

fn push_error(e: PushError, repo: &Repository, ctx: &ApiCtx) -> EcrError {
    match e {
        PushError::TooLarge(_) | PushError::Invalid(_) => {
            EcrError::invalid_parameter(format!("Invalid parameter at 'imageManifest': {e}"))
        }
        PushError::DigestMismatch { .. } => EcrError::new("ImageDigestDoesNotMatchException", e.to_string()),
        PushError::Meta(MetaError::BlobsMissing(d)) => EcrError::new(
            "LayersNotFoundException",
            format!(
                "Layers with digests {:?} required for pushing image into repository with name '{}' in the registry with id '{}' do not exist",
                d.iter().map(ToString::to_string).collect::<Vec<_>>(),
                repo.name,
                ctx.account
            ),
        ),
        PushError::Meta(MetaError::ManifestsMissing(d)) => EcrError::new(
            "ReferencedImagesNotFoundException",
            format!(
                "Manifests with digests {:?} referenced by this index do not exist in the repository '{}'",
                d.iter().map(ToString::to_string).collect::<Vec<_>>(),
                repo.name
            ),
        ),
        PushError::Meta(MetaError::TagImmutable(tag)) => EcrError::new(
            "ImageTagAlreadyExistsException",
            format!(
                "The image tag '{tag}' already exists in the '{}' repository and cannot be overwritten because the tag is immutable.",
                repo.name
            ),
        ),
        PushError::Meta(MetaError::RepositoryNotFound(name)) => EcrError::repository_not_found(&name, &ctx.account),
        PushError::Meta(other) => other.into(),
        PushError::Encryption(e) => e.into(),
    }
}

/// Resolves an image id to a digest: `Ok(None)` when absent, `Err(failure)` when malformed.
pub(crate) async fn resolve(
    ctx: &ApiCtx,
    repo: &Repository,
    id: &ImageId,
) -> Result<Result<Option<Digest>, Value>, EcrError> {
    let by_digest = match &id.image_digest {
        None => None,
        Some(d) => match d.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(_) => {
                return Ok(Err(failure(
                    id,
                    "InvalidImageDigest",
                    "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
                )));
            }
        },
    };
    let by_tag = match &id.image_tag {
        None => None,
        Some(t) => {
            if t.is_empty() || t.len() > 300 {
                return Ok(Err(failure(
                    id,
                    "InvalidImageTag",
                    "Invalid request parameters: image tag must be 1-300 characters",
                )));
            }
            Some(ctx.state.meta.tag_digest(repo.id, t).await?)
        }
    };
    Ok(Ok(match (by_digest, by_tag) {
        (None, None) => {
            return Ok(Err(failure(
                id,
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )));
        }
        (Some(d), None) => ctx
            .state
            .meta
            .images_by_digest(repo.id, &[d])
            .await?
            .first()
            .map(|i| i.digest),
        (None, Some(t)) => t,
        (Some(d), Some(t)) => match t {
            Some(t) if t != d => {
                return Ok(Err(failure(
                    id,
                    "ImageTagDoesNotMatchDigest",
                    "Invalid request parameters: given tag does not map to the given digest",
                )));
            }
            other => other,
        },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchImagesRequest {
    repository_name: String,
    image_ids: Vec<ImageId>,
    accepted_media_types: Option<Vec<String>>,
}

/// `BatchGetImage`: manifests by tag or digest; misses are failures, not errors.
pub async fn batch_get_image(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: BatchImagesRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let (mut images, mut failures) = (Vec::new(), Vec::new());
    for id in &req.image_ids {
        let digest = match resolve(ctx, &repo, id).await? {
            Err(f) => {
                failures.push(f);
                continue;
            }
            Ok(d) => d,
        };
        let stored = match digest {
            Some(d) => ctx.state.meta.manifest_by_digest(repo.id, &d).await?,
            None => None,
        };
        let Some(m) = stored else {
            failures.push(failure(id, "ImageNotFound", "Requested image not found"));
            continue;
        };
        if let Some(accepted) = &req.accepted_media_types
            && !accepted.iter().any(|a| a == &m.media_type)
        {
            failures.push(failure(id, "ImageNotFound", "Requested image not found"));
            continue;
        }
        pulls::record(&ctx.state, repo.id, m.digest);
        let mut image_id = id.clone();
        image_id.image_digest = Some(m.digest.to_string());
        images.push(json!({
            "registryId": ctx.account,
            "repositoryName": repo.name,
            "imageId": image_id.json(),
            "imageManifest": String::from_utf8_lossy(&crate::services::encryption::open_manifest(&ctx.state, &repo, &m).await?),
            "imageManifestMediaType": m.media_type,
        }));
    }
    Ok(json!({ "images": images, "failures": failures }))
}

/// `BatchDeleteImage`: by tag removes the tag (and the image with its last tag);
/// by digest removes the image and all its tags.
pub async fn batch_delete_image(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: BatchImagesRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let meta = &ctx.state.meta;
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for id in &req.image_ids {
        let digest = match resolve(ctx, &repo, id).await? {
            Err(f) => {
                failures.push(f);
                continue;
            }
            Ok(None) => {
                failures.push(failure(id, "ImageNotFound", "Requested image not found"));
                continue;
            }
            Ok(Some(d)) => d,
        };
        let record = meta.images_by_digest(repo.id, &[digest]).await?.pop();
        let tags = record.map(|r| r.tags).unwrap_or_default();
        let removes_image = match &id.image_tag {
            Some(tag) if id.image_digest.is_none() => {
                manifests::delete_tag(&ctx.state, repo.id, tag).await?;
                tags.len() <= 1
            }
            _ => true,
        };
        if removes_image {
            match manifests::delete_manifest(&ctx.state, repo.id, &digest).await {
                Ok(_) => {}
                Err(MetaError::ManifestReferenced(parent)) if id.image_tag.is_none() || id.image_digest.is_some() => {
                    failures.push(failure(
                        id,
                        "ImageReferencedByManifestList",
                        &format!("Requested image is referenced by manifest list {parent}"),
                    ));
                    continue;
                }
                Err(MetaError::ManifestReferenced(_)) => {} // the untagged child stays for its index
                Err(e) => return Err(e.into()),
            }
        }
        let gone: Vec<String> = match (&id.image_tag, removes_image) {
            (Some(t), _) if id.image_digest.is_none() => vec![t.clone()],
            _ => tags,
        };
        if gone.is_empty() {
            deleted.push(json!({ "imageDigest": digest.to_string() }));
        }
        for t in gone {
            deleted.push(json!({ "imageDigest": digest.to_string(), "imageTag": t }));
        }
    }
    Ok(json!({ "imageIds": deleted, "failures": failures }))
}

/// `ImageNotFoundException` for an image id of a repository.
pub(crate) fn image_not_found(id: &ImageId, repo: &Repository, account: &str) -> EcrError {
    EcrError::new(
        "ImageNotFoundException",
        format!(
            "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{}' in the registry with id '{}'",
            id.image_digest.as_deref().unwrap_or("null"),
            id.image_tag.as_deref().unwrap_or("null"),
            repo.name,
            account
        ),
    )
}

/// The `imageDetails` of some images, with their scan status and summary.
async fn image_details(ctx: &ApiCtx, repo: &Repository, images: &[ImageRecord]) -> Result<Vec<Value>, EcrError> {
    let digests: Vec<Digest> = images.iter().map(|i| i.digest).collect();
    let scans: std::collections::HashMap<Digest, stowage_meta::ScanRecord> = ctx
        .state
        .meta
        .image_scans(repo.id, &digests)
        .await?
        .into_iter()
        .map(|s| (s.digest, s))
        .collect();
    Ok(images
        .iter()
        .map(|i| {
            let mut v = image_detail(ctx, repo, i);
            if let Some(scan) = scans.get(&i.digest) {
                super::scanning::add_scan_summary(&mut v, scan);
            }
            v
        })
        .collect())
}

fn image_detail(ctx: &ApiCtx, repo: &Repository, i: &ImageRecord) -> Value {
    let mut v = json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageDigest": i.digest.to_string(),
        "imageSizeInBytes": i.image_size,
        "imagePushedAt": timestamp(i.pushed_at),
        "imageManifestMediaType": i.media_type,
        "imageStatus": "ACTIVE",
    });
    if !i.tags.is_empty() {
        v["imageTags"] = i.tags.clone().into();
    }
    if let Some(a) = i.config_media_type.as_ref().or(i.artifact_type.as_ref()) {
        v["artifactMediaType"] = a.clone().into();
    }
    if let Some(t) = i.last_pulled_at {
        v["lastRecordedPullTime"] = timestamp(t);
    }
    if let Some(s) = i.subject {
        v["subjectManifestDigest"] = s.to_string().into();
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<Value>,
}

/// `DescribeImages`.
pub async fn describe_images(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: ListRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    if let Some(ids) = &req.image_ids {
        if req.next_token.is_some() {
            return Err(EcrError::invalid_parameter(
                "imageIds cannot be combined with nextToken",
            ));
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = match resolve(ctx, &repo, id).await? {
                Ok(Some(d)) => ctx.state.meta.images_by_digest(repo.id, &[d]).await?.pop(),
                Ok(None) => None,
                Err(f) => {
                    return Err(EcrError::invalid_parameter(
                        f["failureReason"].as_str().unwrap_or("invalid imageId").to_string(),
                    ));
                }
            };
            let Some(image) = found else {
                return Err(image_not_found(id, &repo, &ctx.account));
            };
            out.push(image);
        }
        return Ok(json!({ "imageDetails": image_details(ctx, &repo, &out).await? }));
    }
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let status = tag_status(&req.filter)?;
    let mut images = ctx
        .state
        .meta
        .images(repo.id, status, page.offset, page.limit + 1)
        .await?;
    let more = images.len() > page.limit;
    images.truncate(page.limit);
    let mut out = json!({ "imageDetails": image_details(ctx, &repo, &images).await? });
    page.finish(&mut out, images.len(), more);
    Ok(out)
}

/// `ListImages`: one id per (digest, tag) pair; untagged images by digest alone.
/// `maxResults` counts ids.
pub async fn list_images(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: ListRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let status = tag_status(&req.filter)?;
    let mut pairs = ctx
        .state
        .meta
        .image_ids(repo.id, status, page.offset, page.limit + 1)
        .await?;
    let more = pairs.len() > page.limit;
    pairs.truncate(page.limit);
    let ids: Vec<Value> = pairs
        .iter()
        .map(|(d, t)| {
            ImageId {
                image_digest: Some(d.to_string()),
                image_tag: t.clone(),
            }
            .json()
        })
        .collect();
    let mut out = json!({ "imageIds": ids });
    page.finish(&mut out, pairs.len(), more);
    Ok(out)
}
