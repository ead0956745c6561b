//! Lifecycle policies, metadata side: stored policies and previews, the facts
//! the evaluator reads, and expiry — an image deleted as BatchDeleteImage by
//! digest does, taking its referrers and the index children nothing else keeps.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use stowage_core::Digest;

use crate::manifests::delete_manifest_in;
use crate::{Meta, MetaError, Repository, Tx, get, now_ms, parse_digest, placeholders};

/// Leaders expired per transaction in a real run: few enough to keep the write
/// lock short, many enough to keep commits (fsyncs) few.
const EXPIRY_BATCH: usize = 64;
/// Rows per `INSERT` when storing preview results.
const INSERT_BATCH: usize = 200;

/// A repository's stored lifecycle policy.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecyclePolicyRecord {
    /// The text exactly as put.
    pub text: String,
    /// When a run last evaluated it (epoch ms).
    pub last_evaluated_at: Option<i64>,
}

/// Whether an image is a lifecycle candidate of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageRole {
    /// Neither of the two below: the policy's rules decide.
    Own,
    /// Listed by an index in the repository: it follows its index.
    Child,
    /// Its `subject` is in the repository: it follows its subject.
    Referrer,
}

/// One image of a repository as the lifecycle evaluator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleImage {
    pub digest: Digest,
    /// Tags in byte order.
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    pub role: ImageRole,
}

/// An image a policy's rule selected, with the tags it had when evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Expiring {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub rule_priority: u32,
}

/// An image an expiry deleted (or, in a dry run, would delete).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpiredImage {
    pub digest: Digest,
    /// Tags in byte order.
    pub tags: Vec<String>,
    pub pushed_at: i64,
    /// The rule that expired it, or the image it followed.
    pub rule_priority: u32,
    /// The selected image this one went with, if it is a referrer or child.
    pub follows: Option<Digest>,
}

/// What an expiry did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpiryOutcome {
    /// In deletion order: each selected image, then what followed it.
    pub images: Vec<ExpiredImage>,
    /// Bytes of the blobs the deleted images referenced that no manifest in any
    /// repository references any more.
    pub reclaimable_bytes: u64,
}

/// A repository's latest lifecycle preview.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewRecord {
    pub text: String,
    pub reclaimable_bytes: u64,
    pub started_at: i64,
    /// When a GetLifecyclePolicyPreview first reported it.
    pub seen_at: Option<i64>,
    /// How many images it expires.
    pub expiring: u64,
}

/// How an image was reached while expiring.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Selected,
    Referrer,
    Child,
}

