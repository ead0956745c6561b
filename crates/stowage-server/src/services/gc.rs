//! Online garbage collection: one pass puts back or purges what an interrupted
//! pass left in quarantine, removes stored files the database never recorded,
//! reviews every blob whose grace period has passed, and removes idle uploads.
//! Pushes and pulls go on throughout; see `stowage_meta::gc` for the locking.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use stowage_core::Digest;
use stowage_meta::{MetaError, Review, Verdict};
use stowage_store::{BlobKey, KeyScope, StoreError};

use crate::AppState;

/// Reviews fetched per database round trip.
const BATCH: usize = 256;

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a pass did (or, dry, would do).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub dry_run: bool,
    /// Blobs deleted (or that would be).
    pub blobs_freed: u64,
    /// Their bytes.
    pub bytes_freed: u64,
    /// The deleted blobs' digests.
    pub freed: Vec<String>,
    /// Blobs reviewed and kept: still referenced or still in their grace period.
    pub blobs_kept: u64,
    /// Idle uploads removed (or that would be).
    pub uploads_removed: u64,
    /// Stored files the database never recorded, removed.
    pub strays_removed: u64,
    /// Quarantined blobs put back after an interrupted pass.
    pub restored: u64,
}

/// Runs one pass now.
pub async fn pass(state: &AppState, dry_run: bool) -> Result<PassReport, GcError> {
    let timing = state.config.housekeeping;
    let mut report = PassReport {
        dry_run,
        ..Default::default()
    };
    if !dry_run {
        recover_quarantine(state, &mut report).await?;
        remove_strays(state, timing.gc_grace, &mut report).await?;
    }
    review_due(state, timing.gc_grace, &mut report).await?;
    sweep_uploads(state, timing.upload_ttl, dry_run, &mut report).await?;
    if !dry_run {
        state.metrics.gc_passes.inc();
    }
    tracing::info!(
        dry_run,
        blobs_freed = report.blobs_freed,
        bytes_freed = report.bytes_freed,
        blobs_kept = report.blobs_kept,
        uploads_removed = report.uploads_removed,
        strays_removed = report.strays_removed,
        "garbage collection pass finished"
    );
    Ok(report)
}

