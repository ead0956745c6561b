//! Conformance tests run against both engines: SQLite in a temp dir, and the
//! PostgreSQL server named by `STOWAGE_TEST_DATABASE_URL` (started by `scripts/test`),
//! each test in a database of its own.

use stowage_core::{Digest, Manifest, TagMutability};

use crate::{Meta, MetaError, NewRepository, PutManifest};

/// A fresh SQLite database in a temp dir (kept while the dir lives).
pub(crate) async fn sqlite() -> (Meta, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    (Meta::connect(&url).await.unwrap(), dir)
}

/// A fresh database of its own on the test PostgreSQL server.
pub(crate) async fn postgres() -> Meta {
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

/// Runs a test body against both engines (`both!(multi_thread name, body)`
/// for bodies that need tasks to run in parallel).
macro_rules! both {
    ($name:ident, $body:expr) => {
        $crate::tests::both!(@with [tokio::test] $name, $body);
    };
    (multi_thread $name:ident, $body:expr) => {
        $crate::tests::both!(@with [tokio::test(flavor = "multi_thread", worker_threads = 2)] $name, $body);
    };
    (@with [$($test:tt)*] $name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[$($test)*]
            async fn sqlite() {
                let (meta, _dir) = $crate::tests::sqlite().await;
                ($body)(meta).await;
            }
            #[$($test)*]
            async fn postgres() {
                let meta = $crate::tests::postgres().await;
                ($body)(meta).await;
            }
        }
    };
}
pub(crate) use both;

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
            sealed_body: &body,
            body_key: b"wrapped",
            tag: Some("v1"),
            scan: None,
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
            sealed_body: &b1,
            body_key: b"wrapped",
            tag: Some(tag),
            scan: None,
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
            sealed_body: &b2,
            body_key: b"wrapped",
            tag: Some("a"),
            scan: None,
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
    let fresh = stowage_core::Sha256Hasher::new().save();
    let u = meta
        .create_upload(uuid::Uuid::new_v4(), r.id, "registry", b"wrapped", &fresh)
        .await
        .unwrap();
    let mut h = stowage_core::Sha256Hasher::restore(&u.hash_state).unwrap();
    h.update(b"abc");
    meta.advance_upload(u.id, 0, 3, &h.save(), "piece-a").await.unwrap();
    assert!(matches!(
        meta.advance_upload(u.id, 0, 3, &h.save(), "piece-b").await,
        Err(MetaError::UploadConflict)
    ));
    let back = meta
        .upload(r.id, u.id, crate::now_ms() - 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.offset, 3);
    assert_eq!(back.pieces, "piece-a", "the losing request's record is not kept");
    assert_eq!(
        stowage_core::Sha256Hasher::restore(&back.hash_state).unwrap().digest(),
        Digest::of(b"abc")
    );
    let mut placing = meta.blob_guard(&Digest::of(b"abc")).await.unwrap();
    assert!(!placing.object_stored("registry").await.unwrap());
    placing.complete_upload(&back, true).await.unwrap();
    assert!(
        meta.upload(r.id, u.id, crate::now_ms() - 60_000)
            .await
            .unwrap()
            .is_none()
    );
    let link = meta
        .repository_blob(r.id, &Digest::of(b"abc"), "registry")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.size, 3);
    let other = repo(&meta, "other", TagMutability::Mutable).await;
    assert!(
        meta.repository_blob(other.id, &link.digest, "registry")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        meta.mount_blob(other.id, r.id, &link.digest, "registry")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        meta.repository_blob(other.id, &link.digest, "registry")
            .await
            .unwrap()
            .is_some()
    );
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
        sealed_body: index.as_bytes(),
        body_key: b"wrapped",
        tag: None,
        scan: None,
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
        sealed_body: &b1,
        body_key: b"wrapped",
        tag: None,
        scan: None,
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
        sealed_body: sig.as_bytes(),
        body_key: b"wrapped",
        tag: None,
        scan: None,
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
    let seen = meta.queued_at(d).await.unwrap().unwrap_or(0);
    let mut g = meta.gc_guard(d).await.unwrap();
    let v = g.prune(cutoff).await.unwrap();
    g.keep(None, seen).await.unwrap();
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
            sealed_body: &body,
            body_key: b"wrapped",
            tag: Some("v1"),
            scan: None,
        })
        .await
        .unwrap();
    }
    let later = crate::now_ms() + 1;
    // Referenced in both repositories: kept, and its links too.
    assert_eq!(verdict(&meta, &layer, later).await, crate::Verdict::InUse);
    assert!(meta.repository_blob(a.id, &layer, "registry").await.unwrap().is_some());

    // Gone from `a`: its link is stale there but `b` still uses the blob.
    assert!(meta.delete_manifest(a.id, &digest).await.unwrap());
    assert_eq!(verdict(&meta, &layer, later).await, crate::Verdict::InUse);
    assert!(meta.repository_blob(a.id, &layer, "registry").await.unwrap().is_none());
    assert!(meta.repository_blob(b.id, &layer, "registry").await.unwrap().is_some());

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
    meta.put_layer_index(&layer, 1, "{}").await.unwrap();
    let mut g = meta.gc_guard(&layer).await.unwrap();
    assert_eq!(
        g.prune(later).await.unwrap(),
        crate::Verdict::Unreferenced { size: Some(3) }
    );
    g.forget_blob().await.unwrap();
    assert!(
        meta.layer_index(&layer, 1).await.unwrap().is_none(),
        "a deleted layer's index goes with it"
    );
    let objects = [("registry".to_string(), layer), ("registry".to_string(), config)];
    assert_eq!(meta.known_objects(&objects).await.unwrap(), vec![objects[1].clone()]);
    assert!(meta.repository_blob(b.id, &layer, "registry").await.unwrap().is_none());
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
    let u = meta
        .create_upload(uuid::Uuid::new_v4(), r.id, "registry", b"wrapped", b"state")
        .await
        .unwrap();
    let now = crate::now_ms();
    assert!(meta.idle_uploads(now - 60_000, 10).await.unwrap().is_empty());
    assert_eq!(meta.idle_uploads(now + 1, 10).await.unwrap(), vec![u.id]);
    assert_eq!(meta.known_uploads(&[u.id]).await.unwrap(), vec![u.id]);
    assert!(!meta.expire_upload(u.id, now - 60_000).await.unwrap());
    assert!(meta.expire_upload(u.id, now + 1).await.unwrap());
    assert!(meta.known_uploads(&[u.id]).await.unwrap().is_empty());
});

