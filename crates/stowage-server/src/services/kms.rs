//! The built-in key service: keys a repository's data keys are wrapped under,
//! and the AWS KMS operations on them (`crate::kms` is their wire form).
//!
//! Each key has versions of 256-bit material, stored only sealed by the
//! server's master key. A data key is wrapped under one version: its wrapped
//! form is the version (4 bytes, big-endian) followed by
//! `stowage_crypto::wrap(material, "<key id>/v<version>", data key)`, so it
//! opens only under its own key and version. New data keys use the newest
//! version; a rotation adds a version and re-wraps the stored data keys, and
//! old versions stay, so anything wrapped or encrypted under them still opens.
//!
//! [`REGISTRY_KEY_ID`] is the hidden key of AES256 repositories; each account's
//! AWS-managed `alias/aws/ecr` key is made the first time it is needed. A key
//! pending deletion becomes destroyed once its deletion date passes (on the
//! next access, or by [`destroy_due_keys`]): its material is deleted, and data
//! under it can never be read again.
//!
//! Opening data keys is on the path of every pull: a key's state and unsealed
//! material are cached for at most [`CACHE_TTL`] (this node forgets a key as
//! soon as it changes it), so disabling a key stops reads on every node
//! within that time.

use std::collections::BTreeMap;

use stowage_crypto::DataKey;
use stowage_meta::{KmsAlias, KmsKey, KmsKeyState, KmsKeyVersion, MetaError, NewKmsKey};
use zeroize::Zeroizing;

use crate::AppState;

/// Key id of the registry-managed key that AES256 repositories use (never listed by ListKeys).
pub const REGISTRY_KEY_ID: &str = "registry";
/// The alias of each account's AWS-managed key for ECR.
pub const ECR_ALIAS: &str = "alias/aws/ecr";
/// How long a key's state and material are reused without asking the database.
pub use super::ttl_cache::TTL as CACHE_TTL;
use super::ttl_cache::TtlCache;
/// How long after scheduling a deletion it happens, by default and at least / most.
pub const DEFAULT_PENDING_DAYS: i64 = 30;
const PENDING_DAYS: std::ops::RangeInclusive<i64> = 7..=30;
/// Automatic rotation period, by default and at least / most.
pub const DEFAULT_ROTATION_DAYS: i64 = 365;
const ROTATION_DAYS: std::ops::RangeInclusive<i64> = 90..=2560;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Largest plaintext `Encrypt` takes.
pub const MAX_PLAINTEXT: usize = 4096;
/// Marks a ciphertext blob of this key service (format 1).
const BLOB_MAGIC: &[u8; 5] = b"SKMS\x01";

/// A key a repository can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedKey {
    pub key_id: String,
    pub arn: String,
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No such key or alias (the text names what was asked for).
    #[error("Key '{key}' does not exist")]
    NotFound { key: String },
    #[error("{arn} is disabled.")]
    Disabled { arn: String },
    /// Scheduled for deletion at `deletion_date` (epoch milliseconds).
    #[error("{arn} is pending deletion.")]
    PendingDeletion { arn: String, deletion_date: i64 },
    /// Deleted after its waiting period: data under it is unrecoverable.
    #[error("{arn} was deleted after its waiting period: data encrypted under it cannot be recovered")]
    Destroyed { arn: String },
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl KeyError {
    /// KMS exception name for `kmsError` / the wire: NotFoundException, DisabledException, KMSInvalidStateException…
    pub fn kms_error(&self) -> &'static str {
        match self {
            KeyError::NotFound { .. } | KeyError::Destroyed { .. } => "NotFoundException",
            KeyError::Disabled { .. } => "DisabledException",
            KeyError::PendingDeletion { .. } => "KMSInvalidStateException",
            KeyError::Meta(_) => "KMSInternalException",
        }
    }
}

/// Why a key-service operation failed: the key's state, or the request.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The key's state does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    /// Decrypt named a key other than the one the ciphertext was made under.
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    Tag(String),
}

impl KmsError {
    /// The KMS exception name.
    pub fn kms_error(&self) -> &'static str {
        match self {
            KmsError::Key(e) => e.kms_error(),
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::Tag(_) => "TagException",
        }
    }
}

impl From<MetaError> for KmsError {
    fn from(e: MetaError) -> Self {
        KmsError::Key(KeyError::Meta(e))
    }
}

/// Recently read keys and their unsealed material, each kept at most
/// [`CACHE_TTL`]: a key disabled (or scheduled for deletion) on another node
/// stops opening data keys here within that time.
#[derive(Default)]
pub struct KeyCache {
    keys: TtlCache<String, KmsKey>,
    material: TtlCache<(String, i64), DataKey>,
}

impl KeyCache {
    /// Forgets a key (after this node changed it).
    pub fn forget(&self, key_id: &str) {
        self.keys.forget(&key_id.to_string());
        self.material.forget_where(|(id, _)| id == key_id);
    }
}

/// `arn:aws:kms:<region>:<account>:key/<key id>`.
pub fn key_arn(state: &AppState, account_id: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{}:{account_id}:key/{key_id}", state.config.region)
}

/// `arn:aws:kms:<region>:<account>:alias/<name>` of `alias/<name>`.
pub fn alias_arn(state: &AppState, account_id: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{}:{account_id}:{alias_name}", state.config.region)
}

