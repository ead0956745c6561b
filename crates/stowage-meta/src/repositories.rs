//! Repositories, private and ECR Public (separate namespaces): creation, lookup,
//! listing, catalog data.

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
    /// An ECR Public repository (a namespace apart from the private ones).
    pub public: bool,
    /// ECR Public catalog data, the JSON object kept verbatim.
    pub catalog_data: Option<String>,
    /// The key-service key its data keys are wrapped under (`registry` for AES256).
    pub key_id: String,
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
    /// The key-service key its data keys are wrapped under; `registry` when `None`.
    pub key_id: Option<String>,
}

pub(crate) const COLUMNS: &str = "id, account_id, name, created_at, tag_mutability, tag_mutability_filters, \
                       scan_on_push, encryption_type, kms_key, public, catalog_data, key_id";

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
        public: get::<i64>(row, "public")? != 0,
        catalog_data: get(row, "catalog_data")?,
        key_id: get(row, "key_id")?,
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
        self.insert_repository(account_id, name, new, false, None).await
    }

    /// Creates an ECR Public repository with its catalog data (a JSON object);
    /// fails with `RepositoryAlreadyExists` on a duplicate public name.
    pub async fn create_public_repository(
        &self,
        account_id: &str,
        name: &str,
        catalog_data: Option<&str>,
    ) -> Result<Repository, MetaError> {
        self.insert_repository(account_id, name, NewRepository::default(), true, catalog_data)
            .await
    }

    async fn insert_repository(
        &self,
        account_id: &str,
        name: &str,
        new: NewRepository,
        public: bool,
        catalog_data: Option<&str>,
    ) -> Result<Repository, MetaError> {
        let filters =
            serde_json::to_string(&new.tag_mutability_filters).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        let sql = format!(
            "INSERT INTO repositories (account_id, name, created_at, tag_mutability, \
             tag_mutability_filters, scan_on_push, encryption_type, kms_key, public, catalog_data, key_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (account_id, public, name) DO NOTHING \
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
            .bind(i64::from(public))
            .bind(catalog_data)
            .bind(new.key_id.unwrap_or_else(|| "registry".into()))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => from_row(&row),
            None => Err(MetaError::RepositoryAlreadyExists(name.to_string())),
        }
    }

    /// Looks a private repository up by account and name.
    pub async fn repository(&self, account_id: &str, name: &str) -> Result<Option<Repository>, MetaError> {
        self.repository_in(account_id, false, name).await
    }

    /// Looks a repository (private or public) up by its id.
    pub async fn repository_by_id(&self, id: i64) -> Result<Option<Repository>, MetaError> {
        let sql = format!("SELECT {COLUMNS} FROM repositories WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Looks an ECR Public repository up by account and name.
    pub async fn public_repository(&self, account_id: &str, name: &str) -> Result<Option<Repository>, MetaError> {
        self.repository_in(account_id, true, name).await
    }

    async fn repository_in(&self, account_id: &str, public: bool, name: &str) -> Result<Option<Repository>, MetaError> {
        let sql = format!("SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND public = $2 AND name = $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(i64::from(public))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Private repository names of an account in byte order, after `last`, at most `limit`.
    pub async fn repository_names(
        &self,
        account_id: &str,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        self.repository_names_in(account_id, false, last, limit).await
    }

    /// Like [`Meta::repository_names`], of the account's public repositories.
    pub async fn public_repository_names(
        &self,
        account_id: &str,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        self.repository_names_in(account_id, true, last, limit).await
    }

    async fn repository_names_in(
        &self,
        account_id: &str,
        public: bool,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT name FROM repositories WHERE account_id = $1 AND public = $2 AND name > $3 \
             ORDER BY name LIMIT $4",
        )
        .bind(account_id)
        .bind(i64::from(public))
        .bind(last.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get(r, "name")).collect()
    }

    /// Public repositories of an account in creation order, `offset`/`limit` paged.
    pub async fn public_repositories(
        &self,
        account_id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Repository>, MetaError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND public = 1 ORDER BY id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces a repository's catalog data (a JSON object, kept verbatim).
    pub async fn set_catalog_data(&self, repository_id: i64, catalog_data: &str) -> Result<(), MetaError> {
        sqlx::query("UPDATE repositories SET catalog_data = $1 WHERE id = $2")
            .bind(catalog_data)
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The display name of the account's public registry, if one was set.
    pub async fn registry_display_name(&self, account_id: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT display_name FROM public_registry_catalog WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| get(r, "display_name")).transpose()
    }

    /// Sets the display name of the account's public registry.
    pub async fn set_registry_display_name(&self, account_id: &str, display_name: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO public_registry_catalog (account_id, display_name, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET display_name = EXCLUDED.display_name, updated_at = EXCLUDED.updated_at",
        )
        .bind(account_id)
        .bind(display_name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
