//! An image's inventory: its manifest opened, each layer indexed once (read
//! streamed from the store on a blocking thread, stored by layer digest) and
//! the indexes combined with their whiteouts applied.

use futures::TryStreamExt;
use stowage_core::{Digest, Manifest};
use stowage_meta::Repository;
use stowage_scan::catalog::{Inventory, image_inventory};
use stowage_scan::layers::{LayerError, LayerIndex, Limits, index_layer};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::AppState;
use crate::services::encryption;

/// Config media types of container images (what can be scanned).
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Why an image could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Not a container image (an index, an artifact): `UNSUPPORTED_IMAGE`.
    #[error("{0}")]
    Unsupported(String),
    /// A layer that cannot be read as a layer: the scan `FAILED`.
    #[error("layer {digest}: {error}")]
    Layer { digest: Digest, error: LayerError },
    /// Storage or metadata trouble: worth another try.
    #[error("{0}")]
    Transient(String),
}

/// Whether a manifest is a container image a scan can read: an image
/// manifest with an image config, whose layers are tar archives.
pub fn check_image(manifest: &Manifest) -> Result<(), String> {
    if manifest.media_type.is_index() {
        return Err("The image is an index; its images are scanned one by one".into());
    }
    match manifest.config_media_type() {
        Some(t) if IMAGE_CONFIGS.contains(&t) => {}
        other => {
            return Err(format!(
                "The artifact type '{}' is not a container image",
                manifest.artifact_type.as_deref().or(other).unwrap_or("unknown")
            ));
        }
    }
    if let Some(layer) = manifest.layers.iter().find(|l| !l.media_type.contains("tar")) {
        return Err(format!("The layer media type '{}' is not supported", layer.media_type));
    }
    Ok(())
}

/// Opens a stored manifest of the repository.
pub async fn load_manifest(
    state: &AppState,
    repo: &Repository,
    digest: &Digest,
) -> Result<Option<Manifest>, ImageError> {
    let transient = |e: &dyn std::fmt::Display| ImageError::Transient(e.to_string());
    let Some(stored) = state
        .meta
        .manifest_by_digest(repo.id, digest)
        .await
        .map_err(|e| transient(&e))?
    else {
        return Ok(None);
    };
    let body = encryption::open_manifest(state, repo, &stored)
        .await
        .map_err(|e| transient(&e))?;
    let manifest = Manifest::parse(&body, Some(&stored.media_type))
        .map_err(|e| ImageError::Unsupported(format!("The manifest cannot be read: {e}")))?;
    Ok(Some(manifest))
}

/// The inventory of an image manifest, indexing the layers not indexed yet.
pub async fn inventory(state: &AppState, repo: &Repository, manifest: &Manifest) -> Result<Inventory, ImageError> {
    check_image(manifest).map_err(ImageError::Unsupported)?;
    let mut indexes = Vec::with_capacity(manifest.layers.len());
    for layer in &manifest.layers {
        indexes.push(layer_index(state, repo, &layer.digest).await?);
    }
    tokio::task::spawn_blocking(move || image_inventory(&indexes))
        .await
        .map_err(|e| ImageError::Transient(e.to_string()))
}

/// A layer's index: the stored one, else made now from the blob and stored.
async fn layer_index(state: &AppState, repo: &Repository, digest: &Digest) -> Result<LayerIndex, ImageError> {
    let transient = |e: &dyn std::fmt::Display| ImageError::Transient(e.to_string());
    let format = i64::from(LayerIndex::FORMAT);
    if let Some(json) = state
        .meta
        .layer_index(digest, format)
        .await
        .map_err(|e| transient(&e))?
        && let Ok(index) = serde_json::from_str::<LayerIndex>(&json)
    {
        return Ok(index);
    }
    let link = state
        .meta
        .repository_blob(repo.id, digest, &repo.key_id)
        .await
        .map_err(|e| transient(&e))?
        .ok_or_else(|| ImageError::Transient(format!("layer {digest} is not stored in the repository")))?;
    let key = encryption::open_data_key(state, &repo.key_id, &link.wrapped_key)
        .await
        .map_err(|e| transient(&e))?;
    let object = encryption::blob_key(repo, *digest).map_err(|e| transient(&e))?;
    let read = state
        .store
        .get(&object, link.size, &key, None)
        .await
        .map_err(|e| transient(&e))?;
    // The blob streams from the store into the walker on a blocking thread:
    // never more than the stream's chunks in memory, whatever the layer's size.
    let reader = SyncIoBridge::new(StreamReader::new(read.body.map_err(std::io::Error::other)));
    let index = tokio::task::spawn_blocking(move || index_layer(reader, &Limits::default()))
        .await
        .map_err(|e| transient(&e))?;
    let index = match index {
        Ok(index) => index,
        Err(LayerError::Read(e)) => return Err(ImageError::Transient(format!("reading layer {digest}: {e}"))),
        Err(error) => return Err(ImageError::Layer { digest: *digest, error }),
    };
    let json = serde_json::to_string(&index).expect("a layer index serializes");
    state
        .meta
        .put_layer_index(digest, format, &json)
        .await
        .map_err(|e| transient(&e))?;
    Ok(index)
}