/// Resolves a repository's `kmsKey` (key id, key ARN, `alias/name`, alias ARN) in `account`; `None` means the
/// account's AWS-managed `alias/aws/ecr` key, created on first use. The key must be Enabled.
pub async fn resolve(state: &AppState, account_id: &str, kms_key: Option<&str>) -> Result<ResolvedKey, KeyError> {
    let key = match kms_key {
        None => ecr_key(state, account_id).await?,
        Some(reference) => find_key(state, account_id, reference, true).await?,
    };
    usable(&key)?;
    Ok(ResolvedKey {
        key_id: key.key_id,
        arn: key.arn,
    })
}

/// A fresh data key and its wrapped form under the key's newest version (the wrapped bytes record the version).
pub async fn new_data_key(state: &AppState, key_id: &str) -> Result<(DataKey, Vec<u8>), KeyError> {
    let key = cached_key(state, key_id).await?;
    usable(&key)?;
    let kek = material(state, &key, key.current_version).await?;
    let dek = DataKey::generate();
    let wrapped = wrap_under(&key, key.current_version, &kek, &dek);
    Ok((dek, wrapped))
}

/// Unwraps a data key; fails with Disabled / PendingDeletion / Destroyed / NotFound as the key's state says.
pub async fn open_data_key(state: &AppState, key_id: &str, wrapped: &[u8]) -> Result<DataKey, KeyError> {
    let key = cached_key(state, key_id).await?;
    usable(&key)?;
    let (version, sealed) = split_version(wrapped)
        .ok_or_else(|| MetaError::Corrupt(format!("a wrapped data key of key {key_id} is truncated")))?;
    let kek = material(state, &key, version).await?;
    stowage_crypto::unwrap(&kek, &wrap_context(key_id, version), sealed).map_err(|_| {
        KeyError::Meta(MetaError::Corrupt(format!(
            "a data key wrapped under key {key_id} version {version} failed its integrity check"
        )))
    })
}

/// Re-wraps one wrapped data key under the key's newest version (used by rotation and master-key rotation).
pub async fn rewrap(state: &AppState, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, KeyError> {
    let dek = open_data_key(state, key_id, wrapped).await?;
    let key = cached_key(state, key_id).await?;
    let kek = material(state, &key, key.current_version).await?;
    Ok(wrap_under(&key, key.current_version, &kek, &dek))
}

/// Destroys every key whose deletion date has passed; returns how many.
pub async fn destroy_due_keys(state: &AppState) -> Result<u64, KeyError> {
    let now = stowage_meta::now_ms();
    let mut destroyed = 0;
    for key_id in state.meta.kms_keys_due_for_deletion(now).await? {
        if state.meta.destroy_kms_key(&key_id, now).await? {
            state.kms_keys.forget(&key_id);
            tracing::warn!(kms.key_id = %key_id, "key destroyed after its deletion waiting period");
            destroyed += 1;
        }
    }
    Ok(destroyed)
}

/// Rotates every key whose automatic rotation is due; returns how many.
pub async fn rotate_due_keys(state: &AppState) -> Result<u64, KeyError> {
    let now = stowage_meta::now_ms();
    let mut rotated = 0;
    for key_id in state.meta.kms_keys_due_for_rotation(now).await? {
        let Some(key) = state.meta.kms_key(&key_id).await? else {
            continue;
        };
        let next = now + key.rotation_period_days.unwrap_or(DEFAULT_ROTATION_DAYS) * DAY_MS;
        if add_version(state, &key, "AUTOMATIC", Some(next)).await?.is_some() {
            rotated += 1;
        }
    }
    Ok(rotated)
}

/// The wrap context of a version: a wrapped key opens only under its key and version.
fn wrap_context(key_id: &str, version: i64) -> Vec<u8> {
    format!("{key_id}/v{version}").into_bytes()
}

fn wrap_under(key: &KmsKey, version: i64, kek: &DataKey, dek: &DataKey) -> Vec<u8> {
    let mut out = (version as u32).to_be_bytes().to_vec();
    out.extend(stowage_crypto::wrap(kek, &wrap_context(&key.key_id, version), dek));
    out
}

fn split_version(wrapped: &[u8]) -> Option<(i64, &[u8])> {
    let (version, rest) = wrapped.split_first_chunk::<4>()?;
    Some((i64::from(u32::from_be_bytes(*version)), rest))
}

/// Whether data may be encrypted or decrypted under the key.
fn usable(key: &KmsKey) -> Result<(), KeyError> {
    let arn = key.arn.clone();
    match key.state {
        KmsKeyState::Enabled => Ok(()),
        KmsKeyState::Disabled => Err(KeyError::Disabled { arn }),
        KmsKeyState::PendingDeletion => Err(KeyError::PendingDeletion {
            arn,
            deletion_date: key.deletion_date.unwrap_or_default(),
        }),
        KmsKeyState::Destroyed => Err(KeyError::Destroyed { arn }),
    }
}

/// A key as stored now; a key pending deletion whose date has passed is destroyed first.
async fn load_key(state: &AppState, key_id: &str) -> Result<Option<KmsKey>, MetaError> {
    let key = state.meta.kms_key(key_id).await?;
    match key {
        Some(k)
            if k.state == KmsKeyState::PendingDeletion
                && k.deletion_date.is_some_and(|d| d <= stowage_meta::now_ms()) =>
        {
            if state.meta.destroy_kms_key(key_id, stowage_meta::now_ms()).await? {
                tracing::warn!(kms.key_id = %key_id, "key destroyed after its deletion waiting period");
            }
            state.kms_keys.forget(key_id);
            state.meta.kms_key(key_id).await
        }
        None if key_id == REGISTRY_KEY_ID => registry_key(state).await.map(Some),
        other => Ok(other),
    }
}

/// A key by id through the cache (the registry key is made on first use).
async fn cached_key(state: &AppState, key_id: &str) -> Result<KmsKey, KeyError> {
    if let Some(key) = state.kms_keys.keys.get(&key_id.to_string()) {
        return Ok(key);
    }
    let key = load_key(state, key_id).await?.ok_or_else(|| KeyError::NotFound {
        key: key_id.to_string(),
    })?;
    state.kms_keys.keys.put(key_id.to_string(), key.clone());
    Ok(key)
}

/// One version's material, unsealed, through the cache.
async fn material(state: &AppState, key: &KmsKey, version: i64) -> Result<DataKey, KeyError> {
    let cache_key = (key.key_id.clone(), version);
    if let Some(k) = state.kms_keys.material.get(&cache_key) {
        return Ok(k);
    }
    let stored = state.meta.kms_key_version(&key.key_id, version).await?;
    let Some(stored) = stored else {
        // A destroyed key's material is gone; the cached state may not say so yet.
        if let Some(now) = load_key(state, &key.key_id).await?
            && now.state == KmsKeyState::Destroyed
        {
            return Err(KeyError::Destroyed { arn: now.arn });
        }
        return Err(MetaError::Corrupt(format!("key {} has no material version {version}", key.key_id)).into());
    };
    let k = unseal(state, &key.key_id, &stored)?;
    state.kms_keys.material.put(cache_key, k.clone());
    Ok(k)
}

fn unseal(state: &AppState, key_id: &str, stored: &KmsKeyVersion) -> Result<DataKey, MetaError> {
    let corrupt = || {
        MetaError::Corrupt(format!(
            "material of key {key_id} version {} does not open with the master key",
            stored.version
        ))
    };
    let plain = Zeroizing::new(state.master_key.open(&stored.wrapped_material).ok_or_else(corrupt)?);
    let mut bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| corrupt())?;
    Ok(DataKey::from_bytes(&mut bytes))
}

