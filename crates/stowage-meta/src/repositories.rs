//! Repositories: creation, lookup, listing.

use sqlx::any::AnyRow;
use stowage_core::TagMutability;

use crate::{Meta, MetaError, get, now_ms};

/// A repository and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    pub id: i64,
    pub account_id: String,
    pub name: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub tag_mutability: TagMutability,
    pub tag_mutability_filters: Vec<String>,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
}

/// What a new repository is created with.
#[derive(Clone, Debug, Default)]
pub struct NewRepository {
    pub tag_mutability: TagMutability,
    pub tag_mutability_filters: Vec<String>,
    pub scan_on_push: bool,
    /// `AES256` when `None`.
    pub encryption_type: Option<String>,
    pub kms_key: Option<String>,
}

pub(crate) const COLUMNS: &str = "id, account_id, name, created_at, tag_mutability, tag_mutability_filters, \
                       scan_on_push, encryption_type, kms_key";

pub(crate) fn from_row(row: &AnyRow) -> Result<Repository, MetaError> {
    let mutability: String = get(row, "tag_mutability")?;
    let filters: String = get(row, "tag_mutability_filters")?;
    Ok(Repository {
        id: get(row, "id")?,
        account_id: get(row, "account_id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        tag_mutability: mutability
            .parse()
            .map_err(|()| MetaError::Corrupt(format!("tag mutability '{mutability}'")))?,
        tag_mutability_filters: serde_json::from_str(&filters)
            .map_err(|e| MetaError::Corrupt(format!("mutability filters: {e}")))?,
        scan_on_push: get::<i64>(row, "scan_on_push")? != 0,
        encryption_type: get(row, "encryption_type")?,
        kms_key: get(row, "kms_key")?,
    })
}

impl Meta {
    /// Creates a repository; fails with `RepositoryAlreadyExists` on a duplicate name.
    pub async fn create_repository(
        &self,
        account_id: &str,
        name: &str,
        new: NewRepository,
    ) -> Result<Repository, MetaError> {
        let filters =
            serde_json::to_string(&new.tag_mutability_filters).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        let sql = format!(
            "INSERT INTO repositories (account_id, name, created_at, tag_mutability, \
             tag_mutability_filters, scan_on_push, encryption_type, kms_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id, name) DO NOTHING \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(name)
            .bind(now_ms())
            .bind(new.tag_mutability.as_str())
            .bind(filters)
            .bind(i64::from(new.scan_on_push))
            .bind(new.encryption_type.unwrap_or_else(|| "AES256".into()))
            .bind(new.kms_key)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => from_row(&row),
            None => Err(MetaError::RepositoryAlreadyExists(name.to_string())),
        }
    }

    /// Looks a repository up by account and name.
    pub async fn repository(&self, account_id: &str, name: &str) -> Result<Option<Repository>, MetaError> {
        let sql = format!("SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND name = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Repository names of an account in byte order, after `last`, at most `limit`.
    pub async fn repository_names(
        &self,
        account_id: &str,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        let rows =
            sqlx::query("SELECT name FROM repositories WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT $3")
                .bind(account_id)
                .bind(last.unwrap_or(""))
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| get(r, "name")).collect()
    }
}
