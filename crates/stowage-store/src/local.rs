//! Blobs as files: `blobs/<scope>/sha256/<2 hex>/<64 hex>`, uploads staged in
//! `uploads/<uuid>`, quarantined blobs in `trash/<scope>/<64 hex>`. Every file
//! holds sealed segments ([`stowage_crypto`]); an upload's partial last segment is
//! re-sealed (with a fresh nonce) when the next chunk arrives.
//! Writes go temp file → fdatasync → rename → fsync directory, so a crash leaves
//! either no blob or a whole one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use stowage_core::Digest;
use stowage_crypto::{DataKey, OVERHEAD, Opener, SEGMENT, Sealer, SegmentSpan, sealed_len, segments_for};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::span::{READ_CHUNK, SEALED_SEGMENT, SpanOpener, first_checked, resolve_range};
use crate::{BlobKey, BlobRead, BlobStore, ByteRange, ByteStream, KeyScope, Staged, StoreError};

/// Chunks in flight between the request body and the writer thread.
const WRITE_QUEUE: usize = 16;

/// A blob store on a local filesystem.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (creating when missing) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("blobs"))?;
        fs::create_dir_all(root.join("uploads"))?;
        fs::create_dir_all(root.join("trash"))?;
        Ok(LocalStore { root })
    }

    fn blob_path(&self, blob: &BlobKey) -> PathBuf {
        let hex = blob.digest.hex();
        self.root
            .join("blobs")
            .join(blob.scope.as_str())
            .join("sha256")
            .join(&hex[..2])
            .join(hex)
    }

    fn trash_path(&self, blob: &BlobKey) -> PathBuf {
        self.root
            .join("trash")
            .join(blob.scope.as_str())
            .join(blob.digest.hex())
    }

    fn upload_path(&self, upload: Uuid) -> PathBuf {
        // Uuid's Display is hyphenated hex: safe as a file name.
        self.root.join("uploads").join(upload.to_string())
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(io::Error::other(e)))?
}

/// Subdirectories of `dir` that name valid key scopes.
fn scopes_in(dir: &Path) -> io::Result<Vec<(KeyScope, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(scope) = entry.file_name().to_str().and_then(|n| KeyScope::new(n).ok()) {
            found.push((scope, entry.path()));
        }
    }
    Ok(found)
}

fn digest_named(name: &std::ffi::OsStr) -> Option<Digest> {
    name.to_str().and_then(|n| format!("sha256:{n}").parse().ok())
}

/// Brings a staging file to exactly the sealed form of its first `offset`
/// plaintext bytes, positioned at the start of its last (partial) segment, and
/// returns that segment's plaintext so the caller can re-seal it with what
/// follows. Bytes of an interrupted request past `offset` are dropped.
fn settle_tail(file: &mut File, upload: Uuid, offset: u64, key: &DataKey) -> Result<(u64, Vec<u8>), StoreError> {
    let seg = SEGMENT as u64;
    let index = offset / seg;
    let rem = (offset % seg) as usize;
    let base = index * SEALED_SEGMENT;
    let staged = file.metadata()?.len();
    let needed = if rem > 0 { base + (rem + OVERHEAD) as u64 } else { base };
    if staged < needed {
        return Err(StoreError::UploadTruncated {
            staged: plain_len_within(staged),
            expected: offset,
        });
    }
    let mut tail = Vec::new();
    if rem > 0 {
        let mut sealed = Vec::new();
        file.seek(SeekFrom::Start(base))?;
        (&mut *file).take(SEALED_SEGMENT).read_to_end(&mut sealed)?;
        let span = segments_for(index * seg, index * seg + rem as u64 - 1, offset);
        let mut opener = Opener::new(key, &span);
        // The stored tail may hold more than `rem` bytes (an unacknowledged
        // request re-sealed it); the opener delivers only the first `rem`.
        opener
            .push(&sealed, &mut tail)
            .and_then(|()| opener.finish(&mut tail))
            .map_err(|_| StoreError::UploadIntegrity(upload))?;
    }
    file.set_len(base)?;
    file.seek(SeekFrom::Start(base))?;
    Ok((index, tail))
}

