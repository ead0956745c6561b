//! Image scanning: what is scanned when ([`config`]), asking for a scan (on
//! push, inside the push's transaction, or by `StartImageScan`), and the
//! worker every node runs that claims due scans under a lease, reads the
//! image's layers once ([`image`]) and matches its packages against the
//! advisory database ([`matching`]). A re-match (ENHANCED + CONTINUOUS_SCAN,
//! after an advisory import) reuses the stored inventory and reads no layer.

pub mod config;
pub mod image;
pub mod matching;

use std::time::Duration;

use stowage_core::{Digest, Manifest};
use stowage_meta::{
    ClaimedScan, MetaError, Queued, Repository, ScanRecord, ScanRequest, ScanResult, now_ms, scan_status,
};
use stowage_scan::catalog::Inventory;
use tokio::sync::watch;

use self::config::{Frequency, ScanType};
use self::image::ImageError;
use self::matching::StoredFinding;
use crate::AppState;

/// A basic scan runs at most once per image in this window (spec §6.2).
pub const SCAN_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How long a claimed scan is held before another node may take it over; renewed while it runs.
const LEASE: Duration = Duration::from_secs(60);
/// Claims of one scan that did not finish before it is marked FAILED.
const MAX_ATTEMPTS: i64 = 3;
/// ECR's description for an image with no operating system or package manager it knows.
const NOTHING_KNOWN: &str = "The operating system and/or package manager are not supported.";

/// Why `StartImageScan` was refused.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("image not found")]
    ImageNotFound,
    #[error("{0}")]
    Unsupported(String),
    #[error("The scan quota per image has been exceeded. Wait and try again.")]
    LimitExceeded,
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("{0}")]
    Image(String),
}

/// The scan to ask for when `manifest` is pushed to `repo`, if any: images
/// of repositories scanned on push (or continuously); an artifact is
/// recorded as `UNSUPPORTED_IMAGE` at once; an index is not scanned itself.
pub async fn on_push(
    state: &AppState,
    repo: &Repository,
    manifest: &Manifest,
) -> Result<Option<ScanRequest>, MetaError> {
    if repo.public || manifest.media_type.is_index() {
        return Ok(None);
    }
    let effective = config::registry(state, &repo.account_id).await?.effective(repo);
    if effective.frequency == Frequency::Manual {
        return Ok(None);
    }
    Ok(Some(request_for(manifest, effective.scan_type)))
}

fn request_for(manifest: &Manifest, scan_type: ScanType) -> ScanRequest {
    match image::check_image(manifest) {
        Ok(()) => ScanRequest {
            scan_type: scan_type.as_str().to_string(),
            status: scan_status::IN_PROGRESS,
            description: None,
        },
        Err(why) => ScanRequest {
            scan_type: scan_type.as_str().to_string(),
            status: scan_status::UNSUPPORTED_IMAGE,
            description: Some(why),
        },
    }
}

/// `StartImageScan`: queues a scan of an image, once per image per 24 hours.
pub async fn start(state: &AppState, repo: &Repository, digest: &Digest) -> Result<(), StartError> {
    let manifest = match image::load_manifest(state, repo, digest).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(StartError::ImageNotFound),
        Err(ImageError::Unsupported(why)) => return Err(StartError::Unsupported(why)),
        Err(e) => return Err(StartError::Image(e.to_string())),
    };
    image::check_image(&manifest).map_err(StartError::Unsupported)?;
    let scan_type = config::registry(state, &repo.account_id).await?.scan_type;
    let request = request_for(&manifest, scan_type);
    match state
        .meta
        .request_scan(repo.id, digest, &request, SCAN_WINDOW.as_millis() as i64)
        .await?
    {
        Queued::Queued => Ok(()),
        Queued::LimitExceeded => Err(StartError::LimitExceeded),
    }
}

/// An image's scan, if one was ever asked for.
pub async fn record(state: &AppState, repo: &Repository, digest: &Digest) -> Result<Option<ScanRecord>, MetaError> {
    state.meta.image_scan(repo.id, digest).await
}

/// An image's package inventory: the one its last scan stored, else made now
/// from its layers (indexing those not indexed yet). `None`: no such image.
pub async fn inventory_of(
    state: &AppState,
    repo: &Repository,
    digest: &Digest,
) -> Result<Option<Inventory>, ImageError> {
    let stored = state
        .meta
        .image_inventory(repo.id, digest)
        .await
        .map_err(|e| ImageError::Transient(e.to_string()))?;
    if let Some(inventory) = stored.as_deref().and_then(|i| serde_json::from_str(i).ok()) {
        return Ok(Some(inventory));
    }
    let Some(manifest) = image::load_manifest(state, repo, digest).await? else {
        return Ok(None);
    };
    image::inventory(state, repo, &manifest).await.map(Some)
}

/// The stored findings of a scan record.
pub fn findings_of(record: &ScanRecord) -> Vec<StoredFinding> {
    parse_findings(record.findings.as_deref())
}

/// Findings as stored (JSON); none when absent or unreadable.
fn parse_findings(json: Option<&str>) -> Vec<StoredFinding> {
    json.and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default()
}

/// After an advisory import changed `advisory_ids`: marks the ENHANCED scans
/// of images holding a package they name for re-matching (repositories not
/// scanned continuously are skipped when the re-match runs).
pub async fn advisories_changed(meta: &stowage_meta::Meta, advisory_ids: &[String]) -> Result<u64, MetaError> {
    meta.mark_rematch(ScanType::Enhanced.as_str(), advisory_ids).await
}

