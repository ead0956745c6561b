//! Configuration shared by `serve` and the admin commands: defaults, then a
//! TOML file (`--config`), then `STOWAGE_*` environment variables, then flags.

use std::net::SocketAddr;
use std::path::PathBuf;

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

/// Stowage's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// Where SQLite and blob files live.
    pub data_dir: PathBuf,
    /// `postgres://…` to keep metadata in PostgreSQL; SQLite in `data_dir` when unset.
    pub database_url: Option<String>,
    /// The registry's account id (12 digits); generated at first start when unset.
    pub account_id: Option<String>,
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5000".parse().expect("valid default address"),
            data_dir: PathBuf::from("./stowage-data"),
            database_url: None,
            account_id: None,
            log_format: LogFormat::Human,
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
    /// Data directory (default ./stowage-data).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Metadata database URL (postgres://…); SQLite in the data dir by default.
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

const ENV_KEYS: [&str; 5] = ["listen", "data_dir", "database_url", "account_id", "log_format"];

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
        Ok(config)
    }

    /// The metadata database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("stowage.db").display()),
        }
    }
}