/// Stores a manifest body (linking its blobs first with the given sizes) and
/// returns its digest.
async fn put_body(
    meta: &Meta,
    r: &crate::Repository,
    body: String,
    blobs: &[(Digest, u64)],
    tag: Option<&str>,
) -> Digest {
    for (d, size) in blobs {
        meta.link_blob(r.id, d, *size).await.unwrap();
    }
    let m = Manifest::parse(body.as_bytes(), None).unwrap();
    let digest = Digest::of(body.as_bytes());
    meta.put_manifest(PutManifest {
        repository: r,
        digest,
        manifest: &m,
        body: body.as_bytes(),
        sealed_body: body.as_bytes(),
        body_key: b"wrapped",
        tag,
        scan: None,
    })
    .await
    .unwrap();
    digest
}

/// An image over the shared 2-byte config and one layer of `size` bytes named by `layer`.
async fn lc_image(meta: &Meta, r: &crate::Repository, layer: &[u8], size: u64, tag: Option<&str>) -> Digest {
    let (config, l) = (Digest::of(b"{}"), Digest::of(layer));
    let (body, _) = image_manifest(&config, &l);
    put_body(
        meta,
        r,
        String::from_utf8(body).unwrap(),
        &[(config, 2), (l, size)],
        tag,
    )
    .await
}

/// An OCI index of `children`.
async fn lc_index(meta: &Meta, r: &crate::Repository, children: &[Digest], tag: Option<&str>) -> Digest {
    let entries: Vec<String> = children
        .iter()
        .map(|c| format!(r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{c}","size":1}}"#))
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    );
    put_body(meta, r, body, &[], tag).await
}

/// An artifact about `subject` with one layer of `size` bytes named by `layer`.
async fn lc_referrer(meta: &Meta, r: &crate::Repository, subject: &Digest, layer: &[u8], size: u64) -> Digest {
    let (config, l) = (Digest::of(b"{}"), Digest::of(layer));
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{l}","size":{size}}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":1}}}}"#
    );
    put_body(meta, r, body, &[(config, 2), (l, size)], None).await
}

fn selected(digest: Digest, tags: &[&str], rule_priority: u32) -> crate::Expiring {
    crate::Expiring {
        digest,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        rule_priority,
    }
}

/// `(digest, follows)` of each image an expiry deleted, in order.
fn expired(outcome: &crate::ExpiryOutcome) -> Vec<(Digest, Option<Digest>)> {
    outcome.images.iter().map(|i| (i.digest, i.follows)).collect()
}

async fn digests(meta: &Meta, r: &crate::Repository) -> Vec<Digest> {
    let mut all: Vec<Digest> = meta
        .lifecycle_images(r.id)
        .await
        .unwrap()
        .iter()
        .map(|i| i.digest)
        .collect();
    all.sort();
    all
}

both!(
    lifecycle_expiry_takes_referrers_and_orphaned_children,
    |meta: Meta| async move {
        let r = repo(&meta, "lc", TagMutability::Mutable).await;
        let other = repo(&meta, "lc-other", TagMutability::Mutable).await;
        let a = lc_image(&meta, &r, b"layer-a", 100, Some("a")).await;
        let sig = lc_referrer(&meta, &r, &a, b"sig-a", 50).await;
        let sig_of_sig = lc_referrer(&meta, &r, &sig, b"sig-sig", 7).await;
        let b = lc_image(&meta, &r, b"layer-b", 200, Some("b")).await;
        lc_image(&meta, &other, b"layer-b", 200, None).await; // layer-b is used elsewhere too
        let x = lc_image(&meta, &r, b"layer-x", 300, None).await;
        let y = lc_image(&meta, &r, b"layer-y", 400, None).await;
        let i = lc_index(&meta, &r, &[x, y], Some("i")).await;
        let j = lc_index(&meta, &r, &[y], None).await;

        use crate::ImageRole::*;
        let roles: std::collections::BTreeMap<Digest, crate::ImageRole> = meta
            .lifecycle_images(r.id)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.digest, i.role))
            .collect();
        let want = [
            (a, Own),
            (sig, Referrer),
            (sig_of_sig, Referrer),
            (b, Own),
            (x, Child),
            (y, Child),
            (i, Own),
            (j, Own),
        ];
        assert_eq!(roles, want.into_iter().collect());

        // A dry run reports what would go and deletes nothing. `y` stays for `j`;
        // the config blob stays for `b`.
        let before = digests(&meta, &r).await;
        let plan = [selected(a, &["a"], 1), selected(i, &["i"], 2)];
        let dry = meta.expire_images(r.id, &plan, true).await.unwrap();
        let want = vec![
            (a, None),
            (sig, Some(a)),
            (sig_of_sig, Some(a)),
            (i, None),
            (x, Some(i)),
        ];
        assert_eq!(expired(&dry), want);
        assert_eq!(dry.reclaimable_bytes, 100 + 50 + 7 + 300);
        assert_eq!(dry.images[1].rule_priority, 1);
        assert_eq!(dry.images[4].rule_priority, 2);
        assert_eq!(dry.images[0].tags, ["a"]);
        assert_eq!(digests(&meta, &r).await, before);

        // The real run does the same, and queues the freed layers for GC review.
        let t0 = crate::now_ms();
        let done = meta.expire_images(r.id, &plan, false).await.unwrap();
        assert_eq!(done, dry);
        let mut left = vec![b, y, j];
        left.sort();
        assert_eq!(digests(&meta, &r).await, left);
        assert!(meta.manifest_by_tag(r.id, "a").await.unwrap().is_none());
        let reviews = meta.due_reviews(crate::now_ms() + 1, None, 100).await.unwrap();
        for layer in [&b"layer-a"[..], b"sig-a", b"sig-sig", b"layer-x"] {
            let d = Digest::of(layer);
            let review = reviews
                .iter()
                .find(|rv| rv.digest == d)
                .expect("layer queued for review");
            assert!(review.queued_at >= t0, "{d} queued again by the expiry");
        }

        // Its last index gone, `y` follows `j`. Expiring again is a no-op.
        let done = meta.expire_images(r.id, &[selected(j, &[], 1)], false).await.unwrap();
        assert_eq!(expired(&done), vec![(j, None), (y, Some(j))]);
        assert_eq!(done.reclaimable_bytes, 400);
        let again = meta.expire_images(r.id, &[selected(j, &[], 1)], false).await.unwrap();
        assert_eq!(again, crate::ExpiryOutcome::default());

        // An image whose tags changed since evaluation is skipped. The other
        // repository still uses `b`'s blobs: expiring it frees no bytes.
        assert!(
            meta.expire_images(r.id, &[selected(b, &[], 1)], false)
                .await
                .unwrap()
                .images
                .is_empty()
        );
        assert_eq!(digests(&meta, &r).await, vec![b]);
        let done = meta
            .expire_images(r.id, &[selected(b, &["b"], 1)], false)
            .await
            .unwrap();
        assert_eq!((expired(&done), done.reclaimable_bytes), (vec![(b, None)], 0));
    }
);

