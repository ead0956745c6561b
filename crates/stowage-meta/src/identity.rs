//! Principals and their access keys. Secrets arrive sealed by the caller (the
//! server holds the master key); this module never sees a plain secret.

use crate::{Meta, MetaError, get, now_ms};

/// An access key as stored.
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub id: String,
    /// Who the key acts as: its user, or an AssumeRole session's `assumed-role` ARN.
    pub principal_arn: String,
    pub account_id: String,
    /// The secret access key, sealed with the master key.
    pub secret_sealed: Vec<u8>,
    /// The session token of temporary credentials, sealed with the master key.
    pub session_token_sealed: Option<Vec<u8>>,
    /// Epoch milliseconds after which a temporary key is void.
    pub expires_at: Option<i64>,
    pub active: bool,
}

impl Meta {
    /// Creates the principal if it does not exist yet.
    pub async fn ensure_principal(&self, account_id: &str, arn: &str, kind: &str, name: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO principals (arn, account_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(arn)
        .bind(account_id)
        .bind(kind)
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a new access key for a principal.
    pub async fn insert_access_key(
        &self,
        id: &str,
        principal_arn: &str,
        secret_sealed: &[u8],
        session_token_sealed: Option<&[u8]>,
        expires_at: Option<i64>,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO access_keys (id, principal_arn, secret_sealed, session_token_sealed, expires_at, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'Active', $6)",
        )
        .bind(id)
        .bind(principal_arn)
        .bind(secret_sealed.to_vec())
        .bind(session_token_sealed.map(<[u8]>::to_vec))
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Looks an access key up by id, with its principal's account.
    pub async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, MetaError> {
        let row = sqlx::query(
            "SELECT k.id, COALESCE(k.session_arn, k.principal_arn) AS principal_arn, p.account_id, k.secret_sealed, k.session_token_sealed, k.expires_at, k.status \
             FROM access_keys k JOIN principals p ON p.arn = k.principal_arn WHERE k.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(AccessKey {
            id: get(&r, "id")?,
            principal_arn: get(&r, "principal_arn")?,
            account_id: get(&r, "account_id")?,
            secret_sealed: get(&r, "secret_sealed")?,
            session_token_sealed: get(&r, "session_token_sealed")?,
            expires_at: get(&r, "expires_at")?,
            active: get::<String>(&r, "status")? == "Active",
        }))
    }

    /// An account setting (`PutAccountSetting`).
    pub async fn account_setting(&self, account_id: &str, name: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT value FROM account_settings WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "value")).transpose()
    }

    /// Sets an account setting.
    pub async fn put_account_setting(&self, account_id: &str, name: &str, value: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO account_settings (account_id, name, value) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value",
        )
        .bind(account_id)
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces a server-wide setting (e.g. when a key is rotated).
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO server_settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
