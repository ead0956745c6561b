//! Blob reads, ranges, per-repository visibility, deletes.

use crate::support::*;

both_dbs! {
    async fn blob_get_head_and_ranges(s: TestServer) {
        s.create_repo("app");
        let data = bytes(1, 100_000);
        let d = s.push_blob("app", &data).await;

        let head = s.head(&format!("/v2/app/blobs/{d}")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-length"], "100000");
        assert_eq!(head.headers()["docker-content-digest"], d.as_str());

        let got = s.get(&format!("/v2/app/blobs/{d}")).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().as_ref(), &data[..]);

        let part = s.get(&format!("/v2/app/blobs/{d}")).header("range", "bytes=10-19").send().await.unwrap();
        assert_eq!(part.status(), 206);
        assert_eq!(part.headers()["content-range"], "bytes 10-19/100000");
        assert_eq!(part.headers()["content-length"], "10");
        assert_eq!(part.bytes().await.unwrap().as_ref(), &data[10..20]);

        let tail = s.get(&format!("/v2/app/blobs/{d}")).header("range", "bytes=99990-").send().await.unwrap();
        assert_eq!(tail.status(), 206);
        assert_eq!(tail.bytes().await.unwrap().as_ref(), &data[99990..]);

        let bad = s.get(&format!("/v2/app/blobs/{d}")).header("range", "bytes=100000-").send().await.unwrap();
        assert_eq!(bad.status(), 416);
        assert_eq!(bad.headers()["content-range"], "bytes */100000");
    }
}

both_dbs! {
    async fn blobs_are_visible_only_where_linked(s: TestServer) {
        s.create_repo("one");
        s.create_repo("two");
        let d = s.push_blob("one", b"private layer").await;
        let other = s.get(&format!("/v2/two/blobs/{d}")).send().await.unwrap();
        assert_eq!(other.status(), 404);
        assert_eq!(error_code(other).await, "BLOB_UNKNOWN");
        let head = s.head(&format!("/v2/two/blobs/{d}")).send().await.unwrap();
        assert_eq!(head.status(), 404);
        // Pushing the same bytes to the second repository links the stored blob there too.
        assert_eq!(s.push_blob("two", b"private layer").await, d);
        assert_eq!(s.get(&format!("/v2/two/blobs/{d}")).send().await.unwrap().status(), 200);
    }
}

both_dbs! {
    async fn blob_errors(s: TestServer) {
        s.create_repo("app");
        let missing = digest(b"never pushed");
        let r = s.get(&format!("/v2/app/blobs/{missing}")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
        let r = s.get("/v2/app/blobs/sha256:xyz").send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
        let r = s.get(&format!("/v2/nosuch/blobs/{missing}")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "NAME_UNKNOWN");
        let r = s.get(&format!("/v2/a/.hidden/blobs/{missing}")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "NAME_INVALID");
        let r = s.get(&format!("/v2/Bad_Name/blobs/{missing}")).send().await.unwrap();
        assert_eq!(error_code(r).await, "NAME_INVALID");
    }
}

both_dbs! {
    async fn blob_delete_unlinks_unless_referenced(s: TestServer) {
        s.create_repo("app");
        let loose = s.push_blob("app", b"loose").await;
        let r = s.delete(&format!("/v2/app/blobs/{loose}")).send().await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(s.head(&format!("/v2/app/blobs/{loose}")).send().await.unwrap().status(), 404);
        let r = s.delete(&format!("/v2/app/blobs/{loose}")).send().await.unwrap();
        assert_eq!(error_code(r).await, "BLOB_UNKNOWN");

        let layer = b"used layer";
        s.push_image("app", "v1", layer).await;
        let r = s.delete(&format!("/v2/app/blobs/{}", digest(layer))).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(r).await, "DENIED");
    }
}