both!(
    lifecycle_keeps_children_a_remaining_index_or_a_tag_holds,
    |meta: Meta| async move {
        let r = repo(&meta, "lc", TagMutability::Mutable).await;
        let x = lc_image(&meta, &r, b"layer-x", 10, Some("x")).await;
        let z = lc_image(&meta, &r, b"layer-z", 20, None).await;
        let i = lc_index(&meta, &r, &[x, z], None).await;
        // A selected image an index lists is not deleted.
        assert!(
            meta.expire_images(r.id, &[selected(z, &[], 1)], false)
                .await
                .unwrap()
                .images
                .is_empty()
        );
        // The index goes; its untagged child follows, its tagged child stays.
        let done = meta.expire_images(r.id, &[selected(i, &[], 1)], false).await.unwrap();
        assert_eq!(expired(&done), vec![(i, None), (z, Some(i))]);
        assert_eq!(done.reclaimable_bytes, 20);
        assert_eq!(digests(&meta, &r).await, vec![x]);
        let images = meta.lifecycle_images(r.id).await.unwrap();
        assert_eq!(images[0].role, crate::ImageRole::Own);
    }
);

both!(lifecycle_policies_and_previews_are_stored, |meta: Meta| async move {
    let r = repo(&meta, "lc", TagMutability::Mutable).await;
    let r2 = repo(&meta, "lc2", TagMutability::Mutable).await;
    assert!(meta.lifecycle_policy(r.id).await.unwrap().is_none());
    meta.put_lifecycle_policy(r.id, "one").await.unwrap();
    meta.put_lifecycle_policy(r.id, "two").await.unwrap();
    meta.put_lifecycle_policy(r2.id, "three").await.unwrap();
    meta.set_lifecycle_evaluated(r.id, 1234).await.unwrap();
    let got = meta.lifecycle_policy(r.id).await.unwrap().unwrap();
    assert_eq!((got.text.as_str(), got.last_evaluated_at), ("two", Some(1234)));
    let names: Vec<String> = meta
        .lifecycle_repositories()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["lc", "lc2"]);
    let deleted = meta.delete_lifecycle_policy(r2.id).await.unwrap().unwrap();
    assert_eq!((deleted.text.as_str(), deleted.last_evaluated_at), ("three", None));
    assert!(meta.delete_lifecycle_policy(r2.id).await.unwrap().is_none());

    // Previews: in progress until seen (or until `in_progress_since` passes them).
    assert!(meta.see_lifecycle_preview(r.id).await.unwrap().is_none());
    let image = |n: u8, tags: &[&str]| crate::ExpiredImage {
        digest: Digest::of(&[n]),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: i64::from(n) * 1000,
        rule_priority: u32::from(n),
        follows: None,
    };
    let outcome = crate::ExpiryOutcome {
        images: (0..250u8)
            .map(|n| image(n, if n % 2 == 0 { &["t"] } else { &[] }))
            .collect(),
        reclaimable_bytes: 42,
    };
    let now = crate::now_ms();
    assert!(
        meta.store_lifecycle_preview(r.id, "p1", &outcome, now - 60_000)
            .await
            .unwrap()
    );
    assert!(
        !meta
            .store_lifecycle_preview(r.id, "p2", &outcome, now - 60_000)
            .await
            .unwrap()
    );
    let seen = meta.see_lifecycle_preview(r.id).await.unwrap().unwrap();
    assert_eq!(
        (seen.text.as_str(), seen.reclaimable_bytes, seen.expiring),
        ("p1", 42, 250)
    );
    assert!(seen.seen_at.is_some());
    let all = meta.lifecycle_preview_results(r.id, None, 0, 1000).await.unwrap();
    assert_eq!(all, outcome.images);
    let tagged = meta.lifecycle_preview_results(r.id, Some(true), 10, 5).await.unwrap();
    let want: Vec<_> = (20..30u8).step_by(2).map(|n| image(n, &["t"])).collect();
    assert_eq!(tagged, want);
    let untagged = meta
        .lifecycle_preview_results(r.id, Some(false), 0, 1000)
        .await
        .unwrap();
    assert_eq!(untagged.len(), 125);

    // Seen: the next one replaces it; an unseen one older than the hold does too.
    let small = crate::ExpiryOutcome {
        images: vec![image(7, &[])],
        reclaimable_bytes: 0,
    };
    assert!(
        meta.store_lifecycle_preview(r.id, "p3", &small, now - 60_000)
            .await
            .unwrap()
    );
    assert!(
        meta.store_lifecycle_preview(r.id, "p4", &small, crate::now_ms() + 1)
            .await
            .unwrap()
    );
    let seen = meta.see_lifecycle_preview(r.id).await.unwrap().unwrap();
    assert_eq!((seen.text.as_str(), seen.expiring), ("p4", 1));

    // Deleting the repository drops its policy and preview.
    meta.delete_repository(&r, true).await.unwrap();
    assert!(meta.lifecycle_repositories().await.unwrap().is_empty());
    assert!(meta.lifecycle_policy(r.id).await.unwrap().is_none());
    assert!(meta.see_lifecycle_preview(r.id).await.unwrap().is_none());
    assert!(
        meta.lifecycle_preview_results(r.id, None, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
});

/// Sets an image's push time (the registry stamps it with the clock).
async fn set_pushed_at(meta: &Meta, r: &crate::Repository, digest: &Digest, at: i64) {
    sqlx::query("UPDATE manifests SET pushed_at = $1 WHERE repository_id = $2 AND digest = $3")
        .bind(at)
        .bind(r.id)
        .bind(digest.to_string())
        .execute(&meta.pool)
        .await
        .unwrap();
}

/// The digests `policy` expires in the repository at `now`, by the evaluator over stored facts.
async fn evaluated(meta: &Meta, r: &crate::Repository, policy: &str, now: i64) -> Vec<Digest> {
    use stowage_core::lifecycle::{ImageFacts, LifecyclePolicy, evaluate};
    let policy = LifecyclePolicy::parse(policy).unwrap();
    let images = meta.lifecycle_images(r.id).await.unwrap();
    let facts: Vec<ImageFacts<'_>> = images.iter().map(|i| i.facts()).collect();
    evaluate(&policy, &facts, now)
        .iter()
        .map(|e| images[e.index].digest)
        .collect()
}

const DAY_MS: i64 = 86_400_000;

both!(lifecycle_days_rules_read_push_and_pull_times, |meta: Meta| async move {
    let r = repo(&meta, "lc", TagMutability::Mutable).await;
    let now = crate::now_ms();
    // §4.3 L1: U1 untagged 20d, U2 untagged 10d, T1 [v1] 30d.
    let u1 = lc_image(&meta, &r, b"u1", 1, None).await;
    let u2 = lc_image(&meta, &r, b"u2", 1, None).await;
    let t1 = lc_image(&meta, &r, b"t1", 1, Some("v1")).await;
    for (d, days) in [(u1, 20), (u2, 10), (t1, 30)] {
        set_pushed_at(&meta, &r, &d, now - days * DAY_MS).await;
    }
    let l1 = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
    assert_eq!(evaluated(&meta, &r, l1, now).await, vec![u1]);

    // sinceImagePulled: the recorded pull time, else the push time.
    let pulled = |d: Digest, days: i64| {
        let meta = meta.clone();
        async move { meta.record_pull(r.id, &d, now - days * DAY_MS, 0).await.unwrap() }
    };
    pulled(u1, 1).await; // pushed 20d ago, pulled yesterday: kept
    pulled(u2, 8).await; // pushed 10d ago, pulled 8d ago: expires
    let never = lc_image(&meta, &r, b"never", 1, None).await; // pushed 9d ago, never pulled: expires
    set_pushed_at(&meta, &r, &never, now - 9 * DAY_MS).await;
    let fresh = lc_image(&meta, &r, b"fresh", 1, None).await; // pushed now: kept
    let by_pull = r#"{"rules":[{"rulePriority":1,"description":"idle","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#;
    let mut got = evaluated(&meta, &r, by_pull, now).await;
    got.sort();
    let mut want = vec![u2, never, t1];
    want.sort();
    assert_eq!(got, want, "fresh {fresh} and u1 {u1} stay");
});

fn iam_entity(kind: crate::EntityKind, name: &str, path: &str) -> crate::Entity {
    crate::Entity {
        arn: format!("arn:aws:iam::{ACCT}:{}{path}{name}", kind.as_str()),
        account_id: ACCT.into(),
        kind,
        name: name.into(),
        path: path.into(),
        unique_id: Some(format!("ID{name}")),
        created_at: crate::now_ms(),
        tags: vec![("team".into(), "a".into())],
        trust_policy: None,
        description: None,
        max_session_duration: None,
    }
}

both!(iam_entities_names_and_delete_conflicts, |meta: Meta| async move {
    use crate::EntityKind::{Group, Role, User};
    meta.ensure_account(ACCT).await.unwrap();
    let alice = meta.create_entity(&iam_entity(User, "alice", "/dev/")).await.unwrap();
    assert_eq!(alice.arn, format!("arn:aws:iam::{ACCT}:user/dev/alice"));
    assert_eq!(alice.tags, vec![("team".to_string(), "a".to_string())]);
    // Names are unique per kind ignoring case and path; a group may share it.
    assert!(matches!(
        meta.create_entity(&iam_entity(User, "ALICE", "/")).await,
        Err(MetaError::EntityAlreadyExists(_))
    ));
    let devs = meta.create_entity(&iam_entity(Group, "alice", "/")).await.unwrap();
    meta.create_entity(&iam_entity(User, "bob", "/")).await.unwrap();
    assert_eq!(meta.entity(ACCT, User, "Alice").await.unwrap(), Some(alice.clone()));
    let names = |v: Vec<crate::Entity>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(
        names(meta.list_entities(ACCT, User, "/").await.unwrap()),
        ["alice", "bob"]
    );
    assert_eq!(names(meta.list_entities(ACCT, User, "/dev/").await.unwrap()), ["alice"]);

    // Keys, inline policies, attachments and memberships block deletion, in turn.
    meta.insert_access_key("AKIATEST", &alice.arn, b"s", None, None)
        .await
        .unwrap();
    meta.put_inline_policy(&alice.arn, "p", "{}").await.unwrap();
    meta.attach_policy(&alice.arn, "arn:aws:iam::aws:policy/AdministratorAccess")
        .await
        .unwrap();
    meta.add_group_member(&devs.arn, &alice.arn).await.unwrap();
    let conflict = |r: Result<(), MetaError>| match r {
        Err(MetaError::DeleteConflict(m)) => m,
        other => panic!("expected DeleteConflict, got {other:?}"),
    };
    assert!(conflict(meta.delete_entity(&alice.arn, User).await).contains("access keys"));
    assert_eq!(meta.list_access_keys(&alice.arn).await.unwrap().len(), 1);
    assert!(meta.delete_access_key(&alice.arn, "AKIATEST").await.unwrap());
    assert!(!meta.delete_access_key(&alice.arn, "AKIATEST").await.unwrap());
    assert!(conflict(meta.delete_entity(&alice.arn, User).await).contains("policies"));
    assert!(meta.delete_inline_policy(&alice.arn, "p").await.unwrap());
    assert!(conflict(meta.delete_entity(&alice.arn, User).await).contains("detach"));
    assert!(
        meta.detach_policy(&alice.arn, "arn:aws:iam::aws:policy/AdministratorAccess")
            .await
            .unwrap()
    );
    assert!(conflict(meta.delete_entity(&devs.arn, Group).await).contains("remove users"));
    assert!(meta.remove_group_member(&devs.arn, &alice.arn).await.unwrap());
    meta.delete_entity(&alice.arn, User).await.unwrap();
    meta.delete_entity(&devs.arn, Group).await.unwrap();
    assert!(matches!(
        meta.delete_entity(&alice.arn, User).await,
        Err(MetaError::NoSuchEntity(_))
    ));
    assert_eq!(meta.entity(ACCT, Role, "alice").await.unwrap(), None);
});

both!(
    iam_identity_policies_cover_groups_managed_and_sessions,
    |meta: Meta| async move {
        use crate::EntityKind::{Group, Role, User};
        use crate::IdentityPolicy::{Inline, Managed};
        meta.ensure_account(ACCT).await.unwrap();
        let u = meta.create_entity(&iam_entity(User, "u", "/")).await.unwrap();
        let g = meta.create_entity(&iam_entity(Group, "g", "/")).await.unwrap();
        let r = meta.create_entity(&iam_entity(Role, "r", "/svc/")).await.unwrap();
        let mp = crate::ManagedPolicyRecord {
            arn: format!("arn:aws:iam::{ACCT}:policy/mp"),
            account_id: ACCT.into(),
            name: "mp".into(),
            path: "/".into(),
            policy_id: "ANPA1".into(),
            description: None,
            document: "{\"m\":1}".into(),
            created_at: 1,
            updated_at: 1,
            attachment_count: 0,
        };
        meta.create_managed_policy(&mp).await.unwrap();
        assert!(matches!(
            meta.create_managed_policy(&mp).await,
            Err(MetaError::EntityAlreadyExists(_))
        ));
        meta.put_inline_policy(&u.arn, "own", "{\"u\":1}").await.unwrap();
        meta.put_inline_policy(&u.arn, "own", "{\"u\":2}").await.unwrap();
        meta.put_inline_policy(&g.arn, "grp", "{\"g\":1}").await.unwrap();
        meta.attach_policy(&g.arn, &mp.arn).await.unwrap();
        meta.attach_policy(&u.arn, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
            .await
            .unwrap();
        meta.add_group_member(&g.arn, &u.arn).await.unwrap();
        assert_eq!(meta.managed_policy(&mp.arn).await.unwrap().unwrap().attachment_count, 1);
        assert!(matches!(
            meta.delete_managed_policy(&mp.arn).await,
            Err(MetaError::DeleteConflict(_))
        ));

        let got = meta.identity_policies(&u.arn).await.unwrap();
        assert_eq!(
            got,
            vec![
                Inline {
                    name: "own".into(),
                    document: "{\"u\":2}".into()
                },
                Managed {
                    arn: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly".into(),
                    document: None
                },
                Inline {
                    name: "grp".into(),
                    document: "{\"g\":1}".into()
                },
                Managed {
                    arn: mp.arn.clone(),
                    document: Some("{\"m\":1}".into())
                },
            ]
        );

        // A session of the role (whose ARN has a path) gets the role's policies.
        meta.put_inline_policy(&r.arn, "role", "{\"r\":1}").await.unwrap();
        let session = format!("arn:aws:sts::{ACCT}:assumed-role/r/build-1");
        meta.insert_session_key(
            "ASIATEST",
            &r.arn,
            &session,
            b"s",
            b"t",
            crate::now_ms() + 60_000,
            Some("{\"s\":1}"),
        )
        .await
        .unwrap();
        assert_eq!(
            meta.identity_policies(&session).await.unwrap(),
            vec![Inline {
                name: "role".into(),
                document: "{\"r\":1}".into()
            }]
        );
        let key = meta.access_key("ASIATEST").await.unwrap().unwrap();
        assert_eq!(key.principal_arn, session);
        assert_eq!(
            meta.session_policy("ASIATEST").await.unwrap().as_deref(),
            Some("{\"s\":1}")
        );
        assert!(
            meta.list_access_keys(&r.arn).await.unwrap().is_empty(),
            "sessions are not listed"
        );
        assert!(
            meta.identity_policies(&format!("arn:aws:sts::{ACCT}:assumed-role/gone/s"))
                .await
                .unwrap()
                .is_empty()
        );
    }
);

// ---- the audit trail ----

fn audit_entry(at: i64, principal: &str, action: &str, repo: &str, result: crate::AuditResult) -> crate::AuditEntry {
    crate::AuditEntry {
        at,
        principal_arn: principal.to_string(),
        account_id: ACCT.to_string(),
        action: action.to_string(),
        operation: action.trim_start_matches("ecr:").to_string(),
        resource_arn: format!("arn:aws:ecr:us-east-1:{ACCT}:repository/{repo}"),
        source_ip: Some("127.0.0.1".to_string()),
        result,
        status: if result == crate::AuditResult::Allowed {
            201
        } else {
            403
        },
        error_code: (result == crate::AuditResult::Denied).then(|| "DENIED".to_string()),
    }
}

both!(audit_entries_round_trip_and_filter, |meta: Meta| async move {
    use crate::{AuditFilter, AuditResult::*};
    let admin = "arn:aws:iam::123456789012:user/admin";
    let bob = "arn:aws:iam::123456789012:user/bob";
    let written = vec![
        audit_entry(1000, admin, "ecr:CreateRepository", "app", Allowed),
        audit_entry(2000, admin, "ecr:PutImage", "app", Allowed),
        audit_entry(2000, bob, "ecr:PutImage", "app", Denied),
        audit_entry(3000, bob, "ecr:DeleteRepository", "team/app_1", Denied),
        audit_entry(4000, "anonymous", "ecr:PutImage", "Team/App", Denied),
    ];
    meta.insert_audit(&written).await.unwrap();
    meta.insert_audit(&[]).await.unwrap();
    let all = meta.audit_entries(&AuditFilter::default(), 100).await.unwrap();
    assert_eq!(all, written, "everything, oldest first, as written");
    let find = |f: AuditFilter, limit: usize| {
        let meta = meta.clone();
        async move {
            meta.audit_entries(&f, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.at, e.principal_arn.rsplit('/').next().unwrap().to_string()))
                .collect::<Vec<_>>()
        }
    };
    let by = |p: &str, a: &str, r: &str| AuditFilter {
        principal: (!p.is_empty()).then(|| p.to_string()),
        action: (!a.is_empty()).then(|| a.to_string()),
        resource: (!r.is_empty()).then(|| r.to_string()),
        ..Default::default()
    };
    assert_eq!(
        find(by(bob, "", ""), 100).await,
        [(2000, "bob".into()), (3000, "bob".into())]
    );
    assert_eq!(find(by("", "ecr:PutImage", ""), 100).await.len(), 3);
    assert_eq!(find(by("", "ecr:Put*", ""), 100).await.len(), 3);
    assert_eq!(
        find(by("", "ecr:put*", ""), 100).await.len(),
        0,
        "globs are case-sensitive"
    );
    assert_eq!(find(by("", "", "*:repository/app"), 100).await.len(), 3);
    assert_eq!(
        find(by("", "", "*:repository/Team/*"), 100).await,
        [(4000, "anonymous".into())]
    );
    // `_` in a name is a literal, not LIKE's any-character.
    assert_eq!(find(by("", "", "*/team/app_?"), 100).await, [(3000, "bob".into())]);
    assert_eq!(find(by("", "", "*/team/a_p*"), 100).await.len(), 0);
    assert_eq!(find(by(bob, "ecr:PutImage", "*app"), 100).await, [(2000, "bob".into())]);
    let window = AuditFilter {
        since: Some(2000),
        until: Some(4000),
        ..Default::default()
    };
    assert_eq!(find(window, 100).await.len(), 3, "since is inclusive, until exclusive");
    let denied = AuditFilter {
        result: Some(Denied),
        ..Default::default()
    };
    assert_eq!(find(denied.clone(), 100).await.len(), 3);
    // A limit keeps the newest entries, still printed oldest first.
    assert_eq!(
        find(denied, 2).await,
        [(3000, "bob".into()), (4000, "anonymous".into())]
    );
    assert_eq!(find(by("", "ecr:*", ""), 1).await, [(4000, "anonymous".into())]);
    assert!(find(AuditFilter::default(), 0).await.is_empty());
});

both!(audit_reads_page_through_many_rows_with_globs, |meta: Meta| async move {
    use crate::{AuditFilter, AuditResult::*};
    let admin = "arn:aws:iam::123456789012:user/admin";
    // 2500 rows in one batch (several insert statements, one transaction); only
    // every 100th matches the glob, so the read pages past non-matching rows.
    let batch: Vec<_> = (0..2500)
        .map(|i| {
            let repo = if i % 100 == 0 {
                format!("hit/{i}")
            } else {
                format!("miss/{i}")
            };
            audit_entry(i, admin, "ecr:PutImage", &repo, Allowed)
        })
        .collect();
    meta.insert_audit(&batch).await.unwrap();
    let f = AuditFilter {
        resource: Some("*:repository/hit/*".into()),
        ..Default::default()
    };
    let got: Vec<i64> = meta.audit_entries(&f, 20).await.unwrap().iter().map(|e| e.at).collect();
    assert_eq!(got, (0..25).map(|i| i * 100).collect::<Vec<_>>()[5..]);
    assert_eq!(
        meta.audit_entries(&AuditFilter::default(), 10_000).await.unwrap().len(),
        2500
    );
});

/// The blobs each image of the repository references.
async fn manifest_blobs(meta: &Meta, r: &crate::Repository) -> Vec<(String, String)> {
    sqlx::query("SELECT manifest_digest, blob_digest FROM manifest_blobs WHERE repository_id = $1")
        .bind(r.id)
        .fetch_all(&meta.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                crate::get(row, "manifest_digest").unwrap(),
                crate::get(row, "blob_digest").unwrap(),
            )
        })
        .collect()
}