/// Runs due scans one at a time until told to stop, polling every `poll` when idle.
pub async fn run_until_stopped(state: AppState, poll: Duration, mut stopped: watch::Receiver<bool>) {
    let holder = uuid::Uuid::new_v4().to_string();
    loop {
        if *stopped.borrow() {
            return;
        }
        let worked = match state.meta.claim_scan(&holder, LEASE.as_millis() as i64).await {
            Ok(Some(scan)) => {
                run_claimed(&state, &holder, scan).await;
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "looking for due scans failed");
                false
            }
        };
        if !worked {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => return,
            }
        }
    }
}

/// Runs one claimed scan, renewing its lease, and records the result.
async fn run_claimed(state: &AppState, holder: &str, scan: ClaimedScan) {
    let started = std::time::Instant::now();
    let work = scan_one(state, &scan);
    let mut work = std::pin::pin!(work);
    let mut renew = tokio::time::interval(LEASE / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = renew.tick() => {
                if let Err(e) = state.meta.renew_scan(&scan, holder, LEASE.as_millis() as i64).await {
                    tracing::warn!(error = %e, "renewing a scan lease failed");
                }
            }
        }
    };
    let kind = if scan.rematch { "rematch" } else { "scan" };
    let result = match outcome {
        Ok(Outcome::Record(result)) => result,
        Ok(Outcome::Gone) => return,
        Ok(Outcome::KeepAsIs) => {
            if let Err(e) = state.meta.clear_rematch(&scan, holder).await {
                tracing::warn!(image.digest = %scan.digest, error = %e, "clearing a re-match failed");
            }
            return;
        }
        Err(ImageError::Transient(why)) if scan.attempts + 1 < MAX_ATTEMPTS => {
            tracing::warn!(image.digest = %scan.digest, error = %why, "scan failed; it will be tried again");
            let _ = state.meta.release_scan(&scan, holder, 5_000).await;
            return;
        }
        Err(e) => failed(e.to_string()),
    };
    tracing::info!(
        image.digest = %scan.digest, kind, status = result.status,
        elapsed_ms = started.elapsed().as_millis() as u64, "scan finished"
    );
    state
        .metrics
        .job_runs
        .get_or_create(&crate::ops::JobLabel { job: kind.to_string() })
        .inc();
    if let Err(e) = state.meta.finish_scan(&scan, holder, &result).await {
        tracing::warn!(image.digest = %scan.digest, error = %e, "recording a scan failed");
    }
}

fn failed(description: String) -> ScanResult {
    ScanResult {
        status: scan_status::FAILED,
        description: Some(description),
        ..ScanResult::default()
    }
}

/// What a scan of one image came to.
enum Outcome {
    Record(ScanResult),
    /// A re-match no longer wanted (the repository is not scanned
    /// continuously any more): the scan stays as it was.
    KeepAsIs,
    /// The image or its repository was deleted meanwhile.
    Gone,
}

/// Scans (or re-matches) one image.
async fn scan_one(state: &AppState, scan: &ClaimedScan) -> Result<Outcome, ImageError> {
    let transient = |e: MetaError| ImageError::Transient(e.to_string());
    let Some(repo) = state
        .meta
        .repository_by_id(scan.repository_id)
        .await
        .map_err(transient)?
    else {
        return Ok(Outcome::Gone);
    };
    let previous = parse_findings(scan.findings.as_deref());
    let stored_inventory = scan
        .inventory
        .as_deref()
        .and_then(|i| serde_json::from_str::<Inventory>(i).ok());
    let (inventory, fresh) = match (scan.rematch, stored_inventory) {
        (true, Some(inventory)) => {
            let config = config::registry(state, &repo.account_id).await.map_err(transient)?;
            if config.effective(&repo).frequency != Frequency::ContinuousScan {
                return Ok(Outcome::KeepAsIs);
            }
            (inventory, false)
        }
        _ => {
            let Some(manifest) = image::load_manifest(state, &repo, &scan.digest).await? else {
                return Ok(Outcome::Gone);
            };
            match image::inventory(state, &repo, &manifest).await {
                Ok(inventory) => (inventory, true),
                Err(ImageError::Unsupported(why)) => {
                    return Ok(Outcome::Record(ScanResult {
                        status: scan_status::UNSUPPORTED_IMAGE,
                        description: Some(why),
                        ..ScanResult::default()
                    }));
                }
                Err(e) => return Err(e),
            }
        }
    };
    if inventory.os.is_none() && inventory.packages.is_empty() {
        return Ok(Outcome::Record(ScanResult {
            status: scan_status::UNSUPPORTED_IMAGE,
            description: Some(NOTHING_KNOWN.to_string()),
            ..ScanResult::default()
        }));
    }
    let inventory_json = serde_json::to_string(&inventory).expect("an inventory serializes");
    let matched = matching::match_inventory(state, inventory, &previous, now_ms())
        .await
        .map_err(transient)?;
    Ok(Outcome::Record(ScanResult {
        status: scan_status::COMPLETE,
        description: Some("The scan was completed successfully.".to_string()),
        source_updated_at: matched.source_updated_at,
        counts: Some(matching::severity_counts(&matched.findings).to_string()),
        findings: Some(serde_json::to_string(&matched.findings).expect("findings serialize")),
        inventory: fresh.then_some(inventory_json),
        packages: if fresh { matched.packages } else { Default::default() },
    }))
}
