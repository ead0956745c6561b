//! Authorization through the one evaluator: repository and registry policies on
//! the control plane (the real AWS CLI) and on `/v2/`, explicit denies, and
//! condition keys filled from the request.

use serde_json::{Value, json};

use stowage_core::sigv4::Credentials;

use crate::clients::{Docker, describe, registry_tags, run, run_with_input, unique};
use crate::ecr_cli::Aws;
use crate::support::{OCI_MANIFEST, TestServer, authenticated_client, both_dbs, bytes, error_code};

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
        format!(
            "Repository policy does not exist for the repository with name 'pol/app' in the registry with id '{acct}'"
        )
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
    let e = aws
        .fails(&set, "SetRepositoryPolicy", "InvalidParameterException")
        .await;
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
    assert_eq!(
        serde_json::from_str::<Value>(v["policyText"].as_str().unwrap()).unwrap(),
        lockout
    );
    aws.ok(&format!("{set} --force")).await;

    // The registry policy.
    let e = aws
        .fails(
            "ecr get-registry-policy",
            "GetRegistryPolicy",
            "RegistryPolicyNotFoundException",
        )
        .await;
    assert_eq!(
        e.message,
        format!("Registry policy does not exist in the registry with id '{acct}'")
    );
    let registry = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Replication", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{acct}:root")},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": format!("arn:aws:ecr:us-east-1:{acct}:repository/*")}]});
    let file = policy_file(&s, "registry", &registry);
    let v = aws.ok(&format!("ecr put-registry-policy --policy-text {file}")).await;
    assert_eq!(v["registryId"], acct.as_str());
    let v = aws.ok("ecr get-registry-policy").await;
    assert_eq!(
        serde_json::from_str::<Value>(v["policyText"].as_str().unwrap()).unwrap(),
        registry
    );
    aws.ok("ecr delete-registry-policy").await;
    aws.fails(
        "ecr delete-registry-policy",
        "DeleteRegistryPolicy",
        "RegistryPolicyNotFoundException",
    )
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
        assert_eq!(
            (status, v["__type"].as_str()),
            (400, Some("AccessDeniedException")),
            "{v}"
        );

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

/// Signs and sends a request as `creds`: an AWS-query form (`body`, service `iam`
/// or `sts`) or an ECR JSON operation; returns status and body text.
async fn signed(
    s: &TestServer,
    creds: &Credentials,
    service: &str,
    target: Option<&str>,
    body: String,
) -> (u16, String) {
    let content_type = if target.is_some() {
        "application/x-amz-json-1.1"
    } else {
        "application/x-www-form-urlencoded; charset=utf-8"
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("host".to_string(), s.host()),
    ];
    if let Some(t) = target {
        headers.push(("x-amz-target".to_string(), t.to_string()));
    }
    let req = stowage_core::sigv4::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let now = stowage_meta::now_ms() / 1000;
    let extra = stowage_core::sigv4::sign(&req, creds, "us-east-1", service, now);
    let mut builder = s.anon.post(s.url("/"));
    for (k, v) in headers.iter().chain(extra.iter()).filter(|(k, _)| k != "host") {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let resp = builder.body(body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// An IAM or STS query action; asserts success and returns the XML.
async fn query(s: &TestServer, creds: &Credentials, service: &str, params: &[(&str, &str)]) -> String {
    let version = if service == "sts" { "2011-06-15" } else { "2010-05-08" };
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let body = std::iter::once(("Version", version))
        .chain(params.iter().copied())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (status, text) = signed(s, creds, service, None, body).await;
    assert_eq!(status, 200, "{params:?}: {text}");
    text
}

/// The text of the first `<tag>` element of an XML answer.
fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("<{tag}> in {xml}")) + open.len();
    let end = xml[start..].find("</").unwrap() + start;
    xml[start..end].to_string()
}

/// A registry login password for `creds`, from GetAuthorizationToken as the CLI does.
async fn login_password(s: &TestServer, creds: &Credentials) -> String {
    let (status, text) = signed(
        s,
        creds,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
        "{}".to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let token = v["authorizationData"][0]["authorizationToken"].as_str().unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(token).unwrap();
    String::from_utf8(decoded)
        .unwrap()
        .strip_prefix("AWS:")
        .unwrap()
        .to_string()
}

/// Creates a user with `policy_arn` attached and an access key; returns the key.
async fn user_with_policy(s: &TestServer, name: &str, policy_arn: &str) -> Credentials {
    let admin = s.admin_credentials();
    query(s, &admin, "iam", &[("Action", "CreateUser"), ("UserName", name)]).await;
    query(
        s,
        &admin,
        "iam",
        &[
            ("Action", "AttachUserPolicy"),
            ("UserName", name),
            ("PolicyArn", policy_arn),
        ],
    )
    .await;
    access_key(s, &admin, name).await
}

/// A new access key of `user`, made by `creds`.
async fn access_key(s: &TestServer, creds: &Credentials, user: &str) -> Credentials {
    let xml = query(s, creds, "iam", &[("Action", "CreateAccessKey"), ("UserName", user)]).await;
    Credentials {
        access_key_id: xml_field(&xml, "AccessKeyId"),
        secret_access_key: xml_field(&xml, "SecretAccessKey"),
        session_token: None,
    }
}

/// Creates role `name` that `trusted` may assume, with the ReadOnly managed policy.
async fn read_only_role(s: &TestServer, name: &str, trusted: &str) {
    let admin = s.admin_credentials();
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]});
    let trust = trust.to_string();
    let create = [
        ("Action", "CreateRole"),
        ("RoleName", name),
        ("AssumeRolePolicyDocument", &trust),
    ];
    query(s, &admin, "iam", &create).await;
    let attach = [
        ("Action", "AttachRolePolicy"),
        ("RoleName", name),
        ("PolicyArn", READ_ONLY),
    ];
    query(s, &admin, "iam", &attach).await;
}

/// The admin assumes `role_arn` (with an optional session policy); returns the temporary keys.
async fn assume(s: &TestServer, role_arn: &str, session: &str, policy: Option<&str>) -> Credentials {
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session),
    ];
    if let Some(p) = policy {
        params.push(("Policy", p));
    }
    let xml = query(s, &s.admin_credentials(), "sts", &params).await;
    let temp = Credentials {
        access_key_id: xml_field(&xml, "AccessKeyId"),
        secret_access_key: xml_field(&xml, "SecretAccessKey"),
        session_token: Some(xml_field(&xml, "SessionToken")),
    };
    assert!(temp.access_key_id.starts_with("ASIA"), "{xml}");
    temp
}

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
const POWER_USER: &str = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser";

/// `docker login` as the holder of `password`, in this Docker's own config.
async fn docker_login(docker: &Docker, s: &TestServer, password: &str) {
    let mut cmd = docker.cmd(&["login", "--username", "AWS", "--password-stdin", &s.host()]);
    let out = run_with_input(&mut cmd, Some(password.as_bytes())).await;
    assert!(out.status.success(), "docker login: {}", describe(&out));
}

#[tokio::test]
async fn managed_policies_decide_what_docker_may_do() {
    let s = TestServer::start().await;
    let acct = account(&s).await;
    let repo = unique("iam-docker");
    s.create_repo(&repo);
    let admin_docker = Docker::new();
    admin_docker.login(&s).await;
    let (local, _) = admin_docker.build_busybox("read me").await;
    let remote = format!("{}/{repo}:v1", s.host());
    admin_docker.tag(&local, &remote).await;
    admin_docker.push(&remote).await;

    // ReadOnly: pulls, and a push is refused with ECR's message (the layers are
    // there already, so the first refused step is the manifest).
    let reader = user_with_policy(&s, "reader", READ_ONLY).await;
    let docker = Docker::new();
    docker_login(&docker, &s, &login_password(&s, &reader).await).await;
    docker.pull(&remote).await;
    let again = format!("{}/{repo}:by-reader", s.host());
    docker.tag(&remote, &again).await;
    let out = run(&mut docker.cmd(&["push", &again])).await;
    assert!(!out.status.success(), "a read-only user pushed: {}", describe(&out));
    let text = describe(&out);
    assert!(
        text.contains(&format!(
            "denied: User: arn:aws:iam::{acct}:user/reader is not authorized to perform: ecr:PutImage \
             on resource: arn:aws:ecr:us-east-1:{acct}:repository/{repo} because no identity-based policy allows \
             the ecr:PutImage action"
        )),
        "docker did not print the denial: {text}"
    );

    // PowerUser: pushes.
    let pusher = user_with_policy(&s, "pusher", POWER_USER).await;
    let docker = Docker::new();
    docker_login(&docker, &s, &login_password(&s, &pusher).await).await;
    let by_pusher = format!("{}/{repo}:by-pusher", s.host());
    docker.pull(&remote).await;
    docker.tag(&remote, &by_pusher).await;
    docker.push(&by_pusher).await;
    assert_eq!(registry_tags(&s, &repo).await, ["by-pusher", "v1"]);

    // A user with no policy at all is refused even a login.
    let nobody = user_with_policy(&s, "nobody", READ_ONLY).await;
    query(
        &s,
        &s.admin_credentials(),
        "iam",
        &[
            ("Action", "DetachUserPolicy"),
            ("UserName", "nobody"),
            ("PolicyArn", READ_ONLY),
        ],
    )
    .await;
    let (status, text) = signed(
        &s,
        &nobody,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
        "{}".to_string(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("AccessDeniedException"), "{text}");
}

#[tokio::test]
async fn another_account_pulls_only_when_both_sides_allow() {
    let s = TestServer::start().await;
    let a = account(&s).await;
    s.create_repo("shared/app");
    assert_eq!(push(&s, "shared/app", "v1").await.0, 201);

    // Account B, its administrator and a user with no policy.
    let out = s.admin(&["account", "create", "--id", "222222222222"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim_start_matches([' ', '=']).trim().to_string())
            .unwrap()
    };
    let b_admin = Credentials {
        access_key_id: field("aws_access_key_id"),
        secret_access_key: field("aws_secret_access_key"),
        session_token: None,
    };
    query(&s, &b_admin, "iam", &[("Action", "CreateUser"), ("UserName", "bare")]).await;
    let b_bare = access_key(&s, &b_admin, "bare").await;
    let b_admin_client = authenticated_client(&login_password(&s, &b_admin).await);
    let b_bare_password = {
        // A user with no policy cannot even get a token; give it one that only allows that.
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]});
        query(
            &s,
            &b_admin,
            "iam",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "bare"),
                ("PolicyName", "login"),
                ("PolicyDocument", &doc.to_string()),
            ],
        )
        .await;
        login_password(&s, &b_bare).await
    };
    let b_bare_client = authenticated_client(&b_bare_password);
    let pull = |client: reqwest::Client| {
        let url = s.url("/v2/shared/app/manifests/v1");
        async move {
            let resp = client.get(url).header("accept", OCI_MANIFEST).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };

    // Without a grant from A, B's administrator is refused: the resource side is missing.
    let (status, body) = pull(b_admin_client.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("because no resource-based policy allows the ecr:BatchGetImage action"),
        "{body}"
    );

    // A grants account B.
    let grant = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AccountB", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]});
    let (status, v) = s
        .ecr(
            "SetRepositoryPolicy",
            json!({"repositoryName": "shared/app", "policyText": grant.to_string()}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, body) = pull(b_admin_client).await;
    assert_eq!(status, 200, "{body}");

    // Both sides are needed: B's user without an identity grant is still refused.
    let (status, body) = pull(b_bare_client).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("because no identity-based policy allows the ecr:BatchGetImage action"),
        "{body}"
    );

    // Without a registryId, B's calls are about B's own registry.
    let (status, text) = signed(
        &s,
        &b_admin,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
        json!({"repositoryName": "b-own"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"registryId\":\"222222222222\""), "{text}");
    let (_, v) = s.ecr("DescribeRepositories", json!({})).await;
    let names: Vec<&str> = v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repositoryName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shared/app"], "A's registry does not hold B's repository");

    // And over the control plane, naming A's registry.
    let (status, text) = signed(
        &s,
        &b_admin,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.BatchGetImage"),
        json!({"registryId": a, "repositoryName": "shared/app", "imageIds": [{"imageTag": "v1"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["images"].as_array().map(Vec::len), Some(1), "{v}");
}

#[tokio::test]
async fn an_assumed_role_pulls_with_its_temporary_credentials() {
    let s = TestServer::start().await;
    let acct = account(&s).await;
    s.create_repo("role/app");
    assert_eq!(push(&s, "role/app", "v1").await.0, 201);
    read_only_role(&s, "puller", &format!("arn:aws:iam::{acct}:user/admin")).await;
    let temp = assume(&s, &format!("arn:aws:iam::{acct}:role/puller"), "ci", None).await;
    // The login password of temporary credentials ends with them (3600 s by default).
    let (status, text) = signed(
        &s,
        &temp,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
        "{}".to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let expires = v["authorizationData"][0]["expiresAt"].as_f64().unwrap();
    let now = stowage_meta::now_ms() as f64 / 1000.0;
    assert!(
        expires <= now + 3601.0 && expires > now + 3000.0,
        "expiresAt {expires}, now {now}"
    );

    let client = authenticated_client(&login_password(&s, &temp).await);
    let resp = client
        .get(s.url("/v2/role/app/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client.post(s.url("/v2/role/app/blobs/uploads/")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "User: arn:aws:sts::{acct}:assumed-role/puller/ci is not authorized"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_session_policy_narrows_an_assumed_role() {
    let s = TestServer::start().await;
    let acct = account(&s).await;
    for repo in ["narrow/a", "narrow/b"] {
        s.create_repo(repo);
        assert_eq!(push(&s, repo, "v1").await.0, 201);
    }
    read_only_role(&s, "reader", &format!("arn:aws:iam::{acct}:root")).await;
    // The session may pull from narrow/a only, though the role reads everything.
    let session_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "ecr:BatchGetImage",
         "Resource": format!("arn:aws:ecr:us-east-1:{acct}:repository/narrow/a")}]});
    let role = format!("arn:aws:iam::{acct}:role/reader");
    let temp = assume(&s, &role, "narrow", Some(&session_policy.to_string())).await;
    let client = authenticated_client(&login_password(&s, &temp).await);
    let get = |repo: &str| {
        client
            .get(s.url(&format!("/v2/{repo}/manifests/v1")))
            .header("accept", OCI_MANIFEST)
            .send()
    };
    assert_eq!(get("narrow/a").await.unwrap().status(), 200);
    let resp = get("narrow/b").await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("because no session policy allows the ecr:BatchGetImage action"),
        "{message}"
    );
    // Control-plane calls signed with the session's keys are narrowed the same way.
    let (status, text) = signed(
        &s,
        &temp,
        "ecr",
        Some("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"),
        "{}".to_string(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("AccessDeniedException"), "{text}");
}

#[tokio::test]
async fn principal_and_resource_tags_feed_conditions() {
    let s = TestServer::start().await;
    s.create_repo("tags/app");
    assert_eq!(push(&s, "tags/app", "v1").await.0, 201);
    let (status, _) = s
        .ecr(
            "TagResource",
            json!({"resourceArn": format!("arn:aws:ecr:us-east-1:{}:repository/tags/app", account(&s).await),
                   "tags": [{"Key": "stage", "Value": "prod"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let admin = s.admin_credentials();
    // Pulls need the caller's team tag to be "a" and the repository's stage tag to be "prod".
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "a", "ecr:ResourceTag/stage": "prod"}}}]});
    let mut clients = Vec::new();
    for (name, team) in [("alice", "a"), ("bob", "b")] {
        query(
            &s,
            &admin,
            "iam",
            &[
                ("Action", "CreateUser"),
                ("UserName", name),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", team),
            ],
        )
        .await;
        query(
            &s,
            &admin,
            "iam",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "pull"),
                ("PolicyDocument", &doc.to_string()),
            ],
        )
        .await;
        let creds = access_key(&s, &admin, name).await;
        clients.push(authenticated_client(&login_password(&s, &creds).await));
    }
    let pull = |client: &reqwest::Client| {
        client
            .get(s.url("/v2/tags/app/manifests/v1"))
            .header("accept", OCI_MANIFEST)
            .send()
    };
    assert_eq!(
        pull(&clients[0]).await.unwrap().status(),
        200,
        "alice's team tag matches"
    );
    assert_eq!(pull(&clients[1]).await.unwrap().status(), 403, "bob's does not");

    // Retagging the repository takes effect at once on this node.
    let (status, _) = s
        .ecr(
            "TagResource",
            json!({"resourceArn": format!("arn:aws:ecr:us-east-1:{}:repository/tags/app", account(&s).await),
                   "tags": [{"Key": "stage", "Value": "dev"}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        pull(&clients[0]).await.unwrap().status(),
        403,
        "the repository is no longer prod"
    );
}
