//! Encryption at rest: the data keys of uploads, blobs and manifests, sealed
//! under the key of the repository they belong to (the registry-managed key
//! for `AES256`, a key-service key for `KMS`). Keys come from
//! [`crate::services::kms`]; this module never sees key material.

use stowage_crypto::DataKey;
use stowage_meta::{MetaError, Repository, StoredManifest, WrappedKeys};
use stowage_store::{BlobKey, KeyScope};

use crate::AppState;
use crate::services::kms::{self, KeyError};

/// Rows re-wrapped per query during a rotation.
const REWRAP_BATCH: usize = 500;

/// Why encrypted data could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The repository's key cannot be used (disabled, pending deletion, destroyed).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Stored bytes failed authentication: altered or corrupted at rest.
    #[error("stored data of {0} failed its integrity check")]
    Integrity(String),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The storage scope of a repository's blobs: its key.
pub fn scope(repository: &Repository) -> Result<KeyScope, EncryptionError> {
    KeyScope::new(&repository.key_id).map_err(|e| EncryptionError::Meta(MetaError::Corrupt(e.to_string())))
}

/// The object `digest` of a repository's scope.
pub fn blob_key(repository: &Repository, digest: stowage_core::Digest) -> Result<BlobKey, EncryptionError> {
    Ok(BlobKey::new(scope(repository)?, digest))
}

/// A fresh data key for a new object of the repository, with its wrapped form.
pub async fn new_data_key(state: &AppState, repository: &Repository) -> Result<(DataKey, Vec<u8>), EncryptionError> {
    Ok(kms::new_data_key(state, &repository.key_id).await?)
}

/// Unwraps an object's data key under `scope`'s key.
pub async fn open_data_key(state: &AppState, scope: &str, wrapped: &[u8]) -> Result<DataKey, EncryptionError> {
    Ok(kms::open_data_key(state, scope, wrapped).await?)
}

/// Seals a manifest body with its own data key; returns the sealed body and
/// the wrapped key. The digest is bound in, so a body only opens as itself.
pub async fn seal_manifest(
    state: &AppState,
    repository: &Repository,
    digest: &stowage_core::Digest,
    body: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), EncryptionError> {
    let (key, wrapped) = new_data_key(state, repository).await?;
    Ok((
        stowage_crypto::seal(&key, manifest_aad(digest).as_bytes(), body),
        wrapped,
    ))
}

/// A stored manifest's body as it was pushed.
pub async fn open_manifest(
    state: &AppState,
    repository: &Repository,
    manifest: &StoredManifest,
) -> Result<Vec<u8>, EncryptionError> {
    let Some(wrapped) = &manifest.body_key else {
        return Ok(manifest.body.clone()); // stored before encryption at rest
    };
    let key = open_data_key(state, &repository.key_id, wrapped).await?;
    let body = stowage_crypto::open(&key, manifest_aad(&manifest.digest).as_bytes(), &manifest.body)
        .map_err(|_| EncryptionError::Integrity(format!("manifest {}", manifest.digest)))?;
    if body.len() as u64 != manifest.size {
        return Err(EncryptionError::Integrity(format!("manifest {}", manifest.digest)));
    }
    Ok(body)
}

fn manifest_aad(digest: &stowage_core::Digest) -> String {
    format!("manifest {digest}")
}

/// Re-wraps every stored data key of `key_id` (objects, manifests, uploads)
/// under the key's newest version, after a rotation. Data is never
/// re-encrypted. Returns how many keys moved; safe to run again or
/// concurrently (each update only replaces the key it read).
pub async fn rewrap_data_keys(state: &AppState, key_id: &str) -> Result<u64, EncryptionError> {
    let mut moved = 0;
    for place in [WrappedKeys::Objects, WrappedKeys::Manifests, WrappedKeys::Uploads] {
        let mut after = String::new();
        loop {
            let rows = state.meta.wrapped_keys(place, key_id, &after, REWRAP_BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = last.row.clone();
            for row in &rows {
                let new = kms::rewrap(state, key_id, &row.wrapped).await?;
                // Wrapped keys start with their key version: already current means nothing to do.
                if new.get(..4) == row.wrapped.get(..4) {
                    continue;
                }
                if state.meta.replace_wrapped_key(place, key_id, row, &new).await? {
                    moved += 1;
                }
            }
        }
    }
    tracing::info!(kms.key_id = %key_id, rewrapped = moved, "data keys re-wrapped under the newest key version");
    Ok(moved)
}
