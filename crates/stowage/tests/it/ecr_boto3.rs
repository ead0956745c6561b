//! The ECR control plane driven by boto3: each test starts a server and runs
//! one script of `tests/it/py/` with the venv python `scripts/test` exports
//! (STOWAGE_TEST_PYTHON). The scripts assert with messages and print `ok: …`
//! per check and `ALL CHECKS PASSED (<n> checks)` at the end; see
//! `py/ecr_support.py` for the variables they read.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::support::*;

/// How long one script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `py/<script>` against the server with `extra` environment variables;
/// asserts it exits 0 having printed at least `min_checks` passed checks.
pub(crate) async fn run_script(s: &TestServer, script: &str, extra: &[(&str, String)], min_checks: usize) {
    let python = require_env("STOWAGE_TEST_PYTHON");
    let path = repo_root().join("crates/stowage/tests/it/py").join(script);
    let home = tempfile::tempdir().expect("temp HOME");
    let mut cmd = Command::new(&python);
    cmd.arg(&path);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("STOWAGE_ENDPOINT", format!("http://{}", s.host()))
        .env("STOWAGE_CREDENTIALS_FILE", s.data_dir.join("credentials"))
        .env("STOWAGE_REGION", "us-east-1")
        .envs(extra.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("running the python script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{script} ({:.1?}):\n{stdout}", started.elapsed());
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let checks = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(
        stdout.contains("ALL CHECKS PASSED") && checks >= min_checks,
        "{script}: {checks} checks passed, expected at least {min_checks}:\n{stdout}\n{stderr}"
    );
}

/// `stowage admin create-access-key --user <user> --session-seconds <secs>`: its JSON.
fn temporary_key(s: &TestServer, user: &str, secs: u32) -> String {
    let out = s.admin(&[
        "admin",
        "create-access-key",
        "--user",
        user,
        "--session-seconds",
        &secs.to_string(),
    ]);
    assert!(
        out.status.success(),
        "create-access-key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let key: serde_json::Value = serde_json::from_str(&text).expect("create-access-key prints JSON");
    assert!(key["SessionToken"].as_str().is_some_and(|t| !t.is_empty()), "{key}");
    text
}

#[tokio::test]
async fn paginators() {
    let s = TestServer::start().await;
    run_script(&s, "ecr_paginators.py", &[], 9).await;
}

#[tokio::test]
async fn authentication_and_protocol_errors() {
    let s = TestServer::start().await;
    run_script(&s, "ecr_auth_errors.py", &[], 14).await;
}

#[tokio::test]
async fn api_errors() {
    let s = TestServer::start().await;
    run_script(&s, "ecr_api_errors.py", &[], 21).await;
}

#[tokio::test]
async fn temporary_credentials() {
    let s = TestServer::start().await;
    let temp = temporary_key(&s, "temp-user", 900);
    let expiring = temporary_key(&s, "short-user", 1);
    run_script(
        &s,
        "ecr_temporary_credentials.py",
        &[("STOWAGE_TEMP_KEY", temp), ("STOWAGE_EXPIRING_KEY", expiring)],
        6,
    )
    .await;
}
