//! The behaviour every backend must show, run against each: the file store in
//! a temp dir, the S3 store over an in-memory object store (also with every copy
//! streamed, as above S3's CopyObject limit), and the S3 store on
//! the Garage server named by `STOWAGE_TEST_S3_*` (started by `scripts/test`),
//! each test under a prefix of its own.

use std::io;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use stowage_core::{Digest, Sha256Hasher};
use stowage_crypto::{DataKey, OVERHEAD, SEGMENT, sealed_len};
use uuid::Uuid;

use crate::{
    BlobKey, BlobRead, BlobStore, ByteRange, ByteStream, KeyScope, LocalStore, S3Config, S3Store, Staged, StoreError,
};

/// A store under test, with raw access to what it wrote.
pub(crate) struct Harness {
    pub store: Arc<dyn BlobStore>,
    raw: Raw,
}

enum Raw {
    Dir(tempfile::TempDir),
    Objects(Arc<dyn ObjectStore>, Path),
}

impl Harness {
    pub fn local() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Harness {
            store: Arc::new(LocalStore::open(dir.path()).unwrap()),
            raw: Raw::Dir(dir),
        }
    }

    pub fn memory() -> Harness {
        let objects: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        Harness {
            store: Arc::new(S3Store::with(objects.clone(), "")),
            raw: Raw::Objects(objects, Path::default()),
        }
    }

    /// The S3 store copying every object through itself, as it does above
    /// S3's 5 GiB CopyObject limit.
    pub fn memory_streamed_copies() -> Harness {
        let objects: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        Harness {
            store: Arc::new(S3Store::with(objects.clone(), "").streaming_copies_above(0)),
            raw: Raw::Objects(objects, Path::default()),
        }
    }

    pub fn garage() -> Harness {
        let var = |name: &str| {
            std::env::var(format!("STOWAGE_TEST_S3_{name}")).unwrap_or_else(|_| {
                panic!("STOWAGE_TEST_S3_{name} must name the test S3 service; run the suite with scripts/test")
            })
        };
        let prefix = format!("conformance-{}", Uuid::new_v4().simple());
        let config = S3Config {
            endpoint: Some(var("ENDPOINT")),
            bucket: var("BUCKET"),
            region: var("REGION"),
            prefix: prefix.clone(),
            access_key_id: Some(var("ACCESS_KEY_ID")),
            secret_access_key: Some(var("SECRET_ACCESS_KEY")),
        };
        let store = S3Store::open(&config).unwrap();
        let objects = store.objects();
        Harness {
            store: Arc::new(store),
            raw: Raw::Objects(objects, Path::from(prefix)),
        }
    }

    /// Every stored byte, concatenated.
    async fn all_bytes(&self) -> Vec<u8> {
        match &self.raw {
            Raw::Dir(dir) => files_under(dir.path())
                .iter()
                .flat_map(|p| std::fs::read(p).unwrap())
                .collect(),
            Raw::Objects(s3, prefix) => {
                let mut out = Vec::new();
                let listed: Vec<_> = s3.list(Some(prefix)).try_collect().await.unwrap();
                for m in listed {
                    out.extend(s3.get(&m.location).await.unwrap().bytes().await.unwrap());
                }
                out
            }
        }
    }

    /// Flips one stored byte of the object stored for `blob` (found by its name).
    async fn flip(&self, blob: &BlobKey, at: usize) {
        let hex = blob.digest.hex();
        match &self.raw {
            Raw::Dir(dir) => {
                let path = files_under(dir.path())
                    .into_iter()
                    .find(|p| p.ends_with(&hex) && p.to_string_lossy().contains("/blobs/"))
                    .unwrap();
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[at] ^= 0x20;
                std::fs::write(&path, bytes).unwrap();
            }
            Raw::Objects(s3, prefix) => {
                let listed: Vec<_> = s3.list(Some(prefix)).try_collect().await.unwrap();
                let m = listed
                    .into_iter()
                    .find(|m| m.location.as_ref().ends_with(&hex) && m.location.as_ref().contains("blobs/"))
                    .unwrap();
                let mut bytes = s3.get(&m.location).await.unwrap().bytes().await.unwrap().to_vec();
                bytes[at] ^= 0x20;
                s3.put(&m.location, bytes.into()).await.unwrap();
            }
        }
    }

    /// Objects (or files) under the store's staging area.
    async fn staged_objects(&self) -> usize {
        match &self.raw {
            Raw::Dir(dir) => files_under(&dir.path().join("uploads")).len(),
            Raw::Objects(s3, prefix) => {
                let listed: Vec<_> = s3.list(Some(&prefix.child("uploads"))).try_collect().await.unwrap();
                listed.len()
            }
        }
    }
}

