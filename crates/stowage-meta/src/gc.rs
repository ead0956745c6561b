//! Online garbage collection, metadata side. Whatever may drop a blob's last
//! reference queues the blob for review; a review runs after a grace period in
//! a transaction that holds the blob's GC lock exclusively, while everything
//! that creates a reference (upload, mount, manifest push) holds it shared.
//! On PostgreSQL the lock is a transaction-scoped advisory lock; SQLite's
//! single writer (`BEGIN IMMEDIATE`) already serializes them.

use stowage_core::Digest;
use uuid::Uuid;

use crate::{Dialect, Meta, MetaError, Tx, Upload, get, now_ms, parse_digest};

/// What a review found about a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing references it: it can go. `size` is `None` for a stored file
    /// the database does not know (left by a crash mid-upload).
    Unreferenced { size: Option<u64> },
    /// A manifest references it.
    InUse,
    /// Only links younger than the grace period keep it; review again once
    /// the newest of them (created at `newest_link_ms`) is old enough.
    Young { newest_link_ms: i64 },
}

/// A blob queued for review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Review {
    pub digest: Digest,
    pub queued_at: i64,
}

/// The advisory-lock key of a digest: its first eight bytes. A collision only
/// makes two blobs share a lock.
fn lock_key(digest: &Digest) -> i64 {
    let hex = digest.hex();
    u64::from_str_radix(&hex[..16], 16).unwrap_or(0) as i64
}

