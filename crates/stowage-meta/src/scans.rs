//! Image scans as a queue and a record: a scan is asked for (on push, in the
//! push's transaction, or by `StartImageScan`), claimed by one node under a
//! lease, and finished with the image's inventory and findings. Layer indexes
//! are kept by layer digest so that no layer is read twice.

use std::collections::BTreeSet;

use stowage_core::Digest;

use crate::{Meta, MetaError, Tx, get, now_ms, parse_digest, placeholders};

/// Scan statuses as ECR names them (`ScanStatus`).
pub mod status {
    pub const IN_PROGRESS: &str = "IN_PROGRESS";
    pub const COMPLETE: &str = "COMPLETE";
    pub const FAILED: &str = "FAILED";
    pub const UNSUPPORTED_IMAGE: &str = "UNSUPPORTED_IMAGE";
}

/// A scan to ask for: its type and the status it starts in (`IN_PROGRESS`,
/// or `UNSUPPORTED_IMAGE` for what is not an image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRequest {
    pub scan_type: String,
    pub status: &'static str,
    pub description: Option<String>,
}

/// An image's scan as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    pub repository_id: i64,
    pub digest: Digest,
    /// `BASIC` or `ENHANCED`.
    pub scan_type: String,
    pub status: String,
    pub description: Option<String>,
    pub requested_at: i64,
    pub completed_at: Option<i64>,
    /// The newest update time of the advisory sources the image was matched against.
    pub source_updated_at: Option<i64>,
    /// The findings with their observation times (JSON), once complete.
    pub findings: Option<String>,
    /// Findings by severity (JSON object), once complete.
    pub counts: Option<String>,
}

/// A scan this node has claimed and must finish (or give back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedScan {
    pub repository_id: i64,
    pub digest: Digest,
    pub scan_type: String,
    /// Only the findings must be made again, from the stored inventory.
    pub rematch: bool,
    /// Earlier claims that did not finish.
    pub attempts: i64,
    /// The stored inventory and findings (JSON), for a re-match.
    pub inventory: Option<String>,
    pub findings: Option<String>,
}

/// What a finished scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    pub status: &'static str,
    pub description: Option<String>,
    pub source_updated_at: Option<i64>,
    pub inventory: Option<String>,
    pub findings: Option<String>,
    pub counts: Option<String>,
    /// (ecosystem without release, name as matched) of every package.
    pub packages: BTreeSet<(String, String)>,
}

/// Whether a scan was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    Queued,
    /// The image was scanned (or asked to be) within the limit's window.
    LimitExceeded,
}

const SCAN_COLUMNS: &str = "repository_id, digest, scan_type, status, description, requested_at, completed_at, \
                            source_updated_at, findings, counts";

fn scan_record(row: &sqlx::any::AnyRow) -> Result<ScanRecord, MetaError> {
    Ok(ScanRecord {
        repository_id: get(row, "repository_id")?,
        digest: parse_digest(&get::<String>(row, "digest")?)?,
        scan_type: get(row, "scan_type")?,
        status: get(row, "status")?,
        description: get(row, "description")?,
        requested_at: get(row, "requested_at")?,
        completed_at: get(row, "completed_at")?,
        source_updated_at: get(row, "source_updated_at")?,
        findings: get(row, "findings")?,
        counts: get(row, "counts")?,
    })
}