/// Fresh material for a version, sealed by the master key.
fn sealed_material(state: &AppState) -> Vec<u8> {
    state.master_key.seal(DataKey::generate().expose())
}

fn new_key_record(state: &AppState, account_id: &str, key_id: String) -> NewKmsKey {
    NewKmsKey {
        arn: key_arn(state, account_id, &key_id),
        key_id,
        account_id: account_id.to_string(),
        description: String::new(),
        aws_managed: false,
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        origin: "AWS_KMS".into(),
        rotation_enabled: false,
        rotation_period_days: None,
        next_rotation_at: None,
        tags: Vec::new(),
    }
}

/// The hidden registry key, made on first use.
async fn registry_key(state: &AppState) -> Result<KmsKey, MetaError> {
    let mut new = new_key_record(state, "", REGISTRY_KEY_ID.to_string());
    new.description = "Stowage's registry key (AES256 repositories)".into();
    new.aws_managed = true;
    state.meta.ensure_kms_key(&new, &sealed_material(state)).await
}

/// The account's AWS-managed `alias/aws/ecr` key, made on first use.
async fn ecr_key(state: &AppState, account_id: &str) -> Result<KmsKey, KeyError> {
    let mut new = new_key_record(state, account_id, uuid::Uuid::new_v4().to_string());
    new.description = "Default key that protects my ECR data when no other key is defined".into();
    new.aws_managed = true;
    new.rotation_enabled = true;
    new.rotation_period_days = Some(DEFAULT_ROTATION_DAYS);
    new.next_rotation_at = Some(stowage_meta::now_ms() + DEFAULT_ROTATION_DAYS * DAY_MS);
    Ok(state
        .meta
        .kms_key_by_alias_or_create(ECR_ALIAS, &new, &sealed_material(state))
        .await?)
}

/// What a key reference names.
enum KeyRef<'a> {
    Id(&'a str),
    Alias(&'a str),
}

/// Parses a key id, key ARN, `alias/<name>` or alias ARN of `account`; `None`
/// when it names another account (or is no reference at all).
fn parse_ref<'a>(account_id: &str, reference: &'a str) -> Option<KeyRef<'a>> {
    if let Some(rest) = reference.strip_prefix("arn:") {
        let mut parts = rest.splitn(5, ':');
        let (_partition, service, _region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if service != "kms" || account != account_id {
            return None;
        }
        let start = reference.len() - resource.len();
        return match resource.strip_prefix("key/") {
            Some(id) => Some(KeyRef::Id(id)),
            None if resource.starts_with("alias/") => Some(KeyRef::Alias(&reference[start..])),
            None => None,
        };
    }
    if reference.starts_with("alias/") {
        return Some(KeyRef::Alias(reference));
    }
    (!reference.is_empty()).then_some(KeyRef::Id(reference))
}

