//! `docker-credential-stowage`: the helper protocol against a real server
//! (its `get` returns a working registry password fetched with SigV4 from the
//! AWS credentials file), and the docker CLI pushing and pulling through it
//! with `credHelpers` and no `docker login`.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use crate::clients::*;
use crate::support::*;

const HELPER: &str = env!("CARGO_BIN_EXE_docker-credential-stowage");

/// Variables of the AWS credential chain that must not leak in from the
/// environment running the tests.
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "STOWAGE_ENDPOINT",
];

/// Makes `cmd` see only the AWS settings in `vars`, plus a config file that
/// does not exist (so the region defaults to the server's us-east-1).
fn aws_env<'c>(cmd: &'c mut Command, vars: &[(&str, &str)]) -> &'c mut Command {
    for var in AWS_VARS {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/stowage-test/aws-config");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the helper with one action, `input` on stdin and the given AWS settings.
async fn helper(action: &str, input: &str, vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(HELPER);
    aws_env(&mut cmd, vars).arg(action);
    run_with_input(&mut cmd, Some(input.as_bytes())).await
}

/// The credentials file the server wrote for its administrator at first start.
fn admin_credentials(s: &TestServer) -> String {
    let path = s.data_dir.join("credentials");
    assert!(path.exists(), "no admin credentials file at {}", path.display());
    path.display().to_string()
}

/// `get` for the server's host, asserting success; returns (username, secret).
async fn get_ok(s: &TestServer, vars: &[(&str, &str)]) -> (String, String) {
    let out = helper("get", &s.host(), vars).await;
    assert!(out.status.success(), "helper get failed: {}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("get prints JSON");
    assert_eq!(v["ServerURL"], s.host().as_str(), "{v}");
    (
        v["Username"].as_str().expect("Username").to_string(),
        v["Secret"].as_str().expect("Secret").to_string(),
    )
}

/// Asserts `password` works as `Basic AWS:<password>` on `GET /v2/`.
async fn assert_password_works(s: &TestServer, password: &str) {
    let r = authenticated_client(password).get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET /v2/ with the helper's secret");
}

#[tokio::test]
async fn credential_helper_get_returns_a_working_password() {
    let s = TestServer::start().await;
    let creds = admin_credentials(&s);
    let r = s.anon.get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401, "GET /v2/ without credentials");

    // The shared credentials file, default profile, default region.
    let (user, secret) = get_ok(&s, &[("AWS_SHARED_CREDENTIALS_FILE", &creds)]).await;
    assert_eq!(user, "AWS");
    assert_password_works(&s, &secret).await;

    // A named profile in another file, and an explicit endpoint.
    let text = std::fs::read_to_string(&creds).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("credentials");
    std::fs::write(
        &other,
        format!(
            "[default]\naws_access_key_id = AKIANOTTHISONE\naws_secret_access_key = nope\n\n# ci\n{}",
            text.replace("[default]", "[ci]")
        ),
    )
    .unwrap();
    let (_, secret) = get_ok(
        &s,
        &[
            ("AWS_SHARED_CREDENTIALS_FILE", other.to_str().unwrap()),
            ("AWS_PROFILE", "ci"),
            ("STOWAGE_ENDPOINT", &s.url("")),
            ("AWS_REGION", "us-east-1"),
        ],
    )
    .await;
    assert_password_works(&s, &secret).await;

    // Temporary keys from the environment, with their session token.
    let out = s.admin(&["admin", "create-access-key", "--session-seconds", "900"]);
    assert!(out.status.success(), "create-access-key: {}", describe(&out));
    let key: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (akid, sk, token) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
        key["SessionToken"].as_str().expect("a session token"),
    );
    let env_creds = [
        ("AWS_ACCESS_KEY_ID", akid),
        ("AWS_SECRET_ACCESS_KEY", sk),
        ("AWS_SESSION_TOKEN", token),
        // The environment wins over the file.
        ("AWS_SHARED_CREDENTIALS_FILE", other.to_str().unwrap()),
    ];
    let (_, secret) = get_ok(&s, &env_creds).await;
    assert_password_works(&s, &secret).await;

    // The same key without its token is refused by the server: "not found" for
    // docker, the AWS error on stderr.
    let out = helper("get", &s.host(), &env_creds[..2]).await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "credentials not found in native keychain\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("UnrecognizedClientException"), "{stderr}");

    // A region the server does not serve.
    let out = helper(
        "get",
        &s.host(),
        &[("AWS_SHARED_CREDENTIALS_FILE", &creds), ("AWS_REGION", "eu-west-3")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("InvalidSignatureException"),
        "{}",
        describe(&out)
    );

    // No credentials at all.
    let out = helper(
        "get",
        &s.host(),
        &[("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "credentials not found in native keychain\n"
    );

    // The other actions.
    let out = helper("list", "", &[]).await;
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    let stored = format!(r#"{{"ServerURL":"{}","Username":"AWS","Secret":"x"}}"#, s.host());
    assert!(helper("store", &stored, &[]).await.status.success());
    assert!(helper("erase", &s.host(), &[]).await.status.success());
}

/// A docker config dir whose `config.json` names the helper for `host`.
fn cred_helper_config(dir: &Path, host: &str) -> PathBuf {
    let config = dir.join("helper-config");
    std::fs::create_dir_all(&config).unwrap();
    let json = serde_json::json!({ "credHelpers": { host: "stowage" } });
    std::fs::write(config.join("config.json"), json.to_string()).unwrap();
    config
}

/// `PATH` with the helper's directory first.
fn path_with_helper() -> String {
    let bin_dir = Path::new(HELPER).parent().unwrap().display().to_string();
    match std::env::var("PATH") {
        Ok(path) if !path.is_empty() => format!("{bin_dir}:{path}"),
        _ => bin_dir,
    }
}

#[tokio::test]
async fn docker_pushes_and_pulls_through_the_credential_helper() {
    let s = TestServer::start().await;
    let creds = admin_credentials(&s);
    // Its own config dir has no config.json: no logins, no helpers.
    let docker = Docker::new();
    let scratch = scratch_dir();
    let helper_config = cred_helper_config(scratch.path(), &s.host());
    let path = path_with_helper();
    // The docker CLI runs the helper itself, so it gets PATH, DOCKER_CONFIG and
    // the AWS settings. No `docker login` anywhere.
    let with_helper = |args: &[&str]| {
        let mut cmd = docker.cmd_with_config(&helper_config, args);
        cmd.env("PATH", &path);
        aws_env(&mut cmd, &[("AWS_SHARED_CREDENTIALS_FILE", &creds)]);
        cmd
    };

    let repo = unique("e2e-credhelper");
    s.create_repo(&repo);
    let remote = format!("{}/{repo}:v1", s.host());
    let (local, built_id) = docker.build_busybox("pushed with docker-credential-stowage").await;
    docker.tag(&local, &remote).await;

    let pushed = pushed_digest(&run_ok(&mut with_helper(&["push", &remote])).await);
    assert_eq!(
        registry_digest(&s, &repo, "v1").await,
        pushed,
        "the pushed tag is not in the registry"
    );

    docker.rmi(&[&local, &remote]).await;
    assert!(
        !docker.has_image(&built_id).await,
        "the image is still in the engine after rmi"
    );
    run_ok(&mut with_helper(&["pull", &remote])).await;
    assert_eq!(
        docker.image_id(&remote).await,
        built_id,
        "pulled image id differs from the built one"
    );
    docker.rmi(&[&remote]).await;

    // Without the credHelpers entry (and no login) the same pull is refused.
    let out = run(&mut docker.cmd(&["pull", &remote])).await;
    assert!(
        !out.status.success(),
        "pull without credentials succeeded: {}",
        describe(&out)
    );
    let text = describe(&out).to_lowercase();
    assert!(
        [
            "no basic auth credentials",
            "unauthorized",
            "authentication required",
            "not authorized"
        ]
        .iter()
        .any(|m| text.contains(m)),
        "docker output does not report an authentication error: {text}"
    );
    assert!(!docker.has_image(&remote).await, "a refused pull left an image behind");
}
