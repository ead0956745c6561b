//! Manifests, their references to blobs and child manifests, and tags.

use std::collections::BTreeSet;

use stowage_core::{Digest, Manifest};

use crate::{Meta, MetaError, Repository, Tx, get, now_ms, parse_digest, placeholders};

/// A manifest to store, already parsed and digested.
pub struct PutManifest<'a> {
    pub repository: &'a Repository,
    pub digest: Digest,
    pub manifest: &'a Manifest,
    /// The exact bytes received.
    pub body: &'a [u8],
    /// `body` sealed with its own data key, as stored.
    pub sealed_body: &'a [u8],
    /// That data key, wrapped by the repository's key.
    pub body_key: &'a [u8],
    pub tag: Option<&'a str>,
    /// A scan to ask for if the manifest is new to the repository (scan on push).
    pub scan: Option<crate::ScanRequest>,
}

/// What storing a manifest changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutManifestOutcome {
    /// The manifest was new to the repository.
    pub created: bool,
    /// The tag pointed at this other manifest before.
    pub tag_moved_from: Option<Digest>,
}

/// A manifest as stored: its body sealed (see [`PutManifest::sealed_body`]).
#[derive(Clone, Debug)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    /// The body as stored: sealed when `body_key` is set, else as received.
    pub body: Vec<u8>,
    /// The body's data key, wrapped by the repository's key.
    pub body_key: Option<Vec<u8>>,
    /// Size of the body as received.
    pub size: u64,
}

/// A manifest that names another as its `subject`.
#[derive(Clone, Debug, PartialEq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// The manifest's annotations as JSON, if it has any.
    pub annotations: Option<String>,
}

/// Digests among `wanted` that `table` lacks for the repository.
async fn missing(
    tx: &mut Tx,
    table_sql: &str,
    repository_id: i64,
    wanted: &BTreeSet<Digest>,
) -> Result<Vec<Digest>, MetaError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{table_sql} AND digest IN ({})", placeholders(2, wanted.len()));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(repository_id);
    for d in wanted {
        q = q.bind(d.to_string());
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut found = BTreeSet::new();
    for r in &rows {
        found.insert(parse_digest(&get::<String>(r, "digest")?)?);
    }
    Ok(wanted.difference(&found).copied().collect())
}

/// The repository's tag mutability as it stands inside the transaction, so a
/// cached `Repository` can never let an immutable tag move; a repository
/// deleted meanwhile is `RepositoryNotFound`.
async fn current_mutability(
    tx: &mut Tx,
    repository: &Repository,
) -> Result<(stowage_core::TagMutability, Vec<String>), MetaError> {
    let row = sqlx::query("SELECT tag_mutability, tag_mutability_filters FROM repositories WHERE id = $1")
        .bind(repository.id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| MetaError::RepositoryNotFound(repository.name.clone()))?;
    let mode: String = get(&row, "tag_mutability")?;
    let mode = mode
        .parse()
        .map_err(|()| MetaError::Corrupt(format!("tag mutability '{mode}'")))?;
    let filters = serde_json::from_str(&get::<String>(&row, "tag_mutability_filters")?)
        .map_err(|e| MetaError::Corrupt(format!("mutability filters: {e}")))?;
    Ok((mode, filters))
}

