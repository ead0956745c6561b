//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic or mount),
//! `PATCH`/`PUT`/`GET`/`DELETE /v2/<name>/blobs/uploads/<id>`.

use std::io;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use futures::TryStreamExt;
use http::{StatusCode, header};
use stowage_core::{Digest, OciErrorCode, RepositoryName};
use stowage_meta::Upload;
use stowage_store::ByteStream;
use uuid::Uuid;

use super::{Ctx, OciError, parse_digest};
use crate::services::repositories::Namespace;
use crate::services::uploads::{self, UploadError};

impl From<UploadError> for OciError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Store(e) => e.into(),
            UploadError::Meta(e) => e.into(),
            UploadError::Encryption(e) => e.into(),
            UploadError::Busy => OciError::upload_invalid("another request is writing to this upload"),
            UploadError::LengthMismatch { expected, received } => OciError::new(
                OciErrorCode::SizeInvalid,
                format!("received {received} bytes where the request announced {expected}"),
            ),
        }
    }
}

/// Starts an upload: a cross-repository mount, a monolithic upload with
/// `?digest=`, or a session for later chunks.
pub async fn start_upload(ctx: Ctx, body: Body) -> Result<Response, OciError> {
    if let (Some(mount), Some(from)) = (ctx.query("mount"), ctx.query("from")) {
        let digest = parse_digest(mount)?;
        if let Some(resp) = try_mount(&ctx, &digest, from).await? {
            return Ok(resp);
        }
    }
    if let Some(digest) = ctx.query("digest") {
        let digest = parse_digest(digest)?;
        let upload = uploads::start(&ctx.state, &ctx.repo).await?;
        let expected = content_length(&ctx.headers);
        let result = async {
            let upload = uploads::append(&ctx.state, &upload, body_stream(body), expected).await?;
            uploads::complete(&ctx.state, &upload, &digest).await
        }
        .await;
        if let Err(e) = result {
            let _ = uploads::cancel(&ctx.state, ctx.repo.id, upload.id).await;
            return Err(e.into());
        }
        return Ok(blob_created(&ctx.repo.name, &digest));
    }
    let upload = uploads::start(&ctx.state, &ctx.repo).await?;
    Ok(upload_status(StatusCode::ACCEPTED, &ctx.repo.name, &upload))
}

/// Mounts `digest` from repository `from` if it is there; `None` to fall back to a session.
async fn try_mount(ctx: &Ctx, digest: &Digest, from: &str) -> Result<Option<Response>, OciError> {
    let Ok(from) = from.parse::<RepositoryName>() else {
        return Ok(None);
    };
    let account = &ctx.state.config.account_id;
    // ECR mounts only while the account's BLOB_MOUNTING setting allows it (ENABLED by default here).
    if ctx
        .state
        .meta
        .account_setting(account, "BLOB_MOUNTING")
        .await?
        .as_deref()
        == Some("DISABLED")
    {
        return Ok(None);
    }
    let source = match ctx.namespace {
        Namespace::Private => ctx.state.meta.repository(account, from.as_str()).await?,
        Namespace::Public => ctx.state.meta.public_repository(account, from.as_str()).await?,
    };
    let Some(source) = source else {
        return Ok(None);
    };
    // A public repository is readable by anyone; a private one only as its policies allow.
    if ctx.namespace == Namespace::Private {
        let arn = crate::auth::repository_arn(&ctx.state.config.region, account, from.as_str());
        let resource = crate::auth::Resource {
            account_id: account,
            arn: &arn,
            repository: Some(&source),
        };
        let action = crate::auth::Action::GetDownloadUrlForLayer.as_str();
        match crate::services::authz::authorize(&ctx.state, &ctx.principal, action, resource, &ctx.facts).await {
            Ok(()) => {}
            Err(crate::auth::AuthError::Denied { .. }) => return Ok(None), // not readable: upload normally instead
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ctx
        .state
        .meta
        .mount_blob(ctx.repo.id, source.id, digest, &ctx.repo.key_id)
        .await?
        .map(|_| blob_created(&ctx.repo.name, digest)))
}

/// Appends a chunk (`Content-Range` optional) to the session.
pub async fn patch_upload(ctx: Ctx, body: Body, id: &str) -> Result<Response, OciError> {
    let upload = load(&ctx, id).await?;
    let expected = check_content_range(&ctx, &upload)?;
    let upload = uploads::append(&ctx.state, &upload, body_stream(body), expected).await?;
    Ok(upload_status(StatusCode::ACCEPTED, &ctx.repo.name, &upload))
}

/// Finishes the session with `?digest=`, taking a last chunk from the body if any.
pub async fn put_upload(ctx: Ctx, body: Body, id: &str) -> Result<Response, OciError> {
    let digest = ctx
        .query("digest")
        .ok_or_else(|| OciError::digest_invalid("the digest query parameter is required to finish an upload"))?;
    let digest = parse_digest(digest)?;
    let mut upload = load(&ctx, id).await?;
    let has_body = HttpBody::size_hint(&body).exact() != Some(0);
    if has_body {
        let expected = check_content_range(&ctx, &upload)?;
        upload = uploads::append(&ctx.state, &upload, body_stream(body), expected).await?;
    }
    uploads::complete(&ctx.state, &upload, &digest).await?;
    Ok(blob_created(&ctx.repo.name, &digest))
}

/// Reports how far the session has got.
pub async fn get_upload(ctx: Ctx, id: &str) -> Result<Response, OciError> {
    let upload = load(&ctx, id).await?;
    Ok(upload_status(StatusCode::NO_CONTENT, &ctx.repo.name, &upload))
}

/// Cancels the session.
pub async fn cancel_upload(ctx: Ctx, id: &str) -> Result<Response, OciError> {
    let id = Uuid::parse_str(id).map_err(|_| OciError::upload_unknown())?;
    if uploads::cancel(&ctx.state, ctx.repo.id, id).await? {
        Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .expect("valid response"))
    } else {
        Err(OciError::upload_unknown())
    }
}

