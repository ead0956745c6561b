//! Storage of the built-in key service: keys and their states, key-material
//! versions (sealed by the caller with the server's master key: this crate
//! only ever sees sealed bytes), and aliases. The rules (which state may
//! follow which, who may touch AWS-managed keys) are the server's; this module
//! makes each change atomic, and the few that race across nodes (the first
//! `alias/aws/ecr` key, a rotation, a destruction) race-free.

use sqlx::any::AnyRow;

use crate::{Meta, MetaError, get, now_ms};

/// The lifecycle state of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KmsKeyState {
    Enabled,
    Disabled,
    /// Scheduled for deletion at the key's `deletion_date`.
    PendingDeletion,
    /// Deleted after its waiting period: its material is gone, and with it
    /// every piece of data encrypted under it. The row stays so the registry
    /// can say so.
    Destroyed,
}

impl KmsKeyState {
    /// The stored (and KMS wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            KmsKeyState::Enabled => "Enabled",
            KmsKeyState::Disabled => "Disabled",
            KmsKeyState::PendingDeletion => "PendingDeletion",
            KmsKeyState::Destroyed => "Destroyed",
        }
    }

    fn parse(s: &str) -> Result<Self, MetaError> {
        Ok(match s {
            "Enabled" => KmsKeyState::Enabled,
            "Disabled" => KmsKeyState::Disabled,
            "PendingDeletion" => KmsKeyState::PendingDeletion,
            "Destroyed" => KmsKeyState::Destroyed,
            other => return Err(MetaError::Corrupt(format!("KMS key state '{other}'"))),
        })
    }
}

/// A key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKey {
    /// A UUID (or the registry key's fixed id).
    pub key_id: String,
    /// The owning account (`""` for the registry key).
    pub account_id: String,
    pub arn: String,
    pub description: String,
    pub state: KmsKeyState,
    /// Managed by AWS (`alias/aws/…` keys), not the customer.
    pub aws_managed: bool,
    pub key_usage: String,
    pub key_spec: String,
    pub origin: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When a key pending deletion is (or was) deleted, epoch milliseconds.
    pub deletion_date: Option<i64>,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<i64>,
    /// When automatic rotation next creates a version, epoch milliseconds.
    pub next_rotation_at: Option<i64>,
    /// The newest key-material version.
    pub current_version: i64,
    /// `(TagKey, TagValue)` pairs.
    pub tags: Vec<(String, String)>,
}

/// What a new key is created with.
#[derive(Clone, Debug)]
pub struct NewKmsKey {
    pub key_id: String,
    pub account_id: String,
    pub arn: String,
    pub description: String,
    pub aws_managed: bool,
    pub key_usage: String,
    pub key_spec: String,
    pub origin: String,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<i64>,
    pub next_rotation_at: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// One version of a key's material, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKeyVersion {
    pub version: i64,
    /// The 32 material bytes sealed with the server's master key.
    pub wrapped_material: Vec<u8>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// `AUTOMATIC` or `ON_DEMAND` for versions a rotation made; `None` for the first.
    pub rotation_type: Option<String>,
}

/// An alias as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsAlias {
    pub account_id: String,
    /// With its `alias/` prefix.
    pub alias_name: String,
    pub key_id: String,
    /// Epoch milliseconds.
    pub created_at: i64,
}

const KEY_COLUMNS: &str = "key_id, account_id, arn, description, key_state, key_manager, key_usage, key_spec, \
                           origin, created_at, deletion_date, rotation_enabled, rotation_period_days, \
                           next_rotation_at, current_version, tags";

