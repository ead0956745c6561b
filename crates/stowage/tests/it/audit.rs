//! The audit trail end to end: requests on the control plane and on `/v2/`,
//! a cross-account denial and a refused anonymous push, then `stowage audit`
//! with each of its filters. Reads are not recorded, secrets never are.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// `stowage audit ARGS…` as parsed JSON lines.
fn audit(s: &TestServer, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let out = s.admin(&all);
    assert!(
        out.status.success(),
        "stowage audit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Waits for the background writer to store at least `n` entries.
async fn audit_when(s: &TestServer, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = audit(s, &[]);
        if entries.len() >= n || started.elapsed() > Duration::from_secs(20) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

both_dbs!(
    async fn records_mutations_and_denials_and_filters_them(s: TestServer) {
        let (status, created) = s
            .ecr("CreateRepository", json!({ "repositoryName": "audit/app" }))
            .await;
        assert_eq!(status, 200, "{created}");
        let account = created["repository"]["registryId"].as_str().unwrap().to_string();
        let repo_arn = format!("arn:aws:ecr:us-east-1:{account}:repository/audit/app");

        let (manifest, digest) = s.push_image("audit/app", "v1", b"audited layer").await;
        // Reads are not recorded.
        let got = s
            .get("/v2/audit/app/manifests/v1")
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap(), manifest);
        let (status, _) = s.ecr("DescribeRepositories", json!({})).await;
        assert_eq!(status, 200);

        // Denied: another account's registry, which grants nothing.
        let (status, denied) = s
            .ecr(
                "CreateRepository",
                json!({ "registryId": "999999999999", "repositoryName": "theirs" }),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(denied["__type"], "AccessDeniedException", "{denied}");
        // Refused: a push without credentials.
        let anon = s
            .anon
            .put(s.url("/v2/audit/app/manifests/anon"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), 401);
        // Not recorded: a credential-less ping (every docker login starts with one).
        assert_eq!(s.anon.get(s.url("/v2/")).send().await.unwrap().status(), 401);

        // CreateRepository, 2×(InitiateLayerUpload), PutImage, the denial, the refused push.
        let all = audit_when(&s, 6).await;
        let shown = serde_json::to_string_pretty(&all).unwrap();
        assert_eq!(
            actions(&all),
            [
                "ecr:CreateRepository",
                "ecr:InitiateLayerUpload",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:CreateRepository",
                "ecr:PutImage",
            ],
            "{shown}"
        );
        let create = &all[0];
        assert!(
            create["principal"]
                .as_str()
                .unwrap()
                .starts_with(&format!("arn:aws:iam::{account}:")),
            "{shown}"
        );
        assert!(
            create["principal"].as_str().unwrap().ends_with(":user/admin"),
            "{shown}"
        );
        assert_eq!(create["account"], account.as_str());
        assert_eq!(create["resource"], repo_arn.as_str());
        assert_eq!(create["result"], "allowed");
        assert_eq!(create["status"], 200);
        assert_eq!(create["errorCode"], Value::Null);
        assert_eq!(create["operation"], "CreateRepository");
        for e in &all {
            assert_eq!(e["sourceIp"], "127.0.0.1", "{shown}");
            assert!(e["time"].as_str().unwrap().ends_with('Z'));
        }
        let push = &all[3];
        assert_eq!(push["operation"], "PutManifest");
        assert_eq!(push["status"], 201);
        assert_eq!(push["resource"], repo_arn.as_str());
        assert_eq!(push["principal"], create["principal"]);

        let cross = &all[4];
        assert_eq!(cross["result"], "denied");
        assert_eq!(cross["account"], "999999999999");
        assert_eq!(
            cross["resource"],
            "arn:aws:ecr:us-east-1:999999999999:repository/theirs"
        );
        assert_eq!(cross["status"], 400);
        assert_eq!(cross["errorCode"], "AccessDeniedException");
        assert_eq!(cross["principal"], create["principal"]);

        let refused = &all[5];
        assert_eq!(refused["principal"], "anonymous");
        assert_eq!(refused["result"], "denied");
        assert_eq!(refused["status"], 401);
        assert_eq!(refused["resource"], repo_arn.as_str());
        assert_eq!(refused["account"], account.as_str());

        // Filters.
        let admin = create["principal"].as_str().unwrap();
        assert_eq!(audit(&s, &["--principal", admin]).len(), 5);
        assert_eq!(audit(&s, &["--principal", "anonymous"]).len(), 1);
        assert_eq!(
            actions(&audit(&s, &["--action", "ecr:PutImage"])),
            ["ecr:PutImage", "ecr:PutImage"]
        );
        assert_eq!(audit(&s, &["--action", "ecr:*Repository"]).len(), 2);
        assert_eq!(audit(&s, &["--resource", &repo_arn]).len(), 5);
        assert_eq!(
            audit(&s, &["--resource", "arn:aws:ecr:*:999999999999:repository/*"]).as_slice(),
            std::slice::from_ref(cross)
        );
        assert_eq!(audit(&s, &["--result", "denied"]), [cross.clone(), refused.clone()]);
        assert_eq!(
            audit(&s, &["--result", "allowed", "--action", "ecr:PutImage"]).as_slice(),
            std::slice::from_ref(push)
        );
        assert_eq!(audit(&s, &["--since", "1h"]).len(), 6);
        assert!(audit(&s, &["--until", "1h"]).is_empty());
        assert!(audit(&s, &["--since", "2100-01-01T00:00:00Z"]).is_empty());
        assert_eq!(audit(&s, &["--until", "2100-01-01T00:00:00Z"]).len(), 6);
        let first = create["time"].as_str().unwrap();
        assert_eq!(audit(&s, &["--since", first]).len(), 6, "--since is inclusive");
        assert_eq!(audit(&s, &["--limit", "2"]), all[4..], "the newest, oldest first");
        let bad = s.admin(&["audit", "--result", "maybe"]);
        assert!(!bad.status.success());

        // Secrets never reach the trail.
        let text = s.admin(&["audit"]).stdout;
        let text = String::from_utf8_lossy(&text);
        assert!(!text.contains(&s.password));
        assert!(!text.contains(&s.admin_credentials().secret_access_key));
        assert!(!text.contains(&s.admin_credentials().access_key_id));
        assert!(!text.contains(&digest), "request contents are not recorded");
    }
);

// Entries still queued at shutdown are written before the server exits.
both_dbs!(
    async fn queued_entries_are_flushed_on_shutdown(s: TestServer) {
        let mut s = s;
        for i in 0..20 {
            let (status, _) = s
                .ecr("CreateRepository", json!({ "repositoryName": format!("flush/{i}") }))
                .await;
            assert_eq!(status, 200);
        }
        s.stop();
        let entries = audit(&s, &["--action", "ecr:CreateRepository"]);
        assert_eq!(entries.len(), 20);
        assert!(entries.iter().all(|e| e["result"] == "allowed"));
    }
);