impl Meta {
    /// Stores (or replaces) a repository's lifecycle policy text.
    pub async fn put_lifecycle_policy(&self, repository_id: i64, text: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO lifecycle_policies (repository_id, policy_text, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id) DO UPDATE SET policy_text = excluded.policy_text, updated_at = excluded.updated_at",
        )
        .bind(repository_id)
        .bind(text)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A repository's lifecycle policy.
    pub async fn lifecycle_policy(&self, repository_id: i64) -> Result<Option<LifecyclePolicyRecord>, MetaError> {
        let row = sqlx::query("SELECT policy_text, last_evaluated_at FROM lifecycle_policies WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// Deletes a repository's lifecycle policy, returning it.
    pub async fn delete_lifecycle_policy(
        &self,
        repository_id: i64,
    ) -> Result<Option<LifecyclePolicyRecord>, MetaError> {
        let row = sqlx::query(
            "DELETE FROM lifecycle_policies WHERE repository_id = $1 RETURNING policy_text, last_evaluated_at",
        )
        .bind(repository_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| policy_from_row(&r)).transpose()
    }

    /// Records when a run evaluated the repository's policy.
    pub async fn set_lifecycle_evaluated(&self, repository_id: i64, at: i64) -> Result<(), MetaError> {
        sqlx::query("UPDATE lifecycle_policies SET last_evaluated_at = $1 WHERE repository_id = $2")
            .bind(at)
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every repository (of any account) that has a lifecycle policy, in creation order.
    pub async fn lifecycle_repositories(&self) -> Result<Vec<Repository>, MetaError> {
        let sql = format!(
            "SELECT {} FROM repositories WHERE id IN (SELECT repository_id FROM lifecycle_policies) ORDER BY id",
            crate::repositories::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(crate::repositories::from_row).collect()
    }

    /// Every image of a repository with its tags, times and role, oldest first.
    pub async fn lifecycle_images(&self, repository_id: i64) -> Result<Vec<LifecycleImage>, MetaError> {
        let rows = sqlx::query(
            "SELECT digest, pushed_at, last_pulled_at, subject_digest FROM manifests \
             WHERE repository_id = $1 ORDER BY pushed_at, digest",
        )
        .bind(repository_id)
        .fetch_all(&self.pool)
        .await?;
        let children: HashSet<String> =
            sqlx::query("SELECT DISTINCT child_digest FROM manifest_children WHERE repository_id = $1")
                .bind(repository_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| get(r, "child_digest"))
                .collect::<Result<_, _>>()?;
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        for r in sqlx::query("SELECT digest, name FROM tags WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&self.pool)
            .await?
        {
            tags.entry(get(&r, "digest")?).or_default().push(get(&r, "name")?);
        }
        let present: HashSet<String> = rows
            .iter()
            .map(|r| get::<String>(r, "digest"))
            .collect::<Result<_, _>>()?;
        let mut images = Vec::with_capacity(rows.len());
        for r in &rows {
            let digest: String = get(r, "digest")?;
            let subject: Option<String> = get(r, "subject_digest")?;
            let role = if children.contains(&digest) {
                ImageRole::Child
            } else if subject.is_some_and(|s| present.contains(&s)) {
                ImageRole::Referrer
            } else {
                ImageRole::Own
            };
            let mut image_tags = tags.remove(&digest).unwrap_or_default();
            image_tags.sort();
            images.push(LifecycleImage {
                digest: parse_digest(&digest)?,
                tags: image_tags,
                pushed_at: get(r, "pushed_at")?,
                last_pulled_at: get(r, "last_pulled_at")?,
                role,
            });
        }
        Ok(images)
    }

    /// Expires the selected images, oldest first, each as BatchDeleteImage by
    /// digest would (its blobs queued for GC review), with its referrers and
    /// the untagged children no remaining index lists. An image whose tags
    /// changed since evaluation, or that an index now lists, is skipped. A dry
    /// run does it all in one transaction and rolls it back.
    pub async fn expire_images(
        &self,
        repository_id: i64,
        selected: &[Expiring],
        dry_run: bool,
    ) -> Result<ExpiryOutcome, MetaError> {
        let mut outcome = ExpiryOutcome::default();
        let batch = if dry_run { selected.len().max(1) } else { EXPIRY_BATCH };
        for chunk in selected.chunks(batch) {
            let mut tx = self.write_tx().await?;
            let mut blobs = BTreeSet::new();
            for s in chunk {
                expire_one(&mut tx, repository_id, s, &mut outcome.images, &mut blobs).await?;
            }
            outcome.reclaimable_bytes += unreferenced_bytes(&mut tx, &blobs).await?;
            if dry_run {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
        }
        Ok(outcome)
    }

    /// Stores a repository's new preview with what it expires, replacing the
    /// last one — unless that one counts as in progress: nobody has seen it and
    /// it started after `in_progress_since`. Returns whether it was stored.
    pub async fn store_lifecycle_preview(
        &self,
        repository_id: i64,
        text: &str,
        outcome: &ExpiryOutcome,
        in_progress_since: i64,
    ) -> Result<bool, MetaError> {
        let mut tx = self.write_tx().await?;
        let busy = sqlx::query(
            "SELECT 1 AS one FROM lifecycle_previews WHERE repository_id = $1 AND seen_at IS NULL AND started_at > $2",
        )
        .bind(repository_id)
        .bind(in_progress_since)
        .fetch_optional(&mut *tx)
        .await?;
        if busy.is_some() {
            return Ok(false);
        }
        // Results go with their preview (ON DELETE CASCADE).
        sqlx::query("DELETE FROM lifecycle_previews WHERE repository_id = $1")
            .bind(repository_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO lifecycle_previews (repository_id, policy_text, reclaimable_bytes, started_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(repository_id)
        .bind(text)
        .bind(outcome.reclaimable_bytes as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for (n, chunk) in outcome.images.chunks(INSERT_BATCH).enumerate() {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * 7, 7)))
                .collect();
            let sql = format!(
                "INSERT INTO lifecycle_preview_results \
                 (repository_id, position, digest, tags, tagged, pushed_at, rule_priority) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, image) in chunk.iter().enumerate() {
                let tags = serde_json::to_string(&image.tags).map_err(|e| MetaError::Corrupt(e.to_string()))?;
                q = q
                    .bind(repository_id)
                    .bind((n * INSERT_BATCH + i) as i64)
                    .bind(image.digest.to_string())
                    .bind(tags)
                    .bind(i64::from(!image.tags.is_empty()))
                    .bind(image.pushed_at)
                    .bind(i64::from(image.rule_priority));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A repository's latest preview, recording that it has now been seen.
    pub async fn see_lifecycle_preview(&self, repository_id: i64) -> Result<Option<PreviewRecord>, MetaError> {
        sqlx::query("UPDATE lifecycle_previews SET seen_at = $1 WHERE repository_id = $2 AND seen_at IS NULL")
            .bind(now_ms())
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "SELECT policy_text, reclaimable_bytes, started_at, seen_at, \
             (SELECT COUNT(*) FROM lifecycle_preview_results r WHERE r.repository_id = p.repository_id) AS expiring \
             FROM lifecycle_previews p WHERE repository_id = $1",
        )
        .bind(repository_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PreviewRecord {
                text: get(&r, "policy_text")?,
                reclaimable_bytes: get::<i64>(&r, "reclaimable_bytes")? as u64,
                started_at: get(&r, "started_at")?,
                seen_at: get(&r, "seen_at")?,
                expiring: get::<i64>(&r, "expiring")? as u64,
            })
        })
        .transpose()
    }

    /// The images the latest preview expires, in its order, optionally only the
    /// tagged (`Some(true)`) or untagged ones, `offset`/`limit` paged.
    pub async fn lifecycle_preview_results(
        &self,
        repository_id: i64,
        tagged: Option<bool>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ExpiredImage>, MetaError> {
        let filter = match tagged {
            None => "",
            Some(true) => " AND tagged = 1",
            Some(false) => " AND tagged = 0",
        };
        let sql = format!(
            "SELECT digest, tags, pushed_at, rule_priority FROM lifecycle_preview_results \
             WHERE repository_id = $1{filter} ORDER BY position LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(repository_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ExpiredImage {
                    digest: parse_digest(&get::<String>(r, "digest")?)?,
                    tags: serde_json::from_str(&get::<String>(r, "tags")?)
                        .map_err(|e| MetaError::Corrupt(format!("preview tags: {e}")))?,
                    pushed_at: get(r, "pushed_at")?,
                    rule_priority: get::<i64>(r, "rule_priority")? as u32,
                    follows: None,
                })
            })
            .collect()
    }
}

fn policy_from_row(r: &sqlx::any::AnyRow) -> Result<LifecyclePolicyRecord, MetaError> {
    Ok(LifecyclePolicyRecord {
        text: get(r, "policy_text")?,
        last_evaluated_at: get(r, "last_evaluated_at")?,
    })
}

/// Expires one selected image and what follows it, inside `tx`; appends what
/// it deleted to `out` and the blobs those referenced to `blobs`.
async fn expire_one(
    tx: &mut Tx,
    repository_id: i64,
    selected: &Expiring,
    out: &mut Vec<ExpiredImage>,
    blobs: &mut BTreeSet<String>,
) -> Result<(), MetaError> {
    // Breadth first, so an index goes before its children: a child can only be
    // deleted once no index in the repository lists it.
    let mut queue = VecDeque::from([(selected.digest.to_string(), Via::Selected)]);
    while let Some((digest, via)) = queue.pop_front() {
        let Some(row) = sqlx::query("SELECT pushed_at FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(&digest)
            .fetch_optional(&mut **tx)
            .await?
        else {
            continue; // gone already
        };
        let pushed_at: i64 = get(&row, "pushed_at")?;
        let mut tags = column(
            tx,
            "SELECT name AS v FROM tags WHERE repository_id = $1 AND digest = $2",
            repository_id,
            &digest,
        )
        .await?;
        tags.sort();
        match via {
            Via::Selected if tags != selected.tags => return Ok(()), // changed since evaluation
            Via::Child if !tags.is_empty() => continue,              // tagged on its own: kept
            _ => {}
        }
        let referrers = column(
            tx,
            "SELECT digest AS v FROM manifests WHERE repository_id = $1 AND subject_digest = $2",
            repository_id,
            &digest,
        )
        .await?;
        let children = column(
            tx,
            "SELECT child_digest AS v FROM manifest_children WHERE repository_id = $1 AND parent_digest = $2",
            repository_id,
            &digest,
        )
        .await?;
        let referenced = column(
            tx,
            "SELECT blob_digest AS v FROM manifest_blobs WHERE repository_id = $1 AND manifest_digest = $2",
            repository_id,
            &digest,
        )
        .await?;
        let parsed = parse_digest(&digest)?;
        match delete_manifest_in(tx, repository_id, &parsed).await {
            Ok(true) => {}
            Ok(false) | Err(MetaError::ManifestReferenced(_)) => continue, // an index still lists it: kept
            Err(e) => return Err(e),
        }
        out.push(ExpiredImage {
            digest: parsed,
            tags,
            pushed_at,
            rule_priority: selected.rule_priority,
            follows: (via != Via::Selected).then_some(selected.digest),
        });
        blobs.extend(referenced);
        queue.extend(referrers.into_iter().map(|d| (d, Via::Referrer)));
        queue.extend(children.into_iter().map(|d| (d, Via::Child)));
    }
    Ok(())
}

/// The one text column `v` of a query bound to a repository and a digest.
async fn column(tx: &mut Tx, sql: &'static str, repository_id: i64, digest: &str) -> Result<Vec<String>, MetaError> {
    sqlx::query(sql)
        .bind(repository_id)
        .bind(digest)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| get(r, "v"))
        .collect()
}

/// Total size of those `blobs` no manifest in any repository references.
async fn unreferenced_bytes(tx: &mut Tx, blobs: &BTreeSet<String>) -> Result<u64, MetaError> {
    let blobs: Vec<&String> = blobs.iter().collect();
    let mut total = 0u64;
    for chunk in blobs.chunks(500) {
        let sql = format!(
            "SELECT size FROM blobs b WHERE b.digest IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest)",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            q = q.bind(d.as_str());
        }
        for r in q.fetch_all(&mut **tx).await? {
            total += get::<i64>(&r, "size")? as u64;
        }
    }
    Ok(total)
}
