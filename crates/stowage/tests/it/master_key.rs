//! `stowage admin rotate-master-key`: everything the master key seals (key
//! material, access-key secrets, session tokens, the start check) is re-sealed,
//! the old key is refused afterwards, and a rotation stopped between its
//! database commit and its rename is finished by the next start.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use stowage_core::sigv4::Credentials;

use crate::aws_cli::{Cli, Keys};
use crate::kms::{at, create_key};
use crate::support::*;

const WRONG_KEY_MESSAGE: &str = "the master key does not match the one this registry was created with";
const FINISHED_MESSAGE: &str = "finished an interrupted master key rotation";

fn describe(out: &std::process::Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `stowage serve` on the server's data dir and database with `extra` flags,
/// expected to exit with an error; returns what it wrote to stderr.
fn serve_refused_on(s: &TestServer, extra: &[&str]) -> String {
    let mut args = server_args(s);
    args.extend(extra.iter().map(|a| a.to_string()));
    serve_refused(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `stowage admin rotate-master-key` with extra args; must succeed. Returns stderr.
fn rotate(s: &TestServer, extra: &[&str]) -> String {
    let args: Vec<&str> = ["admin", "rotate-master-key"].iter().chain(extra).copied().collect();
    let out = s.admin(&args);
    assert!(out.status.success(), "rotate-master-key: {}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("master key rotated"), "{stderr}");
    stderr
}

/// Calls an ECR operation signed with `creds`; returns status and JSON body.
async fn ecr_as(s: &TestServer, creds: &Credentials, operation: &str, input: Value) -> (u16, Value) {
    let body = input.to_string();
    let headers = vec![
        ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
        ("host".to_string(), s.host()),
        (
            "x-amz-target".to_string(),
            format!("AmazonEC2ContainerRegistry_V20150921.{operation}"),
        ),
    ];
    let req = stowage_core::sigv4::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let extra = stowage_core::sigv4::sign(&req, creds, "us-east-1", "ecr", now);
    let mut builder = s.anon.post(s.url("/"));
    for (k, v) in headers.iter().chain(extra.iter()).filter(|(k, _)| k != "host") {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let resp = builder.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Temporary credentials (ASIA… with a session token) of the admin user.
fn session_credentials(s: &TestServer) -> Credentials {
    let out = s.admin(&["admin", "create-access-key", "--session-seconds", "3600"]);
    assert!(out.status.success(), "create-access-key: {}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Credentials {
        access_key_id: at(&v, "/AccessKeyId").to_string(),
        secret_access_key: at(&v, "/SecretAccessKey").to_string(),
        session_token: Some(at(&v, "/SessionToken").to_string()),
    }
}

/// A KMS key, a repository encrypted with it, and an image pushed there;
/// returns the key id and the image's manifest and layer.
async fn kms_image(s: &TestServer, repo: &str) -> (String, Vec<u8>, Vec<u8>) {
    let (aws, admin) = (Cli::new(s), Keys::admin(s));
    let key_id = at(&create_key(&aws, &admin, "sealed by the master key").await, "/KeyId").to_string();
    let (status, body) = s
        .ecr(
            "CreateRepository",
            json!({"repositoryName": repo, "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": key_id}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let layer = bytes(7, 300_000);
    let (manifest, _) = s.push_image(repo, "v1", &layer).await;
    (key_id, manifest, layer)
}

/// The image pushed by [`kms_image`] pulls back byte for byte.
async fn assert_pulls(s: &TestServer, repo: &str, manifest: &[u8], layer: &[u8]) {
    let r = s
        .get(&format!("/v2/{repo}/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), manifest);
    let r = s
        .get(&format!("/v2/{repo}/blobs/{}", digest(layer)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), layer);
}

/// `aws kms encrypt` of `plaintext` under `key_id`: the ciphertext, base64.
async fn kms_encrypt(s: &TestServer, key_id: &str, plaintext: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, plaintext).unwrap();
    let v = Cli::new(s)
        .ok(
            &Keys::admin(s),
            &[
                "kms",
                "encrypt",
                "--key-id",
                key_id,
                "--plaintext",
                &format!("fileb://{}", file.display()),
            ],
        )
        .await;
    at(&v, "/CiphertextBlob").to_string()
}

/// `aws kms decrypt` of a base64 ciphertext: the plaintext.
async fn kms_decrypt(s: &TestServer, ciphertext: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob");
    std::fs::write(&file, STANDARD.decode(ciphertext).unwrap()).unwrap();
    let v = Cli::new(s)
        .ok(
            &Keys::admin(s),
            &[
                "kms",
                "decrypt",
                "--ciphertext-blob",
                &format!("fileb://{}", file.display()),
            ],
        )
        .await;
    STANDARD.decode(at(&v, "/Plaintext")).unwrap()
}

fn assert_private_key_file(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let key = read(path);
    assert!(
        key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: {key:?}",
        path.display()
    );
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

both_dbs!(
    async fn a_rotation_reseals_every_secret_and_the_old_key_is_refused(s: TestServer) {
        let mut s = s;
        let (key_id, manifest, layer) = kms_image(&s, "sealed/app").await;
        let ciphertext = kms_encrypt(&s, &key_id, b"encrypted before the rotation").await;
        let session = session_credentials(&s);
        assert_eq!(ecr_as(&s, &session, "DescribeRepositories", json!({})).await.0, 200);
        // A registry password issued before: the token key it is signed with is re-sealed, not replaced.
        let issued = s.login_password("admin");

        s.stop();
        let master = s.data_dir.join("master.key");
        let old = read(&master);
        let out = rotate(&s, &[]);
        assert!(out.contains("re-sealed"), "{out}");
        let new = read(&master);
        assert_ne!(new, old, "master.key did not change");
        assert_private_key_file(&master);
        assert!(!s.data_dir.join("master.key.next").exists());

        s.restart();
        assert_pulls(&s, "sealed/app", &manifest, &layer).await;
        let (status, body) = s.ecr("DescribeRepositories", json!({})).await;
        assert_eq!(status, 200, "the admin's access key no longer signs: {body}");
        let (status, body) = ecr_as(&s, &session, "DescribeRepositories", json!({})).await;
        assert_eq!(status, 200, "the session credentials no longer sign: {body}");
        assert_eq!(kms_decrypt(&s, &ciphertext).await, b"encrypted before the rotation");
        let r = authenticated_client(&issued).get(s.url("/v2/")).send().await.unwrap();
        assert_eq!(
            r.status(),
            200,
            "a password issued before the rotation no longer verifies"
        );
        let after = kms_encrypt(&s, &key_id, b"encrypted after").await;
        assert_eq!(kms_decrypt(&s, &after).await, b"encrypted after");

        // The old key is refused, from master.key or from a file of its own.
        s.stop();
        std::fs::write(&master, &old).unwrap();
        let err = serve_refused_on(&s, &[]);
        assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
        let old_file = s.data_dir.join("old.key");
        std::fs::write(&old_file, &old).unwrap();
        let err = serve_refused_on(&s, &["--master-key-file", old_file.to_str().unwrap()]);
        assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");

        std::fs::write(&master, &new).unwrap();
        s.restart();
        assert_pulls(&s, "sealed/app", &manifest, &layer).await;
    }
);

both_dbs!(
    async fn a_rotation_stopped_after_its_commit_is_finished_at_start(s: TestServer) {
        let mut s = s;
        let (key_id, manifest, layer) = kms_image(&s, "sealed/app").await;
        let ciphertext = kms_encrypt(&s, &key_id, b"crash test").await;
        s.stop();
        let (master, next) = (s.data_dir.join("master.key"), s.data_dir.join("master.key.next"));
        let old = read(&master);

        // A key prepared by the operator is read from --new-key-file.
        let scratch = tempfile::tempdir().unwrap();
        let given = scratch.path().join("new.key");
        let new = "5a".repeat(32);
        std::fs::write(&given, &new).unwrap();
        rotate(&s, &["--new-key-file", given.to_str().unwrap()]);
        assert_eq!(read(&master), new);

        // The state a crash between the commit and the rename leaves: the
        // database sealed with the new key, still in master.key.next.
        std::fs::write(&master, &old).unwrap();
        std::fs::write(&next, &new).unwrap();
        s.restart();
        assert!(s.log().contains(FINISHED_MESSAGE), "{}", s.log());
        assert_eq!(read(&master), new);
        assert!(!next.exists(), "master.key.next is still there");
        assert_pulls(&s, "sealed/app", &manifest, &layer).await;
        assert_eq!(kms_decrypt(&s, &ciphertext).await, b"crash test");

        // A crash before the commit leaves a master.key.next the database was
        // never sealed with: starts ignore it, and the next rotation replaces it.
        s.stop();
        std::fs::write(&next, "77".repeat(32)).unwrap();
        s.restart();
        assert_eq!(s.log().matches(FINISHED_MESSAGE).count(), 1, "{}", s.log());
        assert_eq!(read(&master), new);
        assert!(next.exists(), "a stale master.key.next is left alone");
        assert_eq!(s.ecr("DescribeRepositories", json!({})).await.0, 200);
        s.stop();
        rotate(&s, &[]);
        let newest = read(&master);
        assert!(newest != new && newest != "77".repeat(32), "{newest}");
        assert!(!next.exists());
        s.restart();
        assert_pulls(&s, "sealed/app", &manifest, &layer).await;
        assert_eq!(kms_decrypt(&s, &ciphertext).await, b"crash test");
    }
);

/// A configured key (master_key_file) is never rewritten: the new key goes to
/// --new-key-file, which the rotation then requires.
#[tokio::test]
async fn a_configured_key_is_rotated_into_the_named_file() {
    let mut s = TestServer::start().await;
    let (_, manifest, layer) = kms_image(&s, "sealed/app").await;
    s.stop();
    let scratch = tempfile::tempdir().unwrap();
    let configured = scratch.path().join("configured.key");
    std::fs::rename(s.data_dir.join("master.key"), &configured).unwrap();
    let old = read(&configured);
    let key_flag = ["--master-key-file", configured.to_str().unwrap()];

    let out = s.admin(&[&["admin", "rotate-master-key"][..], &key_flag[..]].concat());
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--new-key-file"),
        "{}",
        describe(&out)
    );

    let new_file = scratch.path().join("new.key");
    let out = rotate(
        &s,
        &[&key_flag[..], &["--new-key-file", new_file.to_str().unwrap()]].concat(),
    );
    assert!(out.contains("set master_key_file"), "{out}");
    assert_private_key_file(&new_file);
    assert_eq!(read(&configured), old, "the configured key file was rewritten");
    assert!(!s.data_dir.join("master.key").exists());
    assert!(!s.data_dir.join("master.key.next").exists());

    let err = serve_refused_on(&s, &key_flag);
    assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
    let out = s.admin(&[
        "admin",
        "get-login-password",
        "--master-key-file",
        new_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));

    // The data dir's master.key takes the new key, and the server starts with it.
    std::fs::copy(&new_file, s.data_dir.join("master.key")).unwrap();
    s.restart();
    assert_pulls(&s, "sealed/app", &manifest, &layer).await;
}
