//! Encryption at rest: no plaintext on disk, tamper detection, disabled and deleted keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::aws_cli::{Cli, Keys};
use crate::clients::*;
use crate::kms::{at, create_key, expire_waiting_period};
use crate::support::*;

/// Longer than the key service's 1 s cache: a key's new state is in force.
const KEY_CACHE: Duration = Duration::from_millis(1200);

/// Creates a repository encrypted with `kms_key` (`None`: the default AES256).
async fn create_repo(s: &TestServer, name: &str, kms_key: Option<&str>) {
    let encryption = match kms_key {
        Some(k) => json!({"encryptionType": "KMS", "kmsKey": k}),
        None => json!({"encryptionType": "AES256"}),
    };
    let (status, body) = s
        .ecr(
            "CreateRepository",
            json!({"repositoryName": name, "encryptionConfiguration": encryption}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Files under the data dir that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

/// The stored objects of a blob, one per key it is stored under.
fn objects_of(s: &TestServer, digest: &str) -> Vec<PathBuf> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    files(&s.data_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == hex))
        .collect()
}

async fn status(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s.get(path).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_kms_encrypted_repository_with_docker_and_the_aws_cli() {
    let s = TestServer::start().await;
    let (aws, admin) = (Cli::new(&s), Keys::admin(&s));
    let key = create_key(&aws, &admin, "app images").await;
    let key_id = at(&key, "/KeyId").to_string();
    let v = aws
        .ok(
            &admin,
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                "secret/app",
                "--encryption-configuration",
                &format!("encryptionType=KMS,kmsKey={key_id}"),
            ],
        )
        .await;
    assert_eq!(v["repository"]["encryptionConfiguration"]["kmsKey"], key_id.as_str());

    let docker = Docker::new();
    docker.login(&s).await;
    let (local, built_id) = docker.build_busybox("sealed at rest").await;
    let remote = format!("{}/secret/app:v1", s.host());
    docker.tag(&local, &remote).await;
    docker.push(&remote).await;
    docker.rmi(&[&local, &remote]).await;
    docker.pull(&remote).await;
    assert_eq!(docker.image_id(&remote).await, built_id);
    assert_eq!(docker.run_image(&remote).await, "sealed at rest\n");

    // An uncompressed blob with a marker: nowhere on disk in clear, in either
    // the KMS repository or a default (AES256) one.
    let marker = b"STOWAGE-AT-REST-MARKER-7f3a".repeat(20_000);
    create_repo(&s, "plain/default", None).await;
    let blob = s.push_blob("secret/app", &marker).await;
    s.push_blob("plain/default", &marker).await;
    assert_eq!(objects_of(&s, &blob).len(), 2, "one object per key");
    assert_eq!(
        files_containing(&s.data_dir, b"STOWAGE-AT-REST-MARKER-7f3a"),
        Vec::<PathBuf>::new()
    );
    let back = s.get(&format!("/v2/secret/app/blobs/{blob}")).send().await.unwrap();
    assert_eq!(back.status(), 200);
    assert_eq!(back.bytes().await.unwrap(), marker);

    // Disabling the key stops pulls with a clear error; enabling restores them.
    aws.ok(&admin, &["kms", "disable-key", "--key-id", &key_id]).await;
    tokio::time::sleep(KEY_CACHE).await;
    let (code, body) = status(&s, "/v2/secret/app/manifests/v1").await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("disabled"),
        "{body}"
    );
    docker.rmi(&[&remote]).await;
    let out = run(&mut docker.cmd(&["pull", &remote])).await;
    assert!(!out.status.success(), "pull with a disabled key: {}", describe(&out));
    assert!(describe(&out).contains("disabled"), "{}", describe(&out));
    // Other keys' repositories are untouched.
    let r = s.get(&format!("/v2/plain/default/blobs/{blob}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    aws.ok(&admin, &["kms", "enable-key", "--key-id", &key_id]).await;
    tokio::time::sleep(KEY_CACHE).await;
    docker.pull(&remote).await;
    assert_eq!(docker.run_image(&remote).await, "sealed at rest\n");

    // A byte flipped on disk: the blob is never served, and docker's pull fails.
    let layers = files(&s.data_dir.join("blobs").join(&key_id));
    for path in &layers {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }
    let r = s.get(&format!("/v2/secret/app/blobs/{blob}")).send().await.unwrap();
    let status = r.status().as_u16();
    let served = r.bytes().await;
    assert!(
        status == 500 || served.is_err(),
        "a tampered blob was served whole with status {status}"
    );
    docker.rmi(&[&remote]).await;
    let out = run(&mut docker.cmd(&["pull", &remote])).await;
    assert!(!out.status.success(), "pull of tampered layers: {}", describe(&out));
    assert!(s.log().contains("failed its integrity check"), "{}", s.log());
}

both_dbs!(
    async fn deduplication_holds_within_a_key_and_ranges_cross_segments(s: TestServer) {
        let (aws, admin) = (Cli::new(&s), Keys::admin(&s));
        let key_id = at(&create_key(&aws, &admin, "team").await, "/KeyId").to_string();
        create_repo(&s, "ra", None).await;
        create_repo(&s, "rb", None).await;
        create_repo(&s, "k1", Some(&key_id)).await;
        aws.ok(
            &admin,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/team",
                "--target-key-id",
                &key_id,
            ],
        )
        .await;
        create_repo(&s, "k2", Some("alias/team")).await;
        let layer = bytes(9, 200_000); // a little over three 64 KiB segments
        let d = digest(&layer);
        for repo in ["ra", "rb", "k1", "k2"] {
            s.push_blob(repo, &layer).await;
        }
        assert_eq!(
            objects_of(&s, &d).len(),
            2,
            "once under the registry key, once under {key_id}"
        );

        // A mount across keys is refused (the client uploads its own copy); within one key it links.
        create_repo(&s, "rc", Some(&key_id)).await;
        let only_registry_key = s.push_blob("ra", b"stored under the registry key only").await;
        let r = s
            .post(&format!("/v2/rc/blobs/uploads/?mount={only_registry_key}&from=ra"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let r = s
            .post(&format!("/v2/rc/blobs/uploads/?mount={d}&from=k1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(objects_of(&s, &d).len(), 2);

        for (start, end) in [
            (65_530u64, 65_545u64),
            (0, 199_999),
            (131_071, 131_072),
            (199_990, 199_999),
        ] {
            let r = s
                .get(&format!("/v2/k1/blobs/{d}"))
                .header("range", format!("bytes={start}-{end}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 206);
            assert_eq!(
                r.bytes().await.unwrap(),
                &layer[start as usize..=end as usize],
                "{start}-{end}"
            );
        }
    }
);

both_dbs!(
    async fn a_deleted_key_makes_its_images_unrecoverable_and_says_so(s: TestServer) {
        let (aws, admin) = (Cli::new(&s), Keys::admin(&s));
        let key_id = at(&create_key(&aws, &admin, "short-lived").await, "/KeyId").to_string();
        create_repo(&s, "doomed", Some(&key_id)).await;
        s.push_image("doomed", "v1", b"layer under a doomed key").await;
        aws.ok(
            &admin,
            &[
                "kms",
                "schedule-key-deletion",
                "--key-id",
                &key_id,
                "--pending-window-in-days",
                "7",
            ],
        )
        .await;
        tokio::time::sleep(KEY_CACHE).await;
        let (code, body) = status(&s, "/v2/doomed/manifests/v1").await;
        assert_eq!(code, 403, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("pending deletion"),
            "{body}"
        );

        expire_waiting_period(&s, &key_id).await;
        tokio::time::sleep(KEY_CACHE).await;
        let (code, body) = status(&s, "/v2/doomed/manifests/v1").await;
        assert_eq!(code, 403, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("cannot be recovered"),
            "{body}"
        );
        // The control plane says the same in its own words.
        let (status, body) = s
            .ecr(
                "BatchGetImage",
                json!({"repositoryName": "doomed", "imageIds": [{"imageTag": "v1"}]}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["__type"], "KmsException", "{body}");
        assert_eq!(body["kmsError"], "NotFoundException", "{body}");
    }
);

both_dbs!(
    async fn rotation_rewraps_data_keys_and_images_still_pull(s: TestServer) {
        let (aws, admin) = (Cli::new(&s), Keys::admin(&s));
        let key_id = at(&create_key(&aws, &admin, "rotating").await, "/KeyId").to_string();
        create_repo(&s, "turning", Some(&key_id)).await;
        let layer = bytes(3, 100_000);
        let (_, manifest) = s.push_image("turning", "v1", &layer).await;
        let stored: Vec<(PathBuf, Vec<u8>)> = files(&s.data_dir.join("blobs"))
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        aws.ok(&admin, &["kms", "rotate-key-on-demand", "--key-id", &key_id])
            .await;

        // Every wrapped data key moves to version 2 (wrapped keys lead with their version).
        let mut moved = false;
        for _ in 0..50 {
            let versions = wrapped_key_versions(&s, &key_id).await;
            assert!(!versions.is_empty());
            if versions.iter().all(|v| *v == 2) {
                moved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(moved, "data keys still under the old version");
        // Blob data is never re-encrypted.
        for (path, bytes) in stored {
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{} was rewritten", path.display());
        }
        let r = s
            .get(&format!("/v2/turning/manifests/{manifest}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = s
            .get(&format!("/v2/turning/blobs/{}", digest(&layer)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap(), layer);
    }
);

/// Key versions of every wrapped data key stored under `key_id` (objects and manifests).
async fn wrapped_key_versions(s: &TestServer, key_id: &str) -> Vec<u32> {
    let url = match &s.db {
        Db::Sqlite => format!("sqlite://{}", s.data_dir.join("stowage.db").display()),
        Db::Postgres(url) => url.clone(),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut versions = Vec::new();
    for sql in [
        "SELECT wrapped_key AS k FROM blob_objects WHERE scope = $1",
        "SELECT m.body_key AS k FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.key_id = $1",
    ] {
        for row in sqlx::query(sql).bind(key_id).fetch_all(&pool).await.unwrap() {
            let k: Vec<u8> = sqlx::Row::get(&row, "k");
            versions.push(u32::from_be_bytes(k[..4].try_into().unwrap()));
        }
    }
    pool.close().await;
    versions
}
