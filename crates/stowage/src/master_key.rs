//! The master key: where it comes from (`master_key`, `master_key_file` or
//! `<data_dir>/master.key`), the check at every start that it is the key the
//! database's secrets are sealed with, and its rotation.
//!
//! A rotation of a data-dir key must never leave the database and the key file
//! disagreeing. The new key is made durable first (`master.key.next`, fsynced
//! with its directory), then every sealed value is re-sealed in one database
//! transaction, then `master.key.next` is renamed over `master.key`. A crash
//! before the commit leaves the old key valid (a stale `master.key.next` is
//! ignored, and replaced by the next rotation); a crash after it is finished by
//! the next start, which finds that `master.key` fails the check and
//! `master.key.next` passes it.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;
use stowage_meta::{Meta, ResealError, Resealed, SettingSwap};
use stowage_server::keys::MasterKey;

use crate::{ADMIN_KEY_SETTING, Config, write_private};

/// Setting holding [`MASTER_KEY_CANARY`] sealed with the master key (hex): proof at
/// every start that the key in hand is the one the database's secrets are sealed with.
const MASTER_KEY_CHECK_SETTING: &str = "master_key_check";
const MASTER_KEY_CANARY: &[u8] = b"stowage master key check";

/// The data-dir key file, used when neither `master_key` nor `master_key_file` is set.
const KEY_FILE: &str = "master.key";
/// The key a data-dir rotation is installing.
const NEXT_KEY_FILE: &str = "master.key.next";
/// Held (`flock`) by a rotation, so two on one data dir cannot mix their files.
const LOCK_FILE: &str = "master.key.lock";

/// Why a start with the wrong master key stops.
const WRONG_MASTER_KEY: &str = "the master key does not match the one this registry was created with \
     (server setting master_key_check): configure the original key (master_key, master_key_file or \
     <data-dir>/master.key); refusing to start, since secrets sealed with the original key could not be opened. \
     After `stowage admin rotate-master-key`, every node needs the new key";