both!(
    lifecycle_preview_reads_what_the_run_then_deletes,
    |meta: Meta| async move {
        let r = repo(&meta, "lc", TagMutability::Mutable).await;
        let other = repo(&meta, "lc-other", TagMutability::Mutable).await;
        // `a` with two referrers, one of them signed in turn.
        let a = lc_image(&meta, &r, b"layer-a", 100, Some("a")).await;
        let sig1 = lc_referrer(&meta, &r, &a, b"sig-1", 50).await;
        let sig2 = lc_referrer(&meta, &r, &a, b"sig-2", 60).await;
        let sig_of_sig = lc_referrer(&meta, &r, &sig1, b"sig-sig", 7).await;
        // `i` lists an untagged child, a tagged one, and one `j` lists too.
        let x = lc_image(&meta, &r, b"layer-x", 300, None).await;
        let t = lc_image(&meta, &r, b"layer-t", 400, Some("t")).await;
        let y = lc_image(&meta, &r, b"layer-y", 500, None).await;
        let i = lc_index(&meta, &r, &[x, t, y], Some("i")).await;
        let j = lc_index(&meta, &r, &[y], None).await;
        // `b`'s layer is used by the other repository, `c`'s by `k`, which stays.
        let b = lc_image(&meta, &r, b"layer-b", 600, Some("b")).await;
        lc_image(&meta, &other, b"layer-b", 600, None).await;
        let c = lc_image(&meta, &r, b"layer-k", 700, None).await;
        let k = lc_referrer(&meta, &r, &t, b"layer-k", 700).await;
        let plan = [
            selected(a, &["a"], 1),
            selected(i, &["i"], 2),
            selected(b, &["b"], 2),
            selected(c, &[], 3),
        ];

        // Referrers go oldest first.
        let now = crate::now_ms();
        set_pushed_at(&meta, &r, &sig2, now - 2).await;
        set_pushed_at(&meta, &r, &sig1, now - 1).await;

        let before = digests(&meta, &r).await;
        let refs = manifest_blobs(&meta, &r).await;
        let preview = meta.expire_images(r.id, &plan, true).await.unwrap();
        assert_eq!(digests(&meta, &r).await, before, "a preview deletes nothing");
        let want = vec![
            (a, None),
            (sig2, Some(a)),
            (sig1, Some(a)),
            (sig_of_sig, Some(a)),
            (i, None),
            (x, Some(i)),
            (b, None),
            (c, None),
        ];
        assert_eq!(expired(&preview), want);
        assert_eq!(preview.images[5].rule_priority, 2);
        assert_eq!(preview.images[4].tags, ["i"]);

        // The run deletes exactly that, and frees what the preview said: the
        // blobs of the deleted images no remaining manifest anywhere uses.
        let done = meta.expire_images(r.id, &plan, false).await.unwrap();
        assert_eq!(done, preview);
        let after = digests(&meta, &r).await;
        let deleted: std::collections::HashSet<Digest> =
            before.iter().filter(|d| !after.contains(d)).copied().collect();
        let previewed: std::collections::HashSet<Digest> = preview.images.iter().map(|i| i.digest).collect();
        assert_eq!(deleted, previewed);
        let mut kept = vec![t, y, j, k];
        kept.sort();
        assert_eq!(after, kept);
        let candidates: std::collections::BTreeSet<String> = refs
            .iter()
            .filter(|(m, _)| deleted.contains(&m.parse::<Digest>().unwrap()))
            .map(|(_, b)| b.clone())
            .collect();
        let mut freed = 0u64;
        for blob in &candidates {
            let row = sqlx::query(
                "SELECT size FROM blobs b WHERE digest = $1 \
                 AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest)",
            )
            .bind(blob)
            .fetch_optional(&meta.pool)
            .await
            .unwrap();
            freed += row.map_or(0, |r| crate::get::<i64>(&r, "size").unwrap() as u64);
        }
        assert_eq!(freed, 100 + 50 + 60 + 7 + 300);
        assert_eq!(preview.reclaimable_bytes, freed);
    }
);

