//! Manifests of every accepted type, tags, referrers, listings and validation.

use crate::support::*;

async fn put_manifest(s: &TestServer, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> reqwest::Response {
    s.put(&format!("/v2/{repo}/manifests/{reference}"))
        .header("content-type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

both_dbs! {
    async fn every_manifest_type_round_trips_byte_exact(s: TestServer) {
        s.create_repo("multi");
        let config = br#"{"architecture":"arm64","os":"linux"}"#;
        let c = s.push_blob("multi", config).await;
        let l = s.push_blob("multi", b"layer bytes").await;
        // Docker schema 2, with unusual whitespace that must survive byte for byte.
        let docker = format!(
            "{{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"{DOCKER_MANIFEST}\",\n  \"config\": {{\"mediaType\": \"application/vnd.docker.container.image.v1+json\", \"size\": {}, \"digest\": \"{c}\"}},\n  \"layers\": [{{\"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": 11, \"digest\": \"{l}\"}}]\n}}\n",
            config.len()
        );
        let oci = String::from_utf8(image_manifest(&c, config.len(), &l, 11)).unwrap();
        let cases = [(DOCKER_MANIFEST, docker.clone(), "docker"), (OCI_MANIFEST, oci.clone(), "oci")];
        for (mt, body, tag) in &cases {
            let r = put_manifest(&s, "multi", tag, mt, body.as_bytes()).await;
            assert_eq!(r.status(), 201, "{mt}");
            let d = digest(body.as_bytes());
            assert_eq!(r.headers()["docker-content-digest"], d.as_str());
            assert_eq!(r.headers()["location"], format!("/v2/multi/manifests/{d}").as_str());
        }
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
            digest(docker.as_bytes()), docker.len()
        );
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
            digest(oci.as_bytes()), oci.len()
        );
        for (mt, body, tag) in [(DOCKER_LIST, &list, "list"), (OCI_INDEX, &index, "index")] {
            assert_eq!(put_manifest(&s, "multi", tag, mt, body.as_bytes()).await.status(), 201, "{mt}");
        }
        for (mt, body, tag) in [
            (DOCKER_MANIFEST, &docker, "docker"), (OCI_MANIFEST, &oci, "oci"),
            (DOCKER_LIST, &list, "list"), (OCI_INDEX, &index, "index"),
        ] {
            let d = digest(body.as_bytes());
            for reference in [tag.to_string(), d.clone()] {
                let r = s.get(&format!("/v2/multi/manifests/{reference}")).header("accept", mt).send().await.unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(r.headers()["content-type"], mt);
                assert_eq!(r.headers()["docker-content-digest"], d.as_str());
                assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_bytes());
                let h = s.head(&format!("/v2/multi/manifests/{reference}")).send().await.unwrap();
                assert_eq!(h.status(), 200);
                assert_eq!(h.headers()["content-length"], body.len().to_string().as_str());
                assert_eq!(h.headers()["docker-content-digest"], d.as_str());
            }
        }
        // A client that accepts only schema 2 does not get an OCI index.
        let r = s.get("/v2/multi/manifests/index").header("accept", DOCKER_MANIFEST).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    }
}

