//! `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<reference>`.

use axum::body::{Body, to_bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use stowage_core::limits::MAX_MANIFEST_BYTES;
use stowage_core::{MediaType, OciErrorCode, Tag};
use stowage_meta::MetaError;

use super::{Ctx, OciError, parse_digest};
use crate::services::manifests::{self, PushError, Target};

impl From<PushError> for OciError {
    fn from(e: PushError) -> Self {
        match e {
            PushError::TooLarge(_) => OciError::new(OciErrorCode::SizeInvalid, e.to_string()),
            PushError::Invalid(e) => OciError::new(OciErrorCode::ManifestInvalid, e.to_string()),
            PushError::DigestMismatch { .. } => OciError::digest_invalid(&e.to_string()),
            PushError::Meta(e) => e.into(),
            PushError::Encryption(e) => e.into(),
        }
    }
}

enum Ref {
    Tag(Tag),
    Digest(stowage_core::Digest),
}

fn parse_reference(reference: &str, bad_tag: impl FnOnce() -> OciError) -> Result<Ref, OciError> {
    if reference.contains(':') {
        Ok(Ref::Digest(parse_digest(reference)?))
    } else {
        reference.parse().map(Ref::Tag).map_err(|_| bad_tag())
    }
}

/// Serves a manifest's exact bytes, by tag or digest.
pub async fn get_manifest(ctx: Ctx, reference: &str, head: bool) -> Result<Response, OciError> {
    let meta = &ctx.state.meta;
    let found = match parse_reference(reference, OciError::manifest_unknown)? {
        Ref::Tag(tag) => crate::services::tag_cache::manifest_by_tag(&ctx.state, ctx.repo.id, tag.as_str()).await?,
        Ref::Digest(d) => meta.manifest_by_digest(ctx.repo.id, &d).await?.map(std::sync::Arc::new),
    };
    let m = found.ok_or_else(OciError::manifest_unknown)?;
    if !accepts(&ctx.headers, &m.media_type) {
        return Err(OciError::new(
            OciErrorCode::ManifestUnknown,
            format!(
                "Requested image not found: stored as {}, which the request does not accept",
                m.media_type
            ),
        ));
    }
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header("docker-content-digest", m.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", m.digest))
        .header(header::CONTENT_LENGTH, m.size);
    // A HEAD needs no key, but it answers as the GET would: not while the key is unusable.
    let body = crate::services::encryption::open_manifest(&ctx.state, &ctx.repo, &m).await?;
    if head {
        return Ok(builder.body(Body::empty()).expect("valid response"));
    }
    crate::services::pulls::record(&ctx.state, ctx.repo.id, m.digest);
    Ok(builder.body(Body::from(body)).expect("valid response"))
}

/// Whether the client's `Accept` admits `media_type`. A request that names no
/// manifest type at all (or `*/*`) accepts every one; no conversion is done.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut named_any = false;
    for value in headers.get_all(header::ACCEPT) {
        for item in value.to_str().unwrap_or("").split(',') {
            let t = item.split(';').next().unwrap_or("").trim();
            if t == "*/*" || t.eq_ignore_ascii_case(media_type) {
                return true;
            }
            named_any |= MediaType::parse(t).is_some();
        }
    }
    !named_any
}

/// Stores a manifest under a tag or its digest.
pub async fn put_manifest(ctx: Ctx, body: Body, reference: &str) -> Result<Response, OciError> {
    let target = match parse_reference(reference, || {
        OciError::new(OciErrorCode::TagInvalid, format!("invalid tag '{reference}'"))
    })? {
        Ref::Tag(t) => Target::Tag(t),
        Ref::Digest(d) => Target::Digest(d),
    };
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = to_bytes(body, MAX_MANIFEST_BYTES + 1).await.map_err(|_| {
        OciError::new(
            OciErrorCode::SizeInvalid,
            "manifest is over the 4 MiB limit or the body could not be read",
        )
    })?;
    let pushed = manifests::push(&ctx.state, &ctx.repo, &target, content_type.as_deref(), &body)
        .await
        .map_err(|e| match e {
            PushError::Meta(MetaError::TagImmutable(tag)) => OciError::new(
                OciErrorCode::TagInvalid,
                format!(
                    "The image tag '{tag}' already exists in the '{}' repository and cannot be overwritten because the tag is immutable.",
                    ctx.repo.name
                ),
            ),
            PushError::Meta(MetaError::RepositoryNotFound(name)) => {
                OciError::name_unknown(&name, &ctx.state.config.account_id)
            }
            other => other.into(),
        })?;
    let mut resp = Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            format!("/v2/{}/manifests/{}", ctx.repo.name, pushed.digest),
        )
        .header("docker-content-digest", pushed.digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = pushed.subject {
        resp = resp.header("oci-subject", subject.to_string());
    }
    Ok(resp.body(Body::empty()).expect("valid response"))
}

/// Deletes a manifest by digest (with its tags), or just a tag.
pub async fn delete_manifest(ctx: Ctx, reference: &str) -> Result<Response, OciError> {
    let existed = match parse_reference(reference, OciError::manifest_unknown)? {
        Ref::Tag(tag) => manifests::delete_tag(&ctx.state, ctx.repo.id, tag.as_str()).await?,
        Ref::Digest(d) => manifests::delete_manifest(&ctx.state, ctx.repo.id, &d).await?,
    };
    if existed {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(OciError::manifest_unknown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let mut h = HeaderMap::new();
        assert!(accepts(&h, stowage_core::manifest::OCI_INDEX));
        h.append(
            header::ACCEPT,
            stowage_core::manifest::DOCKER_MANIFEST_V2.parse().unwrap(),
        );
        assert!(!accepts(&h, stowage_core::manifest::OCI_INDEX));
        h.append(
            header::ACCEPT,
            "application/vnd.oci.image.index.v1+json; q=0.5".parse().unwrap(),
        );
        assert!(accepts(&h, stowage_core::manifest::OCI_INDEX));
        let mut h = HeaderMap::new();
        h.append(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert!(accepts(&h, stowage_core::manifest::OCI_INDEX));
    }
}
