//! Lifecycle policies, metadata side: stored policies and previews, the facts
//! the evaluator reads, and expiry — an image deleted as BatchDeleteImage by
//! digest does, taking its referrers and the index children nothing else keeps.

use std::collections::{HashMap, HashSet, VecDeque};

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

    /// Expires the selected images, oldest first, with what follows them (see
    /// `expire_one`); a dry run walks a read-only snapshot and writes nothing.
    pub async fn expire_images(
        &self,
        repository_id: i64,
        selected: &[Expiring],
        dry_run: bool,
    ) -> Result<ExpiryOutcome, MetaError> {
        if dry_run {
            return self.preview_expiry(repository_id, selected).await;
        }
        let mut outcome = ExpiryOutcome::default();
        for chunk in selected.chunks(EXPIRY_BATCH) {
            let mut tx = self.write_tx().await?;
            let mut blobs = HashSet::new();
            let mut view = InTx {
                tx: &mut tx,
                repository_id,
            };
            for s in chunk {
                expire_one(&mut view, s, &mut outcome.images, &mut blobs).await?;
            }
            outcome.reclaimable_bytes += unreferenced_bytes(&mut tx, &blobs).await?;
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// A dry run: the same walk over a snapshot read in a read-only
    /// transaction, so writers of any repository never wait for it.
    async fn preview_expiry(&self, repository_id: i64, selected: &[Expiring]) -> Result<ExpiryOutcome, MetaError> {
        let mut tx = self.read_tx().await?;
        let mut snapshot = Snapshot::load(&mut tx, repository_id).await?;
        let mut outcome = ExpiryOutcome::default();
        let mut blobs = HashSet::new();
        for s in selected {
            expire_one(&mut snapshot, s, &mut outcome.images, &mut blobs).await?;
        }
        // Blobs still used in the repository stay; ask the database about the rest.
        // Sorted, so each batch reads neighbouring index pages.
        let mut candidates: Vec<&String> = blobs.iter().filter(|b| !snapshot.blob_used(b)).collect();
        candidates.sort_unstable();
        outcome.reclaimable_bytes = unused_elsewhere_bytes(&mut tx, repository_id, &candidates).await?;
        tx.rollback().await?;
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

/// What the expiry walk reads and deletes: the database inside a write
/// transaction (a real run), or an in-memory snapshot (a preview).
trait ExpiryView {
    /// The image's push time and tags (in byte order), if it is still there.
    async fn image(&mut self, digest: &str) -> Result<Option<(i64, Vec<String>)>, MetaError>;
    /// The images whose subject it is, oldest first.
    async fn referrers(&mut self, digest: &str) -> Result<Vec<String>, MetaError>;
    /// The images it lists, in digest order.
    async fn children(&mut self, digest: &str) -> Result<Vec<String>, MetaError>;
    /// The blobs it references.
    async fn blobs(&mut self, digest: &str) -> Result<Vec<String>, MetaError>;
    /// Deletes it unless an index lists it; returns whether it did.
    async fn delete(&mut self, digest: &Digest) -> Result<bool, MetaError>;
}

/// Expires one selected image (unless its tags changed or an index lists it), its
/// referrers and the untagged children no remaining index lists, into `out` and `blobs`.
async fn expire_one(
    view: &mut impl ExpiryView,
    selected: &Expiring,
    out: &mut Vec<ExpiredImage>,
    blobs: &mut HashSet<String>,
) -> Result<(), MetaError> {
    // Breadth first, so an index goes before its children: a child can only be
    // deleted once no index in the repository lists it.
    let mut queue = VecDeque::from([(selected.digest.to_string(), Via::Selected)]);
    while let Some((digest, via)) = queue.pop_front() {
        let Some((pushed_at, tags)) = view.image(&digest).await? else {
            continue; // gone already
        };
        match via {
            Via::Selected if tags != selected.tags => return Ok(()), // changed since evaluation
            Via::Child if !tags.is_empty() => continue,              // tagged on its own: kept
            _ => {}
        }
        let referrers = view.referrers(&digest).await?;
        let children = view.children(&digest).await?;
        let referenced = view.blobs(&digest).await?;
        let parsed = parse_digest(&digest)?;
        if !view.delete(&parsed).await? {
            continue; // an index still lists it: kept
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

/// The walk over a repository inside a write transaction.
struct InTx<'a> {
    tx: &'a mut Tx,
    repository_id: i64,
}

impl InTx<'_> {
    /// The one text column `v` of a query bound to the repository and a digest.
    async fn column(&mut self, sql: &'static str, digest: &str) -> Result<Vec<String>, MetaError> {
        sqlx::query(sql)
            .bind(self.repository_id)
            .bind(digest)
            .fetch_all(&mut **self.tx)
            .await?
            .iter()
            .map(|r| get(r, "v"))
            .collect()
    }
}

impl ExpiryView for InTx<'_> {
    async fn image(&mut self, digest: &str) -> Result<Option<(i64, Vec<String>)>, MetaError> {
        let Some(row) = sqlx::query("SELECT pushed_at FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(self.repository_id)
            .bind(digest)
            .fetch_optional(&mut **self.tx)
            .await?
        else {
            return Ok(None);
        };
        let mut tags = self
            .column(
                "SELECT name AS v FROM tags WHERE repository_id = $1 AND digest = $2",
                digest,
            )
            .await?;
        tags.sort();
        Ok(Some((get(&row, "pushed_at")?, tags)))
    }

    async fn referrers(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        self.column(
            "SELECT digest AS v FROM manifests WHERE repository_id = $1 AND subject_digest = $2 \
             ORDER BY pushed_at, digest",
            digest,
        )
        .await
    }

    async fn children(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        self.column(
            "SELECT child_digest AS v FROM manifest_children WHERE repository_id = $1 AND parent_digest = $2 \
             ORDER BY child_digest",
            digest,
        )
        .await
    }

    async fn blobs(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        self.column(
            "SELECT blob_digest AS v FROM manifest_blobs WHERE repository_id = $1 AND manifest_digest = $2",
            digest,
        )
        .await
    }

    async fn delete(&mut self, digest: &Digest) -> Result<bool, MetaError> {
        match delete_manifest_in(self.tx, self.repository_id, digest).await {
            Ok(deleted) => Ok(deleted),
            Err(MetaError::ManifestReferenced(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A repository's images, tags, index children and blob references, read
/// once; the walk deletes from it in memory.
#[derive(Default)]
struct Snapshot {
    /// Push time of each image still there.
    pushed_at: HashMap<String, i64>,
    /// Tags of each image, in byte order.
    tags: HashMap<String, Vec<String>>,
    /// Referrers of each subject, oldest first (including deleted ones).
    referrers: HashMap<String, Vec<String>>,
    /// Children of each remaining index, in digest order.
    children: HashMap<String, Vec<String>>,
    /// How many remaining indexes list each image.
    parents: HashMap<String, usize>,
    /// Blobs each remaining image references.
    blobs: HashMap<String, Vec<String>>,
    /// How many remaining images of the repository reference each blob.
    blob_refs: HashMap<String, usize>,
}

impl Snapshot {
    async fn load(tx: &mut Tx, repository_id: i64) -> Result<Self, MetaError> {
        let mut s = Snapshot::default();
        let rows = sqlx::query("SELECT digest, pushed_at, subject_digest FROM manifests WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?;
        let mut referrers: Vec<(String, i64, String)> = Vec::new();
        for r in &rows {
            let digest: String = get(r, "digest")?;
            let pushed_at: i64 = get(r, "pushed_at")?;
            if let Some(subject) = get::<Option<String>>(r, "subject_digest")? {
                referrers.push((subject, pushed_at, digest.clone()));
            }
            s.pushed_at.insert(digest, pushed_at);
        }
        referrers.sort_unstable();
        for (subject, _, digest) in referrers {
            s.referrers.entry(subject).or_default().push(digest);
        }
        for r in sqlx::query("SELECT digest, name FROM tags WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?
        {
            s.tags.entry(get(&r, "digest")?).or_default().push(get(&r, "name")?);
        }
        s.tags.values_mut().for_each(|t| t.sort_unstable());
        for r in sqlx::query("SELECT parent_digest, child_digest FROM manifest_children WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?
        {
            let child: String = get(&r, "child_digest")?;
            *s.parents.entry(child.clone()).or_default() += 1;
            s.children.entry(get(&r, "parent_digest")?).or_default().push(child);
        }
        s.children.values_mut().for_each(|c| c.sort_unstable());
        for r in sqlx::query("SELECT manifest_digest, blob_digest FROM manifest_blobs WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?
        {
            let blob: String = get(&r, "blob_digest")?;
            *s.blob_refs.entry(blob.clone()).or_default() += 1;
            s.blobs.entry(get(&r, "manifest_digest")?).or_default().push(blob);
        }
        Ok(s)
    }

    /// Whether a remaining image of the repository references the blob.
    fn blob_used(&self, blob: &str) -> bool {
        self.blob_refs.get(blob).is_some_and(|&n| n > 0)
    }
}

impl ExpiryView for Snapshot {
    async fn image(&mut self, digest: &str) -> Result<Option<(i64, Vec<String>)>, MetaError> {
        Ok(self
            .pushed_at
            .get(digest)
            .map(|&at| (at, self.tags.get(digest).cloned().unwrap_or_default())))
    }

    async fn referrers(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        let all = self.referrers.get(digest).map(Vec::as_slice).unwrap_or_default();
        Ok(all
            .iter()
            .filter(|d| self.pushed_at.contains_key(*d))
            .cloned()
            .collect())
    }

    async fn children(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        Ok(self.children.get(digest).cloned().unwrap_or_default())
    }

    async fn blobs(&mut self, digest: &str) -> Result<Vec<String>, MetaError> {
        Ok(self.blobs.get(digest).cloned().unwrap_or_default())
    }

    async fn delete(&mut self, digest: &Digest) -> Result<bool, MetaError> {
        let digest = digest.to_string();
        if self.parents.get(&digest).is_some_and(|&n| n > 0) {
            return Ok(false);
        }
        if self.pushed_at.remove(&digest).is_none() {
            return Ok(false);
        }
        // What ON DELETE CASCADE does to its tags, children rows and blob references.
        self.tags.remove(&digest);
        for child in self.children.remove(&digest).unwrap_or_default() {
            if let Some(n) = self.parents.get_mut(&child) {
                *n -= 1;
            }
        }
        for blob in self.blobs.remove(&digest).unwrap_or_default() {
            if let Some(n) = self.blob_refs.get_mut(&blob) {
                *n -= 1;
            }
        }
        Ok(true)
    }
}

/// Total size of those `blobs` no manifest in any repository references.
async fn unreferenced_bytes(tx: &mut Tx, blobs: &HashSet<String>) -> Result<u64, MetaError> {
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

/// Total size of those `blobs` no manifest outside the repository references.
async fn unused_elsewhere_bytes(tx: &mut Tx, repository_id: i64, blobs: &[&String]) -> Result<u64, MetaError> {
    let mut total = 0u64;
    for chunk in blobs.chunks(1000) {
        let sql = format!(
            "SELECT size FROM blobs b WHERE b.digest IN ({}) AND NOT EXISTS \
             (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest AND mb.repository_id <> $1)",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(repository_id);
        for d in chunk {
            q = q.bind(d.as_str());
        }
        for r in q.fetch_all(&mut **tx).await? {
            total += get::<i64>(&r, "size")? as u64;
        }
    }
    Ok(total)
}
