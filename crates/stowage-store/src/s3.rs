//! Blobs in an S3-compatible bucket (AWS S3, Garage, MinIO, Ceph RGW), so any
//! number of nodes can serve the same registry. Object names mirror the file
//! store: `blobs/<scope>/sha256/<2 hex>/<64 hex>`, `trash/<scope>/<64 hex>`.
//!
//! S3 objects cannot be appended to, so an upload is staged as *pieces*:
//! `uploads/<uuid>/<first segment, 16 hex>-<random>`, each holding sealed
//! segments from its first one on. A chunk that starts inside a segment
//! re-seals that segment at the head of its own piece, superseding the copy in
//! the piece before. Which pieces make up the upload is recorded with the
//! acknowledged offset ([`Staged::pieces`]); a piece no record names (an
//! interrupted or losing concurrent request) is never read and goes with the
//! upload. Any chunk size works, far below S3's 5 MiB part minimum: pieces are
//! whole objects, and commit composes them into the blob (a server-side copy
//! when there is one piece, else one streamed multipart upload).

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use stowage_core::Digest;
use stowage_crypto::{DataKey, OVERHEAD, Opener, SEGMENT, Sealer, sealed_len, segments_for};
use uuid::Uuid;

use crate::span::{READ_CHUNK, SEALED_SEGMENT, SpanOpener, first_checked, resolve_range};
use crate::{BlobKey, BlobRead, BlobStore, ByteRange, ByteStream, KeyScope, Staged, StoreError};

/// Bytes per multipart part: S3 needs at least 5 MiB (but for the last) and
/// allows 10,000 parts, so blobs up to about 80 GB.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per upload (bounds memory to about `(1 + this) × PART_SIZE`).
const PARTS_IN_FLIGHT: usize = 2;
/// The largest object S3's CopyObject takes; bigger ones are copied by
/// streaming them through this node.
const MAX_SERVER_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// Where the bucket is and how to sign for it. Unset credentials come from
/// the standard `AWS_*` environment variables.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// `http(s)://host:port` of an S3-compatible service; AWS S3 when unset.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    /// A folder inside the bucket for everything Stowage writes (may be empty).
    pub prefix: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// A blob store in an S3 bucket.
#[derive(Clone)]
pub struct S3Store {
    s3: Arc<dyn ObjectStore>,
    prefix: String,
    /// Objects up to this size are copied server-side ([`MAX_SERVER_COPY`]).
    max_server_copy: u64,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.s3)
    }
}

