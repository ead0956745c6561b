//! Lifecycle policies end to end: the AWS CLI and boto3 against the policy and
//! preview operations, `stowage lifecycle run` expiring what the preview showed,
//! the scheduled run, and referrers and index children following their image.
//!
//! Images get their push order from being pushed one after another, so the
//! rules here count images (`imageCountMoreThan`); rules in days, and
//! `sinceImagePulled`, are covered by the metadata tests, which set the times.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stowage_core::lifecycle::LifecyclePolicy;

use crate::ecr_cli::Aws;
use crate::support::*;

/// A one-rule-per-line policy from `(priority, selection)` pairs, action expire.
fn policy(rules: &[(u32, Value)]) -> String {
    let rules: Vec<Value> = rules
        .iter()
        .map(|(p, selection)| json!({ "rulePriority": p, "selection": selection, "action": { "type": "expire" } }))
        .collect();
    json!({ "rules": rules }).to_string()
}

fn keep_newest(tag_status: &str, prefixes: &[&str], n: u32) -> Value {
    let mut s = json!({ "tagStatus": tag_status, "countType": "imageCountMoreThan", "countNumber": n });
    if !prefixes.is_empty() {
        s["tagPrefixList"] = json!(prefixes);
    }
    s
}

/// Writes a policy text to a file the AWS CLI reads with `file://`.
fn policy_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    format!("file://{}", path.display())
}

/// Puts a manifest over `/v2/`; returns its digest.
async fn put_manifest(s: &TestServer, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> String {
    let resp = s
        .put(&format!("/v2/{repo}/manifests/{reference}"))
        .header("content-type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "put {reference}: {}", resp.text().await.unwrap());
    // Push times are milliseconds: keep consecutive pushes apart.
    tokio::time::sleep(Duration::from_millis(3)).await;
    digest(body)
}

/// Pushes an image (a shared config and a layer of `layer_len` bytes) under
/// each of `tags`, or by digest when there are none; returns its digest.
async fn image(s: &TestServer, repo: &str, seed: u64, layer_len: usize, tags: &[&str]) -> String {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let c = s.push_blob(repo, config).await;
    let l = s.push_blob(repo, &bytes(seed, layer_len)).await;
    let manifest = image_manifest(&c, config.len(), &l, layer_len);
    let d = digest(&manifest);
    if tags.is_empty() {
        put_manifest(s, repo, &d, OCI_MANIFEST, &manifest).await;
    }
    for t in tags {
        put_manifest(s, repo, t, OCI_MANIFEST, &manifest).await;
    }
    d
}

/// An artifact about `subject` with one layer of `layer_len` bytes; returns its digest.
async fn referrer(s: &TestServer, repo: &str, subject: &str, seed: u64, layer_len: usize) -> String {
    let empty = s.push_blob(repo, b"{}").await;
    let layer = s.push_blob(repo, &bytes(seed, layer_len)).await;
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{layer}","size":{layer_len}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":1}}}}"#
    );
    put_manifest(s, repo, &digest(body.as_bytes()), OCI_MANIFEST, body.as_bytes()).await
}