/// The key a reference names in the account (in any state, destroyed
/// included); aliases only when `allow_alias`. `alias/aws/ecr` is made on
/// first use.
pub async fn find_key(
    state: &AppState,
    account_id: &str,
    reference: &str,
    allow_alias: bool,
) -> Result<KmsKey, KeyError> {
    let not_found = || KeyError::NotFound {
        key: match parse_ref(account_id, reference) {
            Some(KeyRef::Id(id)) => key_arn(state, account_id, id),
            Some(KeyRef::Alias(alias)) => alias_arn(state, account_id, alias),
            None => reference.to_string(),
        },
    };
    let key = match parse_ref(account_id, reference) {
        None => return Err(not_found()),
        Some(KeyRef::Alias(_)) if !allow_alias => return Err(not_found()),
        Some(KeyRef::Alias(ECR_ALIAS)) => return ecr_key(state, account_id).await,
        Some(KeyRef::Alias(alias)) => match state.meta.kms_key_by_alias(account_id, alias).await? {
            Some(k) => load_key(state, &k.key_id).await?,
            None => None,
        },
        Some(KeyRef::Id(id)) => load_key(state, id).await?,
    };
    match key {
        Some(k) if k.account_id == account_id => Ok(k),
        _ => Err(not_found()),
    }
}

/// The key a KMS request names ([`find_key`]); a destroyed key is reported
/// as such (`NotFoundException`: it no longer exists).
pub async fn key_for_request(
    state: &AppState,
    account_id: &str,
    reference: &str,
    allow_alias: bool,
) -> Result<KmsKey, KmsError> {
    let key = find_key(state, account_id, reference, allow_alias).await?;
    if key.state == KmsKeyState::Destroyed {
        return Err(KeyError::Destroyed { arn: key.arn }.into());
    }
    Ok(key)
}

/// What CreateKey was asked for.
#[derive(Clone, Debug, Default)]
pub struct CreateKey {
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// Most tags a key may carry.
pub const MAX_TAGS: usize = 50;

/// `CreateKey`: a customer managed symmetric key with fresh material.
pub async fn create_key(state: &AppState, account_id: &str, req: CreateKey) -> Result<KmsKey, KmsError> {
    let description = req.description.unwrap_or_default();
    if description.chars().count() > 8192 {
        return Err(KmsError::Validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192".into(),
        ));
    }
    let supported = |what: &str, got: Option<&str>, want: &str| match got {
        None => Ok(()),
        Some(v) if v == want => Ok(()),
        Some(v) => Err(KmsError::UnsupportedOperation(format!(
            "{what} {v} is not supported by this key service; only {want}"
        ))),
    };
    supported("KeyUsage", req.key_usage.as_deref(), "ENCRYPT_DECRYPT")?;
    supported("KeySpec", req.key_spec.as_deref(), "SYMMETRIC_DEFAULT")?;
    supported("Origin", req.origin.as_deref(), "AWS_KMS")?;
    if req.tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(format!("a key can have at most {MAX_TAGS} tags")));
    }
    for (k, v) in &req.tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(KmsError::Tag(
                "Tag keys must be 1-128 characters and values 0-256 characters".into(),
            ));
        }
        if k.starts_with("aws:") {
            return Err(KmsError::Tag("Tag keys may not start with 'aws:'".into()));
        }
    }
    let mut new = new_key_record(state, account_id, uuid::Uuid::new_v4().to_string());
    new.description = description;
    new.tags = req.tags;
    Ok(state.meta.create_kms_key(&new, &sealed_material(state)).await?)
}

/// AWS-managed keys are the service's: users may use and describe them, nothing else.
fn customer_managed(key: &KmsKey, op: &str) -> Result<(), KmsError> {
    if key.aws_managed {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is an AWS managed key: {op} is not allowed on it",
            key.arn
        )));
    }
    Ok(())
}

fn pending_deletion(key: &KmsKey) -> KmsError {
    KmsError::InvalidState(format!("{} is pending deletion.", key.arn))
}

/// Moves a key between states and forgets it on this node.
async fn set_state(
    state: &AppState,
    key: &KmsKey,
    from: &[KmsKeyState],
    to: KmsKeyState,
    deletion_date: Option<i64>,
) -> Result<bool, KmsError> {
    let moved = state
        .meta
        .set_kms_key_state(&key.key_id, from, to, deletion_date)
        .await?;
    state.kms_keys.forget(&key.key_id);
    Ok(moved)
}

/// `EnableKey`.
pub async fn enable_key(state: &AppState, key: &KmsKey) -> Result<(), KmsError> {
    customer_managed(key, "EnableKey")?;
    use KmsKeyState::*;
    if !set_state(state, key, &[Enabled, Disabled], Enabled, None).await? {
        return Err(pending_deletion(key));
    }
    Ok(())
}

/// `DisableKey`: data under the key stops opening (within [`CACHE_TTL`] on other nodes).
pub async fn disable_key(state: &AppState, key: &KmsKey) -> Result<(), KmsError> {
    customer_managed(key, "DisableKey")?;
    use KmsKeyState::*;
    if !set_state(state, key, &[Enabled, Disabled], Disabled, None).await? {
        return Err(pending_deletion(key));
    }
    Ok(())
}