impl S3Store {
    /// Connects to the bucket (lazily: nothing is sent until the first call).
    pub fn open(config: &S3Config) -> Result<Self, StoreError> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            // Path-style requests: what Garage, MinIO and Ceph expect on a bare host:port.
            .with_virtual_hosted_style_request(false)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // A blob streams for as long as the client reads: no whole-request limit.
                    .with_timeout_disabled(),
            );
        if let Some(endpoint) = &config.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(id) = &config.access_key_id {
            b = b.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            b = b.with_secret_access_key(secret);
        }
        let s3 = b.build().map_err(|e| StoreError::Io(io::Error::other(e)))?;
        Ok(S3Store::with(Arc::new(s3), &config.prefix))
    }

    /// A store over any object store (tests use an in-memory one too).
    pub fn with(s3: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        S3Store {
            s3,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            max_server_copy: MAX_SERVER_COPY,
        }
    }

    /// Copies everything bigger than `bytes` through this node (tests of the
    /// path S3 takes above its CopyObject limit).
    #[cfg(test)]
    pub(crate) fn streaming_copies_above(mut self, bytes: u64) -> Self {
        self.max_server_copy = bytes;
        self
    }

    /// The object store underneath (tests inspect what was written).
    #[cfg(test)]
    pub(crate) fn objects(&self) -> Arc<dyn ObjectStore> {
        self.s3.clone()
    }

    fn path(&self, rel: &str) -> Path {
        Path::from(format!("{}{rel}", self.prefix))
    }

    fn blob_path(&self, blob: &BlobKey) -> Path {
        let hex = blob.digest.hex();
        self.path(&format!("blobs/{}/sha256/{}/{hex}", blob.scope, &hex[..2]))
    }

    fn trash_path(&self, blob: &BlobKey) -> Path {
        self.path(&format!("trash/{}/{}", blob.scope, blob.digest.hex()))
    }

    fn piece_path(&self, upload: Uuid, piece: &Piece) -> Path {
        self.path(&format!("uploads/{upload}/{}", piece.name))
    }

    /// The path relative to the prefix, split into its parts.
    fn relative<'a>(&self, path: &'a Path) -> Vec<&'a str> {
        let skip = self.prefix.matches('/').count();
        path.as_ref().split('/').skip(skip).collect()
    }

    async fn delete_all(&self, rel: &str) -> Result<(), StoreError> {
        let prefix = self.path(rel);
        let found: Vec<Path> = self
            .s3
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(io_error)?;
        for path in found {
            self.delete(&path).await?;
        }
        Ok(())
    }

    async fn delete(&self, path: &Path) -> Result<(), StoreError> {
        match self.s3.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn size_of(&self, path: &Path) -> Result<Option<u64>, StoreError> {
        match self.s3.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Writes a stream of bytes as one object: a single PUT when it fits in a
    /// part, a multipart upload otherwise. Nothing is visible unless it all
    /// arrives.
    async fn write<S>(&self, path: &Path, mut chunks: S) -> Result<(), StoreError>
    where
        S: futures::Stream<Item = Result<Bytes, StoreError>> + Unpin,
    {
        let mut first = BytesMut::new();
        while first.len() < PART_SIZE {
            match chunks.next().await {
                Some(chunk) => first.extend_from_slice(&chunk?),
                None => {
                    self.s3
                        .put(path, PutPayload::from(first.freeze()))
                        .await
                        .map_err(io_error)?;
                    return Ok(());
                }
            }
        }
        let upload = self.s3.put_multipart(path).await.map_err(io_error)?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        parts.put(first.freeze());
        while let Some(chunk) = chunks.next().await {
            let room = match chunk {
                Ok(chunk) => parts
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map(|()| chunk)
                    .map_err(io_error),
                Err(e) => Err(e),
            };
            match room {
                Ok(chunk) => parts.put(chunk),
                Err(e) => {
                    let _ = parts.abort().await;
                    return Err(e);
                }
            }
        }
        parts.finish().await.map_err(io_error)?;
        Ok(())
    }

    /// Copies an object of `size` bytes: server-side when S3 allows it, else
    /// streamed through this node as a multipart upload.
    async fn copy(&self, from: &Path, to: &Path, size: u64) -> Result<(), StoreError> {
        if size <= self.max_server_copy {
            return self.s3.copy(from, to).await.map_err(io_error);
        }
        let (_, body) = self.read(from, 0..size).await.map_err(io_error)?;
        let body = body.map_err(StoreError::Io);
        self.write(to, Box::pin(body)).await
    }

    /// Sealed bytes `range` of an object, as a stream, with the object's whole size.
    async fn read(&self, path: &Path, range: std::ops::Range<u64>) -> Result<(u64, ByteStream), object_store::Error> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let got = self.s3.get_opts(path, options).await?;
        Ok((got.meta.size, Box::pin(got.into_stream().map_err(io::Error::other))))
    }

    /// Re-reads the plaintext of segment `index` up to `len` bytes from the
    /// piece that holds it.
    async fn tail(
        &self,
        upload: Uuid,
        piece: &Piece,
        index: u64,
        len: u64,
        key: &DataKey,
    ) -> Result<Vec<u8>, StoreError> {
        let at = (index - piece.start) * SEALED_SEGMENT;
        let sealed: Vec<Bytes> = self
            .read(&self.piece_path(upload, piece), at..at + len + OVERHEAD as u64)
            .await
            .map_err(|_| StoreError::UploadTruncated {
                staged: index * SEGMENT as u64,
                expected: index * SEGMENT as u64 + len,
            })?
            .1
            .try_collect()
            .await?;
        let (from, to) = (index * SEGMENT as u64, index * SEGMENT as u64 + len);
        let span = segments_for(from, to - 1, to);
        let mut opener = Opener::new(key, &span);
        let mut plain = Vec::new();
        for chunk in &sealed {
            opener
                .push(chunk, &mut plain)
                .map_err(|_| StoreError::UploadIntegrity(upload))?;
        }
        opener
            .finish(&mut plain)
            .map_err(|_| StoreError::UploadIntegrity(upload))?;
        Ok(plain)
    }
}

fn io_error(e: object_store::Error) -> StoreError {
    StoreError::Io(io::Error::other(e))
}

