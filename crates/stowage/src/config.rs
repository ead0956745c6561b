//! Configuration shared by `serve` and the admin commands: defaults, then a
//! TOML file (`--config`), then `STOWAGE_*` environment variables, then flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Where blob bytes are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    /// Files under `data_dir` (one node).
    #[default]
    Filesystem,
    /// An S3-compatible bucket (`s3_*` settings), shared by any number of nodes.
    S3,
}

/// Stowage's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// Address of the public registry (ECR Public's `/v2/` with the Bearer flow);
    /// not served when unset.
    pub public_listen: Option<SocketAddr>,
    /// PEM certificate chain (leaf first): with `tls_key`, `listen` and
    /// `public_listen` serve HTTPS only. Re-read on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// An extra plain-HTTP listener beside the HTTPS one, for local tools; a
    /// loopback address only.
    pub plain_listen: Option<SocketAddr>,
    /// Where SQLite and blob files live.
    pub data_dir: PathBuf,
    /// `postgres://…` to keep metadata in PostgreSQL; SQLite in `data_dir` when unset.
    pub database_url: Option<String>,
    /// Where blob bytes live: `filesystem` (under `data_dir`) or `s3`.
    pub blob_store: BlobStoreKind,
    /// S3 endpoint (`http(s)://host:port`) for Garage, MinIO, Ceph…; AWS S3 when unset.
    pub s3_endpoint: Option<String>,
    /// The bucket blobs go to (required with `blob_store = "s3"`).
    pub s3_bucket: Option<String>,
    /// The bucket's region; `region` when unset.
    pub s3_region: Option<String>,
    /// A folder in the bucket for everything Stowage writes.
    pub s3_prefix: String,
    /// S3 credentials; the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    /// variables when unset.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// The registry's account id (12 digits); generated at first start when unset.
    pub account_id: Option<String>,
    /// Region named in ARNs and accepted in SigV4 scopes.
    pub region: String,
    /// The URL users `docker tag` with (`http://host:port`); `http://<listen>` when
    /// unset (`https://` with TLS).
    pub public_url: Option<String>,
    /// Master key (64 hex chars) sealing secrets in metadata; when neither it
    /// nor `master_key_file` is set it is kept in `<data_dir>/master.key`, created
    /// at first start. Nodes sharing a database must share it; a start with
    /// another key than the database was created with fails.
    pub master_key: Option<String>,
    /// A file holding the master key (64 hex chars), instead of `master_key`.
    pub master_key_file: Option<PathBuf>,
    pub log_format: LogFormat,
    /// How often lifecycle policies run on every repository that has one.
    #[serde(with = "humantime_serde")]
    pub lifecycle_interval: Duration,
    /// How often a garbage-collection pass runs.
    #[serde(with = "humantime_serde")]
    pub gc_interval: Duration,
    /// How long an unreferenced blob waits before GC may delete it.
    #[serde(with = "humantime_serde")]
    pub gc_grace: Duration,
    /// How long an upload may sit idle before GC removes it.
    #[serde(with = "humantime_serde")]
    pub upload_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5000".parse().expect("valid default address"),
            public_listen: None,
            tls_cert: None,
            tls_key: None,
            plain_listen: None,
            data_dir: PathBuf::from("./stowage-data"),
            database_url: None,
            blob_store: BlobStoreKind::Filesystem,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: None,
            s3_prefix: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            account_id: None,
            region: "us-east-1".to_string(),
            public_url: None,
            master_key: None,
            master_key_file: None,
            log_format: LogFormat::Human,
            lifecycle_interval: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(600),
            gc_grace: Duration::from_secs(24 * 3600),
            upload_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Values given on the command line; each overrides the file and environment.