fn files_under(dir: &FsPath) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One test per backend for each case below.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test] async fn $case() { super::$case(super::Harness::local()).await })*
        }
        mod memory {
            $(#[tokio::test] async fn $case() { super::$case(super::Harness::memory()).await })*
        }
        mod memory_streamed_copies {
            $(#[tokio::test] async fn $case() { super::$case(super::Harness::memory_streamed_copies()).await })*
        }
        mod garage {
            $(#[tokio::test(flavor = "multi_thread")] async fn $case() { super::$case(super::Harness::garage()).await })*
        }
    };
}

conformance!(
    upload_commit_get_and_range,
    chunks_across_segment_boundaries_and_ranges_read_back_exactly,
    no_plaintext_is_stored_and_a_flipped_byte_is_never_served,
    interrupted_append_is_dropped_on_resume,
    wrong_digest_leaves_no_blob,
    the_same_content_under_two_scopes_is_two_objects,
    quarantine_restore_and_purge,
    lists_staged_uploads,
    empty_blob_commits,
    a_large_blob_streams_through_in_many_chunks,
);

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

pub(crate) fn fresh() -> Staged {
    Staged {
        offset: 0,
        hasher: Sha256Hasher::new(),
        pieces: String::new(),
    }
}

fn key(data: &[u8]) -> BlobKey {
    BlobKey::new(KeyScope::new("registry").unwrap(), Digest::of(data))
}

fn shard_of(d: &Digest) -> u8 {
    u8::from_str_radix(&d.hex()[..2], 16).unwrap()
}

async fn upload_commit_get_and_range(h: Harness) {
    let store = &h.store;
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
    assert_eq!(h.staged_objects().await, 0, "staging is gone after commit");
    assert!(matches!(
        store.get(&key(b"never stored"), 3, &dk, None).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn chunks_across_segment_boundaries_and_ranges_read_back_exactly(h: Harness) {
    let store = &h.store;
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

async fn no_plaintext_is_stored_and_a_flipped_byte_is_never_served(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let marker = b"STOWAGE-PLAINTEXT-MARKER".repeat(50_000);
    let found = |bytes: Vec<u8>| bytes.windows(24).any(|w| w == b"STOWAGE-PLAINTEXT-MARKER");
    let id = Uuid::new_v4();
    let s = store
        .append(id, fresh(), owned(vec![marker[..1000].to_vec()]), &dk)
        .await
        .unwrap();
    // Mid-upload: the staged bytes are sealed too.
    assert!(!found(h.all_bytes().await));
    let s = store
        .append(id, s, owned(vec![marker[1000..].to_vec()]), &dk)
        .await
        .unwrap();
    let b = key(&marker);
    store.commit(id, &s, &b, &dk).await.unwrap();
    assert!(!found(h.all_bytes().await));

    let altered = 17; // past the first read step of 16 segments
    h.flip(&b, altered * (SEGMENT + OVERHEAD) + 40).await;
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

async fn interrupted_append_is_dropped_on_resume(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let broken = || -> ByteStream {
        Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"XXXX")),
            Err(io::Error::other("client went away")),
        ]))
    };
    let id = Uuid::new_v4();
    let ok = store.append(id, fresh(), body(&[b"abc"]), &dk).await.unwrap();
    // A request that dies mid-body: its bytes may land but are not acknowledged.
    assert!(matches!(
        store.append(id, ok.clone(), broken(), &dk).await,
        Err(StoreError::Body(_))
    ));
    let s = store.append(id, ok.clone(), body(&[b"def"]), &dk).await.unwrap();
    let b = key(b"abcdef");
    store.commit(id, &s, &b, &dk).await.unwrap();
    assert_eq!(read_all(store.get(&b, 6, &dk, None).await.unwrap()).await, b"abcdef");

    // Committing right after an interrupted request drops its bytes too.
    let id = Uuid::new_v4();
    let ok = store.append(id, fresh(), body(&[b"abc"]), &dk).await.unwrap();
    assert!(store.append(id, ok.clone(), broken(), &dk).await.is_err());
    let b = key(b"abc");
    store.commit(id, &ok, &b, &dk).await.unwrap();
    assert_eq!(read_all(store.get(&b, 3, &dk, None).await.unwrap()).await, b"abc");
}

async fn wrong_digest_leaves_no_blob(h: Harness) {
    let store = &h.store;
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
    assert_eq!(h.staged_objects().await, 0);
}

async fn the_same_content_under_two_scopes_is_two_objects(h: Harness) {
    let store = &h.store;
    let d = Digest::of(b"layer");
    for scope in ["registry", "0b5c43c2-6f0e-4c8a-9d55-5b1c1f7f2d11"] {
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let s = store.append(id, fresh(), body(&[b"layer"]), &dk).await.unwrap();
        let b = BlobKey::new(KeyScope::new(scope).unwrap(), d);
        store.commit(id, &s, &b, &dk).await.unwrap();
        assert_eq!(read_all(store.get(&b, 5, &dk, None).await.unwrap()).await, b"layer");
    }
    assert_eq!(store.list_blobs(shard_of(&d)).await.unwrap().len(), 2);
}

async fn quarantine_restore_and_purge(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let id = Uuid::new_v4();
    let s = store.append(id, fresh(), body(&[b"keep me"]), &dk).await.unwrap();
    let b = key(b"keep me");
    store.commit(id, &s, &b, &dk).await.unwrap();
    let shard = shard_of(&b.digest);
    let listed = store.list_blobs(shard).await.unwrap();
    assert_eq!(listed.iter().map(|(k, _)| k).collect::<Vec<_>>(), vec![&b]);

    let stored = Some(sealed_len(7));
    assert_eq!(store.quarantine(&b).await.unwrap(), stored);
    assert_eq!(store.stat(&b).await.unwrap(), None);
    assert!(store.list_blobs(shard).await.unwrap().is_empty());
    assert_eq!(store.quarantined().await.unwrap(), vec![b.clone()]);
    store.restore(&b).await.unwrap();
    assert_eq!(read_all(store.get(&b, 7, &dk, None).await.unwrap()).await, b"keep me");
    assert!(store.quarantined().await.unwrap().is_empty());

    assert_eq!(store.quarantine(&b).await.unwrap(), stored);
    store.purge(&b).await.unwrap();
    store.purge(&b).await.unwrap();
    assert!(store.quarantined().await.unwrap().is_empty());
    assert_eq!(store.quarantine(&b).await.unwrap(), None);
    store.restore(&b).await.unwrap();
    assert_eq!(store.stat(&b).await.unwrap(), None);
}

async fn lists_staged_uploads(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let id = Uuid::new_v4();
    let s = store.append(id, fresh(), body(&[b"x"]), &dk).await.unwrap();
    store.append(id, s, body(&[b"y"]), &dk).await.unwrap();
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
    store.abort(id).await.unwrap();
    assert!(store.list_uploads().await.unwrap().is_empty());
}

async fn empty_blob_commits(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let b = key(b"");
    store.commit(Uuid::new_v4(), &fresh(), &b, &dk).await.unwrap();
    assert_eq!(store.stat(&b).await.unwrap(), Some(0));
    assert_eq!(read_all(store.get(&b, 0, &dk, None).await.unwrap()).await, b"");
    store.check().await.unwrap();
}

/// More than one multipart part's worth, in small request chunks and in
/// several requests, read back whole and at its seams.
async fn a_large_blob_streams_through_in_many_chunks(h: Harness) {
    let store = &h.store;
    let dk = DataKey::generate();
    let size = 20 * 1024 * 1024 + 12_345;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
    let id = Uuid::new_v4();
    let mut s = fresh();
    for request in data.chunks(7 * 1024 * 1024 + 3) {
        let chunks: Vec<Vec<u8>> = request.chunks(100_000).map(<[u8]>::to_vec).collect();
        s = store.append(id, s, owned(chunks), &dk).await.unwrap();
    }
    let b = BlobKey::new(KeyScope::new("registry").unwrap(), Digest::of(&data));
    store.commit(id, &s, &b, &dk).await.unwrap();
    let back = read_all(store.get(&b, size as u64, &dk, None).await.unwrap()).await;
    assert!(back == data, "the blob reads back whole");
    let seam = 7 * 1024 * 1024 + 3;
    let r = store
        .get(
            &b,
            size as u64,
            &dk,
            Some(ByteRange {
                start: seam as u64 - 10,
                end: Some(seam as u64 + 10),
            }),
        )
        .await
        .unwrap();
    assert_eq!(read_all(r).await, &data[seam - 10..=seam + 10]);
}

/// S3 only (nodes share no file): two requests racing from the same
/// acknowledged offset both land, and whichever one is recorded is what the
/// blob holds — the other's bytes are never read.
#[tokio::test]
async fn racing_appends_never_mix() {
    for h in [Harness::memory(), Harness::garage()] {
        let store = &h.store;
        let dk = DataKey::generate();
        let id = Uuid::new_v4();
        let start = store
            .append(id, fresh(), owned(vec![vec![b'a'; 70_000]]), &dk)
            .await
            .unwrap();
        let one = store
            .append(id, start.clone(), owned(vec![vec![b'1'; 100_000]]), &dk)
            .await
            .unwrap();
        let two = store
            .append(id, start.clone(), owned(vec![vec![b'2'; 100_000]]), &dk)
            .await
            .unwrap();
        // The first one "won" the offset record; the second's bytes must not leak in.
        let mut expected = vec![b'a'; 70_000];
        expected.extend(vec![b'1'; 100_000]);
        let b = BlobKey::new(KeyScope::new("registry").unwrap(), Digest::of(&expected));
        assert_eq!(one.hasher.digest(), b.digest);
        assert_ne!(two.hasher.digest(), b.digest);
        store.commit(id, &one, &b, &dk).await.unwrap();
        let back = read_all(store.get(&b, expected.len() as u64, &dk, None).await.unwrap()).await;
        assert!(back == expected, "only the recorded request's bytes are in the blob");
        assert_eq!(h.staged_objects().await, 0);
    }
}
