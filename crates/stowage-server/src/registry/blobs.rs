//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use stowage_core::OciErrorCode;
use stowage_store::{ByteRange, StoreError};

use super::{Ctx, OciError, parse_digest};
use crate::services::encryption;

/// Serves a blob linked to the repository, whole or one `Range`.
pub async fn get_blob(ctx: Ctx, digest: &str, head: bool) -> Result<Response, OciError> {
    let digest = parse_digest(digest)?;
    let link = ctx
        .state
        .meta
        .repository_blob(ctx.repo.id, &digest, &ctx.repo.key_id)
        .await?
        .ok_or_else(|| OciError::blob_unknown(&digest.to_string()))?;
    let base = Response::builder()
        .header("docker-content-digest", digest.to_string())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{digest}\""))
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if head {
        return Ok(base
            .header(header::CONTENT_LENGTH, link.size)
            .body(Body::empty())
            .expect("valid response"));
    }
    let range = match ctx.headers.get(header::RANGE) {
        None => None,
        Some(v) => Some(parse_range(v.to_str().unwrap_or(""), link.size)?),
    };
    let key = encryption::open_data_key(&ctx.state, &ctx.repo.key_id, &link.wrapped_key).await?;
    let object = encryption::blob_key(&ctx.repo, digest)?;
    let read = match ctx.state.store.get(&object, link.size, &key, range).await {
        Ok(r) => r,
        Err(StoreError::RangeNotSatisfiable { size, .. }) => return Err(range_error(size)),
        Err(StoreError::NotFound(_)) => {
            return Err(OciError::internal(format!(
                "blob {digest} is linked but missing from storage"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let len = if read.size == 0 { 0 } else { read.end - read.start + 1 };
    ctx.state.metrics.bytes_sent.inc_by(len);
    let builder = base.header(header::CONTENT_LENGTH, len);
    let builder = if range.is_some() {
        builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", read.start, read.end, read.size),
        )
    } else {
        builder
    };
    Ok(builder.body(Body::from_stream(read.body)).expect("valid response"))
}

/// Unlinks a blob from the repository (refused while a manifest there uses it).
pub async fn delete_blob(ctx: Ctx, digest: &str) -> Result<Response, OciError> {
    let digest = parse_digest(digest)?;
    if ctx.state.meta.unlink_blob(ctx.repo.id, &digest).await? {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(OciError::blob_unknown(&digest.to_string()))
    }
}

fn range_error(size: u64) -> OciError {
    OciError::new(OciErrorCode::RangeInvalid, "requested range not satisfiable")
        .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
}

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a blob of `size`.
fn parse_range(value: &str, size: u64) -> Result<ByteRange, OciError> {
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(|| range_error(size))?;
    if spec.contains(',') {
        return Err(range_error(size)); // multipart ranges are not served
    }
    let (a, b) = spec.split_once('-').ok_or_else(|| range_error(size))?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| range_error(size));
    let range = match (a.trim().is_empty(), b.trim().is_empty()) {
        (false, true) => ByteRange {
            start: num(a)?,
            end: None,
        },
        (false, false) => {
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                return Err(range_error(size));
            }
            ByteRange { start, end: Some(end) }
        }
        (true, false) => {
            let n = num(b)?;
            if n == 0 {
                return Err(range_error(size));
            }
            ByteRange {
                start: size.saturating_sub(n),
                end: None,
            }
        }
        (true, true) => return Err(range_error(size)),
    };
    if range.start >= size {
        return Err(range_error(size));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9", 100).unwrap(),
            ByteRange { start: 0, end: Some(9) }
        );
        assert_eq!(
            parse_range("bytes=90-", 100).unwrap(),
            ByteRange { start: 90, end: None }
        );
        assert_eq!(
            parse_range("bytes=-10", 100).unwrap(),
            ByteRange { start: 90, end: None }
        );
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-0",
            "bytes=x-",
        ] {
            assert_eq!(parse_range(bad, 100).unwrap_err().status, 416, "{bad}");
        }
    }
}
