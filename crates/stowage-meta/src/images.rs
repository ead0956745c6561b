//! Image listings for the control plane: manifests with their tags, sizes and
//! times, filtered and paged; repository resource tags; pull times.

use std::collections::BTreeMap;

use stowage_core::{Digest, TagMutability};

use crate::{Meta, MetaError, get, parse_digest, placeholders};

/// Which images a listing includes (`filter.tagStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    #[default]
    Any,
}

/// A stored image (manifest) with its tags.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub subject: Option<Digest>,
    pub image_size: u64,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    /// Tags in byte order.
    pub tags: Vec<String>,
}

const IMAGE_COLUMNS: &str =
    "digest, media_type, artifact_type, config_media_type, subject_digest, image_size, pushed_at, last_pulled_at";

fn tag_filter(status: TagStatus) -> &'static str {
    match status {
        TagStatus::Any => "",
        TagStatus::Tagged => {
            " AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)"
        }
        TagStatus::Untagged => {
            " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)"
        }
    }
}

impl Meta {
    /// Images of a repository in push order, `offset`/`limit` paged.
    pub async fn images(
        &self,
        repository_id: i64,
        status: TagStatus,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ImageRecord>, MetaError> {
        let sql = format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository_id = $1{} \
             ORDER BY m.pushed_at, m.digest LIMIT $2 OFFSET $3",
            tag_filter(status)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut images = rows.iter().map(image_from_row).collect::<Result<Vec<_>, _>>()?;
        self.attach_tags(repository_id, &mut images).await?;
        Ok(images)
    }

    /// `(digest, tag)` pairs of a repository in push order — one per tag, and one
    /// with no tag for each untagged image — `offset`/`limit` paged over pairs.
    pub async fn image_ids(
        &self,
        repository_id: i64,
        status: TagStatus,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(Digest, Option<String>)>, MetaError> {
        let filter = match status {
            TagStatus::Any => "",
            TagStatus::Tagged => " AND t.name IS NOT NULL",
            TagStatus::Untagged => " AND t.name IS NULL",
        };
        let sql = format!(
            "SELECT m.digest, t.name FROM manifests m LEFT JOIN tags t \
             ON t.repository_id = m.repository_id AND t.digest = m.digest \
             WHERE m.repository_id = $1{filter} ORDER BY m.pushed_at, m.digest, t.name LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((parse_digest(&get::<String>(r, "digest")?)?, get(r, "name")?)))
            .collect()
    }

    /// The images with these digests (missing ones are left out).
    pub async fn images_by_digest(
        &self,
        repository_id: i64,
        digests: &[Digest],
    ) -> Result<Vec<ImageRecord>, MetaError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {IMAGE_COLUMNS} FROM manifests m WHERE m.repository_id = $1 AND m.digest IN ({})",
            placeholders(2, digests.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(repository_id);
        for d in digests {
            q = q.bind(d.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut images = rows.iter().map(image_from_row).collect::<Result<Vec<_>, _>>()?;
        self.attach_tags(repository_id, &mut images).await?;
        Ok(images)
    }

    /// The digest a tag points at.
    pub async fn tag_digest(&self, repository_id: i64, tag: &str) -> Result<Option<Digest>, MetaError> {
        let row = sqlx::query("SELECT digest FROM tags WHERE repository_id = $1 AND name = $2")
            .bind(repository_id)
            .bind(tag)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse_digest(&get::<String>(&r, "digest")?)).transpose()
    }

    async fn attach_tags(&self, repository_id: i64, images: &mut [ImageRecord]) -> Result<(), MetaError> {
        if images.is_empty() {
            return Ok(());
        }
        let sql = format!(
            // No ORDER BY: it would steer SQLite to the (repository_id, name) key and
            // a scan of every tag; tags are sorted below instead.
            "SELECT name, digest FROM tags WHERE repository_id = $1 AND digest IN ({})",
            placeholders(2, images.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(repository_id);
        for i in images.iter() {
            q = q.bind(i.digest.to_string());
        }
        let mut by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in q.fetch_all(&self.pool).await? {
            by_digest.entry(get(&r, "digest")?).or_default().push(get(&r, "name")?);
        }
        for i in images.iter_mut() {
            i.tags = by_digest.remove(&i.digest.to_string()).unwrap_or_default();
            i.tags.sort();
        }
        Ok(())
    }

    /// Whether the repository holds any image.
    pub async fn has_images(&self, repository_id: i64) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT 1 AS one FROM manifests WHERE repository_id = $1 LIMIT 1")
            .bind(repository_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records a pull of the image at `at` (epoch ms) if the stored time is
    /// older than `granularity_ms`, so frequent pulls cost few writes.
    pub async fn record_pull(
        &self,
        repository_id: i64,
        digest: &Digest,
        at: i64,
        granularity_ms: i64,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE manifests SET last_pulled_at = $1 WHERE repository_id = $2 AND digest = $3 \
             AND (last_pulled_at IS NULL OR last_pulled_at < $4)",
        )
        .bind(at)
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(at - granularity_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Private repositories of an account in creation order, `offset`/`limit` paged.
    pub async fn repositories(
        &self,
        account_id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<crate::Repository>, MetaError> {
        let sql = format!(
            "SELECT {} FROM repositories WHERE account_id = $1 AND public = 0 ORDER BY id LIMIT $2 OFFSET $3",
            crate::repositories::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(crate::repositories::from_row).collect()
    }

    /// Per private repository of an account: (name, images, bytes), bytes as
    /// `imageSizeInBytes` sums them.
    pub async fn repository_usage(&self, account_id: &str) -> Result<Vec<(String, u64, u64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT r.name, COUNT(m.digest) AS images, CAST(COALESCE(SUM(m.image_size), 0) AS BIGINT) AS bytes \
             FROM repositories r LEFT JOIN manifests m ON m.repository_id = r.id \
             WHERE r.account_id = $1 AND r.public = 0 GROUP BY r.name ORDER BY r.name",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get::<String>(r, "name")?,
                    get::<i64>(r, "images")? as u64,
                    get::<i64>(r, "bytes")? as u64,
                ))
            })
            .collect()
    }

    /// Deletes a repository with everything in it; unless `force`, only when it
    /// holds no image. Returns the deleted repository.
    pub async fn delete_repository(&self, repo: &crate::Repository, force: bool) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        if !force {
            let any = sqlx::query("SELECT 1 AS one FROM manifests WHERE repository_id = $1 LIMIT 1")
                .bind(repo.id)
                .fetch_optional(&mut *tx)
                .await?;
            if any.is_some() {
                return Err(MetaError::RepositoryNotEmpty(repo.name.clone()));
            }
        }
        crate::gc::queue_repository_blobs(&mut tx, repo.id).await?;
        // Children first: tags and child rows reference manifests.
        for sql in [
            "DELETE FROM tags WHERE repository_id = $1",
            "DELETE FROM manifest_children WHERE repository_id = $1",
            "DELETE FROM manifest_blobs WHERE repository_id = $1",
            "DELETE FROM manifests WHERE repository_id = $1",
            "DELETE FROM repository_blobs WHERE repository_id = $1",
            "DELETE FROM uploads WHERE repository_id = $1",
            "DELETE FROM repository_tags WHERE repository_id = $1",
            "DELETE FROM repositories WHERE id = $1",
        ] {
            sqlx::query(sql).bind(repo.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a repository's tag mutability and exclusion filters.
    pub async fn set_tag_mutability(
        &self,
        repository_id: i64,
        mode: TagMutability,
        filters: &[String],
    ) -> Result<(), MetaError> {
        let filters = serde_json::to_string(filters).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE repositories SET tag_mutability = $1, tag_mutability_filters = $2 WHERE id = $3")
            .bind(mode.as_str())
            .bind(filters)
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A repository's resource tags, by key.
    pub async fn resource_tags(&self, repository_id: i64) -> Result<Vec<(String, String)>, MetaError> {
        let rows =
            sqlx::query("SELECT tag_key, tag_value FROM repository_tags WHERE repository_id = $1 ORDER BY tag_key")
                .bind(repository_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((get(r, "tag_key")?, get(r, "tag_value")?)))
            .collect()
    }

    /// Adds or replaces resource tags, refusing to exceed `max` tags in all.
    pub async fn put_resource_tags(
        &self,
        repository_id: i64,
        tags: &[(String, String)],
        max: usize,
    ) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        for (k, v) in tags {
            sqlx::query(
                "INSERT INTO repository_tags (repository_id, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (repository_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(repository_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM repository_tags WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_one(&mut *tx)
            .await?;
        if get::<i64>(&row, "n")? as usize > max {
            return Err(MetaError::TooManyTags);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes resource tags by key.
    pub async fn remove_resource_tags(&self, repository_id: i64, keys: &[String]) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        for k in keys {
            sqlx::query("DELETE FROM repository_tags WHERE repository_id = $1 AND tag_key = $2")
                .bind(repository_id)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn image_from_row(r: &sqlx::any::AnyRow) -> Result<ImageRecord, MetaError> {
    Ok(ImageRecord {
        digest: parse_digest(&get::<String>(r, "digest")?)?,
        media_type: get(r, "media_type")?,
        artifact_type: get(r, "artifact_type")?,
        config_media_type: get(r, "config_media_type")?,
        subject: get::<Option<String>>(r, "subject_digest")?
            .map(|s| parse_digest(&s))
            .transpose()?,
        image_size: get::<i64>(r, "image_size")? as u64,
        pushed_at: get(r, "pushed_at")?,
        last_pulled_at: get(r, "last_pulled_at")?,
        tags: Vec::new(),
    })
}
