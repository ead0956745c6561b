//! The real AWS CLI against one test server. Each `aws` call gets its own
//! credentials file (so a test can act as several users, with session tokens),
//! a throwaway `HOME` and no other `AWS_*` variable. Arguments are passed as
//! given (policy documents contain spaces).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::support::*;

/// Keys the CLI signs with.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
}

impl Keys {
    /// The admin's keys from the server's bootstrap credentials file.
    pub(crate) fn admin(s: &TestServer) -> Keys {
        let c = s.admin_credentials();
        Keys {
            id: c.access_key_id,
            secret: c.secret_access_key,
            token: None,
        }
    }

    /// From a `CreateAccessKey` answer.
    pub(crate) fn created(v: &Value) -> Keys {
        Keys {
            id: v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(),
            secret: v["AccessKey"]["SecretAccessKey"].as_str().unwrap().to_string(),
            token: None,
        }
    }

    /// From an `AssumeRole` answer.
    pub(crate) fn assumed(v: &Value) -> Keys {
        let c = &v["Credentials"];
        Keys {
            id: c["AccessKeyId"].as_str().unwrap().to_string(),
            secret: c["SecretAccessKey"].as_str().unwrap().to_string(),
            token: Some(c["SessionToken"].as_str().unwrap().to_string()),
        }
    }
}

/// The AWS CLI against one server.
pub(crate) struct Cli {
    bin: String,
    endpoint: String,
    home: tempfile::TempDir,
}

/// A failed call: `An error occurred (<code>) when calling the <op> operation: <message>`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) operation: String,
    pub(crate) message: String,
}

impl Cli {
    pub(crate) fn new(s: &TestServer) -> Cli {
        Cli {
            bin: require_env("STOWAGE_TEST_AWS"),
            endpoint: format!("http://{}", s.host()),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A file in the CLI's scratch directory (for `fileb://` arguments).
    pub(crate) fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        format!("fileb://{}", path.display())
    }

    pub(crate) async fn call(&self, keys: &Keys, args: &[&str]) -> Result<Value, Failure> {
        let creds: PathBuf = self.home.path().join(format!("credentials-{}", uuid::Uuid::new_v4()));
        let mut text = format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            keys.id, keys.secret
        );
        if let Some(t) = &keys.token {
            text.push_str(&format!("aws_session_token = {t}\n"));
        }
        std::fs::write(&creds, text).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).args([
            "--endpoint-url",
            &self.endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_MAX_ATTEMPTS", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("aws did not finish")
            .expect("running aws");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return Ok(if stdout.trim().is_empty() {
                Value::Null
            } else {
                // `ecr get-login-password` prints the bare password.
                serde_json::from_str(&stdout).unwrap_or_else(|_| Value::String(stdout.trim().to_string()))
            });
        }
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("An error occurred ("))
            .unwrap_or_else(|| panic!("aws {args:?} failed without an AWS error:\n{stderr}"));
        let (code, rest) = line.split_once(") when calling the ").unwrap();
        let (operation, message) = rest.split_once(" operation: ").unwrap();
        Err(Failure {
            code: code.into(),
            operation: operation.into(),
            message: message.into(),
        })
    }

    pub(crate) async fn ok(&self, keys: &Keys, args: &[&str]) -> Value {
        self.call(keys, args)
            .await
            .unwrap_or_else(|e| panic!("aws {args:?} failed: {e:?}"))
    }

    pub(crate) async fn fails(&self, keys: &Keys, args: &[&str], code: &str) -> Failure {
        match self.call(keys, args).await {
            Ok(v) => panic!("aws {args:?} succeeded, expected {code}: {v}"),
            Err(e) => {
                assert_eq!(e.code, code, "aws {args:?}: {e:?}");
                e
            }
        }
    }
}
