//! ECR Public: the `SpencerFrontendService` control plane (signed requests, the
//! real AWS CLI's `aws ecr-public`), public and private repositories as separate
//! namespaces, and the public registry's Bearer flow on its own listener, driven
//! over HTTP and by the real Docker engine (login, push, anonymous pull).

use serde_json::{Value, json};

use crate::clients::*;
use crate::ecr_cli::Aws;
use crate::support::*;

const PUBLIC: [&str; 2] = ["--public-listen", "127.0.0.1:0"];

/// A Bearer token from the public registry's `/token/` for `scope`.
async fn token(client: &reqwest::Client, public: &str, scope: &str) -> String {
    let r = client
        .get(format!("http://{public}/token/?service={public}&scope={scope}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "token for {scope}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token"], v["access_token"]);
    v["token"].as_str().expect("token").to_string()
}

/// A client that sends `Authorization: Bearer <token>`.
fn bearer(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// Pushes a small OCI image to the public registry; returns its manifest digest.
async fn push_public_image(client: &reqwest::Client, public: &str, repo: &str, tag: &str) -> String {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = bytes(7, 4096);
    for blob in [&config[..], &layer[..]] {
        let r = client
            .post(format!(
                "http://{public}/v2/{repo}/blobs/uploads/?digest={}",
                digest(blob)
            ))
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "blob push: {}", r.text().await.unwrap());
    }
    let manifest = image_manifest(&digest(config), config.len(), &digest(&layer), layer.len());
    let r = client
        .put(format!("http://{public}/v2/{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "manifest push: {}", r.text().await.unwrap());
    digest(&manifest)
}

fn names(v: &Value) -> Vec<&str> {
    v["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["repositoryName"].as_str().unwrap())
        .collect()
}

both_dbs!(["--public-listen", "127.0.0.1:0"] async fn namespaces_and_the_bearer_flow(s: TestServer) {
    let public = s.public_addr.expect("the server logs its public address").to_string();

    // One name in both registries; each lists only its own.
    let (st, v) = s
        .ecr_public(
            "CreateRepository",
            json!({"repositoryName": "team/app", "catalogData": {"description": "d", "architectures": ["x86-64"]},
                   "tags": [{"Key": "team", "Value": "a"}]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let account = v["repository"]["registryId"].as_str().unwrap().to_string();
    let arn = format!("arn:aws:ecr-public::{account}:repository/team/app");
    assert_eq!(v["repository"]["repositoryArn"], arn.as_str());
    assert_eq!(v["repository"]["repositoryUri"], format!("{public}/team/app"));
    assert_eq!(v["catalogData"]["description"], "d");
    let (st, v) = s.ecr("CreateRepository", json!({"repositoryName": "team/app"})).await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = s.ecr("CreateRepository", json!({"repositoryName": "private-only"})).await;
    assert_eq!(st, 200);
    let (st, _) = s.ecr_public("CreateRepository", json!({"repositoryName": "pub-only"})).await;
    assert_eq!(st, 200);
    let (st, v) = s.ecr_public("CreateRepository", json!({"repositoryName": "team/app"})).await;
    assert_eq!((st, v["__type"].as_str()), (400, Some("RepositoryAlreadyExistsException")));
    let (st, v) = s.ecr_public("CreateRepository", json!({"repositoryName": "a__b"})).await;
    assert_eq!((st, v["__type"].as_str()), (400, Some("InvalidParameterException")));
    let (_, v) = s.ecr("DescribeRepositories", json!({})).await;
    assert_eq!(names(&v), ["team/app", "private-only"]);
    let (_, v) = s.ecr_public("DescribeRepositories", json!({})).await;
    assert_eq!(names(&v), ["team/app", "pub-only"]);
    let (_, v) = s.ecr_public("ListTagsForResource", json!({"resourceArn": arn})).await;
    assert_eq!(v["tags"], json!([{"Key": "team", "Value": "a"}]));

    // The challenge, and what a token without credentials grants: pulls only.
    let r = s.anon.get(format!("http://{public}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        format!("Bearer realm=\"http://{public}/token/\",service=\"{public}\",scope=\"aws\"").as_str()
    );
    let anon = bearer(&token(&s.anon, &public, "repository:team/app:pull,push").await);
    assert_eq!(anon.get(format!("http://{public}/v2/")).send().await.unwrap().status(), 200);
    let r = anon
        .post(format!("http://{public}/v2/team/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an anonymous token pushed");
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let r = s
        .anon
        .get(format!("http://{public}/token/?scope=repository:team/app:pull"))
        .basic_auth("AWS", Some("forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "bad credentials got a token");

    // Credentials get push; anyone can then pull.
    let pusher = bearer(&token(&s.http, &public, "repository:team/app:pull,push").await);
    let pushed = push_public_image(&pusher, &public, "team/app", "v1").await;
    let r = anon
        .get(format!("http://{public}/v2/team/app/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], pushed.as_str());
    let r = s
        .anon
        .get(format!("http://{public}/v2/team/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a pull without any token");

    // Neither registry reaches the other's repositories.
    let peek = bearer(&token(&s.anon, &public, "repository:private-only:pull").await);
    let r = peek
        .get(format!("http://{public}/v2/private-only/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    assert_eq!(error_code(s.get("/v2/pub-only/tags/list").send().await.unwrap()).await, "NAME_UNKNOWN");
    let r = s.get("/v2/team/app/tags/list").send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!([]), "the private team/app shows the public image");
    let r = anon.get(format!("http://{public}/v2/_catalog")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["pub-only", "team/app"]));

    // The image through the control plane, then the repository goes.
    let (_, v) = s.ecr_public("DescribeImageTags", json!({"repositoryName": "team/app"})).await;
    assert_eq!(v["imageTagDetails"][0]["imageTag"], "v1");
    assert_eq!(v["imageTagDetails"][0]["imageDetail"]["imageDigest"], pushed.as_str());
    let (_, v) = s.ecr_public("DescribeImages", json!({"repositoryName": "team/app"})).await;
    assert_eq!(v["imageDetails"][0]["imageDigest"], pushed.as_str());
    let (st, v) = s.ecr_public("DeleteRepository", json!({"repositoryName": "team/app"})).await;
    assert_eq!((st, v["__type"].as_str()), (400, Some("RepositoryNotEmptyException")));
    let (st, _) = s
        .ecr_public("DeleteRepository", json!({"repositoryName": "team/app", "force": true}))
        .await;
    assert_eq!(st, 200);
    let (_, v) = s.ecr("DescribeRepositories", json!({"repositoryNames": ["team/app"]})).await;
    assert_eq!(names(&v), ["team/app"], "deleting the public repository touched the private one");
});

/// `aws ecr-public` against the control plane: repositories, catalog data, the
/// registry, and a login password the public registry accepts.
#[tokio::test]
async fn aws_cli_ecr_public() {
    let s = TestServer::start_configured(Db::Sqlite, &PUBLIC).await;
    let public = s.public_addr.unwrap().to_string();
    let aws = Aws::new(&s);
    let v = aws
        .ok(r#"ecr-public create-repository --repository-name cli/repo --catalog-data {"description":"first","operatingSystems":["Linux"]}"#)
        .await;
    assert_eq!(v["repository"]["repositoryName"], "cli/repo");
    assert_eq!(v["catalogData"]["operatingSystems"], json!(["Linux"]));
    let v = aws.ok("ecr-public describe-repositories").await;
    assert_eq!(names(&v), ["cli/repo"]);
    let v = aws
        .ok(r#"ecr-public put-repository-catalog-data --repository-name cli/repo --catalog-data {"description":"second","aboutText":"about"}"#)
        .await;
    assert_eq!(v["catalogData"]["description"], "second");
    let v = aws
        .ok("ecr-public get-repository-catalog-data --repository-name cli/repo")
        .await;
    assert_eq!(v["catalogData"]["description"], "second");
    assert_eq!(v["catalogData"]["aboutText"], "about");
    assert!(
        v["catalogData"].get("operatingSystems").is_none(),
        "catalog data is replaced"
    );
    aws.ok("ecr-public put-registry-catalog-data --display-name stowage")
        .await;
    let v = aws.ok("ecr-public get-registry-catalog-data").await;
    assert_eq!(v["registryCatalogData"]["displayName"], "stowage");
    let v = aws.ok("ecr-public describe-registries").await;
    assert_eq!(v["registries"][0]["registryUri"], public.as_str());

    let (code, password, stderr) = aws.exec("ecr-public get-login-password").await;
    assert_eq!(code, 0, "get-login-password: {stderr}");
    let r = s
        .anon
        .get(format!("http://{public}/token/?scope=repository:cli/repo:pull,push"))
        .basic_auth("AWS", Some(password.trim()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the public registry refused get-login-password's password"
    );

    aws.ok("ecr-public delete-repository --repository-name cli/repo").await;
    aws.fails(
        "ecr-public describe-repositories --repository-names cli/repo",
        "DescribeRepositories",
        "RepositoryNotFoundException",
    )
    .await;
}

/// `aws ecr-public get-login-password | docker login` to the public registry,
/// push, `docker logout`, then an anonymous pull works and an anonymous push
/// fails; an anonymous pull from the private registry fails.
#[tokio::test]
async fn docker_public_push_and_anonymous_pull() {
    let s = TestServer::start_configured(Db::Sqlite, &PUBLIC).await;
    let public = s.public_addr.unwrap().to_string();
    let aws = Aws::new(&s);
    let docker = Docker::new();
    let repo = unique("e2e-public");
    aws.ok(&format!("ecr-public create-repository --repository-name {repo}"))
        .await;
    let private = unique("e2e-private");
    s.create_repo(&private);

    let (code, password, stderr) = aws.exec("ecr-public get-login-password").await;
    assert_eq!(code, 0, "get-login-password: {stderr}");
    let mut login = docker.cmd(&["login", "--username", "AWS", "--password-stdin", &public]);
    let out = run_with_input(&mut login, Some(password.trim().as_bytes())).await;
    assert!(
        out.status.success(),
        "docker login to the public registry: {}",
        describe(&out)
    );
    docker.login(&s).await;

    let (local, built_id) = docker.build_busybox("hello from the public registry").await;
    let remote = format!("{public}/{repo}:v1");
    docker.tag(&local, &remote).await;
    let pushed = docker.push(&remote).await;
    let private_remote = format!("{}/{private}:v1", s.host());
    docker.tag(&local, &private_remote).await;
    docker.push(&private_remote).await;

    docker.ok(&["logout", &public]).await;
    docker.ok(&["logout", &s.host()]).await;
    docker.rmi(&[&local, &remote, &private_remote]).await;
    docker.pull(&remote).await;
    assert_eq!(
        docker.image_id(&remote).await,
        built_id,
        "the anonymous pull got another image"
    );
    let (_, v) = s.ecr_public("DescribeImages", json!({"repositoryName": repo})).await;
    assert_eq!(v["imageDetails"][0]["imageDigest"], pushed.as_str());

    let anonymous_push = format!("{public}/{repo}:v2");
    docker.tag(&remote, &anonymous_push).await;
    let out = run(&mut docker.cmd(&["push", &anonymous_push])).await;
    assert!(!out.status.success(), "an anonymous push succeeded: {}", describe(&out));
    let out = run(&mut docker.cmd(&["pull", &private_remote])).await;
    assert!(
        !out.status.success(),
        "an anonymous pull of a private repository succeeded: {}",
        describe(&out)
    );
}
