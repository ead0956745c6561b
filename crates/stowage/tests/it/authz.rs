//! Authorization through the one evaluator: repository and registry policies on
//! the control plane (the real AWS CLI) and on `/v2/`, explicit denies, and
//! condition keys filled from the request.

use serde_json::{Value, json};

use crate::ecr_cli::Aws;
use crate::support::{OCI_MANIFEST, TestServer, both_dbs, bytes, error_code};

/// The registry's account id.
async fn account(s: &TestServer) -> String {
    let (status, v) = s.ecr("DescribeRegistry", json!({})).await;
    assert_eq!(status, 200, "{v}");
    v["registryId"].as_str().unwrap().to_string()
}

/// Writes a policy document where the AWS CLI can read it (`file://…`).
fn policy_file(s: &TestServer, name: &str, policy: &Value) -> String {
    let path = s.data_dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(policy).unwrap()).unwrap();
    format!("file://{}", path.display())
}

#[tokio::test]
async fn repository_and_registry_policies_with_the_aws_cli() {
    let s = TestServer::start().await;
    s.create_repo("pol/app");
    let acct = account(&s).await;
    let admin = format!("arn:aws:iam::{acct}:user/admin");
    let aws = Aws::new(&s);

    let e = aws
        .fails(
            "ecr get-repository-policy --repository-name pol/app",
            "GetRepositoryPolicy",
            "RepositoryPolicyNotFoundException",
        )
        .await;
    assert_eq!(
        e.message,
        format!("Repository policy does not exist for the repository with name 'pol/app' in the registry with id '{acct}'")
    );

    // Not a resource policy (no Principal): ECR's fixed message.
    let bad = policy_file(
        &s,
        "bad",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}),
    );
    let e = aws
        .fails(
            &format!("ecr set-repository-policy --repository-name pol/app --policy-text {bad}"),
            "SetRepositoryPolicy",
            "InvalidParameterException",
        )
        .await;
    assert_eq!(
        e.message,
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
    );

    // A policy that would stop the caller from changing it again needs --force.
    let lockout = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "NoChanges", "Effect": "Deny", "Principal": {"AWS": admin}, "Action": "ecr:SetRepositoryPolicy"}]});
    let lockout_file = policy_file(&s, "lockout", &lockout);
    let set = format!("ecr set-repository-policy --repository-name pol/app --policy-text {lockout_file}");
    let e = aws.fails(&set, "SetRepositoryPolicy", "InvalidParameterException").await;
    assert!(e.message.contains("SetRepositoryPolicy"), "{e:?}");
    let v = aws.ok(&format!("{set} --force")).await;
    assert_eq!(v["repositoryName"], "pol/app");
    let got = aws.ok("ecr get-repository-policy --repository-name pol/app").await;
    let stored: Value = serde_json::from_str(got["policyText"].as_str().unwrap()).unwrap();
    assert_eq!(stored, lockout);
    let e = aws.fails(&set, "SetRepositoryPolicy", "AccessDeniedException").await;
    assert_eq!(
        e.message,
        format!(
            "User: {admin} is not authorized to perform: ecr:SetRepositoryPolicy on resource: \
             arn:aws:ecr:us-east-1:{acct}:repository/pol/app with an explicit deny in a resource-based policy"
        )
    );
    let v = aws.ok("ecr delete-repository-policy --repository-name pol/app").await;
    assert_eq!(serde_json::from_str::<Value>(v["policyText"].as_str().unwrap()).unwrap(), lockout);
    aws.ok(&format!("{set} --force")).await;

    // The registry policy.
    let e = aws
        .fails("ecr get-registry-policy", "GetRegistryPolicy", "RegistryPolicyNotFoundException")
        .await;
    assert_eq!(e.message, format!("Registry policy does not exist in the registry with id '{acct}'"));
    let registry = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Replication", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{acct}:root")},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": format!("arn:aws:ecr:us-east-1:{acct}:repository/*")}]});
    let file = policy_file(&s, "registry", &registry);
    let v = aws.ok(&format!("ecr put-registry-policy --policy-text {file}")).await;
    assert_eq!(v["registryId"], acct.as_str());
    let v = aws.ok("ecr get-registry-policy").await;
    assert_eq!(serde_json::from_str::<Value>(v["policyText"].as_str().unwrap()).unwrap(), registry);
    aws.ok("ecr delete-registry-policy").await;
    aws.fails("ecr delete-registry-policy", "DeleteRegistryPolicy", "RegistryPolicyNotFoundException")
        .await;
}

/// PUTs a small image manifest (its blobs pushed first) and returns the response status and error code.
async fn push(s: &TestServer, repo: &str, tag: &str) -> (u16, Option<String>, String) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let c = s.push_blob(repo, config).await;
    let layer = bytes(tag.len() as u64, 512);
    let l = s.push_blob(repo, &layer).await;
    let manifest = crate::support::image_manifest(&c, config.len(), &l, layer.len());
    let resp = s
        .put(&format!("/v2/{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status == 201 {
        return (status, None, String::new());
    }
    let body: Value = resp.json().await.unwrap();
    let code = body["errors"][0]["code"].as_str().map(str::to_string);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default().to_string();
    (status, code, message)
}

both_dbs!(
    async fn a_deny_on_one_repository_overrides_an_allow_on_everything(s: TestServer) {
        s.create_repo("locked/app");
        s.create_repo("open/app");
        let acct = account(&s).await;
        assert_eq!(push(&s, "locked/app", "v1").await.0, 201);

        let deny = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"]}]});
        let (status, v) = s
            .ecr(
                "SetRepositoryPolicy",
                json!({"repositoryName": "locked/app", "policyText": deny.to_string()}),
            )
            .await;
        assert_eq!(status, 200, "{v}");

        // Uploads and manifest pushes are refused in ECR's words; pulls still work.
        let resp = s.post("/v2/locked/app/blobs/uploads/").send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "DENIED");
        assert_eq!(
            body["errors"][0]["message"],
            format!(
                "User: arn:aws:iam::{acct}:user/admin is not authorized to perform: ecr:InitiateLayerUpload on \
                 resource: arn:aws:ecr:us-east-1:{acct}:repository/locked/app with an explicit deny in a \
                 resource-based policy"
            )
        );
        let resp = s
            .get("/v2/locked/app/manifests/v1")
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(push(&s, "open/app", "v1").await.0, 201);

        // Control plane too, for the same action.
        let (status, v) = s
            .ecr("InitiateLayerUpload", json!({"repositoryName": "locked/app"}))
            .await;
        assert_eq!((status, v["__type"].as_str()), (400, Some("AccessDeniedException")), "{v}");

        // Taking the policy away lets pushes through again at once.
        let (status, _) = s
            .ecr("DeleteRepositoryPolicy", json!({"repositoryName": "locked/app"}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(push(&s, "locked/app", "v2").await.0, 201);
    }
);

#[tokio::test]
async fn conditions_see_the_callers_address() {
    let s = TestServer::start().await;
    s.create_repo("ip/app");
    assert_eq!(push(&s, "ip/app", "v1").await.0, 201);
    let pull = || async {
        s.get("/v2/ip/app/manifests/v1")
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap()
    };
    let set = |cidr_op: &str, cidr: &str| {
        json!({"repositoryName": "ip/app", "policyText": json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage",
            "Condition": {cidr_op: {"aws:SourceIp": cidr}}}]}).to_string()})
    };

    // Pulls only from inside 10.0.0.0/8: this loopback client is outside.
    let (status, v) = s.ecr("SetRepositoryPolicy", set("NotIpAddress", "10.0.0.0/8")).await;
    assert_eq!(status, 200, "{v}");
    let resp = pull().await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "DENIED");

    // Pulls only from loopback: allowed.
    let (status, _) = s.ecr("SetRepositoryPolicy", set("NotIpAddress", "127.0.0.0/8")).await;
    assert_eq!(status, 200);
    assert_eq!(pull().await.status(), 200);

    // No pulls from loopback: denied.
    let (status, _) = s.ecr("SetRepositoryPolicy", set("IpAddress", "127.0.0.1/32")).await;
    assert_eq!(status, 200);
    assert_eq!(pull().await.status(), 403);
}
