//! Conformance tests run against both engines: SQLite in a temp dir, and the
//! PostgreSQL server named by `STOWAGE_TEST_DATABASE_URL` (started by `scripts/test`),
//! each test in a database of its own.

use stowage_core::{Digest, Manifest, TagMutability};

use crate::{Meta, MetaError, NewRepository, PutManifest};

async fn sqlite() -> (Meta, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    (Meta::connect(&url).await.unwrap(), dir)
}

async fn postgres() -> Meta {
    let admin_url = std::env::var("STOWAGE_TEST_DATABASE_URL")
        .expect("STOWAGE_TEST_DATABASE_URL must name a PostgreSQL server; run the suite with scripts/test");
    sqlx::any::install_default_drivers();
    let name = format!("stowage_meta_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::AnyPool::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    Meta::connect(&format!("{base}/{name}")).await.unwrap()
}

/// Runs a test body against both engines.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let (meta, _dir) = super::sqlite().await;
                ($body)(meta).await;
            }
            #[tokio::test]
            async fn postgres() {
                let meta = super::postgres().await;
                ($body)(meta).await;
            }
        }
    };
}

const ACCT: &str = "123456789012";

async fn repo(meta: &Meta, name: &str, mutability: TagMutability) -> crate::Repository {
    meta.ensure_account(ACCT).await.unwrap();
    meta.create_repository(
        ACCT,
        name,
        NewRepository {
            tag_mutability: mutability,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn image_manifest(config: &Digest, layer: &Digest) -> (Vec<u8>, Manifest) {
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":3}}]}}"#
    );
    let m = Manifest::parse(body.as_bytes(), None).unwrap();
    (body.into_bytes(), m)
}

both!(repositories_are_unique_and_listed_in_order, |meta: Meta| async move {
    repo(&meta, "b/app", TagMutability::Mutable).await;
    repo(&meta, "a", TagMutability::Mutable).await;
    let dup = meta.create_repository(ACCT, "a", NewRepository::default()).await;
    assert!(matches!(dup, Err(MetaError::RepositoryAlreadyExists(_))));
    assert_eq!(meta.repository_names(ACCT, None, 10).await.unwrap(), ["a", "b/app"]);
    assert_eq!(meta.repository_names(ACCT, Some("a"), 10).await.unwrap(), ["b/app"]);
    assert!(meta.repository(ACCT, "nope").await.unwrap().is_none());
});

both!(
    manifest_needs_its_blobs_and_tags_obey_mutability,
    |meta: Meta| async move {
        let r = repo(&meta, "imm", TagMutability::Immutable).await;
        let (config, layer) = (Digest::of(b"{}"), Digest::of(b"abc"));
        let (body, m) = image_manifest(&config, &layer);
        let digest = Digest::of(&body);
        let put = || PutManifest {
            repository: &r,
            digest,
            manifest: &m,
            body: &body,
            tag: Some("v1"),
        };
        match meta.put_manifest(put()).await {
            Err(MetaError::BlobsMissing(d)) => assert_eq!(d.len(), 2),
            other => panic!("{other:?}"),
        }
        meta.link_blob(r.id, &config, 2).await.unwrap();
        meta.link_blob(r.id, &layer, 3).await.unwrap();
        let out = meta.put_manifest(put()).await.unwrap();
        assert!(out.created);
        assert!(matches!(
            meta.put_manifest(put()).await,
            Err(MetaError::TagImmutable(_))
        ));
        let got = meta.manifest_by_tag(r.id, "v1").await.unwrap().unwrap();
        assert_eq!((got.digest, got.body), (digest, body.clone()));
        // A blob a manifest uses cannot be unlinked; the manifest can go, and takes its tag.
        assert!(matches!(
            meta.unlink_blob(r.id, &layer).await,
            Err(MetaError::BlobReferenced(_))
        ));
        assert!(meta.delete_manifest(r.id, &digest).await.unwrap());
        assert!(meta.manifest_by_tag(r.id, "v1").await.unwrap().is_none());
        assert!(meta.unlink_blob(r.id, &layer).await.unwrap());
    }
);

both!(mutable_tags_move_and_paginate, |meta: Meta| async move {
    let r = repo(&meta, "mut", TagMutability::Mutable).await;
    let (config, l1, l2) = (Digest::of(b"{}"), Digest::of(b"1"), Digest::of(b"2"));
    for d in [config, l1, l2] {
        meta.link_blob(r.id, &d, 1).await.unwrap();
    }
    let (b1, m1) = image_manifest(&config, &l1);
    let (b2, m2) = image_manifest(&config, &l2);
    let (d1, d2) = (Digest::of(&b1), Digest::of(&b2));
    for tag in ["b", "a", "c"] {
        meta.put_manifest(PutManifest {
            repository: &r,
            digest: d1,
            manifest: &m1,
            body: &b1,
            tag: Some(tag),
        })
        .await
        .unwrap();
    }
    let out = meta
        .put_manifest(PutManifest {
            repository: &r,
            digest: d2,
            manifest: &m2,
            body: &b2,
            tag: Some("a"),
        })
        .await
        .unwrap();
    assert_eq!(out.tag_moved_from, Some(d1));
    assert_eq!(meta.manifest_by_tag(r.id, "a").await.unwrap().unwrap().digest, d2);
    assert_eq!(meta.tags(r.id, None, 2).await.unwrap(), ["a", "b"]);
    assert_eq!(meta.tags(r.id, Some("b"), 2).await.unwrap(), ["c"]);
});

both!(uploads_resume_and_complete, |meta: Meta| async move {
    let r = repo(&meta, "up", TagMutability::Mutable).await;
    let u = meta.create_upload(r.id).await.unwrap();
    let mut h = u.hasher.clone();
    h.update(b"abc");
    meta.advance_upload(u.id, 0, 3, &h).await.unwrap();
    assert!(matches!(
        meta.advance_upload(u.id, 0, 3, &h).await,
        Err(MetaError::UploadConflict)
    ));
    let back = meta.upload(r.id, u.id).await.unwrap().unwrap();
    assert_eq!(back.offset, 3);
    assert_eq!(back.hasher.digest(), Digest::of(b"abc"));
    meta.complete_upload(&back, &Digest::of(b"abc")).await.unwrap();
    assert!(meta.upload(r.id, u.id).await.unwrap().is_none());
    let link = meta.repository_blob(r.id, &Digest::of(b"abc")).await.unwrap().unwrap();
    assert_eq!(link.size, 3);
    let other = repo(&meta, "other", TagMutability::Mutable).await;
    assert!(meta.repository_blob(other.id, &link.digest).await.unwrap().is_none());
    assert!(meta.mount_blob(other.id, r.id, &link.digest).await.unwrap().is_some());
    assert!(meta.repository_blob(other.id, &link.digest).await.unwrap().is_some());
});

both!(index_children_and_referrers, |meta: Meta| async move {
    let r = repo(&meta, "idx", TagMutability::Mutable).await;
    let (config, layer) = (Digest::of(b"{}"), Digest::of(b"abc"));
    meta.link_blob(r.id, &config, 2).await.unwrap();
    meta.link_blob(r.id, &layer, 3).await.unwrap();
    let (b1, m1) = image_manifest(&config, &layer);
    let d1 = Digest::of(&b1);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d1}","size":{}}}]}}"#,
        b1.len()
    );
    let mi = Manifest::parse(index.as_bytes(), None).unwrap();
    let di = Digest::of(index.as_bytes());
    let put_index = || PutManifest {
        repository: &r,
        digest: di,
        manifest: &mi,
        body: index.as_bytes(),
        tag: None,
    };
    assert!(matches!(
        meta.put_manifest(put_index()).await,
        Err(MetaError::ManifestsMissing(_))
    ));
    meta.put_manifest(PutManifest {
        repository: &r,
        digest: d1,
        manifest: &m1,
        body: &b1,
        tag: None,
    })
    .await
    .unwrap();
    meta.put_manifest(put_index()).await.unwrap();
    assert!(matches!(
        meta.delete_manifest(r.id, &d1).await,
        Err(MetaError::ManifestReferenced(_))
    ));

    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d1}","size":1}},"annotations":{{"k":"v"}}}}"#
    );
    let ms = Manifest::parse(sig.as_bytes(), None).unwrap();
    let ds = Digest::of(sig.as_bytes());
    meta.put_manifest(PutManifest {
        repository: &r,
        digest: ds,
        manifest: &ms,
        body: sig.as_bytes(),
        tag: None,
    })
    .await
    .unwrap();
    let refs = meta.referrers(r.id, &d1, None).await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].digest, ds);
    assert_eq!(refs[0].artifact_type.as_deref(), Some("application/vnd.example.sig"));
    assert_eq!(refs[0].annotations.as_deref(), Some(r#"{"k":"v"}"#));
    assert!(meta.referrers(r.id, &d1, Some("other/type")).await.unwrap().is_empty());
});