/// `ScheduleKeyDeletion`: returns the deletion date (epoch milliseconds) and the window in days.
pub async fn schedule_key_deletion(
    state: &AppState,
    key: &KmsKey,
    pending_window_days: Option<i64>,
) -> Result<(i64, i64), KmsError> {
    customer_managed(key, "ScheduleKeyDeletion")?;
    let days = pending_window_days.unwrap_or(DEFAULT_PENDING_DAYS);
    if !PENDING_DAYS.contains(&days) {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between {} and {}",
            PENDING_DAYS.start(),
            PENDING_DAYS.end()
        )));
    }
    let date = stowage_meta::now_ms() + days * DAY_MS;
    use KmsKeyState::*;
    if !set_state(state, key, &[Enabled, Disabled], PendingDeletion, Some(date)).await? {
        return Err(pending_deletion(key));
    }
    Ok((date, days))
}

/// `CancelKeyDeletion`: the key comes back disabled, as in KMS.
pub async fn cancel_key_deletion(state: &AppState, key: &KmsKey) -> Result<(), KmsError> {
    customer_managed(key, "CancelKeyDeletion")?;
    use KmsKeyState::*;
    if !set_state(state, key, &[PendingDeletion], Disabled, None).await? {
        return Err(KmsError::InvalidState(format!("{} is not pending deletion.", key.arn)));
    }
    Ok(())
}

/// The key must be enabled for rotation changes.
fn enabled_for(key: &KmsKey) -> Result<(), KmsError> {
    match usable(key) {
        Ok(()) => Ok(()),
        Err(KeyError::PendingDeletion { .. }) => Err(pending_deletion(key)),
        Err(e) => Err(e.into()),
    }
}

/// `EnableKeyRotation`: a new version every `period_days` (90–2560, default 365).
pub async fn enable_key_rotation(state: &AppState, key: &KmsKey, period_days: Option<i64>) -> Result<(), KmsError> {
    customer_managed(key, "EnableKeyRotation")?;
    enabled_for(key)?;
    let days = period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
    if !ROTATION_DAYS.contains(&days) {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between {} and {}",
            ROTATION_DAYS.start(),
            ROTATION_DAYS.end()
        )));
    }
    let next = stowage_meta::now_ms() + days * DAY_MS;
    state
        .meta
        .set_kms_key_rotation(&key.key_id, true, Some(days), Some(next))
        .await?;
    state.kms_keys.forget(&key.key_id);
    Ok(())
}

/// `DisableKeyRotation`.
pub async fn disable_key_rotation(state: &AppState, key: &KmsKey) -> Result<(), KmsError> {
    customer_managed(key, "DisableKeyRotation")?;
    enabled_for(key)?;
    state.meta.set_kms_key_rotation(&key.key_id, false, None, None).await?;
    state.kms_keys.forget(&key.key_id);
    Ok(())
}

/// `RotateKeyOnDemand`: a new material version now; returns it.
pub async fn rotate_key_on_demand(state: &AppState, key: &KmsKey) -> Result<i64, KmsError> {
    customer_managed(key, "RotateKeyOnDemand")?;
    enabled_for(key)?;
    add_version(state, key, "ON_DEMAND", None)
        .await?
        .ok_or_else(|| KmsError::InvalidState(format!("{} can no longer be rotated", key.arn)))
}

/// Adds a material version (new data keys use it from now on), then has the
/// stored data keys re-wrapped under it in the background; the old versions
/// stay, so whatever is still wrapped under them keeps opening.
async fn add_version(
    state: &AppState,
    key: &KmsKey,
    rotation_type: &str,
    next_rotation_at: Option<i64>,
) -> Result<Option<i64>, KeyError> {
    let version = state
        .meta
        .add_kms_key_version(&key.key_id, &sealed_material(state), rotation_type, next_rotation_at)
        .await?;
    state.kms_keys.forget(&key.key_id);
    if let Some(version) = version {
        tracing::info!(kms.key_id = %key.key_id, kms.version = version, kms.rotation = rotation_type, "key rotated");
        // Stored data keys move to the new version in the background; until
        // they have, the old version keeps opening them.
        let (state, key_id) = (state.clone(), key.key_id.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::services::encryption::rewrap_data_keys(&state, &key_id).await {
                tracing::error!(kms.key_id = %key_id, error = %e, "re-wrapping data keys after a rotation failed");
            }
        });
    }
    Ok(version)
}

/// `ListKeyRotations`: the versions rotations made, oldest first.
pub async fn key_rotations(state: &AppState, key: &KmsKey) -> Result<Vec<KmsKeyVersion>, KmsError> {
    let versions = state.meta.kms_key_versions(&key.key_id).await?;
    Ok(versions.into_iter().filter(|v| v.rotation_type.is_some()).collect())
}

/// Validates an alias name a user may create: `alias/…`, 1–256 characters of
/// `[A-Za-z0-9/_-]`, not in the reserved `alias/aws/` namespace.
fn user_alias_name(name: &str) -> Result<(), KmsError> {
    let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
    if !name.starts_with("alias/") || name.len() > 256 || name.len() <= "alias/".len() || !valid_chars {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name {name} must begin with 'alias/' and contain only alphanumeric characters, forward slashes (/), underscores (_) and dashes (-), at most 256 characters"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name {name} is reserved: the alias/aws/ prefix is for AWS managed keys"
        )));
    }
    Ok(())
}

