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
use stowage_crypto::{
    DataKey, InPlaceOpener, OVERHEAD, Opener, SEGMENT, Sealer, SegmentSpan, sealed_len, segments_for,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{BlobKey, BlobRead, BlobStore, ByteRange, ByteStream, KeyScope, Staged, StoreError};

/// Stored bytes read per step when streaming a blob out (whole segments).
const READ_CHUNK: usize = 16 * (SEGMENT + OVERHEAD);
/// Chunks in flight between the request body and the writer thread.
const WRITE_QUEUE: usize = 16;
/// Stored size of one full segment.
const SEALED_SEGMENT: u64 = (SEGMENT + OVERHEAD) as u64;

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
            let (start, end) = match range {
                None => (0, size.saturating_sub(1)),
                Some(r) => {
                    let end = r.end.unwrap_or(size.saturating_sub(1)).min(size.saturating_sub(1));
                    if r.start >= size || r.start > end {
                        return Err(StoreError::RangeNotSatisfiable {
                            start: r.start,
                            end: r.end.unwrap_or(size),
                            size,
                        });
                    }
                    (r.start, end)
                }
            };
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
        let mut body = read_stream(file, span, key);
        // A first segment that fails is reported before any byte is sent.
        let first = match body.next().await {
            Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => return Err(StoreError::Integrity(blob.clone())),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(b)) => b,
            None => Bytes::new(),
        };
        Ok(BlobRead {
            size,
            start,
            end,
            body: Box::pin(futures::stream::once(async move { Ok(first) }).chain(body)),
        })
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
            let Staged { mut offset, mut hasher } = from;
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
            Ok(Staged { offset, hasher })
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
    let mut opener = InPlaceOpener::new(key, span.first);
    tokio::task::spawn_blocking(move || {
        let (mut left, mut skip, mut take) = (span.sealed_len, span.skip as usize, span.take as usize);
        while left > 0 {
            let want = left.min(READ_CHUNK as u64);
            let mut sealed = Vec::with_capacity(want as usize);
            let pieces = match (&mut file).take(want).read_to_end(&mut sealed) {
                Ok(n) if n as u64 == want => {
                    left -= want;
                    opener
                        .open(&mut sealed)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                }
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "blob file is shorter than recorded",
                )),
                Err(e) => Err(e),
            };
            let ranges = match pieces {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let buf = Bytes::from(sealed);
            for r in ranges {
                let from = (r.start + skip).min(r.end);
                skip -= from - r.start;
                let to = (from + take).min(r.end);
                take -= to - from;
                if to > from && tx.blocking_send(Ok(buf.slice(from..to))).is_err() {
                    return; // the client went away
                }
            }
        }
    });
    Box::pin(tokio_stream_from(rx))
}

