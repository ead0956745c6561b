//! Lifecycle policies, metadata side: stored policies and previews, the facts
//! the evaluator reads, and expiry — an image deleted as BatchDeleteImage by
//! digest does, taking its referrers and the index children nothing else keeps.

use std::collections::{HashMap, HashSet, VecDeque};

use sqlx::Row;
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

impl LifecycleImage {
    /// What the pure evaluator needs of the image.
    pub fn facts(&self) -> stowage_core::lifecycle::ImageFacts<'_> {
        stowage_core::lifecycle::ImageFacts {
            tags: &self.tags,
            pushed_at_ms: self.pushed_at,
            last_pulled_at_ms: self.last_pulled_at,
        }
    }
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
        let mut tx = self.read_tx().await?;
        let snapshot = Snapshot::load(&mut tx, repository_id).await?;
        tx.rollback().await?;
        Ok(snapshot.images())
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
            return self.preview_lifecycle(repository_id, |_| selected.to_vec()).await;
        }
        let mut outcome = ExpiryOutcome::default();
        for chunk in selected.chunks(EXPIRY_BATCH) {
            let mut tx = self.write_tx().await?;
            let mut view = InTx {
                tx: &mut tx,
                repository_id,
                blobs: HashSet::new(),
            };
            for s in chunk {
                expire_one(&mut view, s, &mut outcome.images).await?;
            }
            let blobs = view.blobs;
            outcome.reclaimable_bytes += unreferenced_bytes(&mut tx, &blobs).await?;
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// A dry run of the images `select` picks among the repository's: one
    /// snapshot read in a read-only transaction, so writers never wait for it.
    pub async fn preview_lifecycle(
        &self,
        repository_id: i64,
        select: impl FnOnce(&[LifecycleImage]) -> Vec<Expiring>,
    ) -> Result<ExpiryOutcome, MetaError> {
        let mut tx = self.read_tx().await?;
        let mut snapshot = Snapshot::load(&mut tx, repository_id).await?;
        let selected = select(&snapshot.images());
        snapshot.load_blobs(&mut tx, repository_id).await?;
        let shared = shared_blobs(&mut tx, repository_id).await?;
        tx.rollback().await?;
        let mut outcome = ExpiryOutcome::default();
        for s in &selected {
            expire_one(&mut snapshot, s, &mut outcome.images).await?;
        }
        outcome.reclaimable_bytes = snapshot.freed_bytes(&shared);
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
    /// How the view names an image.
    type Id: Copy;
    /// The id of the image with that digest, unless the view knows it is not there.
    fn id(&self, digest: &Digest) -> Option<Self::Id>;
    fn digest(&self, id: Self::Id) -> Digest;
    /// The image's push time and tags (in byte order), if it is still there.
    async fn image(&mut self, id: Self::Id) -> Result<Option<(i64, Vec<String>)>, MetaError>;
    /// The images whose subject it is, oldest first.
    async fn referrers(&mut self, id: Self::Id) -> Result<Vec<Self::Id>, MetaError>;
    /// The images it lists, in digest order.
    async fn children(&mut self, id: Self::Id) -> Result<Vec<Self::Id>, MetaError>;
    /// Deletes it unless an index lists it, noting the blobs it referenced;
    /// returns whether it did.
    async fn delete(&mut self, id: Self::Id) -> Result<bool, MetaError>;
}

/// Expires one selected image (unless its tags changed or an index lists it), its
/// referrers and the untagged children no remaining index lists, into `out`.
async fn expire_one<V: ExpiryView>(
    view: &mut V,
    selected: &Expiring,
    out: &mut Vec<ExpiredImage>,
) -> Result<(), MetaError> {
    let Some(first) = view.id(&selected.digest) else {
        return Ok(()); // gone already
    };
    // Breadth first, so an index goes before its children: a child can only be
    // deleted once no index in the repository lists it.
    let mut queue = VecDeque::from([(first, Via::Selected)]);
    while let Some((id, via)) = queue.pop_front() {
        let Some((pushed_at, tags)) = view.image(id).await? else {
            continue; // gone already
        };
        match via {
            Via::Selected if tags != selected.tags => return Ok(()), // changed since evaluation
            Via::Child if !tags.is_empty() => continue,              // tagged on its own: kept
            _ => {}
        }
        let referrers = view.referrers(id).await?;
        let children = view.children(id).await?;
        if !view.delete(id).await? {
            continue; // an index still lists it: kept
        }
        out.push(ExpiredImage {
            digest: view.digest(id),
            tags,
            pushed_at,
            rule_priority: selected.rule_priority,
            follows: (via != Via::Selected).then_some(selected.digest),
        });
        queue.extend(referrers.into_iter().map(|d| (d, Via::Referrer)));
        queue.extend(children.into_iter().map(|d| (d, Via::Child)));
    }
    Ok(())
}

/// The walk over a repository inside a write transaction.
struct InTx<'a> {
    tx: &'a mut Tx,
    repository_id: i64,
    /// Blobs the deleted images referenced.
    blobs: HashSet<String>,
}