/// `CreateAlias`: a new alias of the account for a customer managed key.
pub async fn create_alias(state: &AppState, account_id: &str, alias_name: &str, key: &KmsKey) -> Result<(), KmsError> {
    user_alias_name(alias_name)?;
    customer_managed(key, "CreateAlias")?;
    if key.state == KmsKeyState::PendingDeletion {
        return Err(pending_deletion(key));
    }
    if !state.meta.create_kms_alias(account_id, alias_name, &key.key_id).await? {
        return Err(KmsError::AlreadyExists(format!(
            "An alias with the name {} already exists",
            alias_arn(state, account_id, alias_name)
        )));
    }
    Ok(())
}

/// The alias of the account, `NotFoundException` without one.
pub async fn alias(state: &AppState, account_id: &str, alias_name: &str) -> Result<KmsAlias, KmsError> {
    state.meta.kms_alias(account_id, alias_name).await?.ok_or_else(|| {
        KeyError::NotFound {
            key: alias_arn(state, account_id, alias_name),
        }
        .into()
    })
}

/// `DeleteAlias` (not of AWS-managed aliases).
pub async fn delete_alias(state: &AppState, account_id: &str, alias_name: &str) -> Result<(), KmsError> {
    if alias_name.starts_with("alias/aws/") {
        return Err(KmsError::UnsupportedOperation(format!(
            "{alias_name} is an AWS managed alias: it cannot be deleted"
        )));
    }
    if !state.meta.delete_kms_alias(account_id, alias_name).await? {
        return Err(KeyError::NotFound {
            key: alias_arn(state, account_id, alias_name),
        }
        .into());
    }
    Ok(())
}

/// The encryption context as authenticated data: sorted, unambiguous.
fn context_aad(context: &BTreeMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(context).expect("a map of strings serializes")
}

/// `Encrypt`: a self-describing ciphertext blob (key id and version in clear,
/// the encryption context bound as authenticated data).
pub async fn encrypt(
    state: &AppState,
    key: &KmsKey,
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and {MAX_PLAINTEXT}"
        )));
    }
    let key = cached_key(state, &key.key_id).await?;
    usable(&key)?;
    let version = key.current_version;
    let material = material(state, &key, version).await?;
    let mut blob = BLOB_MAGIC.to_vec();
    blob.push(key.key_id.len() as u8);
    blob.extend_from_slice(key.key_id.as_bytes());
    blob.extend_from_slice(&(version as u32).to_be_bytes());
    let aad = [blob.as_slice(), &context_aad(context)].concat();
    let sealed = stowage_crypto::seal(&material, &aad, plaintext);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

fn invalid_ciphertext() -> KmsError {
    KmsError::InvalidCiphertext("The ciphertext is invalid, or was made under another key or encryption context".into())
}

/// The parts of a ciphertext blob: header (authenticated), key id, version, sealed bytes.
fn parse_blob(blob: &[u8]) -> Option<(&[u8], &str, i64, &[u8])> {
    let rest = blob.strip_prefix(BLOB_MAGIC.as_slice())?;
    let (&len, rest) = rest.split_first()?;
    let (key_id, rest) = rest.split_at_checked(usize::from(len))?;
    let key_id = std::str::from_utf8(key_id).ok()?;
    let (version, sealed) = rest.split_first_chunk::<4>()?;
    let header = &blob[..blob.len() - sealed.len()];
    Some((header, key_id, i64::from(u32::from_be_bytes(*version)), sealed))
}

/// The key id a ciphertext blob was made under (`InvalidCiphertextException` if it is none of ours).
pub fn ciphertext_key_id(blob: &[u8]) -> Result<&str, KmsError> {
    parse_blob(blob).map(|(_, id, _, _)| id).ok_or_else(invalid_ciphertext)
}