async fn load(ctx: &Ctx, id: &str) -> Result<Upload, OciError> {
    let id = Uuid::parse_str(id).map_err(|_| OciError::upload_unknown())?;
    uploads::find(&ctx.state, ctx.repo.id, id)
        .await?
        .ok_or_else(OciError::upload_unknown)
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Checks a chunk's `Content-Range` against the session: it must start at the
/// current offset (else 416 with the current `Range`). Returns the chunk length
/// the body must have, if the request announced one.
fn check_content_range(ctx: &Ctx, upload: &Upload) -> Result<Option<u64>, OciError> {
    let length = content_length(&ctx.headers);
    let Some(value) = ctx.headers.get(header::CONTENT_RANGE) else {
        return Ok(length);
    };
    let out_of_order = || {
        OciError::new(
            OciErrorCode::BlobUploadInvalid,
            format!("chunk must start at byte {}", upload.offset),
        )
        .with_status(416)
        .with_header(header::RANGE, range_value(upload.offset))
        .with_header(header::LOCATION, upload_location(&ctx.repo.name, upload.id))
        .with_header(
            http::HeaderName::from_static("docker-upload-uuid"),
            upload.id.to_string(),
        )
    };
    let text = value.to_str().map_err(|_| out_of_order())?;
    let text = text.trim().trim_start_matches("bytes").trim_start_matches(['=', ' ']);
    let (a, b) = text.split_once('-').ok_or_else(out_of_order)?;
    let b = b.split('/').next().unwrap_or(b);
    let (start, end) = match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
        (Ok(s), Ok(e)) if e >= s => (s, e),
        _ => return Err(out_of_order()),
    };
    if start != upload.offset {
        return Err(out_of_order());
    }
    let chunk = end - start + 1;
    if length.is_some_and(|l| l != chunk) {
        return Err(OciError::new(
            OciErrorCode::SizeInvalid,
            format!(
                "Content-Range covers {chunk} bytes but Content-Length is {}",
                length.unwrap_or(0)
            ),
        ));
    }
    Ok(Some(chunk))
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(TryStreamExt::map_err(body.into_data_stream(), io::Error::other))
}

/// `Range` of an upload that holds `offset` bytes (`0-0` when empty, as docker-registry sends).
fn range_value(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn upload_location(name: &str, id: Uuid) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn upload_status(status: StatusCode, name: &str, upload: &Upload) -> Response {
    Response::builder()
        .status(status)
        .header(header::LOCATION, upload_location(name, upload.id))
        .header(header::RANGE, range_value(upload.offset))
        .header("docker-upload-uuid", upload.id.to_string())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

fn blob_created(name: &str, digest: &Digest) -> Response {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header("docker-content-digest", digest.to_string())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}
