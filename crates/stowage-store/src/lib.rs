//! Blob storage for Stowage. [`BlobStore`] is the one interface; [`LocalStore`]
//! keeps blobs as files. This is the only crate that names a storage key.
//!
//! Contract every backend keeps: a blob is visible under its digest only once it
//! is complete, verified and durable; upload staging can be resumed from any
//! acknowledged offset, also by another process.

mod local;

use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use stowage_core::{Digest, Sha256Hasher};
use uuid::Uuid;

pub use local::LocalStore;

/// A stream of bytes in or out of the store.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob {0} not found")]
    NotFound(Digest),
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
}

/// Content-addressed blob storage with resumable upload staging.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The size of a stored blob, or `None`.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StoreError>;

    /// Opens a stored blob, optionally a byte range of it.
    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead, StoreError>;

    /// Appends `body` to an upload's staging data at `from.offset` (dropping anything
    /// staged past it by an interrupted request), hashing as it writes; the result is
    /// durable when this returns.
    async fn append(&self, upload: Uuid, from: Staged, body: ByteStream) -> Result<Staged, StoreError>;

    /// Makes the staged upload the blob `digest` if its hash matches, durably; the
    /// staging data is gone afterwards whatever the outcome.
    async fn commit(&self, upload: Uuid, staged: &Staged, digest: &Digest) -> Result<(), StoreError>;

    /// Drops an upload's staging data (idempotent).
    async fn abort(&self, upload: Uuid) -> Result<(), StoreError>;

    /// Deletes a blob (idempotent). Callers ensure nothing references it.
    async fn delete(&self, digest: &Digest) -> Result<(), StoreError>;

    /// Moves a blob out of view, keeping its bytes until [`BlobStore::purge`];
    /// returns its size, or `None` when it was not stored. Garbage collection
    /// quarantines before it forgets a blob, so a crash in between loses nothing.
    async fn quarantine(&self, digest: &Digest) -> Result<Option<u64>, StoreError>;

    /// Puts a quarantined blob back in view (idempotent).
    async fn restore(&self, digest: &Digest) -> Result<(), StoreError>;

    /// Deletes a quarantined blob's bytes for good (idempotent).
    async fn purge(&self, digest: &Digest) -> Result<(), StoreError>;

    /// Blobs in quarantine (left by an interrupted garbage-collection pass).
    async fn quarantined(&self) -> Result<Vec<Digest>, StoreError>;

    /// Stored blobs whose digest's first byte is `shard`, with their write times;
    /// 256 shards cover the store.
    async fn list_blobs(&self, shard: u8) -> Result<Vec<(Digest, SystemTime)>, StoreError>;

    /// Uploads with staged data, with their last write times.
    async fn list_uploads(&self) -> Result<Vec<(Uuid, SystemTime)>, StoreError>;

    /// Checks that the store can be written and read (readiness).
    async fn check(&self) -> Result<(), StoreError>;
}
