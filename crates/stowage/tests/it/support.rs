//! The test harness: a real `stowage serve` process per test, on SQLite or on a
//! fresh PostgreSQL database, with blobs in its data dir or in the test S3
//! bucket (Garage), plus helpers to push blobs and manifests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::clients::describe;

/// Which metadata database a server uses.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite,
    /// A PostgreSQL database made for this test.
    Postgres(String),
}

impl Db {
    /// A fresh PostgreSQL database on the server `scripts/test` started.
    pub async fn postgres() -> Db {
        Self::postgres_at(&require_env("STOWAGE_TEST_DATABASE_URL")).await
    }

    /// A fresh PostgreSQL database on the server of `admin_url` (a superuser's
    /// URL), with its own master key.
    pub async fn postgres_at(admin_url: &str) -> Db {
        sqlx::any::install_default_drivers();
        let name = format!("stowage_it_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::AnyPool::connect(admin_url)
            .await
            .expect("connecting to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("creating a test database");
        admin.close().await;
        let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
        let url = format!("{base}/{name}");
        // Nodes sharing a database share its master key (a server refuses another).
        let key = hex(&rand::random::<[u8; 32]>());
        std::fs::write(shared_master_key(&url), key).expect("writing the database's master key");
        Db::Postgres(url)
    }
}

/// Where a server keeps blob bytes.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Files under its data dir (the default).
    Files,
    /// The test S3 bucket `scripts/test` set up (Garage), under `prefix`.
    S3 { prefix: String },
}

impl Storage {
    /// A folder of its own in the test bucket, for the nodes of one test to share.
    pub fn s3() -> Storage {
        Storage::S3 {
            prefix: format!("it-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// The test S3 bucket (`STOWAGE_TEST_S3_*` from `scripts/test`).
#[derive(Clone, Debug)]
pub struct S3Bucket {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl S3Bucket {
    pub fn from_env() -> S3Bucket {
        S3Bucket {
            endpoint: require_env("STOWAGE_TEST_S3_ENDPOINT"),
            region: require_env("STOWAGE_TEST_S3_REGION"),
            bucket: require_env("STOWAGE_TEST_S3_BUCKET"),
            access_key_id: require_env("STOWAGE_TEST_S3_ACCESS_KEY_ID"),
            secret_access_key: require_env("STOWAGE_TEST_S3_SECRET_ACCESS_KEY"),
        }
    }

    /// Gives `cmd` the bucket's credentials the standard way, and no other `AWS_*`
    /// variable of the test's environment.
    pub fn credentials_on(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key);
    }
}

/// Where the master key of a test PostgreSQL database is kept, for every server
/// started on it to copy into its data dir.
fn shared_master_key(url: &str) -> PathBuf {
    let name = url.rsplit('/').next().expect("database URL has a path");
    Path::new(&require_env("STOWAGE_TEST_TMPDIR")).join(format!("{name}.master.key"))
}

/// An environment variable set by `scripts/test`; a clear failure without it.
pub fn require_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

/// A running `stowage serve`.
pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The public registry's address (ECR Public), when started with `--public-listen`.
    pub public_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub db: Db,
    /// Where its blobs are.
    pub storage: Storage,
    /// A client that sends the admin's registry credentials on every request.
    pub http: reqwest::Client,
    /// A client without credentials.
    pub anon: reqwest::Client,
    /// The admin's registry login password (what `aws ecr get-login-password` prints).
    pub password: String,
    /// Every line the server wrote to stderr (its log).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Extra `serve` flags (e.g. `--gc-grace 0s`).
    serve_args: Vec<String>,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_stowage");

impl TestServer {
    /// Starts a server on SQLite in a temp dir.
    pub async fn start() -> TestServer {
        Self::start_with(Db::Sqlite).await
    }

    /// Starts a server on the given database.
    pub async fn start_with(db: Db) -> TestServer {
        Self::start_configured(db, &[]).await
    }

    /// Starts a server on the given database with extra `serve` flags.
    pub async fn start_configured(db: Db, serve_args: &[&str]) -> TestServer {
        Self::start_node(db, &Storage::Files, serve_args).await
    }

    /// Starts a server on the given database and blob storage with extra
    /// `serve` flags: with a shared PostgreSQL database and `Storage::S3`, one
    /// node of a cluster (each node has a data dir of its own).
    pub async fn start_node(db: Db, storage: &Storage, serve_args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        if let Db::Postgres(url) = &db {
            std::fs::copy(shared_master_key(url), data_dir.join("master.key")).expect("copying the master key");
        }
        let mut s = TestServer {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            public_addr: None,
            data_dir,
            _dir: Some(dir),
            db,
            storage: storage.clone(),
            http: reqwest::Client::new(),
            anon: reqwest::Client::new(),
            password: String::new(),
            log: Default::default(),
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn();
        s.password = s.login_password("admin");
        s.http = authenticated_client(&s.password);
        s
    }

    /// A registry login password for a user, from `stowage admin get-login-password`.
    pub fn login_password(&self, user: &str) -> String {
        let out = self.admin(&["admin", "get-login-password", "--user", user]);
        assert!(
            out.status.success(),
            "get-login-password: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The flags `serve` and the admin commands share: data dir, database, blob store.
    fn common_args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_string(), self.data_dir.display().to_string()];
        if let Db::Postgres(url) = &self.db {
            args.extend(["--database-url".to_string(), url.clone()]);
        }
        if let Storage::S3 { prefix } = &self.storage {
            let s3 = S3Bucket::from_env();
            args.extend(
                [
                    "--blob-store",
                    "s3",
                    "--s3-endpoint",
                    s3.endpoint.as_str(),
                    "--s3-bucket",
                    s3.bucket.as_str(),
                    "--s3-region",
                    s3.region.as_str(),
                    "--s3-prefix",
                    prefix.as_str(),
                ]
                .map(String::from),
            );
        }
        args
    }

    /// A `stowage` command with the server's environment (the S3 credentials).
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("STOWAGE_DATABASE_URL");
        if let Storage::S3 { .. } = &self.storage {
            S3Bucket::from_env().credentials_on(&mut cmd);
        }
        cmd
    }

    fn spawn(&mut self) {
        let mut child = self
            .command()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(self.common_args())
            .args(&self.serve_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting stowage");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = self.log.clone();
        let public_listen = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let public_seen = public_listen.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The public registry's address is logged before the main one.
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(public) = v.get("public_listen").and_then(|l| l.as_str())
                {
                    *public_seen.lock().unwrap() = Some(public.to_string());
                }
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(listen) = v.get("listen").and_then(|l| l.as_str())
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(listen.to_string());
                }
                eprintln!("[stowage] {line}");
                log.lock().unwrap().push(line);
            }
        });
        let listen = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("stowage did not report its address");
        self.addr = listen.parse().unwrap();
        self.public_addr = public_listen.lock().unwrap().as_ref().map(|a| a.parse().unwrap());
        self.child = Some(child);
    }

    /// The server's process id, while it runs (to send it signals).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Kills the server abruptly (SIGKILL), as a crash would.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts the server on the same data dir and database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The value of one sample of `/metrics`, e.g. `stowage_gc_passes_total` or
    /// `stowage_job_runs_total{job="gc"}`; `None` while the server has none.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = self
            .anon
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == sample).then(|| value.parse().ok()).flatten()
        })
    }

    /// `host:port` of the server.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// An absolute URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Runs an admin subcommand against the server's config; returns stdout.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        self.command()
            .args(args)
            .args(self.common_args())
            .output()
            .expect("running stowage admin command")
    }

    /// Runs an admin subcommand with `input` on its standard input.
    pub fn admin_with_input(&self, args: &[&str], input: &[u8]) -> std::process::Output {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .args(self.common_args())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running stowage admin command");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Creates a repository with `stowage repo create`.
    pub fn create_repo(&self, name: &str) {
        let out = self.admin(&["repo", "create", name]);
        assert!(
            out.status.success(),
            "repo create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn head(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.head(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.put(self.url(path))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path))
    }

    /// Pushes a blob monolithically; returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest(bytes);
        let resp = self
            .post(&format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "push blob: {}", resp.text().await.unwrap());
        digest
    }

    /// Pushes a small OCI image (config + one layer) under `reference`; returns
    /// the manifest bytes and digest.
    pub async fn push_image(&self, repo: &str, reference: &str, layer: &[u8]) -> (Vec<u8>, String) {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let c = self.push_blob(repo, config).await;
        let l = self.push_blob(repo, layer).await;
        let manifest = image_manifest(&c, config.len(), &l, layer.len());
        let resp = self
            .put(&format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "push manifest: {}", resp.text().await.unwrap());
        let d = digest(&manifest);
        (manifest, d)
    }
}