/// Records a scan request in `tx`, replacing an earlier scan of the image.
pub(crate) async fn request_in(
    tx: &mut Tx,
    repository_id: i64,
    digest: &Digest,
    request: &ScanRequest,
    now: i64,
) -> Result<(), MetaError> {
    let done = request.status != status::IN_PROGRESS;
    sqlx::query(
        "INSERT INTO image_scans (repository_id, digest, scan_type, status, description, requested_at, completed_at, \
         rematch, attempts, holder, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, NULL, 0) \
         ON CONFLICT (repository_id, digest) DO UPDATE SET scan_type = excluded.scan_type, status = excluded.status, \
         description = excluded.description, requested_at = excluded.requested_at, \
         completed_at = excluded.completed_at, rematch = 0, attempts = 0, holder = NULL, lease_until = 0",
    )
    .bind(repository_id)
    .bind(digest.to_string())
    .bind(&request.scan_type)
    .bind(request.status)
    .bind(request.description.clone())
    .bind(now)
    .bind(done.then_some(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Meta {
    /// Sets a repository's legacy `scanOnPush` flag.
    pub async fn set_scan_on_push(&self, repository_id: i64, on: bool) -> Result<(), MetaError> {
        sqlx::query("UPDATE repositories SET scan_on_push = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(repository_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Asks for a scan of an image unless one was asked for less than
    /// `window_ms` ago (a scan that failed does not count).
    pub async fn request_scan(
        &self,
        repository_id: i64,
        digest: &Digest,
        request: &ScanRequest,
        window_ms: i64,
    ) -> Result<Queued, MetaError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT status, requested_at FROM image_scans WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            let (st, at): (String, i64) = (get(&row, "status")?, get(&row, "requested_at")?);
            if st != status::FAILED && now - at < window_ms {
                return Ok(Queued::LimitExceeded);
            }
        }
        request_in(&mut tx, repository_id, digest, request, now).await?;
        tx.commit().await?;
        Ok(Queued::Queued)
    }

    /// An image's scan, if it was ever asked for.
    pub async fn image_scan(&self, repository_id: i64, digest: &Digest) -> Result<Option<ScanRecord>, MetaError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SCAN_COLUMNS} FROM image_scans WHERE repository_id = $1 AND digest = $2"
        )))
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(scan_record).transpose()
    }

    /// The package inventory (JSON) an image's last scan stored.
    pub async fn image_inventory(&self, repository_id: i64, digest: &Digest) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT inventory FROM image_scans WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| get::<Option<String>>(&r, "inventory"))
            .transpose()?
            .flatten())
    }

    /// The scans of some images of a repository (those never scanned are left out).
    pub async fn image_scans(&self, repository_id: i64, digests: &[Digest]) -> Result<Vec<ScanRecord>, MetaError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM image_scans WHERE repository_id = $1 AND digest IN ({})",
            placeholders(2, digests.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(repository_id);
        for d in digests {
            q = q.bind(d.to_string());
        }
        q.fetch_all(&self.pool).await?.iter().map(scan_record).collect()
    }

    /// Claims the oldest due scan for `lease_ms`: one asked for, or one to
    /// re-match, whose lease (if any) has run out.
    pub async fn claim_scan(&self, holder: &str, lease_ms: i64) -> Result<Option<ClaimedScan>, MetaError> {
        let now = now_ms();
        for _ in 0..4 {
            let row = sqlx::query(
                "SELECT repository_id, digest, scan_type, rematch, attempts, status FROM image_scans \
                 WHERE (status = 'IN_PROGRESS' OR (status = 'COMPLETE' AND rematch = 1)) AND lease_until < $1 \
                 ORDER BY requested_at LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let repository_id: i64 = get(&row, "repository_id")?;
            let digest: String = get(&row, "digest")?;
            let claimed = sqlx::query(
                "UPDATE image_scans SET holder = $1, lease_until = $2, attempts = attempts + 1 \
                 WHERE repository_id = $3 AND digest = $4 AND lease_until < $5",
            )
            .bind(holder)
            .bind(now + lease_ms)
            .bind(repository_id)
            .bind(&digest)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if !claimed {
                continue; // another node took it first
            }
            let row = sqlx::query(
                "SELECT scan_type, status, rematch, attempts, inventory, findings FROM image_scans \
                 WHERE repository_id = $1 AND digest = $2",
            )
            .bind(repository_id)
            .bind(&digest)
            .fetch_one(&self.pool)
            .await?;
            let st: String = get(&row, "status")?;
            return Ok(Some(ClaimedScan {
                repository_id,
                digest: parse_digest(&digest)?,
                scan_type: get(&row, "scan_type")?,
                rematch: st == status::COMPLETE && get::<i64>(&row, "rematch")? == 1,
                attempts: get::<i64>(&row, "attempts")? - 1,
                inventory: get(&row, "inventory")?,
                findings: get(&row, "findings")?,
            }));
        }
        Ok(None)
    }

    /// Extends a claimed scan's lease; false if the claim was lost.
    pub async fn renew_scan(&self, scan: &ClaimedScan, holder: &str, lease_ms: i64) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE image_scans SET lease_until = $1 WHERE repository_id = $2 AND digest = $3 AND holder = $4",
        )
        .bind(now_ms() + lease_ms)
        .bind(scan.repository_id)
        .bind(scan.digest.to_string())
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a claimed scan's result (and its image's packages) unless the
    /// claim was lost or the scan asked for again meanwhile; returns whether it was recorded.
    pub async fn finish_scan(&self, scan: &ClaimedScan, holder: &str, result: &ScanResult) -> Result<bool, MetaError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE image_scans SET status = $1, description = $2, completed_at = $3, source_updated_at = $4, \
             inventory = COALESCE($5, inventory), findings = $6, counts = $7, rematch = 0, attempts = 0, \
             holder = NULL, lease_until = 0 WHERE repository_id = $8 AND digest = $9 AND holder = $10",
        )
        .bind(result.status)
        .bind(result.description.clone())
        .bind(now)
        .bind(result.source_updated_at)
        .bind(result.inventory.clone())
        .bind(result.findings.clone())
        .bind(result.counts.clone())
        .bind(scan.repository_id)
        .bind(scan.digest.to_string())
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if result.inventory.is_some() {
            sqlx::query("DELETE FROM image_packages WHERE repository_id = $1 AND digest = $2")
                .bind(scan.repository_id)
                .bind(scan.digest.to_string())
                .execute(&mut *tx)
                .await?;
            for (ecosystem, name) in &result.packages {
                sqlx::query(
                    "INSERT INTO image_packages (repository_id, digest, ecosystem, name) VALUES ($1, $2, $3, $4)",
                )
                .bind(scan.repository_id)
                .bind(scan.digest.to_string())
                .bind(ecosystem)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a claimed re-match that is not wanted, leaving the scan as it was.
    pub async fn clear_rematch(&self, scan: &ClaimedScan, holder: &str) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE image_scans SET rematch = 0, attempts = 0, holder = NULL, lease_until = 0 \
             WHERE repository_id = $1 AND digest = $2 AND holder = $3",
        )
        .bind(scan.repository_id)
        .bind(scan.digest.to_string())
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a claimed scan back so that it is tried again (after `retry_ms`).
    pub async fn release_scan(&self, scan: &ClaimedScan, holder: &str, retry_ms: i64) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE image_scans SET holder = NULL, lease_until = $1 WHERE repository_id = $2 AND digest = $3 AND holder = $4",
        )
        .bind(now_ms() + retry_ms)
        .bind(scan.repository_id)
        .bind(scan.digest.to_string())
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks for re-matching the completed scans of `scan_type` whose images
    /// hold a package one of `advisory_ids` names; returns how many.
    pub async fn mark_rematch(&self, scan_type: &str, advisory_ids: &[String]) -> Result<u64, MetaError> {
        let mut marked = 0;
        for chunk in advisory_ids.chunks(500) {
            let sql = format!(
                "UPDATE image_scans SET rematch = 1 WHERE scan_type = $1 AND status = 'COMPLETE' AND rematch = 0 \
                 AND EXISTS (SELECT 1 FROM image_packages p JOIN advisory_packages a \
                 ON a.ecosystem = p.ecosystem AND a.name = p.name \
                 WHERE p.repository_id = image_scans.repository_id AND p.digest = image_scans.digest \
                 AND a.advisory_id IN ({}))",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(scan_type);
            for id in chunk {
                q = q.bind(id);
            }
            marked += q.execute(&self.pool).await?.rows_affected();
        }
        Ok(marked)
    }

    /// A layer's stored index (JSON) if it was made in `format`.
    pub async fn layer_index(&self, digest: &Digest, format: i64) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT body FROM layer_indexes WHERE digest = $1 AND format = $2")
            .bind(digest.to_string())
            .bind(format)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "body")).transpose()
    }

    /// Stores a layer's index (replacing one of an older format).
    pub async fn put_layer_index(&self, digest: &Digest, format: i64, body: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO layer_indexes (digest, format, body, indexed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (digest) DO UPDATE SET format = excluded.format, body = excluded.body, \
             indexed_at = excluded.indexed_at",
        )
        .bind(digest.to_string())
        .bind(format)
        .bind(body)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