both!(settings_keep_their_first_value, |meta: Meta| async move {
    assert_eq!(meta.setting_or_insert("k", "one").await.unwrap(), "one");
    assert_eq!(meta.setting_or_insert("k", "two").await.unwrap(), "one");
    meta.ping().await.unwrap();
});

/// Takes the blob's review and returns the verdict, keeping the blob.
async fn verdict(meta: &Meta, d: &Digest, cutoff: i64) -> crate::Verdict {
    let mut g = meta.gc_guard(d).await.unwrap();
    let v = g.prune(cutoff).await.unwrap();
    g.keep(None).await.unwrap();
    v
}

both!(gc_reviews_follow_references, |meta: Meta| async move {
    let a = repo(&meta, "gc/a", TagMutability::Mutable).await;
    let b = repo(&meta, "gc/b", TagMutability::Mutable).await;
    let (config, layer) = (Digest::of(b"{}"), Digest::of(b"abc"));
    for r in [&a, &b] {
        meta.link_blob(r.id, &config, 2).await.unwrap();
        meta.link_blob(r.id, &layer, 3).await.unwrap();
    }
    // Every link queues its blob: an upload nothing uses is collected too.
    let queued = meta.due_reviews(crate::now_ms(), None, 10).await.unwrap();
    assert_eq!(queued.len(), 2);

    let (body, m) = image_manifest(&config, &layer);
    let digest = Digest::of(&body);
    for r in [&a, &b] {
        meta.put_manifest(PutManifest {
            repository: r,
            digest,
            manifest: &m,
            body: &body,
            tag: Some("v1"),
        })
        .await
        .unwrap();
    }
    let later = crate::now_ms() + 1;
    // Referenced in both repositories: kept, and its links too.
    assert_eq!(verdict(&meta, &layer, later).await, crate::Verdict::InUse);
    assert!(meta.repository_blob(a.id, &layer).await.unwrap().is_some());

    // Gone from `a`: its link is stale there but `b` still uses the blob.
    assert!(meta.delete_manifest(a.id, &digest).await.unwrap());
    assert_eq!(verdict(&meta, &layer, later).await, crate::Verdict::InUse);
    assert!(meta.repository_blob(a.id, &layer).await.unwrap().is_none());
    assert!(meta.repository_blob(b.id, &layer).await.unwrap().is_some());

    // Gone everywhere: a link younger than the cutoff still holds it.
    assert!(meta.delete_manifest(b.id, &digest).await.unwrap());
    let early = crate::now_ms() - 60_000;
    assert!(matches!(
        verdict(&meta, &layer, early).await,
        crate::Verdict::Young { .. }
    ));
    assert_eq!(
        verdict(&meta, &layer, later).await,
        crate::Verdict::Unreferenced { size: Some(3) }
    );
    let mut g = meta.gc_guard(&layer).await.unwrap();
    assert_eq!(
        g.prune(later).await.unwrap(),
        crate::Verdict::Unreferenced { size: Some(3) }
    );
    g.forget_blob().await.unwrap();
    assert!(meta.known_blobs(&[layer, config]).await.unwrap() == vec![config]);
    assert!(meta.repository_blob(b.id, &layer).await.unwrap().is_none());
});

