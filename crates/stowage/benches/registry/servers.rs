//! The two registries under test, each a child process on loopback with its own
//! temp data dir, killed (and its dir removed) when dropped.
//!
//! Stowage requires ECR-style Basic auth on `/v2/` (`AWS:<login password>`); the
//! bench logs in as the account's administrator with `stowage admin
//! get-login-password` and sends that header on every request. docker-registry
//! runs without auth, as configured by default.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The stowage binary of this package, built in the same profile as the bench.
const STOWAGE: &str = env!("CARGO_BIN_EXE_stowage");

/// How long a server may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which registry a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stowage,
    DockerRegistry,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stowage => "stowage",
            Kind::DockerRegistry => "docker-registry",
        }
    }
}

/// A child process that is killed and reaped when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Extra flags and environment for Stowage, given to `serve` and to the admin
/// commands alike: e.g. a PostgreSQL database and an S3 bucket shared by nodes.
#[derive(Clone, Debug, Default)]
pub struct StowageOptions {
    /// Flags after the subcommand's own (`--database-url …`, `--blob-store s3`, …).
    pub args: Vec<String>,
    /// Environment variables to set. When one is an `AWS_*` variable, every
    /// `AWS_*` variable of the bench's own environment is removed first.
    pub env: Vec<(String, String)>,
}

