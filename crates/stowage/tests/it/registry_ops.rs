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
