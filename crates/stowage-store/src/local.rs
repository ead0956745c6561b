//! Blobs as files: `blobs/sha256/<2 hex>/<64 hex>`, uploads staged in `uploads/<uuid>`,
//! quarantined blobs in `trash/<64 hex>`.
//! Writes go temp file → fdatasync → rename → fsync directory, so a crash leaves
//! either no blob or a whole one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use stowage_core::Digest;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{BlobRead, BlobStore, ByteRange, ByteStream, Staged, StoreError};

/// Size of the read buffer when streaming a blob out.
const READ_CHUNK: usize = 1024 * 1024;
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
        fs::create_dir_all(root.join("blobs/sha256"))?;
        fs::create_dir_all(root.join("uploads"))?;
        fs::create_dir_all(root.join("trash"))?;
        Ok(LocalStore { root })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join("blobs/sha256").join(&hex[..2]).join(hex)
    }

    fn trash_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("trash").join(digest.hex())
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

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead, StoreError> {
        let path = self.blob_path(digest);
        let digest = *digest;
        let (file, size, start, end) = blocking(move || {
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound(digest));
                }
                Err(e) => return Err(e.into()),
            };
            let size = file.metadata()?.len();
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
            file.seek(SeekFrom::Start(start))?;
            Ok((file, size, start, end))
        })
        .await?;
        let len = if size == 0 { 0 } else { end - start + 1 };
        Ok(BlobRead {
            size,
            start,
            end,
            body: read_stream(file, len),
        })
    }

    async fn append(&self, upload: Uuid, from: Staged, mut body: ByteStream) -> Result<Staged, StoreError> {
        let path = self.upload_path(upload);
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        // One blocking thread hashes and writes while the request task keeps reading.
        let writer = tokio::task::spawn_blocking(move || -> Result<Staged, StoreError> {
            let mut file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&path)?;
            let staged_len = file.metadata()?.len();
            if staged_len < from.offset {
                return Err(StoreError::UploadTruncated {
                    staged: staged_len,
                    expected: from.offset,
                });
            }
            if staged_len > from.offset {
                file.set_len(from.offset)?;
            }
            file.seek(SeekFrom::Start(from.offset))?;
            let Staged { mut offset, mut hasher } = from;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                file.write_all(&chunk)?;
                offset += chunk.len() as u64;
            }
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

    async fn commit(&self, upload: Uuid, staged: &Staged, digest: &Digest) -> Result<(), StoreError> {
        let src = self.upload_path(upload);
        let dst = self.blob_path(digest);
        let (expected, actual, offset) = (*digest, staged.hasher.digest(), staged.offset);
        blocking(move || {
            if actual != expected {
                let _ = fs::remove_file(&src);
                return Err(StoreError::DigestMismatch { expected, actual });
            }
            let staged_len = match fs::metadata(&src) {
                Ok(m) => m.len(),
                // An upload that never received a byte has no staging file.
                Err(e) if e.kind() == io::ErrorKind::NotFound && offset == 0 => {
                    File::create(&src)?.sync_all()?;
                    0
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::UploadNotFound(upload));
                }
                Err(e) => return Err(e.into()),
            };
            if staged_len < offset {
                return Err(StoreError::UploadTruncated {
                    staged: staged_len,
                    expected: offset,
                });
            }
            if staged_len > offset {
                // Bytes of an interrupted request past the acknowledged offset.
                let f = OpenOptions::new().write(true).open(&src)?;
                f.set_len(offset)?;
                f.sync_data()?;
            }
            let dir = dst.parent().expect("blob path has a parent");
            if dst.exists() {
                // Same content already stored: deduplicate.
                fs::remove_file(&src)?;
                return Ok(());
            }
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

    async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.blob_path(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn quarantine(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        let (from, to) = (self.blob_path(digest), self.trash_path(digest));
        blocking(move || {
            let size = match fs::metadata(&from) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            fs::rename(&from, &to)?;
            fsync_dir(to.parent().expect("trash path has a parent"))?;
            fsync_dir(from.parent().expect("blob path has a parent"))?;
            Ok(Some(size))
        })
        .await
    }

    async fn restore(&self, digest: &Digest) -> Result<(), StoreError> {
        let (from, to) = (self.trash_path(digest), self.blob_path(digest));
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

    async fn purge(&self, digest: &Digest) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.trash_path(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn quarantined(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.root.join("trash");
        blocking(move || {
            let mut found = Vec::new();
            for entry in fs::read_dir(dir)? {
                let name = entry?.file_name();
                if let Some(d) = name.to_str().and_then(|n| format!("sha256:{n}").parse().ok()) {
                    found.push(d);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn list_blobs(&self, shard: u8) -> Result<Vec<(Digest, std::time::SystemTime)>, StoreError> {
        let dir = self.root.join("blobs/sha256").join(format!("{shard:02x}"));
        blocking(move || {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry?;
                let Some(digest) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| format!("sha256:{n}").parse::<Digest>().ok())
                else {
                    continue;
                };
                found.push((digest, entry.metadata()?.modified()?));
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

/// Streams `len` bytes of `file` from its current position, reading on a blocking thread.
fn read_stream(mut file: File, len: u64) -> ByteStream {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let want = left.min(READ_CHUNK as u64);
            // read_to_end fills spare capacity without zeroing it first.
            let mut buf = Vec::with_capacity(want as usize);
            let result = match (&mut file).take(want).read_to_end(&mut buf) {
                Ok(n) if n as u64 == want => Ok(Bytes::from(buf)),
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob file is shorter than recorded",
                )),
                Err(e) => Err(e),
            };
            let failed = result.is_err();
            if tx.blocking_send(result).is_err() || failed {
                return; // the client went away, or the read failed
            }
            left -= want;
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

    #[tokio::test]
    async fn upload_commit_get_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"hello ", b"wor"])).await.unwrap();
        let s = store.append(id, s, body(&[b"ld"])).await.unwrap();
        let d = Digest::of(b"hello world");
        store.commit(id, &s, &d).await.unwrap();
        assert_eq!(store.stat(&d).await.unwrap(), Some(11));
        assert_eq!(read_all(store.get(&d, None).await.unwrap()).await, b"hello world");
        let r = store.get(&d, Some(ByteRange { start: 6, end: Some(8) })).await.unwrap();
        assert_eq!((r.start, r.end, r.size), (6, 8, 11));
        assert_eq!(read_all(r).await, b"wor");
        assert!(matches!(
            store.get(&d, Some(ByteRange { start: 11, end: None })).await,
            Err(StoreError::RangeNotSatisfiable { .. })
        ));
        assert!(!dir.path().join("uploads").join(id.to_string()).exists());
    }

    #[tokio::test]
    async fn interrupted_append_is_dropped_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        let ok = store.append(id, fresh(), body(&[b"abc"])).await.unwrap();
        // A request that dies mid-body: its bytes land but are not acknowledged.
        let broken: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"XXXX")),
            Err(io::Error::other("client went away")),
        ]));
        assert!(matches!(
            store.append(id, ok.clone(), broken).await,
            Err(StoreError::Body(_))
        ));
        let s = store.append(id, ok, body(&[b"def"])).await.unwrap();
        let d = Digest::of(b"abcdef");
        store.commit(id, &s, &d).await.unwrap();
        assert_eq!(read_all(store.get(&d, None).await.unwrap()).await, b"abcdef");
    }

    #[tokio::test]
    async fn wrong_digest_leaves_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"abc"])).await.unwrap();
        let wrong = Digest::of(b"other");
        assert!(matches!(
            store.commit(id, &s, &wrong).await,
            Err(StoreError::DigestMismatch { .. })
        ));
        assert_eq!(store.stat(&wrong).await.unwrap(), None);
        assert_eq!(store.stat(&Digest::of(b"abc")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn quarantine_restore_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"keep me"])).await.unwrap();
        let d = Digest::of(b"keep me");
        store.commit(id, &s, &d).await.unwrap();
        let shard = u8::from_str_radix(&d.hex()[..2], 16).unwrap();
        assert_eq!(store.list_blobs(shard).await.unwrap().len(), 1);

        assert_eq!(store.quarantine(&d).await.unwrap(), Some(7));
        assert_eq!(store.stat(&d).await.unwrap(), None);
        assert!(store.list_blobs(shard).await.unwrap().is_empty());
        assert_eq!(store.quarantined().await.unwrap(), vec![d]);
        store.restore(&d).await.unwrap();
        assert_eq!(read_all(store.get(&d, None).await.unwrap()).await, b"keep me");

        assert_eq!(store.quarantine(&d).await.unwrap(), Some(7));
        store.purge(&d).await.unwrap();
        assert!(store.quarantined().await.unwrap().is_empty());
        assert_eq!(store.quarantine(&d).await.unwrap(), None);
        store.restore(&d).await.unwrap();
        assert_eq!(store.stat(&d).await.unwrap(), None);
    }

    #[tokio::test]
    async fn lists_staged_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        store.append(id, fresh(), body(&[b"x"])).await.unwrap();
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
        let d = Digest::of(b"");
        store.commit(Uuid::new_v4(), &fresh(), &d).await.unwrap();
        assert_eq!(store.stat(&d).await.unwrap(), Some(0));
        assert_eq!(read_all(store.get(&d, None).await.unwrap()).await, b"");
        store.check().await.unwrap();
    }
}
