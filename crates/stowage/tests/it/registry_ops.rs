//! The base endpoint, health, readiness, metrics, admin commands and shutdown.

use crate::support::*;

#[tokio::test]
async fn base_health_ready_metrics() {
    let s = TestServer::start().await;
    let r = s.get("/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");
    assert_eq!(s.get("/healthz").send().await.unwrap().status(), 200);
    assert_eq!(s.get("/readyz").send().await.unwrap().status(), 200);
    s.create_repo("app");
    s.push_blob("app", &bytes(9, 12345)).await;
    let open = s.post("/v2/app/blobs/uploads/").send().await.unwrap();
    assert_eq!(open.status(), 202);
    let text = s.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"stowage_http_requests_total{endpoint="StartUpload",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains("stowage_bytes_received_total 12345"), "{text}");
    assert!(text.contains("stowage_uploads_in_progress 1"), "{text}");
    assert!(
        text.contains(r#"stowage_http_request_duration_seconds_count{endpoint="StartUpload"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_fails_when_storage_is_gone() {
    let s = TestServer::start().await;
    std::fs::remove_dir_all(s.data_dir.join("uploads")).unwrap();
    let r = s.get("/readyz").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("storage"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_oci_form() {
    let s = TestServer::start().await;
    s.create_repo("app");
    let r = s.get("/v2/app/whatever/x").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    let r = s.post("/v2/app/manifests/latest").send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

#[tokio::test]
async fn admin_repo_create_validates_and_refuses_duplicates() {
    let s = TestServer::start().await;
    s.create_repo("team/app");
    let out = s.admin(&["repo", "create", "team/app"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = s.admin(&["repo", "create", "../evil"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid repository name"));
    assert!(!s.data_dir.join("../evil").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_upload() {
    let mut s = TestServer::start().await;
    s.create_repo("app");
    let data = bytes(10, 8 * 1024 * 1024);
    let d = digest(&data);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
        .chunks(256 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    // A slow body: the server is told to stop while it is still arriving.
    let slow = futures::StreamExt::then(futures::stream::iter(chunks), |c| async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c
    });
    let url = s.url(&format!("/v2/app/blobs/uploads/?digest={d}"));
    let client = s.http.clone();
    let push = tokio::spawn(async move { client.post(url).body(reqwest::Body::wrap_stream(slow)).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    s.stop();
    let resp = push.await.unwrap().expect("in-flight request completes");
    assert_eq!(resp.status(), 201);
    s.restart();
    let back = s
        .get(&format!("/v2/app/blobs/{d}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(back == data);
}

#[tokio::test]
async fn config_file_and_environment_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("stowage.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\naccount_id = \"111122223333\"\n",
            dir.path().join("d").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["repo", "create", "fromfile", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("111122223333"));
    assert!(dir.path().join("d/stowage.db").exists());
    let out = std::process::Command::new(BIN)
        .args(["repo", "create", "fromenv"])
        .env("STOWAGE_DATA_DIR", dir.path().join("e"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("e/stowage.db").exists());
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "no_such_key = 1\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["repo", "create", "x1", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
}

#[tokio::test]
async fn registry_requires_a_valid_login() {
    let s = TestServer::start().await;
    s.create_repo("app");
    for path in ["/v2/", "/v2/app/tags/list", "/v2/_catalog"] {
        let r = s.anon.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");
        assert_eq!(
            r.headers()["www-authenticate"],
            format!("Basic realm=\"http://{}/\",service=\"ecr.amazonaws.com\"", s.host()).as_str()
        );
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(r.text().await.unwrap(), "Not Authorized\n");
    }
    let forged = authenticated_client(&format!("{}x", s.password));
    assert_eq!(forged.get(s.url("/v2/")).send().await.unwrap().status(), 401);
    let ok = s.get("/v2/").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "{}");
    // curl users send the raw authorizationToken as the Basic credentials: the same bytes.
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", s.password));
    let r = s
        .anon
        .get(s.url("/v2/"))
        .header("authorization", format!("Basic {raw}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Wrong user name.
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("root:{}", s.password));
    let r = s
        .anon
        .get(s.url("/v2/"))
        .header("authorization", format!("Basic {wrong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn rotating_the_token_key_voids_issued_passwords() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/v2/").send().await.unwrap().status(), 200);
    let out = s.admin(&["admin", "rotate-token-key"]);
    assert!(out.status.success());
    // Every node re-reads the key within two seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    loop {
        let status = s.get("/v2/").send().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "old password still accepted");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let fresh = authenticated_client(&s.login_password("admin"));
    assert_eq!(fresh.get(s.url("/v2/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn first_start_writes_admin_credentials_once() {
    let mut s = TestServer::start().await;
    let path = s.data_dir.join("credentials");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("[default]\naws_access_key_id = AKIA"), "{text}");
    assert!(text.contains("aws_secret_access_key = "));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    s.restart();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[tokio::test]
async fn expired_password_is_denied_in_ecr_words() {
    let s = TestServer::start().await;
    let out = s.admin(&["admin", "get-login-password", "--lifetime-seconds", "1"]);
    assert!(out.status.success());
    let short = authenticated_client(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(short.get(s.url("/v2/")).send().await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = short.get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert_eq!(
        body["errors"][0]["message"],
        "Your authorization token has expired. Reauthenticate and try again."
    );
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let s = TestServer::start().await;
    let creds = std::fs::read_to_string(s.data_dir.join("credentials")).unwrap();
    let secret = creds
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .unwrap()
        .to_string();
    s.create_repo("app");
    s.push_blob("app", b"x").await;
    // The log reaches the harness through a pipe: wait for the push's line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.log().contains("\"StartUpload\"") {
        assert!(std::time::Instant::now() < deadline, "the log is not captured");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = s.log();
    assert!(!log.contains(&secret), "the secret access key was logged");
    assert!(!log.contains(&s.password), "a login password was logged");
}
