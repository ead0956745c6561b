//! The `stowage` binary's library half: configuration, startup, and the
//! admin commands, so tests can drive them too.

pub mod commands;
pub mod config;
pub mod credential_helper;
pub mod master_key;
pub mod serve;
pub mod tls;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use stowage_meta::Meta;
use stowage_server::services::credentials;
use stowage_server::{AppState, ServerConfig};
use stowage_store::{BlobStore, LocalStore, S3Store};

pub use config::{BlobStoreKind, Config, LogFormat, Overrides};

/// Setting naming the administrator key made at first start.
const ADMIN_KEY_SETTING: &str = "admin_access_key_id";

/// Opens metadata and blob storage and settles the registry's account.
/// `public_url` overrides the configured one (the server passes its bound address).
pub async fn open(config: &Config, public_url: Option<String>) -> anyhow::Result<AppState> {
    open_serving(config, public_url, None).await
}

/// Like [`open`], also naming the public registry's URL (ECR Public's listener).
pub async fn open_serving(
    config: &Config,
    public_url: Option<String>,
    public_registry_url: Option<String>,
) -> anyhow::Result<AppState> {
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
    let store: Arc<dyn BlobStore> = match config.s3() {
        Some(s3) => Arc::new(S3Store::open(&s3).context("opening the S3 blob store")?),
        None => Arc::new(LocalStore::open(&config.data_dir).context("opening blob storage")?),
    };
    let master_key = master_key::load(config, &meta).await?;
    let server = ServerConfig {
        account_id,
        region: config.region.clone(),
        public_url: public_url.unwrap_or_else(|| config.public_url()),
        public_registry_url,
        housekeeping: stowage_server::Housekeeping {
            lifecycle_interval: config.lifecycle_interval,
            gc_interval: config.gc_interval,
            gc_grace: config.gc_grace,
            upload_ttl: config.upload_ttl,
            scan_poll: std::time::Duration::from_secs(1),
        },
    };
    Ok(AppState::new(server, meta, store, master_key))
}

/// Writes a file only its owner can read, durably, without replacing an existing one.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// At first start, creates the administrator's access key, writes it to
/// `<data_dir>/credentials` (AWS credentials-file format, mode 0600) and returns
/// it so the caller can show it once.
pub async fn bootstrap_admin(state: &AppState, config: &Config) -> anyhow::Result<Option<credentials::NewKey>> {
    if state.meta.setting(ADMIN_KEY_SETTING).await?.is_some() {
        return Ok(None);
    }
    let key = credentials::create_key(state, &state.config.account_id, "admin", None).await?;
    let winner = state
        .meta
        .setting_or_insert(ADMIN_KEY_SETTING, &key.access_key_id)
        .await?;
    if winner != key.access_key_id {
        // Another node bootstrapped at the same moment: its key is the one
        // shown; ours, never shown to anyone, goes.
        state
            .meta
            .delete_access_key(&key.principal_arn, &key.access_key_id)
            .await?;
        return Ok(None);
    }
    let path = config.data_dir.join("credentials");
    write_private(
        &path,
        &format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id, key.secret_access_key
        ),
    )?;
    Ok(Some(key))
}

/// A random 12-digit account id.
pub fn random_account_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    // A leading non-zero digit keeps the id 12 digits however it is parsed.
    let first = rng.random_range(1..=9u8);
    let rest: String = (0..11).map(|_| char::from(b'0' + rng.random_range(0..=9u8))).collect();
    format!("{first}{rest}")
}
