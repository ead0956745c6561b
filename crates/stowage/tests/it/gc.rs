//! Online garbage collection against the real server: what deleted images
//! leave is freed after the grace period, nothing referenced is ever lost,
//! idle uploads go, and an interrupted pass is recovered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Db, OCI_MANIFEST, TestServer, both_dbs, bytes, digest, error_code};

/// Runs `stowage gc` with extra flags against the server's data; returns its report.
fn gc(s: &TestServer, flags: &[&str]) -> Value {
    let mut args = vec!["gc"];
    args.extend_from_slice(flags);
    let out = s.admin(&args);
    assert!(
        out.status.success(),
        "stowage gc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("gc prints a JSON report")
}

fn blob_file(s: &TestServer, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    s.data_dir.join("blobs/registry/sha256").join(&hex[..2]).join(hex)
}

/// Every blob file in the store (all under the registry-managed key).
fn stored_blobs(data_dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for shard in std::fs::read_dir(data_dir.join("blobs/registry/sha256")).unwrap() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            found.insert(format!("sha256:{}", f.unwrap().file_name().to_string_lossy()));
        }
    }
    found
}

async fn blob_status(s: &TestServer, repo: &str, digest: &str) -> u16 {
    s.get(&format!("/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Pulls a manifest by digest and every blob it references, checking each digest.
async fn pull_completely(s: &TestServer, repo: &str, manifest_digest: &str, blobs: &[String]) {
    let resp = s
        .get(&format!("/v2/{repo}/manifests/{manifest_digest}"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "manifest {manifest_digest} in {repo}");
    assert_eq!(digest(&resp.bytes().await.unwrap()), manifest_digest);
    for b in blobs {
        let resp = s.get(&format!("/v2/{repo}/blobs/{b}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "blob {b} of {manifest_digest} in {repo}");
        assert_eq!(&digest(&resp.bytes().await.unwrap()), b, "blob content");
    }
}

both_dbs!(
    ["--gc-interval", "1h"]
    async fn deleted_images_free_their_blobs(s: TestServer) {
        s.create_repo("gc/app");
        let (layer_a, layer_b) = (bytes(1, 4000), bytes(2, 5000));
        let (_, a) = s.push_image("gc/app", "a", &layer_a).await;
        let (manifest_b, b) = s.push_image("gc/app", "b", &layer_b).await;
        let (da, db) = (digest(&layer_a), digest(&layer_b));
        let resp = s.delete(&format!("/v2/gc/app/manifests/{a}")).send().await.unwrap();
        assert_eq!(resp.status(), 202);

        // Within the grace period (24h by default) nothing goes.
        let report = gc(&s, &[]);
        assert_eq!(report["blobsFreed"], 0, "{report}");
        assert!(blob_file(&s, &da).exists());

        // A dry run names the one blob only the deleted image used, and deletes nothing.
        let report = gc(&s, &["--dry-run", "--gc-grace", "0s"]);
        assert_eq!(report["blobsFreed"], 1, "{report}");
        assert_eq!(report["freed"], serde_json::json!([da]));
        // Freed bytes are stored bytes: 4000 sealed in one segment with its 28-byte nonce and tag.
        assert_eq!(report["bytesFreed"], 4028);
        assert!(blob_file(&s, &da).exists());
        assert_eq!(blob_status(&s, "gc/app", &da).await, 200);

        let report = gc(&s, &["--gc-grace", "0s"]);
        assert_eq!((report["blobsFreed"].as_u64(), report["bytesFreed"].as_u64()), (Some(1), Some(4028)));
        assert!(!blob_file(&s, &da).exists());
        let resp = s.get(&format!("/v2/gc/app/blobs/{da}")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");

        // The shared config and image b are untouched.
        let config: Value = serde_json::from_slice(&manifest_b).unwrap();
        let config = config["config"]["digest"].as_str().unwrap().to_string();
        pull_completely(&s, "gc/app", &b, &[config, db]).await;
        assert_eq!(gc(&s, &["--gc-grace", "0s"])["blobsFreed"], 0);
    }
);

both_dbs!(
    // A grace period long enough for the push to reference its blobs first.
    ["--gc-grace", "2s", "--gc-interval", "200ms"]
    async fn the_server_collects_on_its_interval(s: TestServer) {
        s.create_repo("gc/timer");
        let layer = bytes(3, 3000);
        let (_, m) = s.push_image("gc/timer", "t", &layer).await;
        let resp = s.delete(&format!("/v2/gc/timer/manifests/{m}")).send().await.unwrap();
        assert_eq!(resp.status(), 202);
        let file = blob_file(&s, &digest(&layer));
        assert!(file.exists(), "deleted only in metadata, until the grace period passes");
        let counter = |metrics: &str, name: &str| -> u64 {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {metrics}"))
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let metrics = s.anon.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
            let blobs = counter(&metrics, "stowage_gc_blobs_freed_total");
            if !file.exists() && blobs >= 2 {
                assert!(counter(&metrics, "stowage_gc_bytes_freed_total") >= 3000, "{metrics}");
                assert!(counter(&metrics, "stowage_gc_passes_total") >= 1, "{metrics}");
                break;
            }
            assert!(Instant::now() < deadline, "the layer was not collected: {metrics}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
);

/// An upload idle for longer than `--upload-ttl` is gone for its client at
/// once, not only when the next GC pass removes it (and not after a fixed 24 h).
#[tokio::test]
async fn an_upload_idle_past_the_ttl_is_unknown() {
    let s = TestServer::start_configured(Db::Sqlite, &["--upload-ttl", "2s"]).await;
    s.create_repo("gc/ttl");
    let start = |s: &TestServer| s.post("/v2/gc/ttl/blobs/uploads/").send();
    let resp = start(&s).await.unwrap();
    assert_eq!(resp.status(), 202);
    let idle = resp.headers()["location"].to_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let resp = start(&s).await.unwrap();
    let fresh = resp.headers()["location"].to_str().unwrap().to_string();
    let patch = |location: &str| {
        s.http
            .patch(s.url(location))
            .header("content-type", "application/octet-stream")
            .body(b"chunk".to_vec())
            .send()
    };
    let resp = patch(&idle).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(patch(&fresh).await.unwrap().status(), 202);
}

#[tokio::test]
async fn idle_uploads_are_removed() {
    let s = TestServer::start().await;
    s.create_repo("gc/up");
    let resp = s.post("/v2/gc/up/blobs/uploads/").send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = s
        .http
        .patch(s.url(&location))
        .header("content-type", "application/octet-stream")
        .body(bytes(4, 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let staged = std::fs::read_dir(s.data_dir.join("uploads")).unwrap().count();
    assert_eq!(staged, 1);

    assert_eq!(gc(&s, &[])["uploadsRemoved"], 0);
    assert_eq!(gc(&s, &["--upload-ttl", "0s"])["uploadsRemoved"], 1);
    let resp = s.get(&location).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(std::fs::read_dir(s.data_dir.join("uploads")).unwrap().count(), 0);
}

#[tokio::test]
async fn an_interrupted_pass_is_recovered() {
    let s = TestServer::start().await;
    s.create_repo("gc/crash");
    let layer = bytes(5, 2000);
    let (manifest, m) = s.push_image("gc/crash", "v1", &layer).await;
    let dl = digest(&layer);

    // A pass that crashed after quarantining a blob it then failed to forget.
    let hex = dl.strip_prefix("sha256:").unwrap();
    let trash = s.data_dir.join("trash/registry");
    std::fs::create_dir_all(&trash).unwrap();
    std::fs::rename(blob_file(&s, &dl), trash.join(hex)).unwrap();
    assert_ne!(blob_status(&s, "gc/crash", &dl).await, 200);
    let report = gc(&s, &[]);
    assert_eq!(report["restored"], 1, "{report}");
    let config: Value = serde_json::from_slice(&manifest).unwrap();
    let config = config["config"]["digest"].as_str().unwrap().to_string();
    pull_completely(&s, "gc/crash", &m, &[config, dl.clone()]).await;

    // A file the database never recorded (an upload that crashed before its commit).
    let stray = bytes(6, 1234);
    let ds = digest(&stray);
    let path = blob_file(&s, &ds);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &stray).unwrap();
    let report = gc(&s, &["--gc-grace", "0s"]);
    assert_eq!(report["straysRemoved"], 1, "{report}");
    assert!(!path.exists());
    assert!(blob_file(&s, &dl).exists());
}

/// One image a stress worker pushed and has not deleted.
#[derive(Clone)]
struct Live {
    repo: &'static str,
    manifest: String,
    blobs: Vec<String>,
}

/// Pushes blobs the registry does not have (HEAD first, as docker does) and
/// then the manifest; when GC took a blob between the HEAD and the manifest,
/// the registry refuses the manifest and the push starts over.
async fn push_reusing(s: &TestServer, repo: &str, tag: &str, blobs: &[Vec<u8>]) -> (String, Vec<String>) {
    let digests: Vec<String> = blobs.iter().map(|b| digest(b)).collect();
    let layers: Vec<String> = blobs[1..]
        .iter()
        .zip(&digests[1..])
        .map(|(b, d)| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{}}}"#,
                b.len()
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}}"#,
        digests[0],
        blobs[0].len(),
        layers.join(",")
    );
    for _attempt in 0..20 {
        for (b, d) in blobs.iter().zip(&digests) {
            let head = s.head(&format!("/v2/{repo}/blobs/{d}")).send().await.unwrap();
            assert!(head.status() == 200 || head.status() == 404, "HEAD {}", head.status());
            if head.status() == 404 {
                s.push_blob(repo, b).await;
            }
        }
        let resp = s
            .put(&format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            201 => return (digest(manifest.as_bytes()), digests),
            400 => {
                assert_eq!(error_code(resp).await, "MANIFEST_BLOB_UNKNOWN");
                eprintln!("push of {repo}:{tag} lost a blob to GC; starting over");
            }
            other => panic!("manifest push answered {other}: {}", resp.text().await.unwrap()),
        }
    }
    panic!("manifest push kept losing its blobs to GC");
}

both_dbs!(
    ["--gc-grace", "0s", "--gc-interval", "50ms"]
    async fn nothing_referenced_is_lost_under_concurrent_gc(s: TestServer) {
        const REPOS: [&str; 2] = ["stress/one", "stress/two"];
        for r in REPOS {
            s.create_repo(r);
        }
        let shared: Arc<Vec<Vec<u8>>> = Arc::new((0..6).map(|i| bytes(100 + i, 2048 + i as usize)).collect());
        let s = Arc::new(s);
        let mut workers = Vec::new();
        for w in 0..4u64 {
            let (s, shared) = (s.clone(), shared.clone());
            workers.push(tokio::spawn(async move {
                let mut live: Vec<Live> = Vec::new();
                for round in 0..12u64 {
                    let repo = REPOS[((w + round) % 2) as usize];
                    let config = format!(r#"{{"worker":{w},"round":{round}}}"#).into_bytes();
                    let mut blobs = vec![config];
                    blobs.push(shared[((w + round) % 6) as usize].clone());
                    blobs.push(shared[((w * 3 + round * 5) % 6) as usize].clone());
                    blobs.push(bytes(1000 + w * 100 + round, 1500));
                    blobs.dedup();
                    let (manifest, digests) = push_reusing(&s, repo, &format!("w{w}-r{round}"), &blobs).await;
                    live.push(Live {
                        repo,
                        manifest,
                        blobs: digests,
                    });
                    // Delete every other image some rounds later.
                    if round % 2 == 1 && live.len() > 2 {
                        let gone = live.remove((round as usize * 7) % (live.len() - 1));
                        let resp = s
                            .delete(&format!("/v2/{}/manifests/{}", gone.repo, gone.manifest))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(resp.status(), 202);
                    }
                }
                live
            }));
        }
        let mut live = Vec::new();
        for w in workers {
            live.extend(w.await.unwrap());
        }
        let s = Arc::into_inner(s).unwrap();
        // The server's own passes ran during the churn and freed what deletes left.
        let metrics = s.anon.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let freed: u64 = metrics
            .lines()
            .find(|l| l.starts_with("stowage_gc_blobs_freed_total"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .expect("gc metric");
        eprintln!("blobs freed during the churn: {freed}");
        assert!(freed > 0, "no GC pass freed anything during the run");

        // Let a final pass run with nothing else going on.
        gc(&s, &["--gc-grace", "0s"]);
        let mut referenced = BTreeSet::new();
        for image in &live {
            pull_completely(&s, image.repo, &image.manifest, &image.blobs).await;
            referenced.extend(image.blobs.iter().cloned());
        }
        assert_eq!(stored_blobs(&s.data_dir), referenced, "stored blobs are exactly the referenced ones");
        let server_errors = s.log().lines().filter(|l| l.contains(r#""http.status":500"#)).count();
        assert_eq!(server_errors, 0, "server errors during the run:\n{}", s.log());
    }
);