fn tokio_stream_from(mut rx: mpsc::Receiver<io::Result<Bytes>>) -> impl futures::Stream<Item = io::Result<Bytes>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use stowage_core::Sha256Hasher;

    fn body(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures::stream::iter(v))
    }

    fn owned(parts: Vec<Vec<u8>>) -> ByteStream {
        Box::pin(futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p)))))
    }

    async fn read_all(r: BlobRead) -> Vec<u8> {
        r.body
            .try_fold(Vec::new(), |mut v, b| async move {
                v.extend_from_slice(&b);
                Ok(v)
            })
            .await
            .unwrap()
    }

    fn fresh() -> Staged {
        Staged {
            offset: 0,
            hasher: Sha256Hasher::new(),
        }
    }

    fn key(data: &[u8]) -> BlobKey {
        BlobKey::new(KeyScope::new("registry").unwrap(), Digest::of(data))
    }

    /// Every file under `dir`, recursively, concatenated.
    fn all_bytes(dir: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                out.extend(all_bytes(&p));
            } else {
                out.extend(fs::read(&p).unwrap());
            }
        }
        out
    }

    #[tokio::test]
    async fn upload_commit_get_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let s = store
            .append(id, fresh(), body(&[b"hello ", b"wor"]), &dk)
            .await
            .unwrap();
        let s = store.append(id, s, body(&[b"ld"]), &dk).await.unwrap();
        let b = key(b"hello world");
        store.commit(id, &s, &b, &dk).await.unwrap();
        assert_eq!(store.stat(&b).await.unwrap(), Some(sealed_len(11)));
        assert_eq!(
            read_all(store.get(&b, 11, &dk, None).await.unwrap()).await,
            b"hello world"
        );
        let r = store
            .get(&b, 11, &dk, Some(ByteRange { start: 6, end: Some(8) }))
            .await
            .unwrap();
        assert_eq!((r.start, r.end, r.size), (6, 8, 11));
        assert_eq!(read_all(r).await, b"wor");
        assert!(matches!(
            store.get(&b, 11, &dk, Some(ByteRange { start: 11, end: None })).await,
            Err(StoreError::RangeNotSatisfiable { .. })
        ));
        assert!(!dir.path().join("uploads").join(id.to_string()).exists());
    }

    #[tokio::test]
    async fn chunks_across_segment_boundaries_and_ranges_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let data: Vec<u8> = (0..3 * SEGMENT + 777).map(|i| (i % 251) as u8).collect();
        let id = Uuid::new_v4();
        let mut s = fresh();
        // Chunk sizes that end inside, exactly at and across segment boundaries.
        let mut at = 0;
        for n in [1000, SEGMENT - 1000, 5, SEGMENT + 3, 70_000, usize::MAX] {
            let end = at + n.min(data.len() - at);
            s = store
                .append(id, s, owned(vec![data[at..end].to_vec()]), &dk)
                .await
                .unwrap();
            at = end;
        }
        assert_eq!(s.offset, data.len() as u64);
        let b = BlobKey::new(KeyScope::new("registry").unwrap(), Digest::of(&data));
        store.commit(id, &s, &b, &dk).await.unwrap();
        let size = data.len() as u64;
        for (start, end) in [
            (0, size - 1),
            (SEGMENT as u64 - 1, SEGMENT as u64),
            (100, 2 * SEGMENT as u64 + 5),
            (size - 1, size - 1),
        ] {
            let r = store
                .get(&b, size, &dk, Some(ByteRange { start, end: Some(end) }))
                .await
                .unwrap();
            assert_eq!(read_all(r).await, &data[start as usize..=end as usize], "{start}-{end}");
        }
    }

    #[tokio::test]
    async fn no_plaintext_reaches_the_disk_and_a_flipped_byte_is_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let marker = b"STOWAGE-PLAINTEXT-MARKER".repeat(50_000);
        let id = Uuid::new_v4();
        let s = store
            .append(id, fresh(), owned(vec![marker[..1000].to_vec()]), &dk)
            .await
            .unwrap();
        // Mid-upload: the staged bytes are sealed too.
        assert!(
            !all_bytes(dir.path())
                .windows(24)
                .any(|w| w == b"STOWAGE-PLAINTEXT-MARKER")
        );
        let s = store
            .append(id, s, owned(vec![marker[1000..].to_vec()]), &dk)
            .await
            .unwrap();
        let b = key(&marker);
        store.commit(id, &s, &b, &dk).await.unwrap();
        assert!(
            !all_bytes(dir.path())
                .windows(24)
                .any(|w| w == b"STOWAGE-PLAINTEXT-MARKER")
        );

        let path = store.blob_path(&b);
        let mut bytes = fs::read(&path).unwrap();
        let altered = 17; // past the first read step of 16 segments
        bytes[altered * (SEGMENT + OVERHEAD) + 40] ^= 0x20;
        fs::write(&path, &bytes).unwrap();
        let size = marker.len() as u64;
        // The first segment still opens; the stream then fails instead of serving altered bytes.
        let r = store.get(&b, size, &dk, None).await.unwrap();
        let err = r.body.try_collect::<Vec<_>>().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A read that starts in the altered segment fails up front.
        let start = (altered * SEGMENT) as u64 + 10;
        assert!(matches!(
            store.get(&b, size, &dk, Some(ByteRange { start, end: None })).await,
            Err(StoreError::Integrity(_))
        ));
        // Another key opens nothing.
        assert!(matches!(
            store.get(&b, size, &DataKey::generate(), None).await,
            Err(StoreError::Integrity(_))
        ));
    }

    #[tokio::test]
    async fn interrupted_append_is_dropped_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let ok = store.append(id, fresh(), body(&[b"abc"]), &dk).await.unwrap();
        // A request that dies mid-body: its bytes land but are not acknowledged.
        let broken: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"XXXX")),
            Err(io::Error::other("client went away")),
        ]));
        assert!(matches!(
            store.append(id, ok.clone(), broken, &dk).await,
            Err(StoreError::Body(_))
        ));
        let s = store.append(id, ok.clone(), body(&[b"def"]), &dk).await.unwrap();
        let b = key(b"abcdef");
        store.commit(id, &s, &b, &dk).await.unwrap();
        assert_eq!(read_all(store.get(&b, 6, &dk, None).await.unwrap()).await, b"abcdef");

        // Committing right after an interrupted request drops its bytes too.
        let id = Uuid::new_v4();
        let ok = store.append(id, fresh(), body(&[b"abc"]), &dk).await.unwrap();
        let broken: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"XXXX")),
            Err(io::Error::other("client went away")),
        ]));
        assert!(store.append(id, ok.clone(), broken, &dk).await.is_err());
        let b = key(b"abc");
        store.commit(id, &ok, &b, &dk).await.unwrap();
        assert_eq!(read_all(store.get(&b, 3, &dk, None).await.unwrap()).await, b"abc");
    }

    #[tokio::test]
    async fn wrong_digest_leaves_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"abc"]), &dk).await.unwrap();
        let wrong = key(b"other");
        assert!(matches!(
            store.commit(id, &s, &wrong, &dk).await,
            Err(StoreError::DigestMismatch { .. })
        ));
        assert_eq!(store.stat(&wrong).await.unwrap(), None);
        assert_eq!(store.stat(&key(b"abc")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_same_content_under_two_scopes_is_two_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let d = Digest::of(b"layer");
        for scope in ["registry", "0b5c43c2-6f0e-4c8a-9d55-5b1c1f7f2d11"] {
            let dk = DataKey::generate();
            let id = Uuid::new_v4();
            let s = store.append(id, fresh(), body(&[b"layer"]), &dk).await.unwrap();
            let b = BlobKey::new(KeyScope::new(scope).unwrap(), d);
            store.commit(id, &s, &b, &dk).await.unwrap();
            assert_eq!(read_all(store.get(&b, 5, &dk, None).await.unwrap()).await, b"layer");
        }
        let shard = u8::from_str_radix(&d.hex()[..2], 16).unwrap();
        assert_eq!(store.list_blobs(shard).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn quarantine_restore_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"keep me"]), &dk).await.unwrap();
        let b = key(b"keep me");
        store.commit(id, &s, &b, &dk).await.unwrap();
        let shard = u8::from_str_radix(&b.digest.hex()[..2], 16).unwrap();
        assert_eq!(store.list_blobs(shard).await.unwrap().len(), 1);

        let stored = Some(sealed_len(7));
        assert_eq!(store.quarantine(&b).await.unwrap(), stored);
        assert_eq!(store.stat(&b).await.unwrap(), None);
        assert!(store.list_blobs(shard).await.unwrap().is_empty());
        assert_eq!(store.quarantined().await.unwrap(), vec![b.clone()]);
        store.restore(&b).await.unwrap();
        assert_eq!(read_all(store.get(&b, 7, &dk, None).await.unwrap()).await, b"keep me");

        assert_eq!(store.quarantine(&b).await.unwrap(), stored);
        store.purge(&b).await.unwrap();
        assert!(store.quarantined().await.unwrap().is_empty());
        assert_eq!(store.quarantine(&b).await.unwrap(), None);
        store.restore(&b).await.unwrap();
        assert_eq!(store.stat(&b).await.unwrap(), None);
    }

    #[tokio::test]
    async fn lists_staged_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        store
            .append(id, fresh(), body(&[b"x"]), &DataKey::generate())
            .await
            .unwrap();
        store.check().await.unwrap();
        let ids: Vec<Uuid> = store
            .list_uploads()
            .await
            .unwrap()
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ids, vec![id]);
        store.abort(id).await.unwrap();
        assert!(store.list_uploads().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn empty_blob_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let dk = DataKey::generate();
        let b = key(b"");
        store.commit(Uuid::new_v4(), &fresh(), &b, &dk).await.unwrap();
        assert_eq!(store.stat(&b).await.unwrap(), Some(0));
        assert_eq!(read_all(store.get(&b, 0, &dk, None).await.unwrap()).await, b"");
        store.check().await.unwrap();
    }
}