impl InTx<'_> {
    /// The one text column `v` of a query bound to the repository and a digest.
    async fn column(&mut self, sql: &'static str, digest: &Digest) -> Result<Vec<String>, MetaError> {
        sqlx::query(sql)
            .bind(self.repository_id)
            .bind(digest.to_string())
            .fetch_all(&mut **self.tx)
            .await?
            .iter()
            .map(|r| get(r, "v"))
            .collect()
    }

    /// `column` parsed as digests.
    async fn digests(&mut self, sql: &'static str, digest: &Digest) -> Result<Vec<Digest>, MetaError> {
        self.column(sql, digest)
            .await?
            .iter()
            .map(|d| parse_digest(d))
            .collect()
    }
}

impl ExpiryView for InTx<'_> {
    type Id = Digest;

    fn id(&self, digest: &Digest) -> Option<Digest> {
        Some(*digest)
    }

    fn digest(&self, id: Digest) -> Digest {
        id
    }

    async fn image(&mut self, digest: Digest) -> Result<Option<(i64, Vec<String>)>, MetaError> {
        let Some(row) = sqlx::query("SELECT pushed_at FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(self.repository_id)
            .bind(digest.to_string())
            .fetch_optional(&mut **self.tx)
            .await?
        else {
            return Ok(None);
        };
        let mut tags = self
            .column(
                "SELECT name AS v FROM tags WHERE repository_id = $1 AND digest = $2",
                &digest,
            )
            .await?;
        tags.sort();
        Ok(Some((get(&row, "pushed_at")?, tags)))
    }

    async fn referrers(&mut self, digest: Digest) -> Result<Vec<Digest>, MetaError> {
        self.digests(
            "SELECT digest AS v FROM manifests WHERE repository_id = $1 AND subject_digest = $2 \
             ORDER BY pushed_at, digest",
            &digest,
        )
        .await
    }

    async fn children(&mut self, digest: Digest) -> Result<Vec<Digest>, MetaError> {
        self.digests(
            "SELECT child_digest AS v FROM manifest_children WHERE repository_id = $1 AND parent_digest = $2 \
             ORDER BY child_digest",
            &digest,
        )
        .await
    }

    async fn delete(&mut self, digest: Digest) -> Result<bool, MetaError> {
        let blobs = self
            .column(
                "SELECT blob_digest AS v FROM manifest_blobs WHERE repository_id = $1 AND manifest_digest = $2",
                &digest,
            )
            .await?;
        match delete_manifest_in(self.tx, self.repository_id, &digest).await {
            Ok(true) => {
                self.blobs.extend(blobs);
                Ok(true)
            }
            Ok(false) | Err(MetaError::ManifestReferenced(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A repository's images, tags and index children (and, for a preview, blob
/// references), read in one transaction; images and blobs are named by index.
#[derive(Default)]
struct Snapshot {
    /// Each image's digest, oldest first: an image's id is its place here.
    digests: Vec<Digest>,
    ids: HashMap<Digest, u32>,
    pushed_at: Vec<i64>,
    last_pulled_at: Vec<Option<i64>>,
    /// Whether its subject is in the repository.
    refers: Vec<bool>,
    /// Whether the walk has not deleted it.
    present: Vec<bool>,
    /// Tags of each image, in byte order.
    tags: Vec<Vec<String>>,
    /// Referrers of each image, oldest first (including deleted ones).
    referrers: Vec<Vec<u32>>,
    /// Children of each remaining index, in digest order.
    children: Vec<Vec<u32>>,
    /// How many remaining indexes list each image.
    parents: Vec<u32>,
    /// Blobs each remaining image references (`load_blobs`).
    blobs: Vec<Vec<u32>>,
    blob_ids: HashMap<Digest, u32>,
    blob_sizes: Vec<u64>,
    /// How many remaining images reference each blob.
    blob_refs: Vec<u32>,
    /// Blobs that deleted images referenced and no remaining image does.
    freed: Vec<u32>,
}

impl Snapshot {
    /// Reads the repository's images, tags and index children.
    async fn load(tx: &mut Tx, repository_id: i64) -> Result<Self, MetaError> {
        let rows = sqlx::query(
            "SELECT digest, pushed_at, last_pulled_at, subject_digest FROM manifests \
             WHERE repository_id = $1 ORDER BY pushed_at, digest",
        )
        .bind(repository_id)
        .fetch_all(&mut **tx)
        .await?;
        let n = rows.len();
        let mut s = Snapshot {
            refers: vec![false; n],
            present: vec![true; n],
            tags: vec![Vec::new(); n],
            referrers: vec![Vec::new(); n],
            children: vec![Vec::new(); n],
            parents: vec![0; n],
            ..Snapshot::default()
        };
        let mut subjects = Vec::new();
        for (id, r) in rows.iter().enumerate() {
            let digest = parse_digest(r.try_get(0)?)?;
            s.digests.push(digest);
            s.ids.insert(digest, id as u32);
            s.pushed_at.push(r.try_get(1)?);
            s.last_pulled_at.push(r.try_get(2)?);
            if let Some(subject) = r.try_get::<Option<&str>, _>(3)? {
                subjects.push((id, parse_digest(subject)?));
            }
        }
        // In push order, so each image's referrers are oldest first.
        for (id, subject) in subjects {
            if let Some(&of) = s.ids.get(&subject) {
                s.referrers[of as usize].push(id as u32);
                s.refers[id] = true;
            }
        }
        for r in sqlx::query("SELECT digest, name FROM tags WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?
        {
            if let Some(id) = s.id_of(r.try_get(0)?)? {
                s.tags[id as usize].push(r.try_get(1)?);
            }
        }
        s.tags.iter_mut().for_each(|t| t.sort_unstable());
        for r in sqlx::query("SELECT parent_digest, child_digest FROM manifest_children WHERE repository_id = $1")
            .bind(repository_id)
            .fetch_all(&mut **tx)
            .await?
        {
            // A child not in the repository is never walked to.
            if let (Some(parent), Some(child)) = (s.id_of(r.try_get(0)?)?, s.id_of(r.try_get(1)?)?) {
                s.children[parent as usize].push(child);
                s.parents[child as usize] += 1;
            }
        }
        let digests = &s.digests;
        s.children
            .iter_mut()
            .for_each(|c| c.sort_unstable_by_key(|&id| digests[id as usize]));
        Ok(s)
    }

    /// Reads the blob references of the repository's images, with the blobs' sizes.
    async fn load_blobs(&mut self, tx: &mut Tx, repository_id: i64) -> Result<(), MetaError> {
        self.blobs = vec![Vec::new(); self.digests.len()];
        let rows = sqlx::query(
            "SELECT mb.manifest_digest, mb.blob_digest, b.size FROM manifest_blobs mb \
             LEFT JOIN blobs b ON b.digest = mb.blob_digest WHERE mb.repository_id = $1",
        )
        .bind(repository_id)
        .fetch_all(&mut **tx)
        .await?;
        for r in &rows {
            let Some(id) = self.id_of(r.try_get(0)?)? else {
                continue;
            };
            let digest = parse_digest(r.try_get(1)?)?;
            let next = self.blob_sizes.len() as u32;
            let blob = *self.blob_ids.entry(digest).or_insert(next);
            if blob == next {
                // No blob row: nothing to free.
                self.blob_sizes
                    .push(r.try_get::<Option<i64>, _>(2)?.unwrap_or(0) as u64);
                self.blob_refs.push(0);
            }
            self.blobs[id as usize].push(blob);
            self.blob_refs[blob as usize] += 1;
        }
        Ok(())
    }

    /// The id of the image with that digest text, if it is in the snapshot.
    fn id_of(&self, digest: &str) -> Result<Option<u32>, MetaError> {
        Ok(self.ids.get(&parse_digest(digest)?).copied())
    }

    /// The images with their roles, oldest first.
    fn images(&self) -> Vec<LifecycleImage> {
        (0..self.digests.len())
            .map(|i| LifecycleImage {
                digest: self.digests[i],
                tags: self.tags[i].clone(),
                pushed_at: self.pushed_at[i],
                last_pulled_at: self.last_pulled_at[i],
                role: if self.parents[i] > 0 {
                    ImageRole::Child
                } else if self.refers[i] {
                    ImageRole::Referrer
                } else {
                    ImageRole::Own
                },
            })
            .collect()
    }

    /// Total size of the freed blobs, less those in `shared` (used by other repositories).
    fn freed_bytes(&self, shared: &[String]) -> u64 {
        let shared: HashSet<u32> = shared
            .iter()
            .filter_map(|d| d.parse().ok().and_then(|d: Digest| self.blob_ids.get(&d).copied()))
            .collect();
        self.freed
            .iter()
            .filter(|b| !shared.contains(b))
            .map(|&b| self.blob_sizes[b as usize])
            .sum()
    }
}

impl ExpiryView for Snapshot {
    type Id = u32;

    fn id(&self, digest: &Digest) -> Option<u32> {
        self.ids.get(digest).copied()
    }

    fn digest(&self, id: u32) -> Digest {
        self.digests[id as usize]
    }

    async fn image(&mut self, id: u32) -> Result<Option<(i64, Vec<String>)>, MetaError> {
        let i = id as usize;
        Ok(self.present[i].then(|| (self.pushed_at[i], self.tags[i].clone())))
    }

    async fn referrers(&mut self, id: u32) -> Result<Vec<u32>, MetaError> {
        let all = &self.referrers[id as usize];
        Ok(all.iter().copied().filter(|&r| self.present[r as usize]).collect())
    }

    async fn children(&mut self, id: u32) -> Result<Vec<u32>, MetaError> {
        Ok(self.children[id as usize].clone())
    }

    async fn delete(&mut self, id: u32) -> Result<bool, MetaError> {
        let i = id as usize;
        if self.parents[i] > 0 || !self.present[i] {
            return Ok(false);
        }
        // What ON DELETE CASCADE does to its children rows and blob references.
        self.present[i] = false;
        for child in std::mem::take(&mut self.children[i]) {
            self.parents[child as usize] -= 1;
        }
        for blob in std::mem::take(&mut self.blobs[i]) {
            self.blob_refs[blob as usize] -= 1;
            if self.blob_refs[blob as usize] == 0 {
                self.freed.push(blob);
            }
        }
        Ok(true)
    }
}

/// Blobs of the repository that another repository's manifests reference too;
/// none asked for when no other repository has a manifest.
async fn shared_blobs(tx: &mut Tx, repository_id: i64) -> Result<Vec<String>, MetaError> {
    // Two ranges rather than `<>`, so both read the primary key's index.
    let others = sqlx::query(
        "SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM manifests WHERE repository_id < $1) \
         OR EXISTS (SELECT 1 FROM manifests WHERE repository_id > $1)",
    )
    .bind(repository_id)
    .fetch_optional(&mut **tx)
    .await?;
    if others.is_none() {
        return Ok(Vec::new());
    }
    sqlx::query(
        "SELECT DISTINCT mine.blob_digest AS v FROM manifest_blobs mine WHERE mine.repository_id = $1 \
         AND EXISTS (SELECT 1 FROM manifest_blobs o WHERE o.blob_digest = mine.blob_digest AND o.repository_id <> $1)",
    )
    .bind(repository_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| get(r, "v"))
    .collect()
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
