//! `docker-credential-stowage`: the helper protocol against a real server
//! (its `get` returns a working registry password fetched with SigV4 from the
//! AWS credentials file), and the docker CLI pushing and pulling through it
//! with `credHelpers` and no `docker login`. Self-contained: it needs only
//! `support` and the services `scripts/test` starts.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::support::*;

const HELPER: &str = env!("CARGO_BIN_EXE_docker-credential-stowage");

/// How long any one command may run.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Runs a command to completion within [`TIMEOUT`], capturing its output.
async fn run(cmd: &mut Command) -> Output {
    let what = format!("{:?}", cmd.as_std());
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(TIMEOUT, cmd.output()).await {
        Ok(out) => out.unwrap_or_else(|e| panic!("could not run {what}: {e}")),
        Err(_) => panic!("{what} did not finish within {TIMEOUT:?}"),
    }
}

/// Runs a command and asserts it succeeded; returns its stdout.
async fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd).await;
    assert!(out.status.success(), "{:?} failed: {}", cmd.as_std(), describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status, stdout and stderr of a finished command, for messages.
fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

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
    aws_env(&mut cmd, vars)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("starting docker-credential-stowage");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("the helper did not finish in time")
        .unwrap()
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

/// The docker CLI on the test engine with a given config dir; `helper` adds
/// the helper's directory to `PATH` and the server's AWS credentials file.
struct DockerCli {
    bin: String,
    host: String,
    /// Image references to remove from the shared engine at the end.
    made: std::sync::Mutex<Vec<String>>,
}

impl DockerCli {
    fn new() -> DockerCli {
        DockerCli {
            bin: require_env("STOWAGE_TEST_DOCKER"),
            host: require_env("STOWAGE_TEST_DOCKER_HOST"),
            made: Default::default(),
        }
    }

    fn cmd(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", config)
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    fn made(&self, reference: &str) {
        self.made.lock().unwrap().push(reference.to_string());
    }
}

impl Drop for DockerCli {
    fn drop(&mut self) {
        let refs = std::mem::take(&mut *self.made.lock().unwrap());
        // Best effort: the test removes most of them itself.
        let _ = std::process::Command::new(&self.bin)
            .args(["rmi", "--force"])
            .args(&refs)
            .env("DOCKER_HOST", &self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
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

/// A build context: FROM scratch with a static busybox and `CMD busybox echo <message>`.
fn busybox_context(dir: &Path, message: &str) -> PathBuf {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy(require_env("STOWAGE_TEST_BUSYBOX"), context.join("busybox")).expect("copying busybox");
    let cmd = serde_json::to_string(&["/busybox", "echo", message]).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM scratch\nCOPY busybox /busybox\nCMD {cmd}\n"),
    )
    .unwrap();
    context
}

#[tokio::test]
async fn docker_pushes_and_pulls_through_the_credential_helper() {
    let s = TestServer::start().await;
    let creds = admin_credentials(&s);
    let docker = DockerCli::new();
    let scratch = tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).expect("scratch dir");
    // No config.json: no logins, no helpers.
    let plain = scratch.path().join("plain-config");
    std::fs::create_dir_all(&plain).unwrap();
    let helper_config = cred_helper_config(scratch.path(), &s.host());
    let path = path_with_helper();
    // The docker CLI runs the helper itself, so it gets PATH, DOCKER_CONFIG and
    // the AWS settings. No `docker login` anywhere.
    let with_helper = |args: &[&str]| {
        let mut cmd = docker.cmd(&helper_config, args);
        cmd.env("PATH", &path);
        aws_env(&mut cmd, &[("AWS_SHARED_CREDENTIALS_FILE", &creds)]);
        cmd
    };

    let repo = unique("e2e-credhelper");
    s.create_repo(&repo);
    let local = format!("stowage-e2e/{}:built", unique("credhelper"));
    let remote = format!("{}/{repo}:v1", s.host());
    docker.made(&local);
    docker.made(&remote);
    let context = busybox_context(scratch.path(), "pushed with docker-credential-stowage");
    run_ok(&mut docker.cmd(
        &plain,
        &[
            "build",
            "--quiet",
            "--no-cache",
            "--tag",
            &local,
            context.to_str().unwrap(),
        ],
    ))
    .await;
    let image_id = |reference: String| {
        let mut cmd = docker.cmd(&plain, &["image", "inspect", "--format", "{{.Id}}", &reference]);
        async move { run_ok(&mut cmd).await.trim().to_string() }
    };
    let built_id = image_id(local.clone()).await;
    run_ok(&mut docker.cmd(&plain, &["tag", &local, &remote])).await;

    let out = run_ok(&mut with_helper(&["push", &remote])).await;
    let pushed = out
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in the output of docker push:\n{out}"))
        .to_string();
    let r = s
        .head(&format!("/v2/{repo}/manifests/v1"))
        .header(
            "accept",
            [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", "),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the pushed tag is not in the registry");
    assert_eq!(r.headers()["docker-content-digest"], pushed.as_str());

    run_ok(&mut docker.cmd(&plain, &["rmi", &local, &remote])).await;
    let gone = run(&mut docker.cmd(&plain, &["image", "inspect", &built_id])).await;
    assert!(!gone.status.success(), "the image is still in the engine after rmi");
    run_ok(&mut with_helper(&["pull", &remote])).await;
    assert_eq!(
        image_id(remote.clone()).await,
        built_id,
        "pulled image id differs from the built one"
    );
    run_ok(&mut docker.cmd(&plain, &["rmi", &remote])).await;

    // Without the credHelpers entry (and no login) the same pull is refused.
    let out = run(&mut docker.cmd(&plain, &["pull", &remote])).await;
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
    let left = run(&mut docker.cmd(&plain, &["image", "inspect", &remote])).await;
    assert!(!left.status.success(), "a refused pull left an image behind");
}