both!(gc_reviews_page_in_queue_order, |meta: Meta| async move {
    let digests: Vec<Digest> = (0..5u8).map(|i| Digest::of(&[i])).collect();
    meta.queue_reviews(&digests).await.unwrap();
    let now = crate::now_ms();
    let first = meta.due_reviews(now, None, 3).await.unwrap();
    let rest = meta.due_reviews(now, first.last(), 3).await.unwrap();
    assert_eq!((first.len(), rest.len()), (3, 2));
    let mut all: Vec<Digest> = first.iter().chain(&rest).map(|r| r.digest).collect();
    all.sort();
    let mut want = digests.clone();
    want.sort();
    assert_eq!(all, want);
    assert!(meta.due_reviews(now - 60_000, None, 10).await.unwrap().is_empty());
    assert_eq!(meta.queued_reviews().await.unwrap(), 5);
});

both!(leases_have_one_holder, |meta: Meta| async move {
    assert!(meta.try_lease("gc", "node-a", 60_000).await.unwrap());
    assert!(!meta.try_lease("gc", "node-b", 60_000).await.unwrap());
    assert!(meta.try_lease("gc", "node-a", 60_000).await.unwrap());
    meta.release_lease("gc", "node-a").await.unwrap();
    assert!(meta.try_lease("gc", "node-b", -1).await.unwrap());
    // An expired lease is anyone's.
    assert!(meta.try_lease("gc", "node-a", 60_000).await.unwrap());
});

both!(idle_uploads_expire, |meta: Meta| async move {
    let r = repo(&meta, "up", TagMutability::Mutable).await;
    let u = meta.create_upload(r.id).await.unwrap();
    let now = crate::now_ms();
    assert!(meta.idle_uploads(now - 60_000, 10).await.unwrap().is_empty());
    assert_eq!(meta.idle_uploads(now + 1, 10).await.unwrap(), vec![u.id]);
    assert_eq!(meta.known_uploads(&[u.id]).await.unwrap(), vec![u.id]);
    assert!(!meta.expire_upload(u.id, now - 60_000).await.unwrap());
    assert!(meta.expire_upload(u.id, now + 1).await.unwrap());
    assert!(meta.known_uploads(&[u.id]).await.unwrap().is_empty());
});
