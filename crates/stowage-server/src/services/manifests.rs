//! Pushing manifests: parse, check the reference, store atomically.

use stowage_core::limits::MAX_MANIFEST_BYTES;
use stowage_core::{Digest, Manifest, ManifestError, Tag};
use stowage_meta::{MetaError, PutManifest, Repository};

use crate::AppState;

/// What a manifest push is addressed to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Tag(Tag),
    Digest(Digest),
}

/// Why a manifest push was refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("manifest is {0} bytes, over the 4 MiB limit")]
    TooLarge(usize),
    #[error(transparent)]
    Invalid(#[from] ManifestError),
    #[error("manifest digest is {actual}, not the {expected} in the reference")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Encryption(#[from] crate::services::encryption::EncryptionError),
}

/// A stored manifest's identity.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: Digest,
    pub media_type: stowage_core::MediaType,
    pub subject: Option<Digest>,
}

/// Validates and stores `body` in `repository` under `target`.
pub async fn push(
    state: &AppState,
    repository: &Repository,
    target: &Target,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Pushed, PushError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(PushError::TooLarge(body.len()));
    }
    let manifest = Manifest::parse(body, content_type)?;
    let digest = Digest::of(body);
    if let Target::Digest(expected) = target
        && *expected != digest
    {
        return Err(PushError::DigestMismatch {
            expected: *expected,
            actual: digest,
        });
    }
    let tag = match target {
        Target::Tag(t) => Some(t.as_str()),
        Target::Digest(_) => None,
    };
    let (sealed_body, body_key) = crate::services::encryption::seal_manifest(state, repository, &digest, body).await?;
    let scan = crate::services::scans::on_push(state, repository, &manifest).await?;
    let put = PutManifest {
        repository,
        digest,
        manifest: &manifest,
        body,
        sealed_body: &sealed_body,
        body_key: &body_key,
        tag,
        scan,
    };
    let stored = state.meta.put_manifest(put).await;
    // Whatever the outcome, this node must not serve a tag it may just have moved.
    state.tag_cache.forget(repository.id);
    stored?;
    Ok(Pushed {
        digest,
        media_type: manifest.media_type,
        subject: manifest.subject.map(|s| s.digest),
    })
}

/// Removes a tag, leaving its manifest. Returns whether it existed.
pub async fn delete_tag(state: &AppState, repository_id: i64, tag: &str) -> Result<bool, MetaError> {
    let done = state.meta.delete_tag(repository_id, tag).await;
    state.tag_cache.forget(repository_id);
    done
}

/// Deletes a manifest and its tags. Returns whether it existed.
pub async fn delete_manifest(state: &AppState, repository_id: i64, digest: &Digest) -> Result<bool, MetaError> {
    let done = state.meta.delete_manifest(repository_id, digest).await;
    state.tag_cache.forget(repository_id);
    done
}