impl Meta {
    /// Stores a manifest and moves or sets its tag, atomically. Every blob it
    /// references must be linked to the repository and every child manifest
    /// present in it; an immutable tag is never moved.
    pub async fn put_manifest(&self, put: PutManifest<'_>) -> Result<PutManifestOutcome, MetaError> {
        let repo_id = put.repository.id;
        let blobs: BTreeSet<Digest> = put.manifest.required_blobs().map(|d| d.digest).collect();
        let children: BTreeSet<Digest> = put.manifest.manifests.iter().map(|d| d.digest).collect();
        let mut tx = self.write_tx().await?;
        // First thing: GC must not take a blob this manifest is about to reference.
        let referenced: Vec<Digest> = blobs.iter().copied().collect();
        crate::gc::lock_shared(&mut tx, self.dialect, &referenced).await?;
        let (mutability, exclusions) = current_mutability(&mut tx, put.repository).await?;

        let absent = missing(
            &mut tx,
            "SELECT digest FROM repository_blobs WHERE repository_id = $1",
            repo_id,
            &blobs,
        )
        .await?;
        if !absent.is_empty() {
            return Err(MetaError::BlobsMissing(absent));
        }
        let absent = missing(
            &mut tx,
            "SELECT digest FROM manifests WHERE repository_id = $1",
            repo_id,
            &children,
        )
        .await?;
        if !absent.is_empty() {
            return Err(MetaError::ManifestsMissing(absent));
        }

        let mut tag_moved_from = None;
        let mut tag_unchanged = false;
        if let Some(tag) = put.tag {
            let row = sqlx::query("SELECT digest FROM tags WHERE repository_id = $1 AND name = $2")
                .bind(repo_id)
                .bind(tag)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = row {
                if mutability.is_immutable(tag, &exclusions) {
                    return Err(MetaError::TagImmutable(tag.to_string()));
                }
                let old = parse_digest(&get::<String>(&row, "digest")?)?;
                if old == put.digest {
                    tag_unchanged = true;
                } else {
                    tag_moved_from = Some(old);
                }
            }
        }

        let now = now_ms();
        let m = put.manifest;
        let annotations = m
            .annotations
            .as_ref()
            .map(|a| serde_json::to_string(a).unwrap_or_default());
        let inserted = sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, config_media_type, \
             subject_digest, annotations, body, size, image_size, pushed_at, body_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repo_id)
        .bind(put.digest.to_string())
        .bind(m.media_type.as_str())
        .bind(m.artifact_type.clone())
        .bind(m.config_media_type().map(str::to_string))
        .bind(m.subject.as_ref().map(|s| s.digest.to_string()))
        .bind(annotations)
        .bind(put.sealed_body.to_vec())
        .bind(put.body.len() as i64)
        .bind(m.total_size() as i64)
        .bind(now)
        .bind(put.body_key.to_vec())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            for b in &blobs {
                sqlx::query(
                    "INSERT INTO manifest_blobs (repository_id, manifest_digest, blob_digest) VALUES ($1, $2, $3)",
                )
                .bind(repo_id)
                .bind(put.digest.to_string())
                .bind(b.to_string())
                .execute(&mut *tx)
                .await?;
            }
            for c in &children {
                sqlx::query(
                    "INSERT INTO manifest_children (repository_id, parent_digest, child_digest) VALUES ($1, $2, $3)",
                )
                .bind(repo_id)
                .bind(put.digest.to_string())
                .bind(c.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        if inserted && let Some(scan) = &put.scan {
            crate::scans::request_in(&mut tx, repo_id, &put.digest, scan, now).await?;
        }
        if let Some(tag) = put.tag
            && !tag_unchanged
        {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            )
            .bind(repo_id)
            .bind(tag)
            .bind(put.digest.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(PutManifestOutcome {
            created: inserted,
            tag_moved_from,
        })
    }

    /// The manifest a tag points at.
    pub async fn manifest_by_tag(&self, repository_id: i64, tag: &str) -> Result<Option<StoredManifest>, MetaError> {
        let row = sqlx::query(
            "SELECT m.digest, m.media_type, m.body, m.body_key, m.size FROM tags t JOIN manifests m \
             ON m.repository_id = t.repository_id AND m.digest = t.digest \
             WHERE t.repository_id = $1 AND t.name = $2",
        )
        .bind(repository_id)
        .bind(tag)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| stored(&r)).transpose()
    }

    /// The manifest with this digest.
    pub async fn manifest_by_digest(
        &self,
        repository_id: i64,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>, MetaError> {
        let row = sqlx::query(
            "SELECT digest, media_type, body, body_key, size FROM manifests WHERE repository_id = $1 AND digest = $2",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| stored(&r)).transpose()
    }

    /// Deletes a manifest and every tag on it, refusing while an index in the
    /// repository lists it. Returns whether it existed.
    pub async fn delete_manifest(&self, repository_id: i64, digest: &Digest) -> Result<bool, MetaError> {
        let mut tx = self.write_tx().await?;
        let existed = delete_manifest_in(&mut tx, repository_id, digest).await?;
        tx.commit().await?;
        Ok(existed)
    }

    /// Removes a tag, leaving its manifest. Returns whether it existed.
    pub async fn delete_tag(&self, repository_id: i64, tag: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
            .bind(repository_id)
            .bind(tag)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Tag names in byte order, after `last`, at most `limit`.
    pub async fn tags(&self, repository_id: i64, last: Option<&str>, limit: usize) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query("SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3")
            .bind(repository_id)
            .bind(last.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| get(r, "name")).collect()
    }

    /// Manifests whose `subject` is `subject`, optionally only of one artifact type.
    pub async fn referrers(
        &self,
        repository_id: i64,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, MetaError> {
        let rows = sqlx::query(
            "SELECT digest, media_type, size, COALESCE(artifact_type, config_media_type) AS artifact_type, annotations \
             FROM manifests WHERE repository_id = $1 AND subject_digest = $2 ORDER BY digest",
        )
        .bind(repository_id)
        .bind(subject.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let referrer = Referrer {
                digest: parse_digest(&get::<String>(r, "digest")?)?,
                media_type: get(r, "media_type")?,
                size: get::<i64>(r, "size")? as u64,
                artifact_type: get(r, "artifact_type")?,
                annotations: get(r, "annotations")?,
            };
            if artifact_type.is_none_or(|want| referrer.artifact_type.as_deref() == Some(want)) {
                out.push(referrer);
            }
        }
        Ok(out)
    }
}

/// Deletes a manifest and its tags inside `tx`, queueing its blobs for GC
/// review; refuses while an index in the repository lists it.
pub(crate) async fn delete_manifest_in(tx: &mut Tx, repository_id: i64, digest: &Digest) -> Result<bool, MetaError> {
    let parent = sqlx::query(
        "SELECT parent_digest FROM manifest_children WHERE repository_id = $1 AND child_digest = $2 LIMIT 1",
    )
    .bind(repository_id)
    .bind(digest.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = parent {
        return Err(MetaError::ManifestReferenced(parse_digest(&get::<String>(
            &row,
            "parent_digest",
        )?)?));
    }
    crate::gc::queue_manifest_blobs(tx, repository_id, digest).await?;
    // Children rows, blob references and tags go by ON DELETE CASCADE.
    let done = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
        .bind(repository_id)
        .bind(digest.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredManifest, MetaError> {
    Ok(StoredManifest {
        digest: parse_digest(&get::<String>(row, "digest")?)?,
        media_type: get(row, "media_type")?,
        body: get(row, "body")?,
        body_key: get(row, "body_key")?,
        size: get::<i64>(row, "size")? as u64,
    })
}