/// `Decrypt` of a blob [`encrypt`] made under `key` with the same context.
pub async fn decrypt(
    state: &AppState,
    key: &KmsKey,
    blob: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KmsError> {
    let (header, key_id, version, sealed) = parse_blob(blob).ok_or_else(invalid_ciphertext)?;
    if key_id != key.key_id {
        return Err(KmsError::IncorrectKey(
            "The key ID in the request does not identify the key that made the ciphertext".into(),
        ));
    }
    let key = cached_key(state, key_id).await?;
    usable(&key)?;
    let material = match material(state, &key, version).await {
        Ok(m) => m,
        Err(KeyError::Meta(MetaError::Corrupt(_))) => return Err(invalid_ciphertext()),
        Err(e) => return Err(e.into()),
    };
    let aad = [header, &context_aad(context)].concat();
    stowage_crypto::open(&material, &aad, sealed).map_err(|_| invalid_ciphertext())
}

/// `GenerateDataKey`: `bytes` random bytes and their ciphertext blob under `key`.
pub async fn generate_data_key(
    state: &AppState,
    key: &KmsKey,
    bytes: usize,
    context: &BTreeMap<String, String>,
) -> Result<(Vec<u8>, Vec<u8>), KmsError> {
    use rand::RngCore;
    let mut plain = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut plain);
    let blob = encrypt(state, key, &plain, context).await?;
    Ok((plain, blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";

    /// A state on SQLite in a temp dir (no server).
    async fn state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let meta = stowage_meta::Meta::connect(&format!("sqlite://{}", dir.path().join("meta.db").display()))
            .await
            .unwrap();
        let store = stowage_store::LocalStore::open(dir.path().join("blobs")).unwrap();
        let config = crate::ServerConfig {
            account_id: ACCT.into(),
            region: "us-east-1".into(),
            public_url: "http://localhost:5000".into(),
            public_registry_url: None,
            housekeeping: Default::default(),
        };
        let state = AppState::new(
            config,
            meta,
            std::sync::Arc::new(store),
            crate::keys::MasterKey::generate(),
        );
        (state, dir)
    }

    fn version_of(wrapped: &[u8]) -> i64 {
        split_version(wrapped).unwrap().0
    }

    #[tokio::test]
    async fn data_keys_follow_their_key_through_states_and_rotations() {
        let (state, _dir) = state().await;
        // The registry key is made on first use.
        let (dek, wrapped) = new_data_key(&state, REGISTRY_KEY_ID).await.unwrap();
        assert_eq!(version_of(&wrapped), 1);
        let opened = open_data_key(&state, REGISTRY_KEY_ID, &wrapped).await.unwrap();
        assert_eq!(opened.expose(), dek.expose());

        let key = create_key(&state, ACCT, CreateKey::default()).await.unwrap();
        let (dek, wrapped) = new_data_key(&state, &key.key_id).await.unwrap();
        assert!(
            matches!(
                open_data_key(&state, REGISTRY_KEY_ID, &wrapped).await,
                Err(KeyError::Meta(_))
            ),
            "a data key opens only under its own key"
        );

        disable_key(&state, &key).await.unwrap();
        let e = open_data_key(&state, &key.key_id, &wrapped).await.unwrap_err();
        assert!(matches!(&e, KeyError::Disabled { arn } if *arn == key.arn), "{e:?}");
        assert_eq!(e.kms_error(), "DisabledException");
        assert!(matches!(
            new_data_key(&state, &key.key_id).await,
            Err(KeyError::Disabled { .. })
        ));
        enable_key(&state, &key).await.unwrap();

        // Rotation: new data keys and re-wraps use version 2; version 1 still opens.
        assert_eq!(rotate_key_on_demand(&state, &key).await.unwrap(), 2);
        let rewrapped = rewrap(&state, &key.key_id, &wrapped).await.unwrap();
        assert_eq!(version_of(&rewrapped), 2);
        for w in [&wrapped, &rewrapped] {
            assert_eq!(
                open_data_key(&state, &key.key_id, w).await.unwrap().expose(),
                dek.expose()
            );
        }
        assert_eq!(version_of(&new_data_key(&state, &key.key_id).await.unwrap().1), 2);
        assert_eq!(key_rotations(&state, &key).await.unwrap().len(), 1);

        // Pending deletion refuses use; once due, the key is destroyed on access.
        let (date, days) = schedule_key_deletion(&state, &key, Some(7)).await.unwrap();
        assert_eq!(days, 7);
        let e = open_data_key(&state, &key.key_id, &wrapped).await.unwrap_err();
        assert!(matches!(e, KeyError::PendingDeletion { deletion_date, .. } if deletion_date == date));
        assert_eq!(e.kms_error(), "KMSInvalidStateException");
        use KmsKeyState::PendingDeletion;
        state
            .meta
            .set_kms_key_state(&key.key_id, &[PendingDeletion], PendingDeletion, Some(1))
            .await
            .unwrap();
        state.kms_keys.forget(&key.key_id);
        let e = open_data_key(&state, &key.key_id, &rewrapped).await.unwrap_err();
        assert!(matches!(&e, KeyError::Destroyed { arn } if *arn == key.arn), "{e:?}");
        assert!(e.to_string().contains("cannot be recovered"), "{e}");
        assert!(state.meta.kms_key_versions(&key.key_id).await.unwrap().is_empty());
        assert!(matches!(
            resolve(&state, ACCT, Some(&key.key_id)).await,
            Err(KeyError::Destroyed { .. })
        ));
    }

    #[tokio::test]
    async fn due_keys_are_destroyed_by_the_sweep() {
        let (state, _dir) = state().await;
        let key = create_key(&state, ACCT, CreateKey::default()).await.unwrap();
        let keep = create_key(&state, ACCT, CreateKey::default()).await.unwrap();
        schedule_key_deletion(&state, &key, None).await.unwrap();
        schedule_key_deletion(&state, &keep, None).await.unwrap();
        assert_eq!(destroy_due_keys(&state).await.unwrap(), 0);
        use KmsKeyState::PendingDeletion;
        state
            .meta
            .set_kms_key_state(&key.key_id, &[PendingDeletion], PendingDeletion, Some(1))
            .await
            .unwrap();
        assert_eq!(destroy_due_keys(&state).await.unwrap(), 1);
        assert_eq!(
            state.meta.kms_key(&key.key_id).await.unwrap().unwrap().state,
            KmsKeyState::Destroyed
        );
        assert_eq!(
            state.meta.kms_key(&keep.key_id).await.unwrap().unwrap().state,
            PendingDeletion
        );
    }

    #[tokio::test]
    async fn a_change_on_another_node_is_seen_within_the_cache_ttl() {
        let (state, _dir) = state().await;
        let key = create_key(&state, ACCT, CreateKey::default()).await.unwrap();
        let (_, wrapped) = new_data_key(&state, &key.key_id).await.unwrap();
        open_data_key(&state, &key.key_id, &wrapped).await.unwrap();
        // Another node disables the key: this node does not hear of it.
        use KmsKeyState::{Disabled, Enabled};
        assert!(
            state
                .meta
                .set_kms_key_state(&key.key_id, &[Enabled], Disabled, None)
                .await
                .unwrap()
        );
        tokio::time::sleep(CACHE_TTL + std::time::Duration::from_millis(50)).await;
        assert!(matches!(
            open_data_key(&state, &key.key_id, &wrapped).await,
            Err(KeyError::Disabled { .. })
        ));
    }

    #[tokio::test]
    async fn repositories_resolve_their_kms_key() {
        let (state, _dir) = state().await;
        let default = resolve(&state, ACCT, None).await.unwrap();
        assert_eq!(
            resolve(&state, ACCT, None).await.unwrap(),
            default,
            "one alias/aws/ecr key"
        );
        assert_eq!(resolve(&state, ACCT, Some(ECR_ALIAS)).await.unwrap(), default);
        assert_eq!(resolve(&state, ACCT, Some(&default.arn)).await.unwrap(), default);
        assert!(state.meta.kms_key(&default.key_id).await.unwrap().unwrap().aws_managed);
        let other_account = resolve(&state, "210987654321", None).await.unwrap();
        assert_ne!(other_account.key_id, default.key_id);

        let key = create_key(&state, ACCT, CreateKey::default()).await.unwrap();
        create_alias(&state, ACCT, "alias/app", &key).await.unwrap();
        let alias_arn = format!("arn:aws:kms:us-east-1:{ACCT}:alias/app");
        for reference in [key.key_id.as_str(), &key.arn, "alias/app", &alias_arn] {
            assert_eq!(
                resolve(&state, ACCT, Some(reference)).await.unwrap().key_id,
                key.key_id,
                "{reference}"
            );
        }
        for missing in ["alias/none", "nope", REGISTRY_KEY_ID, &other_account.key_id] {
            let e = resolve(&state, ACCT, Some(missing)).await.unwrap_err();
            assert_eq!(e.kms_error(), "NotFoundException", "{missing}: {e}");
        }
        assert!(matches!(
            resolve(&state, "210987654321", Some(&key.arn)).await,
            Err(KeyError::NotFound { .. })
        ));
        disable_key(&state, &key).await.unwrap();
        assert!(matches!(
            resolve(&state, ACCT, Some("alias/app")).await,
            Err(KeyError::Disabled { .. })
        ));
    }

    #[test]
    fn references_name_keys_and_aliases_of_the_account() {
        let acct = "123456789012";
        let id = |r| match parse_ref(acct, r) {
            Some(KeyRef::Id(id)) => Some(format!("id:{id}")),
            Some(KeyRef::Alias(a)) => Some(format!("alias:{a}")),
            None => None,
        };
        assert_eq!(id("1234abcd").as_deref(), Some("id:1234abcd"));
        assert_eq!(
            id("arn:aws:kms:us-east-1:123456789012:key/1234abcd").as_deref(),
            Some("id:1234abcd")
        );
        assert_eq!(id("alias/app").as_deref(), Some("alias:alias/app"));
        assert_eq!(
            id("arn:aws:kms:us-east-1:123456789012:alias/app/x").as_deref(),
            Some("alias:alias/app/x")
        );
        assert_eq!(id("arn:aws:kms:us-east-1:210987654321:key/1234abcd"), None);
        assert_eq!(id("arn:aws:ecr:us-east-1:123456789012:key/1234abcd"), None);
        assert_eq!(id("arn:aws:kms:us-east-1:123456789012:thing/x"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn alias_names() {
        for ok in ["alias/app", "alias/a/b_c-D9"] {
            assert!(user_alias_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "app",
            "alias/",
            "alias/a b",
            "alias/aws/ecr",
            &format!("alias/{}", "a".repeat(251)),
        ] {
            assert!(user_alias_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ciphertext_blobs_parse_only_when_whole() {
        let mut blob = BLOB_MAGIC.to_vec();
        blob.push(3);
        blob.extend_from_slice(b"abc");
        blob.extend_from_slice(&7u32.to_be_bytes());
        blob.extend_from_slice(b"sealed");
        let (header, id, version, sealed) = parse_blob(&blob).unwrap();
        assert_eq!((id, version, sealed), ("abc", 7, &b"sealed"[..]));
        assert_eq!(header.len(), blob.len() - 6);
        assert!(parse_blob(&blob[..10]).is_none());
        assert!(parse_blob(b"nope").is_none());
        assert!(ciphertext_key_id(b"SKMS\x02").is_err());
    }

    #[test]
    fn wrapped_keys_carry_their_version() {
        let (v, rest) = split_version(&[0, 0, 1, 2, 9, 9]).unwrap();
        assert_eq!((v, rest), (258, &[9u8, 9][..]));
        assert!(split_version(&[0, 1]).is_none());
    }
}
