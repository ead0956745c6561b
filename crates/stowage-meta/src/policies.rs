//! Resource policies: one per repository, one per registry (account), kept
//! verbatim as the client sent them.

use crate::{Meta, MetaError, get, now_ms};

impl Meta {
    /// The repository's policy text, if it has one.
    pub async fn repository_policy(&self, repository_id: i64) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT policy_text FROM repository_policies WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "policy_text")).transpose()
    }

    /// Sets (or replaces) the repository's policy.
    pub async fn put_repository_policy(&self, repository_id: i64, text: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO repository_policies (repository_id, policy_text, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id) DO UPDATE SET policy_text = excluded.policy_text, updated_at = excluded.updated_at",
        )
        .bind(repository_id)
        .bind(text)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the repository's policy; returns the text it had.
    pub async fn delete_repository_policy(&self, repository_id: i64) -> Result<Option<String>, MetaError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT policy_text FROM repository_policies WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("DELETE FROM repository_policies WHERE repository_id = $1")
            .bind(repository_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(get(&row, "policy_text")?))
    }

    /// The account's registry policy text, if it has one.
    pub async fn registry_policy(&self, account_id: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT policy_text FROM registry_policies WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "policy_text")).transpose()
    }

    /// Sets (or replaces) the account's registry policy.
    pub async fn put_registry_policy(&self, account_id: &str, text: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO registry_policies (account_id, policy_text, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET policy_text = excluded.policy_text, updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(text)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the account's registry policy; returns the text it had.
    pub async fn delete_registry_policy(&self, account_id: &str) -> Result<Option<String>, MetaError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT policy_text FROM registry_policies WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("DELETE FROM registry_policies WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(get(&row, "policy_text")?))
    }
}