fn key_from_row(row: &AnyRow) -> Result<KmsKey, MetaError> {
    let state: String = get(row, "key_state")?;
    let manager: String = get(row, "key_manager")?;
    let tags: String = get(row, "tags")?;
    let tags: Vec<serde_json::Value> =
        serde_json::from_str(&tags).map_err(|e| MetaError::Corrupt(format!("KMS key tags: {e}")))?;
    let tags = tags
        .iter()
        .map(|t| {
            let field = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            (field("TagKey"), field("TagValue"))
        })
        .collect();
    Ok(KmsKey {
        key_id: get(row, "key_id")?,
        account_id: get(row, "account_id")?,
        arn: get(row, "arn")?,
        description: get(row, "description")?,
        state: KmsKeyState::parse(&state)?,
        aws_managed: manager == "AWS",
        key_usage: get(row, "key_usage")?,
        key_spec: get(row, "key_spec")?,
        origin: get(row, "origin")?,
        created_at: get(row, "created_at")?,
        deletion_date: get(row, "deletion_date")?,
        rotation_enabled: get::<i64>(row, "rotation_enabled")? != 0,
        rotation_period_days: get(row, "rotation_period_days")?,
        next_rotation_at: get(row, "next_rotation_at")?,
        current_version: get(row, "current_version")?,
        tags,
    })
}

fn version_from_row(row: &AnyRow) -> Result<KmsKeyVersion, MetaError> {
    Ok(KmsKeyVersion {
        version: get(row, "version")?,
        wrapped_material: get(row, "wrapped_material")?,
        created_at: get(row, "created_at")?,
        rotation_type: get(row, "rotation_type")?,
    })
}

fn alias_from_row(row: &AnyRow) -> Result<KmsAlias, MetaError> {
    Ok(KmsAlias {
        account_id: get(row, "account_id")?,
        alias_name: get(row, "alias_name")?,
        key_id: get(row, "key_id")?,
        created_at: get(row, "created_at")?,
    })
}

/// Inserts the key (unless one with its id exists) and, when it was new, its
/// first material version; returns whether it was inserted.
async fn insert_key(tx: &mut crate::Tx, new: &NewKmsKey, wrapped_material: &[u8], now: i64) -> Result<bool, MetaError> {
    let tags: Vec<serde_json::Value> = new
        .tags
        .iter()
        .map(|(k, v)| serde_json::json!({ "TagKey": k, "TagValue": v }))
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO kms_keys (key_id, account_id, arn, description, key_state, key_manager, key_usage, key_spec, \
         origin, created_at, rotation_enabled, rotation_period_days, next_rotation_at, current_version, tags) \
         VALUES ($1, $2, $3, $4, 'Enabled', $5, $6, $7, $8, $9, $10, $11, $12, 1, $13) \
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(&new.key_id)
    .bind(&new.account_id)
    .bind(&new.arn)
    .bind(&new.description)
    .bind(if new.aws_managed { "AWS" } else { "CUSTOMER" })
    .bind(&new.key_usage)
    .bind(&new.key_spec)
    .bind(&new.origin)
    .bind(now)
    .bind(i64::from(new.rotation_enabled))
    .bind(new.rotation_period_days)
    .bind(new.next_rotation_at)
    .bind(serde_json::Value::Array(tags).to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query(
            "INSERT INTO kms_key_versions (key_id, version, wrapped_material, created_at) VALUES ($1, 1, $2, $3)",
        )
        .bind(&new.key_id)
        .bind(wrapped_material)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(inserted)
}

async fn key_in(tx: &mut crate::Tx, key_id: &str) -> Result<Option<KmsKey>, MetaError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(key_from_row).transpose()
}

impl Meta {
    /// Creates a key with its first material version (sealed).
    pub async fn create_kms_key(&self, new: &NewKmsKey, wrapped_material: &[u8]) -> Result<KmsKey, MetaError> {
        let mut tx = self.write_tx().await?;
        if !insert_key(&mut tx, new, wrapped_material, now_ms()).await? {
            return Err(MetaError::Corrupt(format!("KMS key id {} is taken", new.key_id)));
        }
        let key = key_in(&mut tx, &new.key_id).await?;
        tx.commit().await?;
        key.ok_or_else(|| MetaError::Corrupt(format!("KMS key {} vanished", new.key_id)))
    }