impl StowageOptions {
    /// A `stowage` command with these options' environment (flags not added).
    fn command(&self) -> Command {
        let mut cmd = Command::new(STOWAGE);
        cmd.env_remove("STOWAGE_DATABASE_URL");
        if self.env.iter().any(|(k, _)| k.starts_with("AWS_")) {
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("AWS_") {
                    cmd.env_remove(k);
                }
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// A running registry. Fields drop in order: the process dies before its data
/// dir is removed.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    /// The `Authorization` header value to send, if the registry needs one.
    pub authorization: Option<String>,
    /// Stowage's extra flags and environment (empty for docker-registry).
    options: StowageOptions,
    child: ChildGuard,
    data_dir: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// Starts a fresh registry of `kind` with a temp data dir under `parent`.
    pub async fn start(kind: Kind, parent: &Path, docker_registry: &Path) -> anyhow::Result<Server> {
        Self::start_with(kind, parent, docker_registry, StowageOptions::default(), None).await
    }

    /// Starts Stowage with a temp data dir under `parent` and extra `options`
    /// (e.g. a node of a cluster: a shared database and bucket).
    pub async fn start_stowage(parent: &Path, options: StowageOptions) -> anyhow::Result<Server> {
        Self::start_with(Kind::Stowage, parent, Path::new(""), options, None).await
    }

    /// Like [`Server::start_stowage`], also sending every JSON line of the
    /// server's log to `log` (the scan bench reads its `scan finished` lines).
    #[allow(dead_code)] // used by the scan bench only
    pub async fn start_stowage_with_log(
        parent: &Path,
        options: StowageOptions,
        log: std::sync::mpsc::Sender<serde_json::Value>,
    ) -> anyhow::Result<Server> {
        Self::start_with(Kind::Stowage, parent, Path::new(""), options, Some(log)).await
    }

    async fn start_with(
        kind: Kind,
        parent: &Path,
        docker_registry: &Path,
        options: StowageOptions,
        log: Option<std::sync::mpsc::Sender<serde_json::Value>>,
    ) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("bench-{}-", kind.name()))
            .tempdir_in(parent)
            .with_context(|| format!("creating a temp dir in {}", parent.display()))?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir)?;
        let (child, addr) = match kind {
            Kind::Stowage => spawn_stowage(&data_dir, &options, log).await?,
            Kind::DockerRegistry => spawn_docker_registry(docker_registry, dir.path(), &data_dir)?,
        };
        let mut server = Server {
            kind,
            addr,
            authorization: None,
            options,
            child,
            data_dir,
            _dir: dir,
        };
        server.wait_listening().await?;
        if kind == Kind::Stowage {
            server.authorization = Some(basic_auth(&server.login_password()?));
        }
        server.check_base().await?;
        Ok(server)
    }

    /// Base URL, `http://127.0.0.1:PORT/`.
    pub fn base(&self) -> reqwest::Url {
        format!("http://{}/", self.addr).parse().expect("valid URL")
    }

    /// An absolute URL for a path on the server.
    pub fn url(&self, path: &str) -> reqwest::Url {
        self.base().join(path).expect("valid path")
    }

    /// An HTTP client for this server: sends its `Authorization` on every request.
    pub fn http_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(auth) = &self.authorization {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                auth.parse().expect("valid header value"),
            );
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(4)
            .build()
            .expect("building the HTTP client")
    }

    /// Makes `name` exist: `stowage repo create` for Stowage, nothing for
    /// docker-registry (it creates repositories on first push).
    pub fn create_repo(&self, name: &str) -> anyhow::Result<()> {
        if self.kind != Kind::Stowage {
            return Ok(());
        }
        self.stowage_admin(&["repo", "create", name]).map(drop)
    }

    /// A registry login password for the administrator (12 h validity).
    fn login_password(&self) -> anyhow::Result<String> {
        let out = self.stowage_admin(&["admin", "get-login-password", "--user", "admin"])?;
        Ok(out.trim().to_string())
    }

    /// Runs a `stowage` admin subcommand on this server's data dir; returns stdout.
    pub fn stowage_admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .options
            .command()
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.options.args)
            .output()
            .with_context(|| format!("running stowage {}", args.join(" ")))?;
        if !out.status.success() {
            bail!("stowage {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// The server process's pid.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Stowage's administrator access key, from `<data-dir>/credentials`
    /// (written at first start), for signing ECR API calls.
    pub fn admin_credentials(&self) -> anyhow::Result<stowage_core::sigv4::Credentials> {
        let path = self.data_dir.join("credentials");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(key)?.trim_start().strip_prefix('='))
                .map(|v| v.trim().to_string())
                .with_context(|| format!("no {key} in {}", path.display()))
        };
        Ok(stowage_core::sigv4::Credentials {
            access_key_id: field("aws_access_key_id")?,
            secret_access_key: field("aws_secret_access_key")?,
            session_token: None,
        })
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM")
    }

    /// Current resident set size (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS")
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.child.0.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }

    /// Polls `GET /v2/` until the server answers at all.
    async fn wait_listening(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        while client.get(self.url("/v2/")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("{} did not answer GET /v2/ within {START_TIMEOUT:?}", self.kind.name());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// `GET /v2/` with the bench's credentials must answer 200.
    async fn check_base(&self) -> anyhow::Result<()> {
        let resp = self.http_client().get(self.url("/v2/")).send().await?;
        let status = resp.status();
        ensure!(
            status.is_success(),
            "{} answered GET /v2/ with {status}: {}",
            self.kind.name(),
            resp.text().await.unwrap_or_default()
        );
        Ok(())
    }
}

/// Starts `stowage serve` on a kernel-chosen port and reads the bound address
/// from its JSON start-up log line.
async fn spawn_stowage(
    data_dir: &Path,
    options: &StowageOptions,
    log: Option<std::sync::mpsc::Sender<serde_json::Value>>,
) -> anyhow::Result<(ChildGuard, SocketAddr)> {
    let mut child = options
        .command()
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
        .arg(data_dir)
        .args(&options.args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {STOWAGE}"))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = ChildGuard(child);
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || drain_stowage_log(stderr, tx, log));
    let listen = tokio::time::timeout(START_TIMEOUT, rx)
        .await
        .context("stowage did not log its listen address in time")?
        .context("stowage exited before logging its listen address")?;
    Ok((guard, listen.parse()?))
}

/// Reads Stowage's JSON log: sends the `listen` address once, echoes warnings
/// and errors, passes every line to `log` if given, and discards the rest.
fn drain_stowage_log(
    stderr: impl Read,
    tx: oneshot::Sender<String>,
    log: Option<std::sync::mpsc::Sender<serde_json::Value>>,
) {
    let mut tx = Some(tx);
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            eprintln!("[stowage] {line}");
            continue;
        };
        if let Some(listen) = v.get("listen").and_then(|l| l.as_str())
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(listen.to_string());
        }
        if matches!(v.get("level").and_then(|l| l.as_str()), Some("WARN" | "ERROR")) {
            eprintln!("[stowage] {line}");
        }
        if let Some(log) = &log {
            let _ = log.send(v);
        }
    }
}

/// Starts `docker-registry serve` with a minimal config on a free port.
fn spawn_docker_registry(bin: &Path, dir: &Path, data_dir: &Path) -> anyhow::Result<(ChildGuard, SocketAddr)> {
    let addr = free_port()?;
    let config = dir.join("config.yml");
    std::fs::write(&config, docker_registry_config(addr, data_dir))?;
    let mut child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stderr = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[docker-registry] {line}");
        }
    });
    Ok((ChildGuard(child), addr))
}

/// Filesystem storage, deletes enabled, no blob descriptor cache, warn-level logs.
/// (Its access log goes to stdout, which is discarded, as Stowage's request log is.)
fn docker_registry_config(addr: SocketAddr, data_dir: &Path) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        data_dir.display()
    )
}

/// `Basic base64("AWS:" + password)`, what `docker login -u AWS` sends.
fn basic_auth(password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("AWS:{password}")))
}

/// A loopback address with a port that was free a moment ago.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