impl TestServer {
    /// The admin's access key from `<data-dir>/credentials`.
    pub fn admin_credentials(&self) -> stowage_core::sigv4::Credentials {
        let text = std::fs::read_to_string(self.data_dir.join("credentials")).expect("credentials file");
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k).and_then(|r| r.trim_start().strip_prefix('=')))
                .map(|v| v.trim().to_string())
                .expect("credentials field")
        };
        stowage_core::sigv4::Credentials {
            access_key_id: field("aws_access_key_id"),
            secret_access_key: field("aws_secret_access_key"),
            session_token: None,
        }
    }

    /// Calls an ECR operation signed with the admin's key; returns status and JSON body.
    pub async fn ecr(&self, operation: &str, input: serde_json::Value) -> (u16, serde_json::Value) {
        self.signed_json("AmazonEC2ContainerRegistry_V20150921", "ecr", operation, input)
            .await
    }

    /// Calls an ECR Public operation (`SpencerFrontendService`, signing name
    /// `ecr-public`) signed with the admin's key; returns status and JSON body.
    pub async fn ecr_public(&self, operation: &str, input: serde_json::Value) -> (u16, serde_json::Value) {
        self.signed_json("SpencerFrontendService", "ecr-public", operation, input)
            .await
    }

    async fn signed_json(
        &self,
        prefix: &str,
        service: &str,
        operation: &str,
        input: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = input.to_string();
        let target = format!("{prefix}.{operation}");
        let base = vec![
            ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
            ("host".to_string(), self.host()),
            ("x-amz-target".to_string(), target),
        ];
        let req = stowage_core::sigv4::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &base,
            body: body.as_bytes(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let extra = stowage_core::sigv4::sign(&req, &self.admin_credentials(), "us-east-1", service, now);
        let mut builder = self.anon.post(self.url("/"));
        for (k, v) in base.iter().chain(extra.iter()).filter(|(k, _)| k != "host") {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let resp = builder.body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// A client that sends `Authorization: Basic base64("AWS:" + password)`.
pub fn authenticated_client(password: &str) -> reqwest::Client {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {token}").parse().unwrap(),
    );
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.crash();
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An OCI image manifest for a config and one layer.
pub fn image_manifest(config: &str, config_size: usize, layer: &str, layer_size: usize) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{layer_size}}}]}}"#
    )
    .into_bytes()
}