/// One staged object of an upload: sealed segments from `start` on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Piece {
    start: u64,
    name: String,
}

impl Piece {
    fn new(start: u64) -> Self {
        Piece {
            start,
            name: format!("{start:016x}-{}", Uuid::new_v4().simple()),
        }
    }
}

/// Parses [`Staged::pieces`]: piece names separated by commas, in order.
fn parse_pieces(upload: Uuid, record: &str) -> Result<Vec<Piece>, StoreError> {
    record
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|name| {
            let ok = name.len() == 16 + 1 + 32
                && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                && name.as_bytes()[16] == b'-';
            let start = ok.then(|| u64::from_str_radix(&name[..16], 16).ok()).flatten();
            start
                .map(|start| Piece {
                    start,
                    name: name.to_string(),
                })
                .ok_or(StoreError::UploadIntegrity(upload))
        })
        .collect()
}

fn record_pieces(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(",")
}

/// The stored bytes each piece contributes to an upload of `offset` bytes:
/// from its start up to the next piece's start (or the end).
fn layout(pieces: &[Piece], offset: u64) -> Vec<(&Piece, u64)> {
    let total = sealed_len(offset);
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let end = pieces.get(i + 1).map_or(total, |next| next.start * SEALED_SEGMENT);
            (p, end - p.start * SEALED_SEGMENT)
        })
        .collect()
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn stat(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError> {
        self.size_of(&self.blob_path(blob)).await
    }

    async fn get(
        &self,
        blob: &BlobKey,
        size: u64,
        key: &DataKey,
        range: Option<ByteRange>,
    ) -> Result<BlobRead, StoreError> {
        let path = self.blob_path(blob);
        let (start, end) = resolve_range(range, size)?;
        if size == 0 {
            return match self.size_of(&path).await? {
                None => Err(StoreError::NotFound(blob.clone())),
                Some(0) => Ok(BlobRead {
                    size,
                    start,
                    end,
                    body: Box::pin(futures::stream::empty()),
                }),
                Some(_) => Err(StoreError::Integrity(blob.clone())),
            };
        }
        let span = segments_for(start, end, size);
        let (stored, sealed) = match self
            .read(&path, span.sealed_start..span.sealed_start + span.sealed_len)
            .await
        {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(StoreError::NotFound(blob.clone())),
            Err(e) => return Err(io_error(e)),
        };
        if stored != sealed_len(size) {
            return Err(StoreError::Integrity(blob.clone()));
        }
        let body = open_stream(sealed, SpanOpener::new(key, &span), span.sealed_len);
        let body = first_checked(body, blob).await?;
        Ok(BlobRead { size, start, end, body })
    }

    async fn append(&self, upload: Uuid, from: Staged, body: ByteStream, key: &DataKey) -> Result<Staged, StoreError> {
        let seg = SEGMENT as u64;
        let (index, rem) = (from.offset / seg, from.offset % seg);
        let mut pieces = parse_pieces(upload, &from.pieces)?;
        let tail = match pieces.iter().rev().find(|p| p.start <= index) {
            Some(p) if rem > 0 => self.tail(upload, p, index, rem, key).await?,
            None if from.offset > 0 => return Err(StoreError::UploadNotFound(upload)),
            _ => Vec::new(),
        };
        // A piece starting at `index` is superseded whole by the new one.
        pieces.retain(|p| p.start < index);
        let piece = Piece::new(index);

        let mut sealer = Some(Sealer::new(key, index));
        let mut head = Vec::new();
        if let Some(s) = sealer.as_mut() {
            s.push(&tail, &mut head);
        }
        let mut hasher = from.hasher;
        let mut offset = from.offset;
        let mut body_error = None;
        let sealed = {
            let (hasher, offset, body_error) = (&mut hasher, &mut offset, &mut body_error);
            let sealer = &mut sealer;
            let mut body = body;
            let mut done = false;
            let mut pending = Some(Bytes::from(head));
            futures::stream::poll_fn(move |cx| {
                if let Some(first) = pending.take().filter(|b| !b.is_empty()) {
                    return std::task::Poll::Ready(Some(Ok(first)));
                }
                loop {
                    if done {
                        return std::task::Poll::Ready(None);
                    }
                    match body.poll_next_unpin(cx) {
                        std::task::Poll::Pending => return std::task::Poll::Pending,
                        std::task::Poll::Ready(Some(Ok(chunk))) => {
                            hasher.update(&chunk);
                            *offset += chunk.len() as u64;
                            let mut out = Vec::with_capacity(chunk.len() + 2 * OVERHEAD);
                            if let Some(s) = sealer.as_mut() {
                                s.push(&chunk, &mut out);
                            }
                            if !out.is_empty() {
                                return std::task::Poll::Ready(Some(Ok(Bytes::from(out))));
                            }
                        }
                        std::task::Poll::Ready(Some(Err(e))) => {
                            *body_error = Some(e);
                            done = true;
                            return std::task::Poll::Ready(Some(Err(StoreError::Body(io::Error::other(
                                "request body ended early",
                            )))));
                        }
                        std::task::Poll::Ready(None) => {
                            done = true;
                            // The partial last segment is sealed once the body ends.
                            let mut out = Vec::new();
                            if let Some(s) = sealer.take() {
                                s.finish(&mut out);
                            }
                            if !out.is_empty() {
                                return std::task::Poll::Ready(Some(Ok(Bytes::from(out))));
                            }
                        }
                    }
                }
            })
        };
        let written = self.write(&self.piece_path(upload, &piece), sealed).await;
        if let Some(e) = body_error {
            return Err(StoreError::Body(e));
        }
        written?;
        pieces.push(piece);
        Ok(Staged {
            offset,
            hasher,
            pieces: record_pieces(&pieces),
        })
    }

    async fn commit(&self, upload: Uuid, staged: &Staged, blob: &BlobKey, _key: &DataKey) -> Result<(), StoreError> {
        let actual = staged.hasher.digest();
        if actual != blob.digest {
            self.abort(upload).await?;
            return Err(StoreError::DigestMismatch {
                expected: blob.digest,
                actual,
            });
        }
        let pieces = parse_pieces(upload, &staged.pieces)?;
        let dst = self.blob_path(blob);
        let parts = layout(&pieces, staged.offset);
        // Every piece must hold what the record says it does.
        let mut sizes = Vec::with_capacity(parts.len());
        for (piece, needed) in &parts {
            let have = self.size_of(&self.piece_path(upload, piece)).await?.unwrap_or(0);
            if have < *needed {
                return Err(StoreError::UploadTruncated {
                    staged: piece.start * SEGMENT as u64,
                    expected: staged.offset,
                });
            }
            sizes.push(have);
        }
        match parts.as_slice() {
            [] if staged.offset == 0 => {
                self.s3.put(&dst, PutPayload::default()).await.map_err(io_error)?;
            }
            [] => return Err(StoreError::UploadNotFound(upload)),
            // One piece holding exactly the blob: the store copies it server-side.
            [(piece, needed)] if sizes[0] == *needed => {
                self.copy(&self.piece_path(upload, piece), &dst, *needed).await?;
            }
            _ => {
                let mut streams = Vec::new();
                for (piece, needed) in &parts {
                    if *needed > 0 {
                        let (_, piece) = self
                            .read(&self.piece_path(upload, piece), 0..*needed)
                            .await
                            .map_err(io_error)?;
                        streams.push(piece);
                    }
                }
                let joined = futures::stream::iter(streams).flatten().map_err(StoreError::Io);
                self.write(&dst, Box::pin(joined)).await?;
            }
        }
        self.abort(upload).await
    }

    async fn abort(&self, upload: Uuid) -> Result<(), StoreError> {
        self.delete_all(&format!("uploads/{upload}/")).await
    }

    async fn quarantine(&self, blob: &BlobKey) -> Result<Option<u64>, StoreError> {
        let (from, to) = (self.blob_path(blob), self.trash_path(blob));
        let Some(size) = self.size_of(&from).await? else {
            return Ok(None);
        };
        self.copy(&from, &to, size).await?;
        self.delete(&from).await?;
        Ok(Some(size))
    }

    async fn restore(&self, blob: &BlobKey) -> Result<(), StoreError> {
        let (from, to) = (self.trash_path(blob), self.blob_path(blob));
        let Some(size) = self.size_of(&from).await? else {
            return Ok(());
        };
        self.copy(&from, &to, size).await?;
        self.delete(&from).await
    }

    async fn purge(&self, blob: &BlobKey) -> Result<(), StoreError> {
        self.delete(&self.trash_path(blob)).await
    }

    async fn quarantined(&self) -> Result<Vec<BlobKey>, StoreError> {
        let listed: Vec<_> = self
            .s3
            .list(Some(&self.path("trash/")))
            .try_collect()
            .await
            .map_err(io_error)?;
        Ok(listed
            .iter()
            .filter_map(|m| match self.relative(&m.location).as_slice() {
                ["trash", scope, hex] => blob_key(scope, hex),
                _ => None,
            })
            .collect())
    }

    async fn list_blobs(&self, shard: u8) -> Result<Vec<(BlobKey, SystemTime)>, StoreError> {
        let scopes = self
            .s3
            .list_with_delimiter(Some(&self.path("blobs/")))
            .await
            .map_err(io_error)?
            .common_prefixes;
        let mut found = Vec::new();
        for scope in scopes {
            let Some(name) = scope.filename() else { continue };
            if KeyScope::new(name).is_err() {
                continue;
            }
            let dir = self.path(&format!("blobs/{name}/sha256/{shard:02x}/"));
            let listed: Vec<_> = self.s3.list(Some(&dir)).try_collect().await.map_err(io_error)?;
            for m in listed {
                if let ["blobs", scope, "sha256", _, hex] = self.relative(&m.location).as_slice()
                    && let Some(key) = blob_key(scope, hex)
                {
                    found.push((key, SystemTime::from(m.last_modified)));
                }
            }
        }
        Ok(found)
    }

    async fn list_uploads(&self) -> Result<Vec<(Uuid, SystemTime)>, StoreError> {
        let listed: Vec<_> = self
            .s3
            .list(Some(&self.path("uploads/")))
            .try_collect()
            .await
            .map_err(io_error)?;
        let mut latest: std::collections::BTreeMap<Uuid, SystemTime> = Default::default();
        for m in listed {
            if let ["uploads", id, _] = self.relative(&m.location).as_slice()
                && let Ok(id) = id.parse::<Uuid>()
            {
                let at = SystemTime::from(m.last_modified);
                let entry = latest.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        Ok(latest.into_iter().collect())
    }

    async fn check(&self) -> Result<(), StoreError> {
        let probe = self.path(&format!("readyz/{}", Uuid::new_v4()));
        self.s3
            .put(&probe, PutPayload::from_static(b"ok"))
            .await
            .map_err(io_error)?;
        let back = self
            .s3
            .get(&probe)
            .await
            .map_err(io_error)?
            .bytes()
            .await
            .map_err(io_error);
        self.delete(&probe).await?;
        if back? != Bytes::from_static(b"ok") {
            return Err(StoreError::Io(io::Error::other("read back differs")));
        }
        Ok(())
    }
}

fn blob_key(scope: &str, hex: &str) -> Option<BlobKey> {
    let scope = KeyScope::new(scope).ok()?;
    let digest: Digest = format!("sha256:{hex}").parse().ok()?;
    Some(BlobKey::new(scope, digest))
}

/// Opens a stream of sealed bytes (`len` of them, from a span's first segment)
/// into the range's plaintext, [`READ_CHUNK`] stored bytes at a time.
fn open_stream(mut sealed: ByteStream, mut opener: SpanOpener, len: u64) -> ByteStream {
    let stream = async_stream_of(move |tx| async move {
        let mut left = len;
        let mut buf = Vec::with_capacity(READ_CHUNK.min(len as usize));
        while left > 0 {
            let want = left.min(READ_CHUNK as u64) as usize;
            while buf.len() < want {
                match sealed.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return tx.send(Err(e)).await,
                    None => {
                        let short = io::Error::new(io::ErrorKind::InvalidData, "stored blob is shorter than recorded");
                        return tx.send(Err(short)).await;
                    }
                }
            }
            let rest = buf.split_off(want);
            left -= want as u64;
            match opener.open(std::mem::replace(&mut buf, rest)) {
                Ok(pieces) => {
                    for piece in pieces {
                        tx.send(Ok(piece)).await?;
                    }
                }
                Err(e) => return tx.send(Err(e)).await,
            }
        }
        Ok(())
    });
    Box::pin(stream)
}

/// A stream fed by a task through a small channel (the producer stops when
/// the consumer goes away).
fn async_stream_of<F, Fut>(produce: F) -> impl futures::Stream<Item = io::Result<Bytes>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<io::Result<Bytes>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), tokio::sync::mpsc::error::SendError<io::Result<Bytes>>>>
        + Send
        + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
