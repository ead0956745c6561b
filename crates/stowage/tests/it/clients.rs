//! Shared helpers for the end-to-end tests that drive real clients (docker,
//! skopeo, ctr) against a running server: commands under a timeout with their
//! output in failure messages, unique names, registry lookups, and a docker CLI
//! bound to the test engine, logged in to the server, that removes every image
//! it made.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::support::*;

/// How long any one client command may run.
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// A name no other test uses, e.g. `e2e-push-1a2b3c4d5e6f`: valid as a
/// repository name, a tag and a containerd namespace.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// A temp dir inside the scratch space `scripts/test` cleans up.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).expect("scratch dir")
}

/// Runs a command to completion within [`TIMEOUT`], capturing its output.
pub async fn run(cmd: &mut Command) -> Output {
    run_with_input(cmd, None).await
}

/// Runs a command and asserts it succeeded; returns its stdout.
pub async fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd).await;
    assert_ok(cmd, out)
}

/// Like [`run`], with `input` (if any) on the command's stdin.
pub async fn run_with_input(cmd: &mut Command, input: Option<&[u8]>) -> Output {
    let what = format!("{:?}", cmd.as_std());
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let finished = async {
        let mut child = cmd.spawn()?;
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            stdin.write_all(input).await?;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(TIMEOUT, finished).await {
        Ok(out) => out.unwrap_or_else(|e| panic!("could not run {what}: {e}")),
        Err(_) => panic!("{what} did not finish within {TIMEOUT:?}"),
    }
}

/// Asserts a finished command succeeded; returns its stdout.
fn assert_ok(cmd: &Command, out: Output) -> String {
    assert!(out.status.success(), "{:?} failed: {}", cmd.as_std(), describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status, stdout and stderr of a finished command, for messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The digest the registry serves for `repo:reference` (its Docker-Content-Digest).
pub async fn registry_digest(s: &TestServer, repo: &str, reference: &str) -> String {
    let r = s
        .head(&format!("/v2/{repo}/manifests/{reference}"))
        .header(
            "accept",
            [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", "),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "HEAD manifest {repo}:{reference}");
    r.headers()["docker-content-digest"].to_str().unwrap().to_string()
}

/// The tags the registry lists for a repository.
pub async fn registry_tags(s: &TestServer, repo: &str) -> Vec<String> {
    let r = s.get(&format!("/v2/{repo}/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), 200, "tags/list of {repo}");
    let body: serde_json::Value = r.json().await.unwrap();
    serde_json::from_value(body["tags"].clone()).expect("tags is a list of strings")
}

/// The docker CLI talking to the test engine, with its own config dir (so the
/// logins and `docker manifest` lists of parallel tests stay apart). Every image
/// reference it builds, tags or pulls is removed from the shared engine on drop.
pub struct Docker {
    bin: String,
    host: String,
    dir: tempfile::TempDir,
    refs: Mutex<Vec<String>>,
}

impl Docker {
    pub fn new() -> Docker {
        Docker {
            bin: require_env("STOWAGE_TEST_DOCKER"),
            host: require_env("STOWAGE_TEST_DOCKER_HOST"),
            dir: scratch_dir(),
            refs: Mutex::new(Vec::new()),
        }
    }

    /// A `docker` command with `args`, bound to the test engine.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with_config(&self.dir.path().join("config"), args)
    }

    /// Like [`Docker::cmd`], with another config dir (e.g. one whose
    /// `config.json` names a credential helper).
    pub fn cmd_with_config(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", config)
            .env("DOCKER_CLI_EXPERIMENTAL", "enabled")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// Runs `docker args…`, asserting success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.cmd(args)).await
    }

    /// `docker login` to the server as the admin (the login lives in this
    /// instance's config dir), as `aws ecr get-login-password | docker login` does.
    pub async fn login(&self, s: &TestServer) {
        let mut cmd = self.cmd(&["login", "--username", "AWS", "--password-stdin", &s.host()]);
        let out = run_with_input(&mut cmd, Some(s.password.as_bytes())).await;
        assert_ok(&cmd, out);
    }

    fn track(&self, reference: &str) {
        self.refs.lock().unwrap().push(reference.to_string());
    }

    /// Builds an image FROM scratch with a static busybox as `/busybox`, a
    /// second layer `/message.txt`, and `CMD /busybox echo <message>`.
    /// Returns its local reference and image id.
    pub async fn build_busybox(&self, message: &str) -> (String, String) {
        self.build_busybox_with(message, |_| Vec::new()).await
    }

    /// Like [`Docker::build_busybox`], with more files: `add` writes them into
    /// the build context directory and returns their names; each becomes a
    /// layer of its own (`/<name>`), after the others.
    pub async fn build_busybox_with(&self, message: &str, add: impl FnOnce(&Path) -> Vec<String>) -> (String, String) {
        let context = self.dir.path().join(unique("context"));
        write_busybox_context(&context, message, add);
        let reference = format!("stowage-e2e/{}:built", unique("image"));
        self.track(&reference);
        self.ok(&[
            "build",
            "--quiet",
            "--no-cache",
            "--tag",
            &reference,
            context.to_str().unwrap(),
        ])
        .await;
        let id = self.image_id(&reference).await;
        (reference, id)
    }

    /// `docker tag source target`.
    pub async fn tag(&self, source: &str, target: &str) {
        self.track(target);
        self.ok(&["tag", source, target]).await;
    }

    /// `docker push`; returns the manifest digest docker reports.
    pub async fn push(&self, reference: &str) -> String {
        pushed_digest(&self.ok(&["push", reference]).await)
    }

    /// `docker pull`.
    pub async fn pull(&self, reference: &str) {
        self.track(reference);
        self.ok(&["pull", reference]).await;
    }

    /// `docker rmi`, asserting success.
    pub async fn rmi(&self, references: &[&str]) {
        self.ok(&[&["rmi"], references].concat()).await;
    }

    /// The image id (config digest) of a local image.
    pub async fn image_id(&self, reference: &str) -> String {
        self.ok(&["image", "inspect", "--format", "{{.Id}}", reference])
            .await
            .trim()
            .to_string()
    }

    /// Whether the engine has a local image by that reference.
    pub async fn has_image(&self, reference: &str) -> bool {
        run(&mut self.cmd(&["image", "inspect", reference]))
            .await
            .status
            .success()
    }

    /// Runs an image without network; returns its stdout.
    pub async fn run_image(&self, reference: &str) -> String {
        self.ok(&["run", "--rm", "--network", "none", reference]).await
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let refs = std::mem::take(&mut *self.refs.lock().unwrap());
        if refs.is_empty() {
            return;
        }
        // Best effort: the test may already have removed some of them.
        let _ = std::process::Command::new(&self.bin)
            .args(["rmi", "--force"])
            .args(&refs)
            .env("DOCKER_HOST", &self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The manifest digest in the output of `docker push`.
pub fn pushed_digest(out: &str) -> String {
    out.split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in the output of docker push:\n{out}"))
        .to_string()
}

/// Writes a docker build context for [`Docker::build_busybox_with`].
fn write_busybox_context(dir: &Path, message: &str, add: impl FnOnce(&Path) -> Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(require_env("STOWAGE_TEST_BUSYBOX"), dir.join("busybox")).expect("copying busybox");
    std::fs::write(dir.join("message.txt"), format!("{message}\n")).unwrap();
    let cmd = serde_json::to_string(&["/busybox", "echo", message]).unwrap();
    let mut dockerfile = "FROM scratch\nCOPY busybox /busybox\nCOPY message.txt /message.txt\n".to_string();
    for name in add(dir) {
        dockerfile.push_str(&format!("COPY {name} /{name}\n"));
    }
    dockerfile.push_str(&format!("CMD {cmd}\n"));
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
}