    /// The key with `new`'s id: the stored one, or `new` (with its material)
    /// when there was none. Concurrent callers all get the same key.
    pub async fn ensure_kms_key(&self, new: &NewKmsKey, wrapped_material: &[u8]) -> Result<KmsKey, MetaError> {
        let mut tx = self.write_tx().await?;
        insert_key(&mut tx, new, wrapped_material, now_ms()).await?;
        let key = key_in(&mut tx, &new.key_id).await?;
        tx.commit().await?;
        key.ok_or_else(|| MetaError::Corrupt(format!("KMS key {} vanished", new.key_id)))
    }

    /// The key the account's alias `alias_name` names; when there is no such
    /// alias, `new` (with its material) is created and the alias pointed at it,
    /// in one transaction. Nodes racing to create the same alias all end up
    /// with the one key that won; the losers' keys are never committed.
    pub async fn kms_key_by_alias_or_create(
        &self,
        alias_name: &str,
        new: &NewKmsKey,
        wrapped_material: &[u8],
    ) -> Result<KmsKey, MetaError> {
        if let Some(key) = self.kms_key_by_alias(&new.account_id, alias_name).await? {
            return Ok(key);
        }
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        insert_key(&mut tx, new, wrapped_material, now).await?;
        // Under PostgreSQL a concurrent creator's uncommitted alias makes this
        // wait for its commit, then do nothing.
        let won = sqlx::query(
            "INSERT INTO kms_aliases (account_id, alias_name, key_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, alias_name) DO NOTHING",
        )
        .bind(&new.account_id)
        .bind(alias_name)
        .bind(&new.key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if won {
            let key = key_in(&mut tx, &new.key_id).await?;
            tx.commit().await?;
            return key.ok_or_else(|| MetaError::Corrupt(format!("KMS key {} vanished", new.key_id)));
        }
        tx.rollback().await?;
        self.kms_key_by_alias(&new.account_id, alias_name)
            .await?
            .ok_or_else(|| MetaError::Corrupt(format!("alias {alias_name} vanished")))
    }

    /// A key by id (in any account, in any state).
    pub async fn kms_key(&self, key_id: &str) -> Result<Option<KmsKey>, MetaError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// The key an account's alias names.
    pub async fn kms_key_by_alias(&self, account_id: &str, alias_name: &str) -> Result<Option<KmsKey>, MetaError> {
        let cols = KEY_COLUMNS
            .split(", ")
            .map(|c| format!("k.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM kms_aliases a JOIN kms_keys k ON k.key_id = a.key_id \
             WHERE a.account_id = $1 AND a.alias_name = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(alias_name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// An account's keys that are not destroyed, by id, after `after`, at most `limit`.
    pub async fn kms_keys(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KmsKey>, MetaError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND key_id > $2 AND key_state <> 'Destroyed' \
             ORDER BY key_id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Moves a key to `to` if it is in one of the states `from`, setting its
    /// deletion date; returns whether it moved.
    pub async fn set_kms_key_state(
        &self,
        key_id: &str,
        from: &[KmsKeyState],
        to: KmsKeyState,
        deletion_date: Option<i64>,
    ) -> Result<bool, MetaError> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let sql = format!(
            "UPDATE kms_keys SET key_state = $1, deletion_date = $2 WHERE key_id = $3 AND key_state IN ({})",
            crate::placeholders(4, from.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(deletion_date)
            .bind(key_id);
        for s in from {
            q = q.bind(s);
        }
        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Sets a key's automatic rotation.
    pub async fn set_kms_key_rotation(
        &self,
        key_id: &str,
        enabled: bool,
        period_days: Option<i64>,
        next_rotation_at: Option<i64>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE kms_keys SET rotation_enabled = $1, rotation_period_days = $2, next_rotation_at = $3 \
             WHERE key_id = $4",
        )
        .bind(i64::from(enabled))
        .bind(period_days)
        .bind(next_rotation_at)
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds a key-material version (sealed) and makes it the newest; for an
    /// automatic rotation also moves the next rotation to `next_rotation_at`.
    /// Concurrent rotations of one key get distinct versions. Returns the new
    /// version, or `None` when the key does not exist or is destroyed.
    pub async fn add_kms_key_version(
        &self,
        key_id: &str,
        wrapped_material: &[u8],
        rotation_type: &str,
        next_rotation_at: Option<i64>,
    ) -> Result<Option<i64>, MetaError> {
        let mut tx = self.write_tx().await?;
        // The UPDATE takes the key's row lock: rotations of one key serialize here.
        let row = sqlx::query(
            "UPDATE kms_keys SET current_version = current_version + 1, \
             next_rotation_at = COALESCE($1, next_rotation_at) \
             WHERE key_id = $2 AND key_state <> 'Destroyed' RETURNING current_version",
        )
        .bind(next_rotation_at)
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let version: i64 = get(&row, "current_version")?;
        sqlx::query(
            "INSERT INTO kms_key_versions (key_id, version, wrapped_material, created_at, rotation_type) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key_id)
        .bind(version)
        .bind(wrapped_material)
        .bind(now_ms())
        .bind(rotation_type)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(version))
    }

    /// One material version of a key.
    pub async fn kms_key_version(&self, key_id: &str, version: i64) -> Result<Option<KmsKeyVersion>, MetaError> {
        let row = sqlx::query(
            "SELECT version, wrapped_material, created_at, rotation_type FROM kms_key_versions \
             WHERE key_id = $1 AND version = $2",
        )
        .bind(key_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    /// Every material version of a key, oldest first.
    pub async fn kms_key_versions(&self, key_id: &str) -> Result<Vec<KmsKeyVersion>, MetaError> {
        let rows = sqlx::query(
            "SELECT version, wrapped_material, created_at, rotation_type FROM kms_key_versions \
             WHERE key_id = $1 ORDER BY version",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Replaces the sealed bytes of one material version (re-sealing under a
    /// new master key); returns whether it exists.
    pub async fn reseal_kms_key_version(
        &self,
        key_id: &str,
        version: i64,
        wrapped_material: &[u8],
    ) -> Result<bool, MetaError> {
        let done = sqlx::query("UPDATE kms_key_versions SET wrapped_material = $1 WHERE key_id = $2 AND version = $3")
            .bind(wrapped_material)
            .bind(key_id)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keys pending deletion whose deletion date is at or before `now`.
    pub async fn kms_keys_due_for_deletion(&self, now: i64) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT key_id FROM kms_keys WHERE key_state = 'PendingDeletion' AND deletion_date <= $1 ORDER BY key_id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get(r, "key_id")).collect()
    }

    /// Keys with automatic rotation due at or before `now`.
    pub async fn kms_keys_due_for_rotation(&self, now: i64) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT key_id FROM kms_keys WHERE rotation_enabled = 1 AND key_state = 'Enabled' \
             AND next_rotation_at <= $1 ORDER BY key_id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get(r, "key_id")).collect()
    }

    /// Destroys a key pending deletion whose deletion date is at or before
    /// `now`: its state becomes `Destroyed`, its material and aliases are
    /// deleted, in one transaction. Returns whether it was destroyed (false if
    /// it was not due, was cancelled, or another node got there first).
    pub async fn destroy_kms_key(&self, key_id: &str, now: i64) -> Result<bool, MetaError> {
        let mut tx = self.write_tx().await?;
        let due = sqlx::query(
            "UPDATE kms_keys SET key_state = 'Destroyed', rotation_enabled = 0, next_rotation_at = NULL \
             WHERE key_id = $1 AND key_state = 'PendingDeletion' AND deletion_date <= $2",
        )
        .bind(key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !due {
            return Ok(false);
        }
        sqlx::query("DELETE FROM kms_key_versions WHERE key_id = $1")
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM kms_aliases WHERE key_id = $1")
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Points a new alias of the account at a key; false if the alias exists.
    pub async fn create_kms_alias(&self, account_id: &str, alias_name: &str, key_id: &str) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "INSERT INTO kms_aliases (account_id, alias_name, key_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, alias_name) DO NOTHING",
        )
        .bind(account_id)
        .bind(alias_name)
        .bind(key_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An account's alias.
    pub async fn kms_alias(&self, account_id: &str, alias_name: &str) -> Result<Option<KmsAlias>, MetaError> {
        let row = sqlx::query(
            "SELECT account_id, alias_name, key_id, created_at FROM kms_aliases \
             WHERE account_id = $1 AND alias_name = $2",
        )
        .bind(account_id)
        .bind(alias_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(alias_from_row).transpose()
    }

    /// An account's aliases (of one key, when given) by name, after `after`, at most `limit`.
    pub async fn kms_aliases(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KmsAlias>, MetaError> {
        let rows = sqlx::query(
            "SELECT account_id, alias_name, key_id, created_at FROM kms_aliases \
             WHERE account_id = $1 AND ($2 = '' OR key_id = $2) AND alias_name > $3 ORDER BY alias_name LIMIT $4",
        )
        .bind(account_id)
        .bind(key_id.unwrap_or(""))
        .bind(after.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alias_from_row).collect()
    }

    /// Deletes an account's alias; false if there was none.
    pub async fn delete_kms_alias(&self, account_id: &str, alias_name: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM kms_aliases WHERE account_id = $1 AND alias_name = $2")
            .bind(account_id)
            .bind(alias_name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Conformance tests on both engines (the harness of `crate::tests`, whose
/// helpers are private to it).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewRepository;

    use crate::tests::both;

    const ACCT: &str = "123456789012";

    fn new_key(account: &str, id: &str) -> NewKmsKey {
        NewKmsKey {
            key_id: id.to_string(),
            account_id: account.to_string(),
            arn: format!("arn:aws:kms:us-east-1:{account}:key/{id}"),
            description: String::new(),
            aws_managed: false,
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            origin: "AWS_KMS".into(),
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_at: None,
            tags: vec![],
        }
    }

    both!(
        multi_thread keys_are_listed_and_change_state_only_from_allowed_states,
        |meta: Meta| async move {
            use KmsKeyState::*;
            let mut k = new_key(ACCT, "k-b");
            k.description = "second".into();
            k.tags = vec![("team".into(), "a".into())];
            let created = meta.create_kms_key(&k, b"sealed-b").await.unwrap();
            assert_eq!((created.state, created.current_version), (Enabled, 1));
            assert_eq!(created.tags, [("team".to_string(), "a".to_string())]);
            assert!(!created.aws_managed);
            meta.create_kms_key(&new_key(ACCT, "k-a"), b"sealed-a").await.unwrap();
            meta.create_kms_key(&new_key("210987654321", "k-other"), b"x")
                .await
                .unwrap();
            assert!(meta.create_kms_key(&new_key(ACCT, "k-a"), b"again").await.is_err());
            let ids = |keys: Vec<KmsKey>| keys.into_iter().map(|k| k.key_id).collect::<Vec<_>>();
            assert_eq!(ids(meta.kms_keys(ACCT, None, 10).await.unwrap()), ["k-a", "k-b"]);
            assert_eq!(ids(meta.kms_keys(ACCT, None, 1).await.unwrap()), ["k-a"]);
            assert_eq!(ids(meta.kms_keys(ACCT, Some("k-a"), 10).await.unwrap()), ["k-b"]);

            // ensure_kms_key keeps the first key and its material.
            let first = meta.ensure_kms_key(&new_key("", "registry"), b"one").await.unwrap();
            let again = meta.ensure_kms_key(&new_key("", "registry"), b"two").await.unwrap();
            assert_eq!(first, again);
            let v = meta.kms_key_version("registry", 1).await.unwrap().unwrap();
            assert_eq!((v.wrapped_material.as_slice(), v.rotation_type), (&b"one"[..], None));

            assert!(meta.set_kms_key_state("k-a", &[Enabled], Disabled, None).await.unwrap());
            assert!(!meta.set_kms_key_state("k-a", &[Enabled], Disabled, None).await.unwrap());
            assert!(
                meta.set_kms_key_state("k-a", &[Enabled, Disabled], PendingDeletion, Some(1_000))
                    .await
                    .unwrap()
            );
            let k = meta.kms_key("k-a").await.unwrap().unwrap();
            assert_eq!((k.state, k.deletion_date), (PendingDeletion, Some(1_000)));
            assert!(
                !meta
                    .set_kms_key_state("k-a", &[Enabled, Disabled], Enabled, None)
                    .await
                    .unwrap()
            );
            assert!(
                meta.set_kms_key_state("k-a", &[PendingDeletion], Disabled, None)
                    .await
                    .unwrap()
            );
            assert_eq!(meta.kms_key("k-a").await.unwrap().unwrap().deletion_date, None);
            assert!(meta.kms_key("nope").await.unwrap().is_none());

            meta.set_kms_key_rotation("k-b", true, Some(90), Some(5_000))
                .await
                .unwrap();
            let k = meta.kms_key("k-b").await.unwrap().unwrap();
            assert_eq!(
                (k.rotation_enabled, k.rotation_period_days, k.next_rotation_at),
                (true, Some(90), Some(5_000))
            );
            assert_eq!(
                meta.kms_keys_due_for_rotation(4_999).await.unwrap(),
                Vec::<String>::new()
            );
            assert_eq!(meta.kms_keys_due_for_rotation(5_000).await.unwrap(), ["k-b"]);
        }
    );

    both!(multi_thread rotations_make_distinct_versions, |meta: Meta| async move {
        meta.create_kms_key(&new_key(ACCT, "rot"), b"v1").await.unwrap();
        let rotate = |material: &'static [u8]| {
            let meta = meta.clone();
            tokio::spawn(async move { meta.add_kms_key_version("rot", material, "ON_DEMAND", None).await })
        };
        let tasks: Vec<_> = [&b"a"[..], b"b", b"c", b"d"].into_iter().map(rotate).collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap().unwrap().unwrap());
        }
        got.sort();
        assert_eq!(got, [2, 3, 4, 5]);
        let versions = meta.kms_key_versions("rot").await.unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert!(
            versions[1..]
                .iter()
                .all(|v| v.rotation_type.as_deref() == Some("ON_DEMAND"))
        );
        assert_eq!(meta.kms_key("rot").await.unwrap().unwrap().current_version, 5);
        let automatic = meta
            .add_kms_key_version("rot", b"e", "AUTOMATIC", Some(77))
            .await
            .unwrap();
        assert_eq!(automatic, Some(6));
        assert_eq!(meta.kms_key("rot").await.unwrap().unwrap().next_rotation_at, Some(77));
        assert!(meta.reseal_kms_key_version("rot", 6, b"E").await.unwrap());
        assert_eq!(
            meta.kms_key_version("rot", 6).await.unwrap().unwrap().wrapped_material,
            b"E"
        );
        assert_eq!(
            meta.add_kms_key_version("nope", b"x", "ON_DEMAND", None).await.unwrap(),
            None
        );
    });

    both!(
        multi_thread destroying_a_due_key_deletes_its_material_and_aliases,
        |meta: Meta| async move {
            use KmsKeyState::*;
            meta.create_kms_key(&new_key(ACCT, "doomed"), b"m").await.unwrap();
            meta.add_kms_key_version("doomed", b"m2", "ON_DEMAND", None)
                .await
                .unwrap();
            assert!(meta.create_kms_alias(ACCT, "alias/doomed", "doomed").await.unwrap());
            assert!(
                !meta.destroy_kms_key("doomed", 10_000).await.unwrap(),
                "not pending deletion"
            );
            meta.set_kms_key_state("doomed", &[Enabled], PendingDeletion, Some(5_000))
                .await
                .unwrap();
            assert_eq!(
                meta.kms_keys_due_for_deletion(4_999).await.unwrap(),
                Vec::<String>::new()
            );
            assert_eq!(meta.kms_keys_due_for_deletion(5_000).await.unwrap(), ["doomed"]);
            assert!(!meta.destroy_kms_key("doomed", 4_999).await.unwrap(), "not due yet");
            assert!(meta.destroy_kms_key("doomed", 5_000).await.unwrap());
            assert!(!meta.destroy_kms_key("doomed", 5_000).await.unwrap(), "only once");
            let k = meta.kms_key("doomed").await.unwrap().unwrap();
            assert_eq!(k.state, Destroyed);
            assert!(meta.kms_key_versions("doomed").await.unwrap().is_empty());
            assert!(meta.kms_alias(ACCT, "alias/doomed").await.unwrap().is_none());
            assert!(
                meta.kms_keys(ACCT, None, 10).await.unwrap().is_empty(),
                "destroyed keys are not listed"
            );
            assert_eq!(
                meta.add_kms_key_version("doomed", b"x", "ON_DEMAND", None)
                    .await
                    .unwrap(),
                None
            );
            assert!(
                !meta
                    .set_kms_key_state("doomed", &[PendingDeletion], Disabled, None)
                    .await
                    .unwrap()
            );
        }
    );

    both!(multi_thread aliases_are_unique_per_account, |meta: Meta| async move {
        meta.create_kms_key(&new_key(ACCT, "k1"), b"m").await.unwrap();
        meta.create_kms_key(&new_key(ACCT, "k2"), b"m").await.unwrap();
        assert!(meta.create_kms_alias(ACCT, "alias/b", "k1").await.unwrap());
        assert!(meta.create_kms_alias(ACCT, "alias/a", "k2").await.unwrap());
        assert!(meta.create_kms_alias(ACCT, "alias/c", "k1").await.unwrap());
        assert!(!meta.create_kms_alias(ACCT, "alias/b", "k2").await.unwrap());
        let names = |aliases: Vec<KmsAlias>| aliases.into_iter().map(|a| a.alias_name).collect::<Vec<_>>();
        assert_eq!(
            names(meta.kms_aliases(ACCT, None, None, 10).await.unwrap()),
            ["alias/a", "alias/b", "alias/c"]
        );
        assert_eq!(
            names(meta.kms_aliases(ACCT, Some("k1"), None, 10).await.unwrap()),
            ["alias/b", "alias/c"]
        );
        assert_eq!(
            names(meta.kms_aliases(ACCT, None, Some("alias/a"), 1).await.unwrap()),
            ["alias/b"]
        );
        assert_eq!(
            meta.kms_key_by_alias(ACCT, "alias/a").await.unwrap().unwrap().key_id,
            "k2"
        );
        assert!(
            meta.kms_key_by_alias("210987654321", "alias/a")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(meta.kms_alias(ACCT, "alias/c").await.unwrap().unwrap().key_id, "k1");
        assert!(meta.delete_kms_alias(ACCT, "alias/c").await.unwrap());
        assert!(!meta.delete_kms_alias(ACCT, "alias/c").await.unwrap());
    });

    both!(multi_thread the_first_aws_managed_key_is_created_once, |meta: Meta| async move {
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let meta = meta.clone();
                tokio::spawn(async move {
                    let mut k = new_key(ACCT, &format!("managed-{i}"));
                    k.aws_managed = true;
                    meta.kms_key_by_alias_or_create("alias/aws/ecr", &k, b"m").await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().key_id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        let keys = meta.kms_keys(ACCT, None, 10).await.unwrap();
        assert_eq!(keys.len(), 1, "the losers' keys were not kept: {keys:?}");
        assert!(keys[0].aws_managed);
        let again = meta
            .kms_key_by_alias_or_create("alias/aws/ecr", &new_key(ACCT, "late"), b"m")
            .await
            .unwrap();
        assert_eq!(again.key_id, ids[0]);
    });

    both!(multi_thread repositories_record_their_key, |meta: Meta| async move {
        meta.ensure_account(ACCT).await.unwrap();
        let plain = meta
            .create_repository(ACCT, "plain", NewRepository::default())
            .await
            .unwrap();
        assert_eq!(plain.key_id, "registry");
        let new = NewRepository {
            encryption_type: Some("KMS".into()),
            kms_key: Some("alias/mine".into()),
            key_id: Some("k-1".into()),
            ..Default::default()
        };
        let kms = meta.create_repository(ACCT, "kms", new).await.unwrap();
        assert_eq!(
            (kms.key_id.as_str(), kms.kms_key.as_deref()),
            ("k-1", Some("alias/mine"))
        );
        assert_eq!(meta.repository(ACCT, "kms").await.unwrap().unwrap().key_id, "k-1");
    });
}