fn ms_before_now(d: Duration) -> i64 {
    stowage_meta::now_ms() - d.as_millis().min(i64::MAX as u128) as i64
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A crash between quarantining an object and forgetting it leaves the file
/// in quarantine with its row intact: put it back. Otherwise finish the purge.
async fn recover_quarantine(state: &AppState, report: &mut PassReport) -> Result<(), GcError> {
    for object in state.store.quarantined().await? {
        let mut guard = state.meta.gc_guard(&object.digest).await?;
        if guard.object_recorded(object.scope.as_str()).await? {
            state.store.restore(&object).await?;
            report.restored += 1;
            tracing::warn!(%object, "restored a blob left in quarantine by an interrupted pass");
        } else {
            state.store.purge(&object).await?;
        }
        drop(guard);
    }
    Ok(())
}

/// Files in the store the database has never recorded (a crash between
/// writing an upload's file and committing it) older than the grace period
/// are removed. Placing an object holds its blob's lock shared until its row
/// commits, so under the exclusive lock a file without a row is a leftover.
async fn remove_strays(state: &AppState, grace: Duration, report: &mut PassReport) -> Result<(), GcError> {
    let cutoff = ms_before_now(grace);
    for shard in 0..=u8::MAX {
        let old: Vec<(String, Digest)> = state
            .store
            .list_blobs(shard)
            .await?
            .into_iter()
            .filter(|(_, written)| epoch_ms(*written) <= cutoff)
            .map(|(b, _)| (b.scope.as_str().to_string(), b.digest))
            .collect();
        if old.is_empty() {
            continue;
        }
        let known = state.meta.known_objects(&old).await?;
        for (scope, digest) in old.into_iter().filter(|o| !known.contains(o)) {
            let mut guard = state.meta.gc_guard(&digest).await?;
            if guard.object_recorded(&scope).await? {
                continue; // placed meanwhile
            }
            let object = BlobKey::new(
                KeyScope::new(&scope).map_err(|e| GcError::Meta(MetaError::Corrupt(e.to_string())))?,
                digest,
            );
            state.store.quarantine(&object).await?;
            state.store.purge(&object).await?;
            drop(guard);
            report.strays_removed += 1;
            tracing::info!(%object, "removed a stored file no upload finished");
        }
    }
    Ok(())
}

/// Reviews every blob queued before the grace period began.
async fn review_due(state: &AppState, grace: Duration, report: &mut PassReport) -> Result<(), GcError> {
    let cutoff = ms_before_now(grace);
    let mut after: Option<Review> = None;
    loop {
        let batch = state.meta.due_reviews(cutoff, after.as_ref(), BATCH).await?;
        let Some(last) = batch.last().copied() else {
            return Ok(());
        };
        for review in batch {
            review_one(state, &review, cutoff, report).await?;
        }
        after = Some(last);
    }
}

async fn review_one(state: &AppState, review: &Review, cutoff: i64, report: &mut PassReport) -> Result<(), GcError> {
    let digest = &review.digest;
    let mut guard = state.meta.gc_guard(digest).await?;
    match guard.prune(cutoff).await? {
        verdict @ (Verdict::InUse | Verdict::Young { .. }) => {
            report.blobs_kept += 1;
            if report.dry_run {
                return Ok(());
            }
            // Copies under keys no repository that links the blob uses any more go.
            let unused = objects(digest, guard.unused_objects().await?)?;
            for object in &unused {
                report.bytes_freed += state.store.quarantine(object).await?.unwrap_or(0);
            }
            let scopes: Vec<String> = unused.iter().map(|o| o.scope.to_string()).collect();
            guard.forget_objects(&scopes).await?;
            let requeue = match verdict {
                Verdict::Young { newest_link_ms } => Some(newest_link_ms),
                _ => None,
            };
            if let Err(e) = guard.keep(requeue, review.queued_at).await {
                for object in &unused {
                    state.store.restore(object).await?;
                }
                return Err(e.into());
            }
            for object in &unused {
                state.store.purge(object).await?;
            }
        }
        Verdict::Unreferenced { size } => {
            let stored = objects(digest, guard.objects().await?)?;
            if report.dry_run {
                let mut bytes = 0;
                for object in &stored {
                    bytes += state.store.stat(object).await?.unwrap_or(0);
                }
                report.bytes_freed += if stored.is_empty() { size.unwrap_or(0) } else { bytes };
            } else {
                // Out of view first, then forgotten, then gone: a crash at any
                // step leaves either the whole blob or nothing that points at it.
                let mut freed = 0;
                for object in &stored {
                    freed += state.store.quarantine(object).await?.unwrap_or(0);
                }
                if let Err(e) = guard.forget_blob().await {
                    for object in &stored {
                        state.store.restore(object).await?;
                    }
                    return Err(e.into());
                }
                for object in &stored {
                    state.store.purge(object).await?;
                }
                report.bytes_freed += freed;
                state.metrics.gc_blobs_freed.inc();
                state.metrics.gc_bytes_freed.inc_by(freed);
            }
            report.blobs_freed += 1;
            report.freed.push(digest.to_string());
        }
    }
    Ok(())
}

/// The stored objects of `digest` under `scopes`.
fn objects(digest: &Digest, scopes: Vec<String>) -> Result<Vec<BlobKey>, GcError> {
    scopes
        .into_iter()
        .map(|s| {
            KeyScope::new(&s)
                .map(|scope| BlobKey::new(scope, *digest))
                .map_err(|e| GcError::Meta(MetaError::Corrupt(e.to_string())))
        })
        .collect()
}

/// Removes upload sessions idle longer than `ttl`, and staged files no session owns.
async fn sweep_uploads(state: &AppState, ttl: Duration, dry_run: bool, report: &mut PassReport) -> Result<(), GcError> {
    let cutoff = ms_before_now(ttl);
    loop {
        let idle = state
            .meta
            .idle_uploads(cutoff, if dry_run { 1_000_000 } else { BATCH })
            .await?;
        if dry_run {
            report.uploads_removed += idle.len() as u64;
            break;
        }
        if idle.is_empty() {
            break;
        }
        for id in idle {
            if state.meta.expire_upload(id, cutoff).await? {
                report.uploads_removed += 1;
                state.metrics.gc_uploads_removed.inc();
            }
            state.store.abort(id).await?;
        }
    }
    if dry_run {
        return Ok(());
    }
    let staged: Vec<_> = state
        .store
        .list_uploads()
        .await?
        .into_iter()
        .filter(|(_, written)| epoch_ms(*written) <= cutoff)
        .map(|(id, _)| id)
        .collect();
    let live = state.meta.known_uploads(&staged).await?;
    for id in staged.into_iter().filter(|id| !live.contains(id)) {
        state.store.abort(id).await?;
    }
    Ok(())
}
