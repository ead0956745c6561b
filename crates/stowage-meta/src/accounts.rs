//! Accounts (12-digit registry ids) and server-wide settings.

use crate::{Meta, MetaError, get, now_ms};

impl Meta {
    /// Creates the account if it does not exist yet.
    pub async fn ensure_account(&self, id: &str) -> Result<(), MetaError> {
        sqlx::query("INSERT INTO accounts (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The oldest account, which is the registry's own when none is configured.
    pub async fn first_account(&self) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT id FROM accounts ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "id")).transpose()
    }

    /// A server-wide setting.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT value FROM server_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "value")).transpose()
    }

    /// Stores `value` unless the setting already has one; returns the value in force.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, MetaError> {
        sqlx::query("INSERT INTO server_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        self.setting(name)
            .await?
            .ok_or_else(|| MetaError::Corrupt(format!("setting {name} vanished")))
    }
}