both_dbs! {
    async fn manifest_validation_errors(s: TestServer) {
        s.create_repo("app");
        let c = s.push_blob("app", b"{}").await;
        let missing = digest(b"not uploaded");
        let r = put_manifest(&s, "app", "v1", OCI_MANIFEST, &image_manifest(&c, 2, &missing, 3)).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

        let index = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{missing}","size":3}}]}}"#);
        let r = put_manifest(&s, "app", "idx", OCI_INDEX, index.as_bytes()).await;
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");

        let r = put_manifest(&s, "app", "v1", "application/vnd.example.unknown+json", br#"{"schemaVersion":2,"mediaType":"application/vnd.example.unknown+json"}"#).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
        let r = put_manifest(&s, "app", "v1", OCI_MANIFEST, b"{not json").await;
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
        let r = put_manifest(&s, "app", "v1", "application/vnd.docker.distribution.manifest.v1+prettyjws", br#"{"schemaVersion":1,"fsLayers":[]}"#).await;
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");

        let l = s.push_blob("app", b"abc").await;
        let good = image_manifest(&c, 2, &l, 3);
        let r = put_manifest(&s, "app", &digest(b"other"), OCI_MANIFEST, &good).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");

        let huge = vec![b' '; 4 * 1024 * 1024 + 1];
        let r = put_manifest(&s, "app", "big", OCI_MANIFEST, &huge).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "SIZE_INVALID");

        let r = put_manifest(&s, "app", "bad:tag:x", OCI_MANIFEST, &good).await;
        assert_eq!(r.status(), 400);
        let r = put_manifest(&s, "app", ".bad", OCI_MANIFEST, &good).await;
        assert_eq!(error_code(r).await, "TAG_INVALID");

        let r = put_manifest(&s, "nosuch", "v1", OCI_MANIFEST, &good).await;
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "NAME_UNKNOWN");

        let r = s.get("/v2/app/manifests/nope").send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        let r = s.get(&format!("/v2/app/manifests/{missing}")).send().await.unwrap();
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        // A manifest pushed by digest is not reachable by some tag.
        assert_eq!(put_manifest(&s, "app", &digest(&good), OCI_MANIFEST, &good).await.status(), 201);
        let r = s.get("/v2/app/tags/list").send().await.unwrap().json::<serde_json::Value>().await.unwrap();
        assert_eq!(r["tags"], serde_json::json!([]));
    }
}

both_dbs! {
    async fn delete_by_digest_and_by_tag(s: TestServer) {
        s.create_repo("app");
        let (_, d) = s.push_image("app", "v1", b"layer one").await;
        let r = put_manifest(&s, "app", "v2", OCI_MANIFEST, &s.get(&format!("/v2/app/manifests/{d}")).send().await.unwrap().bytes().await.unwrap()).await;
        assert_eq!(r.status(), 201);
        // Deleting a tag leaves the manifest and its other tags.
        assert_eq!(s.delete("/v2/app/manifests/v1").send().await.unwrap().status(), 202);
        assert_eq!(s.get("/v2/app/manifests/v1").send().await.unwrap().status(), 404);
        assert_eq!(s.get("/v2/app/manifests/v2").send().await.unwrap().status(), 200);
        // Deleting by digest takes every tag with it.
        assert_eq!(s.delete(&format!("/v2/app/manifests/{d}")).send().await.unwrap().status(), 202);
        assert_eq!(s.get("/v2/app/manifests/v2").send().await.unwrap().status(), 404);
        let r = s.delete(&format!("/v2/app/manifests/{d}")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    }
}

both_dbs! {
    async fn index_children_cannot_be_deleted_first(s: TestServer) {
        s.create_repo("app");
        let (m, d) = s.push_image("app", "amd64", b"layer").await;
        let index = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{}}}]}}"#, m.len());
        assert_eq!(put_manifest(&s, "app", "latest", OCI_INDEX, index.as_bytes()).await.status(), 201);
        let r = s.delete(&format!("/v2/app/manifests/{d}")).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(r).await, "DENIED");
        assert_eq!(s.delete(&format!("/v2/app/manifests/{}", digest(index.as_bytes()))).send().await.unwrap().status(), 202);
        assert_eq!(s.delete(&format!("/v2/app/manifests/{d}")).send().await.unwrap().status(), 202);
    }
}

