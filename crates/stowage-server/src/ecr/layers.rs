//! Layer operations: availability, the part-by-part upload API, download URLs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::Digest;
use stowage_store::StoreError;
use uuid::Uuid;

use super::{ApiCtx, EcrError, parse};
use crate::services::downloads;
use crate::services::uploads::{self, UploadError};

/// Largest `layerPartBlob` (model limit).
const MAX_PART: usize = 20_971_520;
/// Most parts per upload.
const MAX_PARTS: u64 = 4200;
/// Smallest non-final part through the API (AWS quota).
const MIN_PART: u64 = 5 * 1024 * 1024;
/// Advised part size.
const PART_SIZE: u64 = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchCheckRequest {
    repository_name: String,
    layer_digests: Vec<String>,
}

/// `BatchCheckLayerAvailability`.
pub async fn batch_check_layer_availability(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: BatchCheckRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let (mut layers, mut failures) = (Vec::new(), Vec::new());
    for d in &req.layer_digests {
        let Ok(digest) = d.parse::<Digest>() else {
            let code = if d.is_empty() {
                "MissingLayerDigest"
            } else {
                "InvalidLayerDigest"
            };
            failures.push(json!({ "layerDigest": d, "failureCode": code, "failureReason": "Invalid layer digest" }));
            continue;
        };
        match ctx.state.meta.repository_blob(repo.id, &digest, &repo.key_id).await? {
            Some(link) => layers.push(json!({
                "layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": link.size,
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            })),
            None => layers.push(json!({ "layerDigest": d, "layerAvailability": "UNAVAILABLE" })),
        }
    }
    Ok(json!({ "layers": layers, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepoRequest {
    repository_name: String,
}

/// `InitiateLayerUpload`.
pub async fn initiate_layer_upload(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: RepoRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let upload = uploads::start(&ctx.state, &repo).await.map_err(upload_error)?;
    Ok(json!({ "uploadId": upload.id.to_string(), "partSize": PART_SIZE }))
}

fn upload_not_found(id: &str) -> EcrError {
    EcrError::new(
        "UploadNotFoundException",
        format!("The upload with id '{id}' does not exist"),
    )
}

/// The live upload `id` of the repository, or `UploadNotFoundException`.
async fn load_upload(
    ctx: &ApiCtx,
    repo: &stowage_meta::Repository,
    id: &str,
) -> Result<stowage_meta::Upload, EcrError> {
    let uuid = Uuid::parse_str(id).map_err(|_| upload_not_found(id))?;
    uploads::find(&ctx.state, repo.id, uuid)
        .await?
        .ok_or_else(|| upload_not_found(id))
}

fn upload_error(e: UploadError) -> EcrError {
    match e {
        UploadError::Store(StoreError::DigestMismatch { expected, actual }) => EcrError::new(
            "InvalidLayerException",
            format!("The layer digest '{expected}' does not match the uploaded content ('{actual}')"),
        ),
        UploadError::Busy => EcrError::new("InvalidLayerPartException", "another request is writing to this upload"),
        UploadError::Meta(m) => m.into(),
        UploadError::Encryption(e) => e.into(),
        other => EcrError::server(other),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadPartRequest {
    repository_name: String,
    upload_id: String,
    part_first_byte: u64,
    part_last_byte: u64,
    layer_part_blob: String,
}

/// `UploadLayerPart`: parts must be contiguous.
pub async fn upload_layer_part(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: UploadPartRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let upload = load_upload(ctx, &repo, &req.upload_id).await?;
    let blob = STANDARD
        .decode(&req.layer_part_blob)
        .map_err(|_| EcrError::invalid_parameter("layerPartBlob is not valid base64"))?;
    let invalid = |why: &str| {
        EcrError::new("InvalidLayerPartException", why.to_string())
            .with("registryId", ctx.account.clone())
            .with("repositoryName", repo.name.clone())
            .with("uploadId", req.upload_id.clone())
            .with("lastValidByteReceived", upload.offset as i64 - 1)
    };
    if blob.len() > MAX_PART {
        return Err(invalid("layer part is larger than 20971520 bytes"));
    }
    if req.part_first_byte != upload.offset
        || req.part_last_byte < req.part_first_byte
        || req.part_last_byte - req.part_first_byte + 1 != blob.len() as u64
    {
        return Err(invalid(
            "The part is not contiguous with the bytes received so far or its range does not match its length",
        ));
    }
    if upload.parts >= MAX_PARTS {
        return Err(EcrError::new(
            "LimitExceededException",
            format!("an upload may have at most {MAX_PARTS} parts"),
        ));
    }
    if upload.offset > 0 && upload.last_part_size.is_some_and(|s| s < MIN_PART) {
        return Err(EcrError::new(
            "LayerPartTooSmallException",
            "Layer parts other than the last must be at least 5 MiB",
        ));
    }
    let len = blob.len() as u64;
    let body: stowage_store::ByteStream = Box::pin(futures::stream::once(async move { Ok(Bytes::from(blob)) }));
    let upload = uploads::append(&ctx.state, &upload, body, Some(len))
        .await
        .map_err(upload_error)?;
    ctx.state.meta.set_last_part_size(upload.id, len).await?;
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "uploadId": req.upload_id,
        "lastByteReceived": upload.offset - 1,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteRequest {
    repository_name: String,
    upload_id: String,
    layer_digests: Vec<String>,
}

/// `CompleteLayerUpload`.
pub async fn complete_layer_upload(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: CompleteRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let upload = load_upload(ctx, &repo, &req.upload_id).await?;
    let [digest] = req.layer_digests.as_slice() else {
        return Err(EcrError::invalid_parameter("layerDigests must hold exactly one digest"));
    };
    let digest: Digest = digest
        .parse()
        .map_err(|_| EcrError::new("InvalidLayerException", format!("Invalid layer digest '{digest}'")))?;
    if upload.offset == 0 {
        return Err(EcrError::new("EmptyUploadException", "The upload contains no bytes"));
    }
    if ctx
        .state
        .meta
        .repository_blob(repo.id, &digest, &repo.key_id)
        .await?
        .is_some()
    {
        uploads::cancel(&ctx.state, repo.id, upload.id)
            .await
            .map_err(upload_error)?;
        return Err(EcrError::new(
            "LayerAlreadyExistsException",
            format!(
                "The layer '{digest}' already exists in the repository with name '{}' in registry with id '{}'",
                repo.name, ctx.account
            ),
        ));
    }
    uploads::complete(&ctx.state, &upload, &digest)
        .await
        .map_err(upload_error)?;
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "uploadId": req.upload_id,
        "layerDigest": digest.to_string(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownloadRequest {
    repository_name: String,
    layer_digest: String,
}

/// `GetDownloadUrlForLayer`: a signed, expiring URL on this registry.
pub async fn get_download_url_for_layer(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: DownloadRequest = parse(input)?;
    let repo = ctx.repository(&req.repository_name).await?;
    let digest: Digest = req
        .layer_digest
        .parse()
        .map_err(|_| EcrError::invalid_parameter(format!("Invalid layer digest '{}'", req.layer_digest)))?;
    if ctx
        .state
        .meta
        .repository_blob(repo.id, &digest, &repo.key_id)
        .await?
        .is_none()
    {
        return Err(EcrError::new(
            "LayersNotFoundException",
            format!(
                "The layer with digest '{digest}' does not exist in the repository with name '{}'",
                repo.name
            ),
        ));
    }
    let url = downloads::signed_url(&ctx.state, &repo.name, &digest).await?;
    Ok(json!({ "downloadUrl": url, "layerDigest": digest.to_string() }))
}
