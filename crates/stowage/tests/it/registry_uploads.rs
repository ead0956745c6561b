//! Upload sessions: monolithic, POST+PUT, chunked, streamed, status, cancel,
//! mount, resumption across a restart, concurrency.

use crate::support::*;

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

async fn start(s: &TestServer, repo: &str) -> String {
    let r = s.post(&format!("/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-0");
    assert!(r.headers().contains_key("docker-upload-uuid"));
    location(&r)
}

both_dbs! {
    async fn post_then_put_with_body(s: TestServer) {
        s.create_repo("app");
        let loc = start(&s, "app").await;
        let data = bytes(2, 5000);
        let d = digest(&data);
        let r = s.put(&format!("{loc}?digest={d}")).body(data.clone()).send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(location(&r), format!("/v2/app/blobs/{d}"));
        assert_eq!(s.get(&format!("/v2/app/blobs/{d}")).send().await.unwrap().bytes().await.unwrap(), data);
    }
}

both_dbs! {
    async fn chunked_upload_with_content_range(s: TestServer) {
        s.create_repo("app");
        let loc = start(&s, "app").await;
        let data = bytes(3, 30_000);
        let d = digest(&data);
        let r = s.patch(&loc).header("content-range", "0-9999").header("content-type", "application/octet-stream")
            .body(data[..10_000].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["range"], "0-9999");
        let loc = location(&r);

        // Out of order: 416 with the current range.
        let r = s.patch(&loc).header("content-range", "20000-29999").body(data[20_000..].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 416);
        assert_eq!(r.headers()["range"], "0-9999");
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_INVALID");

        let r = s.patch(&loc).header("content-range", "10000-19999").body(data[10_000..20_000].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 202);
        let status = s.get(&loc).send().await.unwrap();
        assert_eq!(status.status(), 204);
        assert_eq!(status.headers()["range"], "0-19999");

        // The last chunk arrives with the closing PUT.
        let r = s.put(&format!("{loc}?digest={d}")).header("content-range", "20000-29999")
            .body(data[20_000..].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(s.get(&format!("/v2/app/blobs/{d}")).send().await.unwrap().bytes().await.unwrap(), data);
        // The session is gone.
        let r = s.get(&loc).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
}

both_dbs! {
    async fn streamed_patch_without_content_range(s: TestServer) {
        s.create_repo("app");
        let loc = start(&s, "app").await;
        let data = bytes(4, 3 * 1024 * 1024 + 17);
        let d = digest(&data);
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
            data.chunks(64 * 1024).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        let r = s.patch(&loc).body(body).send().await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["range"], format!("0-{}", data.len() - 1).as_str());
        let r = s.put(&format!("{}?digest={d}", location(&r))).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let back = s.get(&format!("/v2/app/blobs/{d}")).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data);
    }
}

both_dbs! {
    async fn digest_mismatch_and_bad_sessions(s: TestServer) {
        s.create_repo("app");
        let loc = start(&s, "app").await;
        let wrong = digest(b"something else");
        let r = s.put(&format!("{loc}?digest={wrong}")).body(b"actual".to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
        assert_eq!(s.head(&format!("/v2/app/blobs/{wrong}")).send().await.unwrap().status(), 404);
        assert_eq!(s.head(&format!("/v2/app/blobs/{}", digest(b"actual"))).send().await.unwrap().status(), 404);

        let loc = start(&s, "app").await;
        let r = s.put(&loc).body(b"x".to_vec()).send().await.unwrap();
        assert_eq!(error_code(r).await, "DIGEST_INVALID");

        // Monolithic with a wrong digest leaves nothing.
        let r = s.post(&format!("/v2/app/blobs/uploads/?digest={wrong}")).body(b"abc".to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");

        for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
            let r = s.patch(&format!("/v2/app/blobs/uploads/{bad}")).body(b"x".to_vec()).send().await.unwrap();
            assert_eq!(r.status(), 404);
            assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
        }
        // A session belongs to its repository.
        s.create_repo("other");
        let loc = start(&s, "app").await;
        let id = loc.rsplit('/').next().unwrap();
        let r = s.get(&format!("/v2/other/blobs/uploads/{id}")).send().await.unwrap();
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
        // Content-Length disagreeing with Content-Range.
        let r = s.patch(&loc).header("content-range", "0-9").body(b"abc".to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "SIZE_INVALID");
    }
}

both_dbs! {
    async fn cancel_upload(s: TestServer) {
        s.create_repo("app");
        let loc = start(&s, "app").await;
        s.patch(&loc).body(b"partial".to_vec()).send().await.unwrap();
        let r = s.delete(&loc).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = s.get(&loc).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let r = s.delete(&loc).send().await.unwrap();
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
}

both_dbs! {
    async fn cross_repository_mount(s: TestServer) {
        s.create_repo("src");
        s.create_repo("dst");
        let d = s.push_blob("src", b"shared base layer").await;
        let r = s.post(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(location(&r), format!("/v2/dst/blobs/{d}"));
        assert_eq!(s.head(&format!("/v2/dst/blobs/{d}")).send().await.unwrap().status(), 200);

        // Unknown blob or source: a fresh session instead.
        let missing = digest(b"nowhere");
        for from in ["src", "nosuch", "BAD"] {
            let r = s.post(&format!("/v2/dst/blobs/uploads/?mount={missing}&from={from}")).send().await.unwrap();
            assert_eq!(r.status(), 202, "from={from}");
            assert!(location(&r).starts_with("/v2/dst/blobs/uploads/"));
        }
    }
}

both_dbs! {
    async fn resumable_upload_survives_restart(s: TestServer) {
        let mut s = s;
        s.create_repo("app");
        let loc = start(&s, "app").await;
        let data = bytes(5, 200_000);
        let r = s.patch(&loc).header("content-range", "0-99999").body(data[..100_000].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 202);
        s.restart();
        let status = s.get(&loc).send().await.unwrap();
        assert_eq!(status.status(), 204);
        assert_eq!(status.headers()["range"], "0-99999");
        let d = digest(&data);
        let r = s.put(&format!("{loc}?digest={d}")).header("content-range", "100000-199999")
            .body(data[100_000..].to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        assert_eq!(s.get(&format!("/v2/app/blobs/{d}")).send().await.unwrap().bytes().await.unwrap(), data);
    }
}

/// A server killed mid-upload (SIGKILL) comes back with the acknowledged part
/// intact and nothing half-written visible.
#[tokio::test]
async fn crash_mid_upload_leaves_store_consistent() {
    let mut s = TestServer::start().await;
    s.create_repo("app");
    let loc = start(&s, "app").await;
    let data = bytes(6, 64 * 1024);
    let r = s.patch(&loc).body(data[..32 * 1024].to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 202);
    s.crash();
    s.restart();
    let d = digest(&data);
    assert_eq!(
        s.head(&format!("/v2/app/blobs/{d}")).send().await.unwrap().status(),
        404
    );
    let r = s
        .put(&format!("{loc}?digest={d}"))
        .body(data[32 * 1024..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        s.get(&format!("/v2/app/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        data
    );
}

both_dbs! {
    async fn concurrent_pushes_of_the_same_blob(s: TestServer) {
        s.create_repo("app");
        s.create_repo("app2");
        let data = bytes(7, 1024 * 1024);
        let d = digest(&data);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let repo = if i % 2 == 0 { "app" } else { "app2" };
            let url = s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}"));
            let (client, data) = (s.http.clone(), data.clone());
            tasks.push(tokio::spawn(async move { client.post(url).body(data).send().await.unwrap().status() }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 201);
        }
        for repo in ["app", "app2"] {
            let back = s.get(&format!("/v2/{repo}/blobs/{d}")).send().await.unwrap().bytes().await.unwrap();
            assert!(back == data);
        }
    }
}

/// With the account's BLOB_MOUNTING setting DISABLED, a mount request opens a
/// fresh session instead, as ECR does.
#[tokio::test]
async fn mount_honours_the_blob_mounting_setting() {
    let s = TestServer::start().await;
    s.create_repo("src");
    s.create_repo("dst");
    let d = s.push_blob("src", b"base layer").await;
    let (status, body) = s
        .ecr(
            "PutAccountSetting",
            serde_json::json!({"name": "BLOB_MOUNTING", "value": "DISABLED"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = s
        .post(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        s.head(&format!("/v2/dst/blobs/{d}")).send().await.unwrap().status(),
        404
    );
    s.ecr(
        "PutAccountSetting",
        serde_json::json!({"name": "BLOB_MOUNTING", "value": "ENABLED"}),
    )
    .await;
    let r = s
        .post(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