/// The OCI error code of a registry error response.
pub async fn error_code(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.expect("error body is JSON");
    body["errors"][0]["code"].as_str().expect("errors[0].code").to_string()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, optionally
/// with extra `serve` flags: `both_dbs!(["--gc-grace", "0s"] async fn name(s: TestServer) { .. })`.
macro_rules! both_dbs {
    ($(#[$m:meta])* async fn $name:ident($s:ident: TestServer) $body:block) => {
        $crate::support::both_dbs!([] $(#[$m])* async fn $name($s: TestServer) $body);
    };
    ([$($arg:expr),*] $(#[$m:meta])* async fn $name:ident($s:ident: TestServer) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($s: $crate::support::TestServer) $body
            #[tokio::test]
            async fn sqlite() {
                let s = $crate::support::TestServer::start_configured($crate::support::Db::Sqlite, &[$($arg),*]).await;
                run(s).await
            }
            #[tokio::test]
            async fn postgres() {
                let db = $crate::support::Db::postgres().await;
                run($crate::support::TestServer::start_configured(db, &[$($arg),*]).await).await
            }
        }
    };
}
pub(crate) use both_dbs;

/// Path of a file under the repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// Runs `stowage serve` with `args`, expecting it to exit at start; returns what
/// it wrote to stderr.
pub fn serve_refused(args: &[&str]) -> String {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .env_remove("STOWAGE_DATABASE_URL")
        .env_remove("STOWAGE_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting stowage");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("stowage serve {args:?} kept running:\n{}", describe(&out));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !status.success(),
        "stowage serve {args:?} exited successfully:\n{stderr}"
    );
    stderr
}

/// `--data-dir` (and `--database-url`, and the blob store's flags) of a test server.
pub fn server_args(s: &TestServer) -> Vec<String> {
    s.common_args()
}