/// Takes the GC lock of each digest in shared mode (reference creators), in
/// sorted order so two transactions never wait on each other's locks.
pub(crate) async fn lock_shared(tx: &mut Tx, dialect: Dialect, digests: &[Digest]) -> Result<(), MetaError> {
    if dialect != Dialect::Postgres {
        return Ok(());
    }
    let mut keys: Vec<i64> = digests.iter().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Queues blobs for review (a later queueing resets the clock). Queueing a
/// blob that is already queued always moves its time forward, so a review
/// that started before can tell it was queued again (see [`GcGuard::keep`]).
pub(crate) async fn queue_blobs(tx: &mut Tx, digests: &[Digest]) -> Result<(), MetaError> {
    let now = now_ms();
    for d in digests {
        sqlx::query(
            "INSERT INTO gc_reviews (digest, queued_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO UPDATE SET queued_at = CASE WHEN excluded.queued_at > gc_reviews.queued_at \
             THEN excluded.queued_at ELSE gc_reviews.queued_at + 1 END",
        )
        .bind(d.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Queues every blob the repository's manifest `digest` references, before it goes.
pub(crate) async fn queue_manifest_blobs(tx: &mut Tx, repository_id: i64, digest: &Digest) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO gc_reviews (digest, queued_at) \
         SELECT DISTINCT blob_digest, $3 FROM manifest_blobs WHERE repository_id = $1 AND manifest_digest = $2 \
         ON CONFLICT (digest) DO UPDATE SET queued_at = CASE WHEN excluded.queued_at > gc_reviews.queued_at \
             THEN excluded.queued_at ELSE gc_reviews.queued_at + 1 END",
    )
    .bind(repository_id)
    .bind(digest.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues every blob linked to or referenced in a repository about to be deleted.
pub(crate) async fn queue_repository_blobs(tx: &mut Tx, repository_id: i64) -> Result<(), MetaError> {
    for sql in [
        "INSERT INTO gc_reviews (digest, queued_at) \
         SELECT DISTINCT digest, $2 FROM repository_blobs WHERE repository_id = $1 \
         ON CONFLICT (digest) DO UPDATE SET queued_at = CASE WHEN excluded.queued_at > gc_reviews.queued_at \
             THEN excluded.queued_at ELSE gc_reviews.queued_at + 1 END",
        "INSERT INTO gc_reviews (digest, queued_at) \
         SELECT DISTINCT blob_digest, $2 FROM manifest_blobs WHERE repository_id = $1 \
         ON CONFLICT (digest) DO UPDATE SET queued_at = CASE WHEN excluded.queued_at > gc_reviews.queued_at \
             THEN excluded.queued_at ELSE gc_reviews.queued_at + 1 END",
    ] {
        sqlx::query(sql)
            .bind(repository_id)
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A write transaction holding one blob's GC lock exclusively: nothing can
/// start referencing the blob until it ends. Dropping it rolls back.
pub struct GcGuard {
    tx: Tx,
    digest: Digest,
}

/// A write transaction holding one blob's GC lock shared, for placing an
/// uploaded blob: GC cannot remove the file while it is being put in place.
pub struct BlobGuard {
    tx: Tx,
    digest: Digest,
    dialect: Dialect,
}

impl Meta {
    /// Reviews due at `cutoff_ms` (queued at or before it) in queue order,
    /// continuing after `after`.
    pub async fn due_reviews(
        &self,
        cutoff_ms: i64,
        after: Option<&Review>,
        limit: usize,
    ) -> Result<Vec<Review>, MetaError> {
        let (after_at, after_digest) = after.map_or((i64::MIN, String::new()), |r| (r.queued_at, r.digest.to_string()));
        let rows = sqlx::query(
            "SELECT digest, queued_at FROM gc_reviews WHERE queued_at <= $1 \
             AND (queued_at > $2 OR (queued_at = $2 AND digest > $3)) \
             ORDER BY queued_at, digest LIMIT $4",
        )
        .bind(cutoff_ms)
        .bind(after_at)
        .bind(after_digest)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Review {
                    digest: parse_digest(&get::<String>(r, "digest")?)?,
                    queued_at: get(r, "queued_at")?,
                })
            })
            .collect()
    }

    /// When the blob was last queued for review, if it is queued.
    pub async fn queued_at(&self, digest: &Digest) -> Result<Option<i64>, MetaError> {
        let row = sqlx::query("SELECT queued_at FROM gc_reviews WHERE digest = $1")
            .bind(digest.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "queued_at")).transpose()
    }

    /// How many reviews are queued (due or not).
    pub async fn queued_reviews(&self) -> Result<i64, MetaError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM gc_reviews")
            .fetch_one(&self.pool)
            .await?;
        get(&row, "n")
    }

    /// Queues blobs for review, e.g. stored files the database does not know.
    pub async fn queue_reviews(&self, digests: &[Digest]) -> Result<(), MetaError> {
        let mut tx = self.write_tx().await?;
        queue_blobs(&mut tx, digests).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which of `objects` (key scope, digest) the database records as stored.
    pub async fn known_objects(&self, objects: &[(String, Digest)]) -> Result<Vec<(String, Digest)>, MetaError> {
        let mut known = Vec::new();
        for chunk in objects.chunks(500) {
            let sql = format!(
                "SELECT scope, digest FROM blob_objects WHERE digest IN ({})",
                crate::placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (_, d) in chunk {
                q = q.bind(d.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                let found = (
                    get::<String>(&r, "scope")?,
                    parse_digest(&get::<String>(&r, "digest")?)?,
                );
                if chunk.contains(&found) {
                    known.push(found);
                }
            }
        }
        Ok(known)
    }

    /// Takes `digest`'s GC lock exclusively for a review.
    pub async fn gc_guard(&self, digest: &Digest) -> Result<GcGuard, MetaError> {
        let mut tx = self.write_tx().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock_key(digest))
                .execute(&mut *tx)
                .await?;
        }
        Ok(GcGuard { tx, digest: *digest })
    }

    /// Takes `digest`'s GC lock shared, to put an uploaded blob in place.
    pub async fn blob_guard(&self, digest: &Digest) -> Result<BlobGuard, MetaError> {
        let mut tx = self.write_tx().await?;
        lock_shared(&mut tx, self.dialect, std::slice::from_ref(digest)).await?;
        Ok(BlobGuard {
            tx,
            digest: *digest,
            dialect: self.dialect,
        })
    }

    /// Upload sessions idle since before `cutoff_ms`.
    pub async fn idle_uploads(&self, cutoff_ms: i64, limit: usize) -> Result<Vec<Uuid>, MetaError> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE updated_at <= $1 ORDER BY updated_at LIMIT $2")
            .bind(cutoff_ms)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = get(r, "id")?;
                id.parse().map_err(|_| MetaError::Corrupt(format!("upload id '{id}'")))
            })
            .collect()
    }

    /// Ends an upload session if it is still idle since before `cutoff_ms`;
    /// returns whether it did.
    pub async fn expire_upload(&self, id: Uuid, cutoff_ms: i64) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM uploads WHERE id = $1 AND updated_at <= $2")
            .bind(id.to_string())
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Which of `ids` are live upload sessions.
    pub async fn known_uploads(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, MetaError> {
        let mut known = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id FROM uploads WHERE id IN ({})",
                crate::placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: String = get(&r, "id")?;
                known.push(
                    id.parse()
                        .map_err(|_| MetaError::Corrupt(format!("upload id '{id}'")))?,
                );
            }
        }
        Ok(known)
    }

    /// Takes a named lease for `ttl_ms` unless another holder has it unexpired;
    /// returns whether `holder` now has it. Renewing one's own lease succeeds.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, MetaError> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO worker_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE worker_leases.expires_at < $4 OR worker_leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives a lease back early.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM worker_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl GcGuard {
    /// Drops the blob's links older than `cutoff_ms` that no manifest of their
    /// repository uses, then says whether anything still holds the blob.
    pub async fn prune(&mut self, cutoff_ms: i64) -> Result<Verdict, MetaError> {
        let d = self.digest.to_string();
        sqlx::query(
            "DELETE FROM repository_blobs WHERE digest = $1 AND created_at <= $2 AND NOT EXISTS \
             (SELECT 1 FROM manifest_blobs mb WHERE mb.repository_id = repository_blobs.repository_id \
              AND mb.blob_digest = repository_blobs.digest)",
        )
        .bind(&d)
        .bind(cutoff_ms)
        .execute(&mut *self.tx)
        .await?;
        let used = sqlx::query("SELECT 1 AS one FROM manifest_blobs WHERE blob_digest = $1 LIMIT 1")
            .bind(&d)
            .fetch_optional(&mut *self.tx)
            .await?;
        if used.is_some() {
            return Ok(Verdict::InUse);
        }
        let newest = sqlx::query("SELECT MAX(created_at) AS newest FROM repository_blobs WHERE digest = $1")
            .bind(&d)
            .fetch_one(&mut *self.tx)
            .await?;
        if let Some(newest_link_ms) = get::<Option<i64>>(&newest, "newest")? {
            return Ok(Verdict::Young { newest_link_ms });
        }
        let size = sqlx::query("SELECT size FROM blobs WHERE digest = $1")
            .bind(&d)
            .fetch_optional(&mut *self.tx)
            .await?;
        let size = size.map(|r| get::<i64>(&r, "size")).transpose()?;
        Ok(Verdict::Unreferenced {
            size: size.map(|s| s as u64),
        })
    }

    /// Key scopes the blob is stored under.
    pub async fn objects(&mut self) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query("SELECT scope FROM blob_objects WHERE digest = $1 ORDER BY scope")
            .bind(self.digest.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|r| get(r, "scope")).collect()
    }

    /// Key scopes the blob is stored under that no repository using that key
    /// links any more (its copies for keys nothing needs).
    pub async fn unused_objects(&mut self) -> Result<Vec<String>, MetaError> {
        let rows = sqlx::query(
            "SELECT o.scope FROM blob_objects o WHERE o.digest = $1 AND NOT EXISTS \
             (SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
              WHERE rb.digest = o.digest AND r.key_id = o.scope) ORDER BY o.scope",
        )
        .bind(self.digest.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| get(r, "scope")).collect()
    }

    /// Forgets the blob's objects under `scopes` (call after moving their
    /// files out of view); takes effect when the guard commits.
    pub async fn forget_objects(&mut self, scopes: &[String]) -> Result<(), MetaError> {
        for scope in scopes {
            sqlx::query("DELETE FROM blob_objects WHERE scope = $1 AND digest = $2")
                .bind(scope)
                .bind(self.digest.to_string())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Forgets the blob and all its objects (call after moving their files out
    /// of view) and commits.
    pub async fn forget_blob(mut self) -> Result<(), MetaError> {
        let d = self.digest.to_string();
        sqlx::query("DELETE FROM blob_objects WHERE digest = $1")
            .bind(&d)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE digest = $1")
            .bind(&d)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM gc_reviews WHERE digest = $1")
            .bind(&d)
            .execute(&mut *self.tx)
            .await?;
        // A scan's index of the blob (as a layer) goes with it.
        sqlx::query("DELETE FROM layer_indexes WHERE digest = $1")
            .bind(&d)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Keeps the blob and commits: the review is closed, or postponed to
    /// `requeue_at` (links still young) — unless the blob was queued again
    /// since the review was read at `seen_queued_at` (a delete that ran
    /// meanwhile), in which case that newer review stands.
    pub async fn keep(mut self, requeue_at: Option<i64>, seen_queued_at: i64) -> Result<(), MetaError> {
        let d = self.digest.to_string();
        match requeue_at {
            Some(at) => {
                sqlx::query("UPDATE gc_reviews SET queued_at = $2 WHERE digest = $1 AND queued_at = $3")
                    .bind(&d)
                    .bind(at)
                    .bind(seen_queued_at)
                    .execute(&mut *self.tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM gc_reviews WHERE digest = $1 AND queued_at = $2")
                    .bind(&d)
                    .bind(seen_queued_at)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Whether the database still records the blob's object under `scope` (a
    /// quarantined file whose row survived belongs back in place; a stored file
    /// without one is a leftover).
    pub async fn object_recorded(&mut self, scope: &str) -> Result<bool, MetaError> {
        object_exists(&mut self.tx, scope, &self.digest).await
    }
}

impl BlobGuard {
    /// Takes the right to place the blob's object under `scope` (one placer at
    /// a time) and says whether the object is already stored there: then the
    /// upload's own copy is not needed.
    pub async fn object_stored(&mut self, scope: &str) -> Result<bool, MetaError> {
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(placement_key(scope, &self.digest))
                .execute(&mut *self.tx)
                .await?;
        }
        object_exists(&mut self.tx, scope, &self.digest).await
    }

    /// Closes the upload session and links the blob to its repository, then
    /// commits (releasing the locks). `placed` is set when this upload's
    /// staged bytes were just put in place as the object of the upload's scope.
    pub async fn complete_upload(mut self, upload: &Upload, placed: bool) -> Result<(), MetaError> {
        let gone = sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload.id.to_string())
            .execute(&mut *self.tx)
            .await?;
        if gone.rows_affected() != 1 {
            return Err(MetaError::UploadNotFound);
        }
        crate::blobs::link_in(&mut self.tx, upload.repository_id, &self.digest, upload.offset).await?;
        if placed {
            sqlx::query(
                "INSERT INTO blob_objects (scope, digest, wrapped_key, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (scope, digest) DO UPDATE SET wrapped_key = excluded.wrapped_key",
            )
            .bind(&upload.scope)
            .bind(self.digest.to_string())
            .bind(upload.wrapped_key.clone())
            .bind(now_ms())
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

/// Whether `digest` is stored under `scope`.
async fn object_exists(tx: &mut Tx, scope: &str, digest: &Digest) -> Result<bool, MetaError> {
    let row = sqlx::query("SELECT 1 AS one FROM blob_objects WHERE scope = $1 AND digest = $2")
        .bind(scope)
        .bind(digest.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// Advisory-lock key serialising placers of one object (a key space apart from
/// [`lock_key`]'s by hashing the scope in).
fn placement_key(scope: &str, digest: &Digest) -> i64 {
    lock_key(&Digest::of(format!("place {scope} {digest}").as_bytes()))
}
