//! Blob uploads: appending streamed bytes to a session and finishing it.

use stowage_core::{Digest, Sha256Hasher};
use stowage_crypto::DataKey;
use stowage_meta::{MetaError, Repository, Upload};
use stowage_store::{BlobKey, ByteStream, KeyScope, Staged, StoreError};

use crate::AppState;
use crate::services::encryption::{self, EncryptionError};

/// Why an upload step failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Encryption(#[from] EncryptionError),
    #[error("another request is writing to this upload")]
    Busy,
    #[error("received {received} bytes where the request announced {expected}")]
    LengthMismatch { expected: u64, received: u64 },
}

/// Opens an upload session in the repository, with the data key its bytes
/// will be sealed with.
pub async fn start(state: &AppState, repository: &Repository) -> Result<Upload, UploadError> {
    let (key, wrapped) = encryption::new_data_key(state, repository).await?;
    let id = uuid::Uuid::new_v4();
    let hash_state = seal_hasher(&key, id, &Sha256Hasher::new());
    Ok(state
        .meta
        .create_upload(id, repository.id, &repository.key_id, &wrapped, &hash_state)
        .await?)
}

/// The live upload `id` of the repository: `None` if unknown, or idle for
/// longer than the server's upload TTL (after which GC removes it anyway).
pub async fn find(state: &AppState, repository_id: i64, id: uuid::Uuid) -> Result<Option<Upload>, MetaError> {
    let ttl = state.config.housekeeping.upload_ttl.as_millis().min(i64::MAX as u128) as i64;
    state
        .meta
        .upload(repository_id, id, stowage_meta::now_ms().saturating_sub(ttl))
        .await
}

/// The data key an upload's bytes are sealed with.
async fn upload_key(state: &AppState, upload: &Upload) -> Result<DataKey, UploadError> {
    Ok(encryption::open_data_key(state, &upload.scope, &upload.wrapped_key).await?)
}

/// A running hash state holds up to a block of the content in clear: it is
/// kept sealed with the upload's data key, bound to the upload.
fn seal_hasher(key: &DataKey, upload: uuid::Uuid, hasher: &Sha256Hasher) -> Vec<u8> {
    stowage_crypto::seal(key, hash_aad(upload).as_bytes(), &hasher.save())
}

fn open_hasher(key: &DataKey, upload: &Upload) -> Result<Sha256Hasher, UploadError> {
    let corrupt = || UploadError::Meta(MetaError::Corrupt(format!("hash state of upload {}", upload.id)));
    let state = stowage_crypto::open(key, hash_aad(upload.id).as_bytes(), &upload.hash_state).map_err(|_| corrupt())?;
    Sha256Hasher::restore(&state).ok_or_else(corrupt)
}

fn hash_aad(upload: uuid::Uuid) -> String {
    format!("upload hash {upload}")
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
    let key = upload_key(state, upload).await?;
    let from = Staged {
        offset: upload.offset,
        hasher: open_hasher(&key, upload)?,
        pieces: upload.pieces.clone(),
    };
    let staged = state.store.append(upload.id, from, body, &key).await?;
    let received = staged.offset - upload.offset;
    if let Some(expected) = expected
        && expected != received
    {
        return Err(UploadError::LengthMismatch { expected, received });
    }
    let hash_state = seal_hasher(&key, upload.id, &staged.hasher);
    if received > 0 {
        state
            .meta
            .advance_upload(upload.id, upload.offset, staged.offset, &hash_state, &staged.pieces)
            .await?;
        state.metrics.bytes_received.inc_by(received);
    }
    Ok(Upload {
        offset: staged.offset,
        hash_state,
        parts: upload.parts + 1,
        pieces: staged.pieces,
        ..upload.clone()
    })
}

/// Verifies the upload's content against `digest`, makes the blob durable
/// under the upload's key scope and links it to the repository. On a digest
/// mismatch the session is discarded. The blob's GC lock is held from before
/// the file appears until the link is committed, so garbage collection can
/// never remove it in between; placers of one object take turns, and when the
/// object is already stored under the scope the upload's copy is dropped.
pub async fn complete(state: &AppState, upload: &Upload, digest: &Digest) -> Result<(), UploadError> {
    let _guard = state.claim_upload(upload.id).ok_or(UploadError::Busy)?;
    let key = upload_key(state, upload).await?;
    let staged = Staged {
        offset: upload.offset,
        hasher: open_hasher(&key, upload)?,
        pieces: upload.pieces.clone(),
    };
    let actual = staged.hasher.digest();
    if actual != *digest {
        state.meta.delete_upload(upload.repository_id, upload.id).await?;
        state.store.abort(upload.id).await?;
        return Err(StoreError::DigestMismatch {
            expected: *digest,
            actual,
        }
        .into());
    }
    let scope = KeyScope::new(&upload.scope).map_err(|e| UploadError::Meta(MetaError::Corrupt(e.to_string())))?;
    let mut placing = state.meta.blob_guard(digest).await?;
    if placing.object_stored(&upload.scope).await? {
        placing.complete_upload(upload, false).await?;
        state.store.abort(upload.id).await?;
        return Ok(());
    }
    // The digest was checked above; the store checks it again as it places the file.
    state
        .store
        .commit(upload.id, &staged, &BlobKey::new(scope, *digest), &key)
        .await?;
    placing.complete_upload(upload, true).await?;
    Ok(())
}

/// Cancels an upload: drops the session and its staged bytes. Returns whether it existed.
pub async fn cancel(state: &AppState, repository_id: i64, upload: uuid::Uuid) -> Result<bool, UploadError> {
    let existed = state.meta.delete_upload(repository_id, upload).await?;
    state.store.abort(upload).await?;
    Ok(existed)
}