/// An OCI index of `children` under `tag`; returns its digest.
async fn index(s: &TestServer, repo: &str, children: &[&str], tag: &str) -> String {
    let entries: Vec<String> = children
        .iter()
        .map(|c| format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{c}","size":1}}"#))
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    put_manifest(s, repo, tag, OCI_INDEX, body.as_bytes()).await
}

/// The status of `GET /v2/<repo>/manifests/<digest>`.
async fn manifest_status(s: &TestServer, repo: &str, digest: &str) -> u16 {
    s.get(&format!("/v2/{repo}/manifests/{digest}"))
        .header("accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Runs `stowage lifecycle <args>`; returns its JSON output lines.
fn stowage_lifecycle(s: &TestServer, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["lifecycle"];
    all.extend_from_slice(args);
    let out = s.admin(&all);
    assert!(
        out.status.success(),
        "stowage lifecycle {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The `imageDigest`s of a list of results, in order.
fn digests_of(results: &Value) -> Vec<String> {
    results
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {results}"))
        .iter()
        .map(|r| r["imageDigest"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn policy_round_trip_and_validation_with_the_aws_cli() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);
    let files = tempfile::tempdir().unwrap();
    let created = aws.ok("ecr create-repository --repository-name lc/app").await;
    let account = created["repository"]["registryId"].as_str().unwrap().to_string();
    let not_found = format!(
        "Lifecycle policy does not exist for the repository with name 'lc/app' in the registry with id '{account}'"
    );

    let e = aws
        .fails(
            "ecr get-lifecycle-policy --repository-name lc/app",
            "GetLifecyclePolicy",
            "LifecyclePolicyNotFoundException",
        )
        .await;
    assert_eq!(e.message, not_found);
    aws.fails(
        "ecr start-lifecycle-policy-preview --repository-name lc/app",
        "StartLifecyclePolicyPreview",
        "LifecyclePolicyNotFoundException",
    )
    .await;
    aws.fails(
        "ecr get-lifecycle-policy-preview --repository-name lc/app",
        "GetLifecyclePolicyPreview",
        "LifecyclePolicyPreviewNotFoundException",
    )
    .await;
    aws.fails(
        "ecr get-lifecycle-policy --repository-name lc/nope",
        "GetLifecyclePolicy",
        "RepositoryNotFoundException",
    )
    .await;

    // Stored verbatim, whitespace and all.
    let text = format!(
        "{}\n",
        policy(&[(1, keep_newest("untagged", &[], 5))]).replace(",", ", ")
    );
    let file = policy_file(&files, "p.json", &text);
    let put = aws
        .ok(&format!(
            "ecr put-lifecycle-policy --repository-name lc/app --lifecycle-policy-text {file}"
        ))
        .await;
    assert_eq!(
        put,
        json!({ "registryId": account, "repositoryName": "lc/app", "lifecyclePolicyText": text })
    );
    let got = aws.ok("ecr get-lifecycle-policy --repository-name lc/app").await;
    assert_eq!(got["lifecyclePolicyText"], text.as_str());
    assert!(got.get("lastEvaluatedAt").is_none(), "never evaluated: {got}");

    // Invalid texts: InvalidParameterException with the validator's message.
    let any_first = policy(&[
        (
            1,
            json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}),
        ),
        (2, keep_newest("tagged", &["v"], 1)),
    ]);
    let zero = policy(&[(1, keep_newest("untagged", &[], 0))]);
    let unit = policy(&[(
        1,
        json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1}),
    )]);
    let not_json = format!("{{\"rules\": [{}", "x".repeat(120));
    let cases = [
        (any_first, "tagStatus any must have the highest rulePriority"),
        (
            zero,
            "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
        ),
        (unit, "instance failed to match exactly one schema"),
        (not_json, "Could not map policyString into LifecyclePolicy."),
    ];
    for (i, (bad, fragment)) in cases.iter().enumerate() {
        let want = LifecyclePolicy::parse(bad).expect_err("invalid policy").to_string();
        assert!(
            want.starts_with("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ")
                && want.contains(fragment),
            "{want}"
        );
        let file = policy_file(&files, &format!("bad{i}.json"), bad);
        let e = aws
            .fails(
                &format!("ecr put-lifecycle-policy --repository-name lc/app --lifecycle-policy-text {file}"),
                "PutLifecyclePolicy",
                "InvalidParameterException",
            )
            .await;
        assert_eq!(e.message, want);
    }
    let e = aws
        .fails(
            &format!(
                "ecr start-lifecycle-policy-preview --repository-name lc/app --lifecycle-policy-text {}",
                policy_file(&files, "bad0.json", &cases[0].0)
            ),
            "StartLifecyclePolicyPreview",
            "InvalidParameterException",
        )
        .await;
    assert!(e.message.contains(cases[0].1), "{e:?}");
    // The stored policy is untouched by the rejected ones.
    let got = aws.ok("ecr get-lifecycle-policy --repository-name lc/app").await;
    assert_eq!(got["lifecyclePolicyText"], text.as_str());

    let deleted = aws.ok("ecr delete-lifecycle-policy --repository-name lc/app").await;
    assert_eq!(deleted["lifecyclePolicyText"], text.as_str());
    let e = aws
        .fails(
            "ecr delete-lifecycle-policy --repository-name lc/app",
            "DeleteLifecyclePolicy",
            "LifecyclePolicyNotFoundException",
        )
        .await;
    assert_eq!(e.message, not_found);

    // Deleting a repository drops its policy: a new one of the same name has none.
    aws.ok(&format!(
        "ecr put-lifecycle-policy --repository-name lc/app --lifecycle-policy-text {file}"
    ))
    .await;
    aws.ok("ecr delete-repository --repository-name lc/app --force").await;
    aws.ok("ecr create-repository --repository-name lc/app").await;
    aws.fails(
        "ecr get-lifecycle-policy --repository-name lc/app",
        "GetLifecyclePolicy",
        "LifecyclePolicyNotFoundException",
    )
    .await;
    assert!(stowage_lifecycle(&s, &["run"]).is_empty());
}

/// §4.3 L5 (two tagged rules, the second seeing nothing new) beside L2 (keep
/// the newest untagged image), with real pushes: previewed with the CLI and
/// its waiter, then run with `stowage lifecycle run`.
#[tokio::test]
async fn preview_then_run_expires_exactly_the_previewed_images() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);
    let files = tempfile::tempdir().unwrap();
    let repo = "lc/l5";
    s.create_repo(repo);
    s.create_repo("lc/other");
    // L2: T1 [v1] oldest, then U1, U2, U3 untagged. L5: A [beta-1, prod-1], B [beta-2, prod-2], C [beta-3].
    let t1 = image(&s, repo, 1, 1000, &["v1"]).await;
    let u1 = image(&s, repo, 2, 1100, &[]).await;
    let u2 = image(&s, repo, 3, 1200, &[]).await;
    let u3 = image(&s, repo, 4, 1300, &[]).await;
    let a = image(&s, repo, 5, 1400, &["beta-1", "prod-1"]).await;
    let b = image(&s, repo, 6, 1500, &["beta-2", "prod-2"]).await;
    let c = image(&s, repo, 7, 1600, &["beta-3"]).await;
    // U2's layer is used in another repository too: expiring U2 does not free it.
    image(&s, "lc/other", 3, 1200, &["shared"]).await;

    let text = policy(&[
        (1, keep_newest("tagged", &["beta"], 1)),
        (2, keep_newest("tagged", &["prod"], 1)),
        (3, keep_newest("untagged", &[], 1)),
    ]);
    let file = policy_file(&files, "p.json", &text);
    aws.ok(&format!(
        "ecr put-lifecycle-policy --repository-name {repo} --lifecycle-policy-text {file}"
    ))
    .await;

    let started = aws
        .ok(&format!("ecr start-lifecycle-policy-preview --repository-name {repo}"))
        .await;
    assert_eq!(started["status"], "IN_PROGRESS", "{started}");
    assert_eq!(started["lifecyclePolicyText"], text.as_str());
    aws.fails(
        &format!("ecr start-lifecycle-policy-preview --repository-name {repo}"),
        "StartLifecyclePolicyPreview",
        "LifecyclePolicyPreviewInProgressException",
    )
    .await;
    aws.ok(&format!(
        "ecr wait lifecycle-policy-preview-complete --repository-name {repo}"
    ))
    .await;

    // Page by page (the CLI follows nextToken), oldest first.
    let preview = aws
        .ok(&format!(
            "ecr get-lifecycle-policy-preview --repository-name {repo} --page-size 1"
        ))
        .await;
    assert_eq!(preview["status"], "COMPLETE", "{preview}");
    assert_eq!(preview["summary"]["expiringImageTotalCount"], 4);
    let expected = vec![u1.clone(), u2.clone(), a.clone(), b.clone()];
    assert_eq!(digests_of(&preview["previewResults"]), expected);
    let first_a = &preview["previewResults"][2];
    assert_eq!(first_a["imageTags"], json!(["beta-1", "prod-1"]));
    assert_eq!(first_a["action"], json!({ "type": "EXPIRE" }));
    assert_eq!(first_a["appliedRulePriority"], 1);
    assert_eq!(preview["previewResults"][0]["appliedRulePriority"], 3);
    assert!(preview["previewResults"][0].get("imageTags").is_none());
    let pushed = first_a["imagePushedAt"]
        .as_f64()
        .expect("imagePushedAt in epoch seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - pushed).abs() < 300.0, "imagePushedAt {pushed}");
    let untagged = aws
        .ok(&format!(
            "ecr get-lifecycle-policy-preview --repository-name {repo} --filter tagStatus=UNTAGGED"
        ))
        .await;
    assert_eq!(digests_of(&untagged["previewResults"]), vec![u1.clone(), u2.clone()]);
    let by_tag = aws
        .ok(&format!(
            "ecr get-lifecycle-policy-preview --repository-name {repo} --image-ids imageTag=prod-2 imageTag=v1"
        ))
        .await;
    assert_eq!(digests_of(&by_tag["previewResults"]), vec![b.clone()]);

    // The raw answer carries reclaimableBytes: the layers only expiring images use.
    let (status, raw) = s
        .ecr("GetLifecyclePolicyPreview", json!({ "repositoryName": repo }))
        .await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["summary"]["reclaimableBytes"], 1100 + 1400 + 1500, "{raw}");
    let (status, raw) = s
        .ecr(
            "GetLifecyclePolicyPreview",
            json!({ "repositoryName": repo, "maxResults": 101 }),
        )
        .await;
    assert_eq!(
        (status, raw["__type"].as_str()),
        (400, Some("InvalidParameterException")),
        "{raw}"
    );
    let (status, raw) = s
        .ecr(
            "GetLifecyclePolicyPreview",
            json!({ "repositoryName": repo, "nextToken": "bzox", "imageIds": [{ "imageTag": "v1" }] }),
        )
        .await;
    assert_eq!(
        (status, raw["__type"].as_str()),
        (400, Some("InvalidParameterException")),
        "{raw}"
    );

    // `stowage lifecycle preview` shows the same, or what another policy would do.
    let local = stowage_lifecycle(&s, &["preview", "--repository", repo]);
    assert_eq!(digests_of(&local[0]["previewResults"]), expected);
    assert_eq!(local[0]["reclaimableBytes"], 1100 + 1400 + 1500);
    assert_eq!(local[0]["previewResults"][2]["imageTags"], json!(["beta-1", "prod-1"]));
    let other = files.path().join("keep-six.json");
    let keep_six = json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 6});
    std::fs::write(&other, policy(&[(1, keep_six)])).unwrap();
    let local = stowage_lifecycle(
        &s,
        &[
            "preview",
            "--repository",
            repo,
            "--policy-file",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(digests_of(&local[0]["previewResults"]), vec![t1.clone()]);
    assert_eq!(local[0]["expiringImageTotalCount"], 1);

    // The previews deleted nothing.
    for d in [&t1, &u1, &u2, &u3, &a, &b, &c] {
        assert_eq!(manifest_status(&s, repo, d).await, 200, "{d} after the preview");
    }

    let run = stowage_lifecycle(&s, &["run", "--repository", repo]);
    assert_eq!(run.len(), 1, "{run:?}");
    assert_eq!(run[0]["repositoryName"], repo);
    assert_eq!(run[0]["imagesExpired"], 4);
    assert_eq!(digests_of(&run[0]["expiredImages"]), expected);
    assert_eq!(run[0]["reclaimableBytes"], 1100 + 1400 + 1500);
    for d in [&u1, &u2, &a, &b] {
        let resp = s
            .get(&format!("/v2/{repo}/manifests/{d}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{d} expired");
        assert_eq!(error_code(resp).await, "MANIFEST_UNKNOWN");
    }
    for (d, tag) in [(&t1, "v1"), (&c, "beta-3")] {
        let resp = s
            .get(&format!("/v2/{repo}/manifests/{tag}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{tag} kept");
        let body = resp.bytes().await.unwrap();
        assert_eq!(&digest(&body), d);
        let m: Value = serde_json::from_slice(&body).unwrap();
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let blob = s.get(&format!("/v2/{repo}/blobs/{layer}")).send().await.unwrap();
        assert_eq!(blob.status(), 200);
    }
    assert_eq!(manifest_status(&s, repo, &u3).await, 200);
    let listed = aws.ok(&format!("ecr list-images --repository-name {repo}")).await;
    assert_eq!(listed["imageIds"].as_array().unwrap().len(), 3, "{listed}");

    let got = aws
        .ok(&format!("ecr get-lifecycle-policy --repository-name {repo}"))
        .await;
    let evaluated = got["lastEvaluatedAt"].as_f64().expect("lastEvaluatedAt after a run");
    assert!((now - evaluated).abs() < 300.0, "lastEvaluatedAt {evaluated}");
    // Idempotent: nothing more to expire.
    let again = stowage_lifecycle(&s, &["run"]);
    assert_eq!(
        (again[0]["imagesExpired"].as_u64(), again.len()),
        (Some(0), 1),
        "{again:?}"
    );
}

both_dbs!(
    async fn referrers_and_index_children_follow_their_image(s: TestServer) {
        let repo = "lc/multi";
        s.create_repo(repo);
        // S1 with a signature R1 (and a signature on the signature), then S2.
        let s1 = image(&s, repo, 10, 700, &["app-1"]).await;
        let r1 = referrer(&s, repo, &s1, 11, 70).await;
        let r1r = referrer(&s, repo, &r1, 12, 7).await;
        let s2 = image(&s, repo, 13, 800, &["app-2"]).await;
        // The one untagged image of its own: the untagged rule keeps it.
        let u = image(&s, repo, 17, 600, &[]).await;
        // Index I lists c1 and c2; the newer index J lists c2 and c3.
        let c1 = image(&s, repo, 14, 900, &[]).await;
        let c2 = image(&s, repo, 15, 1000, &[]).await;
        let i = index(&s, repo, &[&c1, &c2], "multi-1").await;
        let c3 = image(&s, repo, 16, 1100, &[]).await;
        let j = index(&s, repo, &[&c2, &c3], "multi-2").await;

        // Were children and referrers candidates, the untagged rule would expire
        // all but the newest of them, `u` included.
        let text = policy(&[
            (1, keep_newest("tagged", &["app"], 1)),
            (2, keep_newest("tagged", &["multi"], 1)),
            (3, keep_newest("untagged", &[], 1)),
        ]);
        let (status, put) = s
            .ecr(
                "PutLifecyclePolicy",
                json!({ "repositoryName": repo, "lifecyclePolicyText": text }),
            )
            .await;
        assert_eq!(status, 200, "{put}");
        let preview_text = policy(&[(1, keep_newest("tagged", &["app"], 1))]);
        let (status, started) = s
            .ecr(
                "StartLifecyclePolicyPreview",
                json!({ "repositoryName": repo, "lifecyclePolicyText": preview_text }),
            )
            .await;
        assert_eq!(
            (status, started["status"].as_str()),
            (200, Some("IN_PROGRESS")),
            "{started}"
        );
        let (_, preview) = s
            .ecr("GetLifecyclePolicyPreview", json!({ "repositoryName": repo }))
            .await;
        assert_eq!(preview["lifecyclePolicyText"], preview_text.as_str());
        assert_eq!(
            digests_of(&preview["previewResults"]),
            vec![s1.clone(), r1.clone(), r1r.clone()]
        );
        // Seen: a new preview may start, this time of the stored policy.
        let (status, _) = s
            .ecr("StartLifecyclePolicyPreview", json!({ "repositoryName": repo }))
            .await;
        assert_eq!(status, 200);
        let (_, preview) = s
            .ecr("GetLifecyclePolicyPreview", json!({ "repositoryName": repo }))
            .await;
        assert_eq!(preview["status"], "COMPLETE");
        let expected = vec![s1.clone(), r1.clone(), r1r.clone(), i.clone(), c1.clone()];
        assert_eq!(digests_of(&preview["previewResults"]), expected, "{preview}");
        let rules: Vec<u64> = preview["previewResults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["appliedRulePriority"].as_u64().unwrap())
            .collect();
        assert_eq!(rules, [1, 1, 1, 2, 2]);
        // The layers, and the empty config only the two signatures used.
        assert_eq!(
            preview["summary"]["reclaimableBytes"],
            700 + 70 + 7 + 900 + 2,
            "{preview}"
        );

        let run = stowage_lifecycle(&s, &["run"]);
        assert_eq!(digests_of(&run[0]["expiredImages"]), expected);
        assert_eq!(run[0]["expiredImages"][1]["follows"], s1.as_str());
        for d in &expected {
            assert_eq!(manifest_status(&s, repo, d).await, 404, "{d} expired");
        }
        for d in [&s2, &u, &c2, &c3, &j] {
            assert_eq!(manifest_status(&s, repo, d).await, 200, "{d} kept");
        }
    }
);

#[tokio::test]
async fn the_server_runs_policies_on_its_interval() {
    let s = TestServer::start_configured(Db::Sqlite, &["--lifecycle-interval", "300ms"]).await;
    let repo = "lc/timer";
    s.create_repo(repo);
    let v1 = image(&s, repo, 20, 500, &["v1"]).await;
    let v2 = image(&s, repo, 21, 600, &["v2"]).await;
    let v3 = image(&s, repo, 22, 700, &["v3"]).await;
    let text = policy(&[(1, keep_newest("tagged", &["v"], 1))]);
    let (status, _) = s
        .ecr(
            "PutLifecyclePolicy",
            json!({ "repositoryName": repo, "lifecyclePolicyText": text }),
        )
        .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while manifest_status(&s, repo, &v2).await != 404 {
        assert!(Instant::now() < deadline, "the scheduled run did not expire v2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(manifest_status(&s, repo, &v1).await, 404);
    assert_eq!(manifest_status(&s, repo, &v3).await, 200);
    let (_, got) = s.ecr("GetLifecyclePolicy", json!({ "repositoryName": repo })).await;
    assert!(got["lastEvaluatedAt"].as_f64().is_some(), "{got}");
    let metrics = s
        .anon
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expired: u64 = metrics
        .lines()
        .find(|l| l.starts_with("stowage_lifecycle_images_expired_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no lifecycle metric in {metrics}"));
    assert_eq!(expired, 2);
    let log = s.log();
    let line = log
        .lines()
        .find(|l| l.contains("lifecycle policy run") && l.contains("\"images_expired\":2"))
        .unwrap_or_else(|| panic!("no run logged with 2 images expired:\n{log}"));
    assert!(line.contains(repo), "{line}");
}

#[tokio::test]
async fn boto3_waiter_and_preview_paging() {
    let s = TestServer::start().await;
    crate::ecr_boto3::run_script(&s, "ecr_lifecycle.py", &[], 8).await;
}
