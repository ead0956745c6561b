//! The `stowage` binary's library half: configuration, startup, and the
//! admin commands, so tests can drive them too.

pub mod config;
pub mod serve;

use std::sync::Arc;

use anyhow::Context;
use stowage_meta::Meta;
use stowage_server::{AppState, ServerConfig};
use stowage_store::LocalStore;

pub use config::{Config, LogFormat, Overrides};

/// Opens metadata and blob storage and settles the registry's account.
pub async fn open(config: &Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let meta = Meta::connect(&config.database_url())
        .await
        .context("opening the metadata database")?;
    let account_id = match &config.account_id {
        Some(id) => id.clone(),
        None => {
            meta.setting_or_insert("default_account_id", &random_account_id())
                .await?
        }
    };
    meta.ensure_account(&account_id).await?;
    let store = LocalStore::open(&config.data_dir).context("opening blob storage")?;
    Ok(AppState::new(ServerConfig { account_id }, meta, Arc::new(store)))
}

fn random_account_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    // A leading non-zero digit keeps the id 12 digits however it is parsed.
    let first = rng.random_range(1..=9u8);
    let rest: String = (0..11).map(|_| char::from(b'0' + rng.random_range(0..=9u8))).collect();
    format!("{first}{rest}")
}