both_dbs! {
    async fn referrers_with_artifact_type_filter(s: TestServer) {
        s.create_repo("app");
        let (_, subject) = s.push_image("app", "v1", b"layer").await;
        let empty = s.push_blob("app", b"{}").await;
        let mut pushed = Vec::new();
        for (i, at) in ["application/vnd.example.sbom", "application/vnd.example.sig"].iter().enumerate() {
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{at}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":10}},"annotations":{{"n":"{i}"}}}}"#
            );
            let d = digest(body.as_bytes());
            let r = put_manifest(&s, "app", &d, OCI_MANIFEST, body.as_bytes()).await;
            assert_eq!(r.status(), 201);
            assert_eq!(r.headers()["oci-subject"], subject.as_str());
            pushed.push((d, body.len()));
        }
        let r = s.get(&format!("/v2/app/referrers/{subject}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], OCI_INDEX);
        assert!(!r.headers().contains_key("oci-filters-applied"));
        let idx: serde_json::Value = r.json().await.unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
        for m in idx["manifests"].as_array().unwrap() {
            let (_, size) = pushed.iter().find(|(d, _)| d == m["digest"].as_str().unwrap()).unwrap();
            assert_eq!(m["size"], *size);
            assert_eq!(m["mediaType"], OCI_MANIFEST);
        }
        let r = s.get(&format!("/v2/app/referrers/{subject}?artifactType=application/vnd.example.sig")).send().await.unwrap();
        assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
        let idx: serde_json::Value = r.json().await.unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(idx["manifests"][0]["artifactType"], "application/vnd.example.sig");
        assert_eq!(idx["manifests"][0]["annotations"]["n"], "1");
        // No referrers: an empty index, never 404.
        let r = s.get(&format!("/v2/app/referrers/{}", digest(b"x"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["manifests"], serde_json::json!([]));
        let r = s.get("/v2/app/referrers/sha256:zz").send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
}

both_dbs! {
    async fn tags_and_catalog_paginate_with_link(s: TestServer) {
        for name in ["zeta", "alpha", "mid/app"] {
            s.create_repo(name);
        }
        let (m, _) = s.push_image("alpha", "t0", b"l").await;
        for t in ["b", "a", "d", "c", "e"] {
            assert_eq!(put_manifest(&s, "alpha", t, OCI_MANIFEST, &m).await.status(), 201);
        }
        let mut all = Vec::new();
        let mut next = Some("/v2/alpha/tags/list?n=2".to_string());
        let mut pages = 0;
        while let Some(path) = next {
            let r = s.get(&path).send().await.unwrap();
            next = r.headers().get("link").map(|l| {
                let l = l.to_str().unwrap();
                assert!(l.ends_with("rel=\"next\""), "{l}");
                l[1..l.find('>').unwrap()].to_string()
            });
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["name"], "alpha");
            all.extend(body["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()));
            pages += 1;
        }
        assert_eq!(all, ["a", "b", "c", "d", "e", "t0"]);
        assert_eq!(pages, 3);
        let body: serde_json::Value = s.get("/v2/alpha/tags/list?n=2&last=c").send().await.unwrap().json().await.unwrap();
        assert_eq!(body["tags"], serde_json::json!(["d", "e"]));

        let r = s.get("/v2/_catalog?n=2").send().await.unwrap();
        assert_eq!(r.headers()["link"], "</v2/_catalog?n=2&last=mid%2Fapp>; rel=\"next\"");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["repositories"], serde_json::json!(["alpha", "mid/app"]));
        let r = s.get("/v2/_catalog?n=2&last=mid%2Fapp").send().await.unwrap();
        assert!(!r.headers().contains_key("link"));
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["repositories"], serde_json::json!(["zeta"]));
    }
}

both_dbs! {
    async fn immutable_tags_refuse_overwrite(s: TestServer) {
        let out = s.admin(&["repo", "create", "frozen", "--image-tag-mutability", "IMMUTABLE"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        s.push_image("frozen", "v1", b"first").await;
        let c = s.push_blob("frozen", br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#).await;
        let l = s.push_blob("frozen", b"second").await;
        let other = image_manifest(&c, 79, &l, 6);
        let r = put_manifest(&s, "frozen", "v1", OCI_MANIFEST, &other).await;
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "TAG_INVALID");
        assert_eq!(
            body["errors"][0]["message"],
            "The image tag 'v1' already exists in the 'frozen' repository and cannot be overwritten because the tag is immutable."
        );
        // New tags and untagged pushes still work.
        assert_eq!(put_manifest(&s, "frozen", "v2", OCI_MANIFEST, &other).await.status(), 201);
    }
}

both_dbs! {
    /// ListImages pages over image ids: an image with three tags fills three slots.
    async fn list_images_max_results_counts_ids(s: TestServer) {
        s.create_repo("maxres");
        let (m, _) = s.push_image("maxres", "a", b"layer").await;
        for t in ["b", "c"] {
            assert_eq!(put_manifest(&s, "maxres", t, OCI_MANIFEST, &m).await.status(), 201);
        }
        let (status, page1) = s.ecr("ListImages", serde_json::json!({"repositoryName": "maxres", "maxResults": 2})).await;
        assert_eq!(status, 200, "{page1}");
        assert_eq!(page1["imageIds"].as_array().unwrap().len(), 2);
        let token = page1["nextToken"].as_str().expect("a second page").to_string();
        let (_, page2) = s
            .ecr("ListImages", serde_json::json!({"repositoryName": "maxres", "maxResults": 2, "nextToken": token}))
            .await;
        assert_eq!(page2["imageIds"].as_array().unwrap().len(), 1);
        assert!(page2.get("nextToken").is_none());
        let tags: Vec<&str> = page1["imageIds"].as_array().unwrap().iter()
            .chain(page2["imageIds"].as_array().unwrap())
            .map(|i| i["imageTag"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["a", "b", "c"]);
    }
}

both_dbs! {
    /// Tag reads are cached briefly, but never past a change made through this server.
    async fn a_moved_or_deleted_tag_is_seen_at_once(s: TestServer) {
        s.create_repo("hot");
        let (_, first) = s.push_image("hot", "latest", b"one").await;
        let got = s.get("/v2/hot/manifests/latest").send().await.unwrap();
        assert_eq!(got.headers()["docker-content-digest"], first.as_str());
        let (_, second) = s.push_image("hot", "latest", b"two").await;
        let got = s.get("/v2/hot/manifests/latest").send().await.unwrap();
        assert_eq!(got.headers()["docker-content-digest"], second.as_str());
        let (status, body) = s
            .ecr("BatchDeleteImage", serde_json::json!({"repositoryName": "hot", "imageIds": [{"imageTag": "latest"}]}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(s.get("/v2/hot/manifests/latest").send().await.unwrap().status(), 404);
        s.push_image("hot", "latest", b"three").await;
        assert_eq!(s.delete("/v2/hot/manifests/latest").send().await.unwrap().status(), 202);
        assert_eq!(s.get("/v2/hot/manifests/latest").send().await.unwrap().status(), 404);
    }
}

/// Two nodes on one PostgreSQL database: a push through a node that still has
/// the repository cached, right after another node deleted it, answers
/// NAME_UNKNOWN rather than a server error.
#[tokio::test]
async fn push_into_a_repository_deleted_on_another_node_is_name_unknown() {
    let db = Db::postgres().await;
    let a = TestServer::start_with(db.clone()).await;
    let b = TestServer::start_with(db).await;
    a.create_repo("gone");
    let (manifest, _) = a.push_image("gone", "v1", b"layer").await;
    // Node B looks the repository up, and keeps it for a second.
    assert_eq!(b.get("/v2/gone/tags/list").send().await.unwrap().status(), 200);
    let (status, body) = a
        .ecr(
            "DeleteRepository",
            serde_json::json!({"repositoryName": "gone", "force": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = put_manifest(&b, "gone", "v2", OCI_MANIFEST, &manifest).await;
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("'gone' does not exist"),
        "{body}"
    );
}