/// The master key from `master_key`, `master_key_file` or `<data_dir>/master.key`
/// (created with mode 0600 only for a database that has never had a key), checked
/// against the canary the database keeps: a start with another key fails, unless
/// it finishes a data-dir rotation that was interrupted after its commit.
pub(crate) async fn load(config: &Config, meta: &Meta) -> anyhow::Result<MasterKey> {
    let check = meta.setting(MASTER_KEY_CHECK_SETTING).await?;
    let key = match (&config.master_key, &config.master_key_file) {
        (Some(h), _) => key_from_hex(h).context("master_key")?,
        (None, Some(path)) => read_key_file(path)?,
        (None, None) => {
            let path = config.data_dir.join(KEY_FILE);
            match std::fs::read_to_string(&path) {
                Ok(h) => key_from_hex(&h).with_context(|| format!("the master key file {}", path.display()))?,
                Err(e) if e.kind() == ErrorKind::NotFound => {
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
    if opens_check(&key, &check) {
        return Ok(key);
    }
    if uses_data_dir_key(config)
        && let Some(next) = finish_rotation(&config.data_dir, &check)?
    {
        return Ok(next);
    }
    anyhow::bail!("{WRONG_MASTER_KEY}")
}

/// Whether the key is kept in `<data_dir>/master.key` (rather than configured).
fn uses_data_dir_key(config: &Config) -> bool {
    config.master_key.is_none() && config.master_key_file.is_none()
}

fn opens_check(key: &MasterKey, check: &str) -> bool {
    hex::decode(check.trim())
        .ok()
        .and_then(|sealed| key.open(&sealed))
        .is_some_and(|plain| plain == MASTER_KEY_CANARY)
}

/// Installs `master.key.next` when it is the key the database is sealed with:
/// a rotation committed, then stopped before its rename.
fn finish_rotation(data_dir: &Path, check: &str) -> anyhow::Result<Option<MasterKey>> {
    let next = data_dir.join(NEXT_KEY_FILE);
    let hex = match std::fs::read_to_string(&next) {
        Ok(h) => h,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", next.display())),
    };
    let Ok(key) = key_from_hex(&hex) else { return Ok(None) };
    if !opens_check(&key, check) {
        return Ok(None);
    }
    install_next(data_dir, &key)?;
    tracing::warn!(
        path = %data_dir.join(KEY_FILE).display(),
        "finished an interrupted master key rotation: the database is sealed with master.key.next, now master.key"
    );
    Ok(Some(key))
}

/// Renames `master.key.next` over `master.key`, durably. Another process may
/// have done it already (a server starting during a rotation's last step).
fn install_next(data_dir: &Path, key: &MasterKey) -> anyhow::Result<()> {
    let (next, current) = (data_dir.join(NEXT_KEY_FILE), data_dir.join(KEY_FILE));
    match std::fs::rename(&next, &current) {
        Ok(()) => {}
        Err(e)
            if e.kind() == ErrorKind::NotFound && read_key_file(&current).is_ok_and(|k| k.bytes() == key.bytes()) => {}
        Err(e) => {
            return Err(e).with_context(|| format!("renaming {} to {}", next.display(), current.display()));
        }
    }
    sync_dir(data_dir)
}

/// What `stowage admin rotate-master-key` did.
#[derive(Debug)]
pub struct Rotation {
    pub resealed: Resealed,
    /// Where the new key is now: `<data_dir>/master.key`, or the `--new-key-file`.
    pub key_file: PathBuf,
    /// Whether the key came from `master_key` / `master_key_file`, which the
    /// operator must now point at `key_file`.
    pub configured: bool,
}

/// Replaces the master key: re-seals every value sealed with `old` (the key
/// the registry opened with) under a new key, read from `new_key_file` when it
/// exists, else generated (and written there when named). See the module doc
/// for the order that keeps a data-dir key and the database in step; a
/// configured key (`master_key`, `master_key_file`) is never rewritten, so the
/// new key goes to `new_key_file`, which is then required.
pub async fn rotate(
    config: &Config,
    meta: &Meta,
    old: &MasterKey,
    new_key_file: Option<&Path>,
) -> anyhow::Result<Rotation> {
    let data_dir_key = uses_data_dir_key(config);
    anyhow::ensure!(
        data_dir_key || new_key_file.is_some(),
        "the master key is configured (master_key, STOWAGE_MASTER_KEY or master_key_file), and Stowage does not \
         rewrite a configured key: name a file for the new key with --new-key-file, then point master_key_file at it"
    );
    let _lock = lock(&config.data_dir)?;
    let old_check = meta
        .setting(MASTER_KEY_CHECK_SETTING)
        .await?
        .context("the master key check is missing")?;
    let new = match new_key_file {
        Some(path) => match read_key_file(path) {
            Ok(key) => key,
            Err(_) if !path.exists() => {
                let key = MasterKey::generate();
                write_private(path, &hex::encode(key.bytes()))?;
                sync_dir(parent(path))?;
                key
            }
            Err(e) => return Err(e),
        },
        None => MasterKey::generate(),
    };
    anyhow::ensure!(new.bytes() != old.bytes(), "the new master key is the current one");

    let next = config.data_dir.join(NEXT_KEY_FILE);
    if data_dir_key {
        // A master.key.next here is stale: the key in hand passed the check, and
        // no other rotation holds the lock.
        match std::fs::remove_file(&next) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", next.display()));
            }
            _ => {}
        }
        write_private(&next, &hex::encode(new.bytes()))?;
        sync_dir(&config.data_dir)?;
    }

    let new_check = hex::encode(new.seal(MASTER_KEY_CANARY));
    let swap = SettingSwap {
        name: MASTER_KEY_CHECK_SETTING,
        old: &old_check,
        new: &new_check,
    };
    let resealed = match meta
        .reseal_master_key_values(swap, &[stowage_server::keys::TOKEN_KEY_SETTING], |_, sealed| {
            old.open(sealed).map(|plain| new.seal(&plain))
        })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            // Rolled back for sure: the stale next key can go. After a database
            // error the commit may have happened, so master.key.next stays for the
            // next start to judge.
            if data_dir_key && matches!(e, ResealError::CheckChanged(_) | ResealError::DoesNotOpen(_)) {
                let _ = std::fs::remove_file(&next);
            }
            return Err(e)
                .context("re-sealing with the new master key; nothing was changed unless the error is a database one");
        }
    };

    if data_dir_key {
        install_next(&config.data_dir, &new).with_context(|| {
            format!(
                "the database is sealed with the new key in {}, but installing it failed: rename it to {} \
                 (a start does so too)",
                next.display(),
                KEY_FILE
            )
        })?;
    }
    Ok(Rotation {
        resealed,
        key_file: match new_key_file {
            Some(path) if !data_dir_key => path.to_path_buf(),
            _ => config.data_dir.join(KEY_FILE),
        },
        configured: !data_dir_key,
    })
}

/// Takes the data dir's rotation lock, failing at once when another holds it.
fn lock(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!(
                "another rotate-master-key is running on this data dir ({} is locked)",
                path.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let h = std::fs::read_to_string(path).with_context(|| format!("reading the master key file {}", path.display()))?;
    key_from_hex(&h).with_context(|| format!("the master key file {}", path.display()))
}

fn key_from_hex(h: &str) -> anyhow::Result<MasterKey> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(h.trim(), &mut k).map_err(|_| anyhow::anyhow!("the master key must be 64 hex characters"))?;
    Ok(MasterKey::from_bytes(k))
}

/// The directory a file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a directory's entries (a created or renamed file) durable.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))
}