/// Stores `n` untagged images (each its own 10-byte layer and the shared config)
/// straight in the tables, far faster than pushing them.
async fn bulk_images(meta: &Meta, r: &crate::Repository, n: usize) -> Vec<Digest> {
    let config = Digest::of(b"{}");
    let mut tx = meta.write_tx().await.unwrap();
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, 2, 0) ON CONFLICT (digest) DO NOTHING")
        .bind(config.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let digest = Digest::of(format!("bulk-{i}").as_bytes());
        let layer = Digest::of(format!("bulk-layer-{i}").as_bytes());
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, 10, 0)")
            .bind(layer.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, body, size, image_size, pushed_at) \
             VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', $3, 2, 12, $4)",
        )
        .bind(r.id)
        .bind(digest.to_string())
        .bind(b"{}".to_vec())
        .bind(i as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
        for blob in [&config, &layer] {
            sqlx::query("INSERT INTO manifest_blobs (repository_id, manifest_digest, blob_digest) VALUES ($1, $2, $3)")
                .bind(r.id)
                .bind(digest.to_string())
                .bind(blob.to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        all.push(digest);
    }
    tx.commit().await.unwrap();
    all
}

/// A preview only reads: on SQLite, writers of another repository do not wait
/// for it (it once held the write lock for the whole walk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_preview_does_not_block_writers() {
    let (meta, _dir) = sqlite().await;
    let r = repo(&meta, "big", TagMutability::Mutable).await;
    let other = repo(&meta, "busy", TagMutability::Mutable).await;
    let plan: Vec<_> = bulk_images(&meta, &r, 5000)
        .await
        .into_iter()
        .map(|d| selected(d, &[], 1))
        .collect();
    let started = std::time::Instant::now();
    let preview = tokio::spawn({
        let meta = meta.clone();
        async move { meta.expire_images(r.id, &plan, true).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let push = std::time::Instant::now();
    lc_image(&meta, &other, b"pushed-meanwhile", 5, Some("v1")).await;
    let waited = push.elapsed();
    let outcome = preview.await.unwrap();
    eprintln!("preview of 5000 images: {:?}; push: {waited:?}", started.elapsed());
    assert_eq!(outcome.images.len(), 5000);
    assert_eq!(outcome.reclaimable_bytes, 5000 * 10 + 2);
    assert!(
        waited < std::time::Duration::from_secs(1),
        "a push waited {waited:?} for a preview"
    );
}

both!(a_review_never_closes_over_a_newer_queueing, |meta: Meta| async move {
    let r = repo(&meta, "gc/requeue", TagMutability::Mutable).await;
    let (config, layer) = (Digest::of(b"{}"), Digest::of(b"abc"));
    meta.link_blob(r.id, &config, 2).await.unwrap();
    meta.link_blob(r.id, &layer, 3).await.unwrap();
    let (body, m) = image_manifest(&config, &layer);
    let digest = Digest::of(&body);
    let put = PutManifest {
        repository: &r,
        digest,
        manifest: &m,
        body: &body,
        sealed_body: &body,
        body_key: b"wrapped",
        tag: Some("v1"),
        scan: None,
    };
    meta.put_manifest(put).await.unwrap();
    // A review reads the queue; before it closes, the image is deleted, which
    // queues the layer again. The review saw the layer in use and keeps it,
    // but must not drop the newer queueing, or the layer would never be collected.
    let seen = meta.queued_at(&layer).await.unwrap().unwrap();
    meta.delete_manifest(r.id, &digest).await.unwrap();
    assert!(meta.queued_at(&layer).await.unwrap().unwrap() > seen);
    let g = meta.gc_guard(&layer).await.unwrap();
    g.keep(None, seen).await.unwrap();
    assert!(meta.queued_at(&layer).await.unwrap().is_some());
    let g = meta.gc_guard(&layer).await.unwrap();
    g.keep(Some(0), seen).await.unwrap();
    assert!(
        meta.queued_at(&layer).await.unwrap().unwrap() > seen,
        "a postponement does not rewind it either"
    );
    // Queueing again always moves the time forward, even within a millisecond.
    let mut last = meta.queued_at(&layer).await.unwrap().unwrap();
    for _ in 0..3 {
        meta.queue_reviews(&[layer]).await.unwrap();
        let now = meta.queued_at(&layer).await.unwrap().unwrap();
        assert!(now > last, "{now} after {last}");
        last = now;
    }
});

/// An image with one layer, pushed with a scan on push asked for.
async fn scanned_image(meta: &Meta, r: &crate::Repository, layer: &[u8], scan: Option<crate::ScanRequest>) -> Digest {
    let (config, l) = (Digest::of(b"{}"), Digest::of(layer));
    meta.link_blob(r.id, &config, 2).await.unwrap();
    meta.link_blob(r.id, &l, 3).await.unwrap();
    let (body, m) = image_manifest(&config, &l);
    let digest = Digest::of(&body);
    meta.put_manifest(PutManifest {
        repository: r,
        digest,
        manifest: &m,
        body: &body,
        sealed_body: &body,
        body_key: b"wrapped",
        tag: Some("v1"),
        scan,
    })
    .await
    .unwrap();
    digest
}

fn basic_scan() -> crate::ScanRequest {
    crate::ScanRequest {
        scan_type: "BASIC".into(),
        status: crate::scan_status::IN_PROGRESS,
        description: None,
    }
}

both!(
    a_push_queues_its_scan_once_and_a_deleted_image_takes_it_along,
    |meta: Meta| async move {
        let r = repo(&meta, "scanned", TagMutability::Mutable).await;
        let d = scanned_image(&meta, &r, b"abc", Some(basic_scan())).await;
        let first = meta.image_scan(r.id, &d).await.unwrap().unwrap();
        assert_eq!(
            (first.status.as_str(), first.scan_type.as_str()),
            ("IN_PROGRESS", "BASIC")
        );
        // The same manifest pushed again (another tag) is not queued again.
        let (config, l) = (Digest::of(b"{}"), Digest::of(b"abc"));
        let (body, m) = image_manifest(&config, &l);
        meta.put_manifest(PutManifest {
            repository: &r,
            digest: d,
            manifest: &m,
            body: &body,
            sealed_body: &body,
            body_key: b"wrapped",
            tag: Some("v2"),
            scan: Some(basic_scan()),
        })
        .await
        .unwrap();
        assert_eq!(meta.image_scan(r.id, &d).await.unwrap().unwrap(), first);
        // Without a request, nothing is queued.
        let other = scanned_image(&meta, &r, b"xyz", None).await;
        assert!(meta.image_scan(r.id, &other).await.unwrap().is_none());
        assert!(meta.delete_manifest(r.id, &d).await.unwrap());
        assert!(meta.image_scan(r.id, &d).await.unwrap().is_none());
    }
);

both!(
    a_scan_is_asked_for_once_per_window_unless_it_failed,
    |meta: Meta| async move {
        let r = repo(&meta, "limits", TagMutability::Mutable).await;
        let d = scanned_image(&meta, &r, b"abc", None).await;
        let day = 24 * 3600 * 1000;
        assert_eq!(
            meta.request_scan(r.id, &d, &basic_scan(), day).await.unwrap(),
            crate::Queued::Queued
        );
        assert_eq!(
            meta.request_scan(r.id, &d, &basic_scan(), day).await.unwrap(),
            crate::Queued::LimitExceeded
        );
        // A claimed scan that fails frees the quota.
        let claimed = meta.claim_scan("node-a", 60_000).await.unwrap().unwrap();
        let failed = crate::ScanResult {
            status: crate::scan_status::FAILED,
            description: Some("broken layer".into()),
            ..Default::default()
        };
        assert!(meta.finish_scan(&claimed, "node-a", &failed).await.unwrap());
        assert_eq!(
            meta.request_scan(r.id, &d, &basic_scan(), day).await.unwrap(),
            crate::Queued::Queued
        );
        // A window of zero never limits.
        assert_eq!(
            meta.request_scan(r.id, &d, &basic_scan(), 0).await.unwrap(),
            crate::Queued::Queued
        );
    }
);

both!(
    a_scan_is_claimed_by_one_node_and_recorded_only_by_it,
    |meta: Meta| async move {
        let r = repo(&meta, "claims", TagMutability::Mutable).await;
        let d = scanned_image(&meta, &r, b"abc", Some(basic_scan())).await;
        let a = meta.claim_scan("node-a", 60_000).await.unwrap().unwrap();
        assert_eq!((a.digest, a.rematch, a.attempts), (d, false, 0));
        assert!(meta.claim_scan("node-b", 60_000).await.unwrap().is_none());
        let result = crate::ScanResult {
            status: crate::scan_status::COMPLETE,
            description: None,
            source_updated_at: Some(5),
            inventory: Some(r#"{"packages":[]}"#.into()),
            findings: Some("[]".into()),
            counts: Some("{}".into()),
            packages: [("PyPI".to_string(), "jinja2".to_string())].into(),
        };
        assert!(!meta.finish_scan(&a, "node-b", &result).await.unwrap());
        assert!(meta.finish_scan(&a, "node-a", &result).await.unwrap());
        let done = meta.image_scan(r.id, &d).await.unwrap().unwrap();
        assert_eq!((done.status.as_str(), done.source_updated_at), ("COMPLETE", Some(5)));
        assert!(done.completed_at.is_some());
        assert_eq!(
            meta.image_inventory(r.id, &d).await.unwrap().as_deref(),
            Some(r#"{"packages":[]}"#)
        );
        assert!(meta.claim_scan("node-b", 60_000).await.unwrap().is_none());

        // A lease that ran out is taken over, and counts the attempt.
        meta.request_scan(r.id, &d, &basic_scan(), 0).await.unwrap();
        let lost = meta.claim_scan("node-a", -1).await.unwrap().unwrap();
        let taken = meta.claim_scan("node-b", 60_000).await.unwrap().unwrap();
        assert_eq!(taken.attempts, 1);
        assert!(!meta.finish_scan(&lost, "node-a", &result).await.unwrap());
        assert!(meta.finish_scan(&taken, "node-b", &result).await.unwrap());
    }
);

both!(
    an_advisory_import_marks_only_the_images_it_concerns,
    |meta: Meta| async move {
        let r = repo(&meta, "rematch", TagMutability::Mutable).await;
        let mut images = Vec::new();
        for (layer, package, scan_type) in [
            (b"aaa", "jinja2", "ENHANCED"),
            (b"bbb", "urllib3", "ENHANCED"),
            (b"ccc", "jinja2", "BASIC"),
        ] {
            let mut scan = basic_scan();
            scan.scan_type = scan_type.into();
            let d = scanned_image(&meta, &r, layer, Some(scan)).await;
            let claimed = meta.claim_scan("n", 60_000).await.unwrap().unwrap();
            let result = crate::ScanResult {
                status: crate::scan_status::COMPLETE,
                inventory: Some(format!(r#"{{"package":"{package}"}}"#)),
                findings: Some("[]".into()),
                packages: [("PyPI".to_string(), package.to_string())].into(),
                ..Default::default()
            };
            assert!(meta.finish_scan(&claimed, "n", &result).await.unwrap());
            images.push(d);
        }
        let advisory = crate::NewAdvisory {
            id: "PYSEC-2019-217".into(),
            source: "PyPI".into(),
            modified: "2024-01-01T00:00:00Z".into(),
            modified_ms: 1,
            body: "{}".into(),
            packages: [("PyPI".to_string(), "jinja2".to_string())].into(),
        };
        let changed = meta.put_advisories(&[advisory]).await.unwrap();
        assert_eq!(meta.mark_rematch("ENHANCED", &changed).await.unwrap(), 1);
        let claimed = meta.claim_scan("n", 60_000).await.unwrap().unwrap();
        assert_eq!((claimed.digest, claimed.rematch), (images[0], true));
        assert_eq!(claimed.inventory.as_deref(), Some(r#"{"package":"jinja2"}"#));
        assert!(meta.claim_scan("n2", 60_000).await.unwrap().is_none());
        meta.clear_rematch(&claimed, "n").await.unwrap();
        assert!(meta.claim_scan("n", 60_000).await.unwrap().is_none());
        assert_eq!(
            meta.image_scan(r.id, &images[0]).await.unwrap().unwrap().status,
            "COMPLETE"
        );
    }
);

both!(layer_indexes_are_kept_by_digest_and_format, |meta: Meta| async move {
    let d = Digest::of(b"layer");
    assert!(meta.layer_index(&d, 1).await.unwrap().is_none());
    meta.put_layer_index(&d, 1, "{\"v\":1}").await.unwrap();
    assert_eq!(meta.layer_index(&d, 1).await.unwrap().as_deref(), Some("{\"v\":1}"));
    assert!(meta.layer_index(&d, 2).await.unwrap().is_none());
    meta.put_layer_index(&d, 2, "{\"v\":2}").await.unwrap();
    assert_eq!(meta.layer_index(&d, 2).await.unwrap().as_deref(), Some("{\"v\":2}"));
    assert!(meta.layer_index(&d, 1).await.unwrap().is_none());
});

both!(
    advisories_are_found_for_many_packages_at_once,
    |meta: Meta| async move {
        let advisory = |id: &str, packages: &[(&str, &str)]| crate::NewAdvisory {
            id: id.into(),
            source: "PyPI".into(),
            modified: "2024-01-01T00:00:00Z".into(),
            modified_ms: 1,
            body: format!("{{\"id\":\"{id}\"}}"),
            packages: packages.iter().map(|(e, n)| (e.to_string(), n.to_string())).collect(),
        };
        meta.put_advisories(&[
            advisory("A-1", &[("PyPI", "jinja2"), ("PyPI", "flask")]),
            advisory("A-2", &[("PyPI", "jinja2")]),
            advisory("A-3", &[("npm", "jinja2")]),
        ])
        .await
        .unwrap();
        // More packages than one query takes, most of them unknown.
        let mut wanted: Vec<(String, String)> = (0..450).map(|i| ("PyPI".to_string(), format!("pkg-{i}"))).collect();
        wanted.push(("PyPI".into(), "jinja2".into()));
        wanted.insert(0, ("PyPI".into(), "flask".into()));
        let got = meta.advisories_for_packages(&wanted).await.unwrap();
        let got: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|(e, n, id, _)| (e.as_str(), n.as_str(), id.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("PyPI", "flask", "A-1"),
                ("PyPI", "jinja2", "A-1"),
                ("PyPI", "jinja2", "A-2")
            ]
        );
        assert!(meta.advisories_for_packages(&[]).await.unwrap().is_empty());
    }
);

both!(repository_usage_counts_images_and_bytes, |meta: Meta| async move {
    let r = repo(&meta, "used", TagMutability::Mutable).await;
    repo(&meta, "empty", TagMutability::Mutable).await;
    scanned_image(&meta, &r, b"abc", None).await;
    scanned_image(&meta, &r, b"defg", None).await;
    let usage = meta.repository_usage(ACCT).await.unwrap();
    // Each image: the 2-byte config and its 3-byte layer as the manifest declares them.
    assert_eq!(usage, [("empty".to_string(), 0, 0), ("used".to_string(), 2, 10)]);
});
