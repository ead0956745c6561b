//! Blob uploads: appending streamed bytes to a session and finishing it.

use stowage_core::Digest;
use stowage_meta::Upload;
use stowage_store::{ByteStream, Staged, StoreError};

use crate::AppState;

/// Why an upload step failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Meta(#[from] stowage_meta::MetaError),
    #[error("another request is writing to this upload")]
    Busy,
    #[error("received {received} bytes where the request announced {expected}")]
    LengthMismatch { expected: u64, received: u64 },
}

/// Appends `body` to the upload at its acknowledged offset and records the new
/// offset and hash state; returns the advanced session. When `expected` is
/// given and a different number of bytes arrives, nothing is acknowledged.
pub async fn append(
    state: &AppState,
    upload: &Upload,
    body: ByteStream,
    expected: Option<u64>,
) -> Result<Upload, UploadError> {
    let _guard = state.claim_upload(upload.id).ok_or(UploadError::Busy)?;
    let from = Staged {
        offset: upload.offset,
        hasher: upload.hasher.clone(),
    };
    let staged = state.store.append(upload.id, from, body).await?;
    let received = staged.offset - upload.offset;
    if let Some(expected) = expected
        && expected != received
    {
        return Err(UploadError::LengthMismatch { expected, received });
    }
    if received > 0 {
        state
            .meta
            .advance_upload(upload.id, upload.offset, staged.offset, &staged.hasher)
            .await?;
        state.metrics.bytes_received.inc_by(received);
    }
    Ok(Upload {
        offset: staged.offset,
        hasher: staged.hasher,
        parts: upload.parts + 1,
        ..upload.clone()
    })
}

/// Verifies the upload's content against `digest`, makes the blob durable and
/// links it to the repository. On a digest mismatch the session is discarded.
/// The blob's GC lock is held from before the file appears until the link is
/// committed, so garbage collection can never remove it in between.
pub async fn complete(state: &AppState, upload: &Upload, digest: &Digest) -> Result<(), UploadError> {
    let _guard = state.claim_upload(upload.id).ok_or(UploadError::Busy)?;
    let staged = Staged {
        offset: upload.offset,
        hasher: upload.hasher.clone(),
    };
    let placing = state.meta.blob_guard(digest).await?;
    match state.store.commit(upload.id, &staged, digest).await {
        Ok(()) => {}
        Err(e @ StoreError::DigestMismatch { .. }) => {
            drop(placing);
            state.meta.delete_upload(upload.repository_id, upload.id).await?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    }
    placing.complete_upload(upload).await?;
    Ok(())
}

/// Cancels an upload: drops the session and its staged bytes. Returns whether it existed.
pub async fn cancel(state: &AppState, repository_id: i64, upload: uuid::Uuid) -> Result<bool, UploadError> {
    let existed = state.meta.delete_upload(repository_id, upload).await?;
    state.store.abort(upload).await?;
    Ok(existed)
}
