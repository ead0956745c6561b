//! Blob storage for Stowage. [`BlobStore`] is the one interface; [`LocalStore`]
//! keeps blobs as files. This is the only crate that names a storage key.
//!
//! Contract every backend keeps: a blob is visible under its key only once it
//! is complete, verified and durable; upload staging can be resumed from any
//! acknowledged offset, also by another process. Everything written — staged
//! uploads included — is sealed with the object's data key
//! ([`stowage_crypto`]'s segmented format); plaintext never reaches storage.

#[cfg(test)]
mod conformance;
mod keys;
mod local;
mod s3;
mod span;

use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use stowage_core::{Digest, Sha256Hasher};
use stowage_crypto::DataKey;
use uuid::Uuid;

pub use keys::{BlobKey, InvalidScope, KeyScope};
pub use local::LocalStore;
pub use s3::{S3Config, S3Store};

/// A stream of bytes in or out of the store.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob {0} not found")]
    NotFound(BlobKey),
    #[error("stored blob {0} failed its integrity check")]
    Integrity(BlobKey),
    #[error("staged upload {0} failed its integrity check")]
    UploadIntegrity(Uuid),
    #[error("upload {0} has no staged data")]
    UploadNotFound(Uuid),
    #[error("upload has {staged} bytes staged, fewer than the {expected} recorded")]
    UploadTruncated { staged: u64, expected: u64 },
    #[error("uploaded content has digest {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("range {start}-{end} is outside a blob of {size} bytes")]
    RangeNotSatisfiable { start: u64, end: u64, size: u64 },
    #[error("request body ended early: {0}")]
    Body(io::Error),
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// An inclusive byte range of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive end; `None` means to the end of the blob.
    pub end: Option<u64>,
}

/// An open blob: its total size, the range served and the bytes.
pub struct BlobRead {
    pub size: u64,
    /// Inclusive range actually served (the whole blob when none was asked).
    pub start: u64,
    pub end: u64,
    pub body: ByteStream,
}

/// Where an upload stands after bytes were appended.
#[derive(Clone)]
pub struct Staged {
    /// Bytes staged so far.
    pub offset: u64,
    /// Running hash of those bytes.
    pub hasher: Sha256Hasher,
    /// The backend's own record of where the staged bytes lie, kept with the
    /// upload's metadata and handed back on the next call (empty for files).
    /// Recording it with the acknowledged offset is what makes an interrupted
    /// or concurrent request's bytes unreachable.
    pub pieces: String,
}

/// Content-addressed, encrypted blob storage with resumable upload staging.
/// Blobs are stored once per [`KeyScope`]: the same content under two keys is
/// two objects.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The stored (sealed) size of a blob, or `None`.
    async fn stat(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError>;

    /// Opens a stored blob of `size` plaintext bytes (as recorded at upload),
    /// optionally a byte range of it, decrypting with `key`. Only the segments
    /// the range touches are read; a segment that fails authentication ends the
    /// stream with an error (and fails the call when it is the first).
    async fn get(
        &self,
        blob: &BlobKey,
        size: u64,
        key: &DataKey,
        range: Option<ByteRange>,
    ) -> Result<BlobRead, StoreError>;

    /// Appends `body` to an upload's staging data at `from.offset` (dropping anything
    /// staged past it by an interrupted request), hashing the plaintext and sealing it
    /// with `key` as it writes; the result is durable when this returns.
    async fn append(&self, upload: Uuid, from: Staged, body: ByteStream, key: &DataKey) -> Result<Staged, StoreError>;

    /// Makes the staged upload (sealed with `key`) the blob `blob` if its hash
    /// matches, durably, replacing any unrecorded leftover there; the staging data
    /// is gone afterwards whatever the outcome.
    async fn commit(&self, upload: Uuid, staged: &Staged, blob: &BlobKey, key: &DataKey) -> Result<(), StoreError>;

    /// Drops an upload's staging data (idempotent).
    async fn abort(&self, upload: Uuid) -> Result<(), StoreError>;

    /// Moves a blob out of view, keeping its bytes until [`BlobStore::purge`];
    /// returns its stored size, or `None` when it was not stored. Garbage
    /// collection quarantines before it forgets a blob, so a crash in between
    /// loses nothing.
    async fn quarantine(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError>;

    /// Puts a quarantined blob back in view (idempotent).
    async fn restore(&self, blob: &BlobKey) -> Result<(), StoreError>;

    /// Deletes a quarantined blob's bytes for good (idempotent).
    async fn purge(&self, blob: &BlobKey) -> Result<(), StoreError>;

    /// Blobs in quarantine (left by an interrupted garbage-collection pass).
    async fn quarantined(&self) -> Result<Vec<BlobKey>, StoreError>;

    /// Stored blobs whose digest's first byte is `shard`, in every scope, with
    /// their write times; 256 shards cover the store.
    async fn list_blobs(&self, shard: u8) -> Result<Vec<(BlobKey, SystemTime)>, StoreError>;

    /// Uploads with staged data, with their last write times.
    async fn list_uploads(&self) -> Result<Vec<(Uuid, SystemTime)>, StoreError>;

    /// Checks that the store can be written and read (readiness).
    async fn check(&self) -> Result<(), StoreError>;
}