/// Plaintext bytes that whole segments within `sealed` stored bytes hold (for messages).
fn plain_len_within(sealed: u64) -> u64 {
    let full = sealed / SEALED_SEGMENT;
    let rest = (sealed % SEALED_SEGMENT).saturating_sub(OVERHEAD as u64);
    full * SEGMENT as u64 + rest
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    async fn stat(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.blob_path(blob)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(
        &self,
        blob: &BlobKey,
        size: u64,
        key: &DataKey,
        range: Option<ByteRange>,
    ) -> Result<BlobRead, StoreError> {
        let path = self.blob_path(blob);
        let not_found = blob.clone();
        let (file, start, end) = blocking(move || {
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound(not_found)),
                Err(e) => return Err(e.into()),
            };
            if file.metadata()?.len() != sealed_len(size) {
                return Err(StoreError::Integrity(not_found));
            }
            let (start, end) = resolve_range(range, size)?;
            if size > 0 {
                file.seek(SeekFrom::Start(segments_for(start, end, size).sealed_start))?;
            }
            Ok((file, start, end))
        })
        .await?;
        if size == 0 {
            return Ok(BlobRead {
                size,
                start,
                end,
                body: Box::pin(futures::stream::empty()),
            });
        }
        let span = segments_for(start, end, size);
        let body = first_checked(read_stream(file, span, key), blob).await?;
        Ok(BlobRead { size, start, end, body })
    }

    async fn append(
        &self,
        upload: Uuid,
        from: Staged,
        mut body: ByteStream,
        key: &DataKey,
    ) -> Result<Staged, StoreError> {
        let path = self.upload_path(upload);
        let key = key.clone();
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        // One blocking thread hashes, seals and writes while the request task keeps reading.
        let writer = tokio::task::spawn_blocking(move || -> Result<Staged, StoreError> {
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false)
                .open(&path)?;
            let (index, tail) = settle_tail(&mut file, upload, from.offset, &key)?;
            let mut sealer = Sealer::new(&key, index);
            let mut out = Vec::with_capacity(2 * SEGMENT);
            sealer.push(&tail, &mut out);
            let Staged {
                mut offset,
                mut hasher,
                pieces,
            } = from;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                sealer.push(&chunk, &mut out);
                if out.len() >= SEGMENT {
                    file.write_all(&out)?;
                    out.clear();
                }
                offset += chunk.len() as u64;
            }
            sealer.finish(&mut out);
            file.write_all(&out)?;
            file.sync_data()?;
            Ok(Staged { offset, hasher, pieces })
        });
        let mut body_error = None;
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) if chunk.is_empty() => {}
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
                Err(e) => {
                    body_error = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let staged = writer.await.map_err(|e| StoreError::Io(io::Error::other(e)))??;
        match body_error {
            Some(e) => Err(StoreError::Body(e)),
            None => Ok(staged),
        }
    }

    async fn commit(&self, upload: Uuid, staged: &Staged, blob: &BlobKey, key: &DataKey) -> Result<(), StoreError> {
        let src = self.upload_path(upload);
        let dst = self.blob_path(blob);
        let (expected, actual, offset) = (blob.digest, staged.hasher.digest(), staged.offset);
        let key = key.clone();
        blocking(move || {
            if actual != expected {
                let _ = fs::remove_file(&src);
                return Err(StoreError::DigestMismatch { expected, actual });
            }
            let mut file = match OpenOptions::new().read(true).write(true).open(&src) {
                Ok(f) => f,
                // An upload that never received a byte has no staging file.
                Err(e) if e.kind() == io::ErrorKind::NotFound && offset == 0 => File::create(&src)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::UploadNotFound(upload)),
                Err(e) => return Err(e.into()),
            };
            if file.metadata()?.len() != sealed_len(offset) {
                // An interrupted request left bytes past the acknowledged offset.
                let (index, tail) = settle_tail(&mut file, upload, offset, &key)?;
                let mut out = Vec::new();
                let mut sealer = Sealer::new(&key, index);
                sealer.push(&tail, &mut out);
                sealer.finish(&mut out);
                file.write_all(&out)?;
            }
            file.sync_data()?;
            drop(file);
            let dir = dst.parent().expect("blob path has a parent");
            fs::create_dir_all(dir)?;
            fs::rename(&src, &dst)?;
            fsync_dir(dir)?;
            Ok(())
        })
        .await
    }

    async fn abort(&self, upload: Uuid) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.upload_path(upload)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn quarantine(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError> {
        let (from, to) = (self.blob_path(blob), self.trash_path(blob));
        blocking(move || {
            let size = match fs::metadata(&from) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let trash = to.parent().expect("trash path has a parent");
            fs::create_dir_all(trash)?;
            fs::rename(&from, &to)?;
            fsync_dir(trash)?;
            fsync_dir(from.parent().expect("blob path has a parent"))?;
            Ok(Some(size))
        })
        .await
    }

    async fn restore(&self, blob: &BlobKey) -> Result<(), StoreError> {
        let (from, to) = (self.trash_path(blob), self.blob_path(blob));
        blocking(move || {
            if !from.exists() {
                return Ok(());
            }
            let dir = to.parent().expect("blob path has a parent");
            fs::create_dir_all(dir)?;
            fs::rename(&from, &to)?;
            fsync_dir(dir)?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, blob: &BlobKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.trash_path(blob)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn quarantined(&self) -> Result<Vec<BlobKey>, StoreError> {
        let dir = self.root.join("trash");
        blocking(move || {
            let mut found = Vec::new();
            for (scope, path) in scopes_in(&dir)? {
                for entry in fs::read_dir(path)? {
                    if let Some(d) = digest_named(&entry?.file_name()) {
                        found.push(BlobKey::new(scope.clone(), d));
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    async fn list_blobs(&self, shard: u8) -> Result<Vec<(BlobKey, std::time::SystemTime)>, StoreError> {
        let dir = self.root.join("blobs");
        blocking(move || {
            let mut found = Vec::new();
            for (scope, path) in scopes_in(&dir)? {
                let entries = match fs::read_dir(path.join("sha256").join(format!("{shard:02x}"))) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                for entry in entries {
                    let entry = entry?;
                    let Some(digest) = digest_named(&entry.file_name()) else {
                        continue;
                    };
                    found.push((BlobKey::new(scope.clone(), digest), entry.metadata()?.modified()?));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn list_uploads(&self) -> Result<Vec<(Uuid, std::time::SystemTime)>, StoreError> {
        let dir = self.root.join("uploads");
        blocking(move || {
            let mut found = Vec::new();
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<Uuid>().ok()) else {
                    continue;
                };
                found.push((id, entry.metadata()?.modified()?));
            }
            Ok(found)
        })
        .await
    }

    async fn check(&self) -> Result<(), StoreError> {
        let probe = self.root.join("uploads").join(".readyz");
        blocking(move || {
            fs::write(&probe, b"ok")?;
            let back = fs::read(&probe)?;
            fs::remove_file(&probe)?;
            if back != b"ok" {
                return Err(StoreError::Io(io::Error::other("read back differs")));
            }
            Ok(())
        })
        .await
    }
}

/// Streams the plaintext of a span of stored segments of `file` (positioned
/// at its start), reading and decrypting in place on a blocking thread: each
/// segment's plaintext goes out as a slice of the buffer it was read into,
/// with no copy. A segment that fails authentication ends the stream with
/// `InvalidData`.
fn read_stream(mut file: File, span: SegmentSpan, key: &DataKey) -> ByteStream {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(64);
    let mut opener = SpanOpener::new(key, &span);
    tokio::task::spawn_blocking(move || {
        let mut left = span.sealed_len;
        while left > 0 {
            let want = left.min(READ_CHUNK as u64);
            let mut sealed = Vec::with_capacity(want as usize);
            let pieces = match (&mut file).take(want).read_to_end(&mut sealed) {
                Ok(n) if n as u64 == want => {
                    left -= want;
                    opener.open(sealed)
                }
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "blob file is shorter than recorded",
                )),
                Err(e) => Err(e),
            };
            match pieces {
                Ok(pieces) => {
                    for piece in pieces {
                        if tx.blocking_send(Ok(piece)).is_err() {
                            return; // the client went away
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Box::pin(tokio_stream_from(rx))
}

fn tokio_stream_from(mut rx: mpsc::Receiver<io::Result<Bytes>>) -> impl futures::Stream<Item = io::Result<Bytes>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
