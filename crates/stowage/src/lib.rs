//! The `stowage` binary's library half: configuration, startup, and the
//! admin commands, so tests can drive them too.

pub mod commands;
pub mod config;
pub mod credential_helper;
pub mod serve;
pub mod tls;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use stowage_meta::Meta;
use stowage_server::keys::MasterKey;
use stowage_server::services::credentials;
use stowage_server::{AppState, ServerConfig};
use stowage_store::LocalStore;

pub use config::{Config, LogFormat, Overrides};

/// Setting naming the administrator key made at first start.
const ADMIN_KEY_SETTING: &str = "admin_access_key_id";
/// Setting holding [`MASTER_KEY_CANARY`] sealed with the master key (hex): proof at
/// every start that the key in hand is the one the database's secrets are sealed with.
const MASTER_KEY_CHECK_SETTING: &str = "master_key_check";
const MASTER_KEY_CANARY: &[u8] = b"stowage master key check";

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
    let store = LocalStore::open(&config.data_dir).context("opening blob storage")?;
    let master_key = master_key(config, &meta).await?;
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
        },
    };
    Ok(AppState::new(server, meta, Arc::new(store), master_key))
}

/// The master key from `master_key`, `master_key_file` or `<data_dir>/master.key`
/// (created with mode 0600 only for a database that has never had a key), checked
/// against the canary the database keeps: a start with another key fails.
async fn master_key(config: &Config, meta: &Meta) -> anyhow::Result<MasterKey> {
    let check = meta.setting(MASTER_KEY_CHECK_SETTING).await?;
    let key = match (&config.master_key, &config.master_key_file) {
        (Some(h), _) => key_from_hex(h).context("master_key")?,
        (None, Some(path)) => {
            let h = std::fs::read_to_string(path)
                .with_context(|| format!("reading the master key file {}", path.display()))?;
            key_from_hex(&h).with_context(|| format!("the master key file {}", path.display()))?
        }
        (None, None) => {
            let path = config.data_dir.join("master.key");
            match std::fs::read_to_string(&path) {
                Ok(h) => key_from_hex(&h).with_context(|| format!("the master key file {}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A database made before the canary existed is recognised by its admin key.
                    let used = check.is_some() || meta.setting(ADMIN_KEY_SETTING).await?.is_some();
                    anyhow::ensure!(
                        !used,
                        "the master key file {} is missing, but this registry's database was created with a \
                         master key: restore the file, or set master_key / master_key_file to the original key. \
                         Stowage will not make a new key, since secrets sealed with the old one could not be opened",
                        path.display()
                    );
                    let key = MasterKey::generate();
                    write_private(&path, &hex::encode(key.bytes()))?;
                    key
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    };
    let check = match check {
        Some(check) => check,
        None => {
            // A database made before the canary existed: its admin key's secret
            // tells whether this is its key.
            let admin_key = match meta.setting(ADMIN_KEY_SETTING).await? {
                Some(id) => meta.access_key(&id).await?,
                None => None,
            };
            anyhow::ensure!(
                admin_key.is_none_or(|k| key.open(&k.secret_sealed).is_some()),
                "{WRONG_MASTER_KEY}"
            );
            let sealed = hex::encode(key.seal(MASTER_KEY_CANARY));
            // Another node may have recorded its key first: the check below compares with it.
            meta.setting_or_insert(MASTER_KEY_CHECK_SETTING, &sealed).await?
        }
    };
    let opens = hex::decode(check.trim())
        .ok()
        .and_then(|sealed| key.open(&sealed))
        .is_some_and(|plain| plain == MASTER_KEY_CANARY);
    anyhow::ensure!(opens, "{WRONG_MASTER_KEY}");
    Ok(key)
}

/// Why a start with the wrong master key stops.
const WRONG_MASTER_KEY: &str = "the master key does not match the one this registry was created with \
     (server setting master_key_check): configure the original key (master_key, master_key_file or \
     <data-dir>/master.key); refusing to start, since secrets sealed with the original key could not be opened";

fn key_from_hex(h: &str) -> anyhow::Result<MasterKey> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(h.trim(), &mut k).map_err(|_| anyhow::anyhow!("the master key must be 64 hex characters"))?;
    Ok(MasterKey::from_bytes(k))
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
        return Ok(None); // another node bootstrapped at the same moment
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