#[derive(Clone, Debug, Default, Serialize, clap::Args)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:5000).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Address to serve the public registry on (ECR Public; off by default).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_listen: Option<SocketAddr>,
    /// PEM certificate chain: serve HTTPS (with --tls-key); re-read on SIGHUP.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Extra plain-HTTP listener beside HTTPS (loopback addresses only).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain_listen: Option<SocketAddr>,
    /// File holding the master key (64 hex characters).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// Data directory (default ./stowage-data).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Metadata database URL (postgres://…); SQLite in the data dir by default.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// The URL clients use to reach the registry (https://registry.example.com);
    /// http://<listen> by default. Behind a load balancer, its address.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Region named in ARNs and accepted in SigV4 scopes (default us-east-1).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Blob storage: filesystem (default) or s3.
    #[arg(long, global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_store: Option<BlobStoreKind>,
    /// S3 endpoint URL (Garage, MinIO, Ceph…; AWS S3 when unset).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// S3 bucket for blobs.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    /// The S3 bucket's region (default: --region).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// Folder inside the S3 bucket.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// How often lifecycle policies run (default 1h).
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde")]
    pub lifecycle_interval: Option<Duration>,
    /// How often a garbage-collection pass runs (default 10m).
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde")]
    pub gc_interval: Option<Duration>,
    /// How long unreferenced blobs are kept before deletion (default 24h).
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde")]
    pub gc_grace: Option<Duration>,
    /// How long an idle upload is kept (default 24h).
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_serde")]
    pub upload_ttl: Option<Duration>,
}

const ENV_KEYS: [&str; 24] = [
    "listen",
    "public_listen",
    "tls_cert",
    "tls_key",
    "plain_listen",
    "data_dir",
    "database_url",
    "blob_store",
    "s3_endpoint",
    "s3_bucket",
    "s3_region",
    "s3_prefix",
    "s3_access_key_id",
    "s3_secret_access_key",
    "account_id",
    "region",
    "public_url",
    "master_key",
    "master_key_file",
    "log_format",
    "lifecycle_interval",
    "gc_interval",
    "gc_grace",
    "upload_ttl",
];

fn hex_ok(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Config {
    /// Builds the configuration from all sources, validating it once.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &overrides.config {
            anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
            fig = fig.merge(Toml::file(path));
        }
        let config: Config = fig
            .merge(Env::prefixed("STOWAGE_").only(&ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()?;
        if let Some(id) = &config.account_id {
            anyhow::ensure!(
                id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
                "account_id must be 12 digits"
            );
        }
        if let Some(url) = &config.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "public_url must start with http:// or https://"
            );
        }
        if let Some(k) = &config.master_key {
            anyhow::ensure!(k.len() == 64 && hex_ok(k), "master_key must be 64 hex characters");
        }
        anyhow::ensure!(
            config.master_key.is_none() || config.master_key_file.is_none(),
            "master_key and master_key_file are both set: configure one of them"
        );
        anyhow::ensure!(
            config.tls_cert.is_some() == config.tls_key.is_some(),
            "tls_cert and tls_key go together: set both to serve HTTPS, or neither"
        );
        if let Some(plain) = config.plain_listen {
            anyhow::ensure!(
                config.tls_cert.is_some(),
                "plain_listen adds a plain-HTTP listener beside HTTPS: it needs tls_cert and tls_key \
                 (without them `listen` is plain HTTP already)"
            );
            anyhow::ensure!(
                plain.ip().is_loopback(),
                "plain_listen must be a loopback address (127.0.0.1 or ::1), not {plain}: plain HTTP \
                 would carry registry passwords and tokens unencrypted over the network"
            );
        }
        if config.blob_store == BlobStoreKind::S3 {
            anyhow::ensure!(config.s3_bucket.is_some(), "blob_store = \"s3\" needs s3_bucket");
            if let Some(url) = &config.s3_endpoint {
                anyhow::ensure!(
                    url.starts_with("http://") || url.starts_with("https://"),
                    "s3_endpoint must start with http:// or https://"
                );
            }
        }
        anyhow::ensure!(
            !config.lifecycle_interval.is_zero() && !config.gc_interval.is_zero(),
            "lifecycle_interval and gc_interval must be more than zero"
        );
        Ok(config)
    }

    /// The public URL in force, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("{}://{}", self.scheme(), self.listen),
        }
    }

    /// The certificate and key files when HTTPS is on.
    pub fn tls_files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }

    /// `https` when TLS is configured, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls_files().is_some() { "https" } else { "http" }
    }

    /// The S3 bucket settings in force (with `blob_store = "s3"`).
    pub fn s3(&self) -> Option<stowage_store::S3Config> {
        (self.blob_store == BlobStoreKind::S3).then(|| stowage_store::S3Config {
            endpoint: self.s3_endpoint.clone(),
            bucket: self.s3_bucket.clone().unwrap_or_default(),
            region: self.s3_region.clone().unwrap_or_else(|| self.region.clone()),
            prefix: self.s3_prefix.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
        })
    }

    /// The metadata database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("stowage.db").display()),
        }
    }
}
