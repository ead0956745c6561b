//! `stowage vulndb import|status`: OSV advisories from files, directories or
//! osv.dev zip dumps into the metadata database, which every node matches
//! images against. Reading and parsing run on a blocking thread; records go to
//! the database in batches, one transaction each.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use stowage_meta::{Meta, MetaError, NewAdvisory};
use stowage_scan::osv::{self, Advisory, base_ecosystem};
use tokio::sync::mpsc;

/// Records per database transaction.
const BATCH: usize = 500;

/// What an import read and changed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Advisories read and parsed.
    pub read: u64,
    /// Of those, new or changed (the rest were stored already, unchanged).
    pub changed: u64,
    /// Files or archive entries that could not be read or parsed.
    pub failed: u64,
    /// Continuously scanned images marked to be matched again because a
    /// changed advisory names one of their packages.
    pub images_to_rematch: u64,
}

/// Errors of an import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {path}: {source}")]
    Open { path: String, source: osv::ReadError },
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The database form of an advisory.
fn to_stored(advisory: &Advisory) -> NewAdvisory {
    let packages: BTreeSet<(String, String)> = advisory
        .affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .map(|p| {
            let ecosystem = base_ecosystem(&p.ecosystem).to_string();
            let name = osv::normalize_name(&ecosystem, &p.name).into_owned();
            (ecosystem, name)
        })
        .collect();
    let source = advisory
        .affected
        .iter()
        .find_map(|a| a.package.as_ref())
        .map_or("unknown", |p| base_ecosystem(&p.ecosystem))
        .to_string();
    let modified_ms = humantime::parse_rfc3339_weak(advisory.modified.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    NewAdvisory {
        id: advisory.id.clone(),
        source,
        modified: advisory.modified.clone(),
        modified_ms,
        body: serde_json::to_string(advisory).expect("an advisory serializes"),
        packages,
    }
}

/// Imports every advisory under `path` (a file, a directory, or a `.zip` dump);
/// `on_error` hears of each file that fails, and the import goes on.
pub async fn import(
    meta: &Meta,
    path: &Path,
    mut on_error: impl FnMut(&str, &osv::ReadError),
) -> Result<ImportReport, ImportError> {
    let advisories = osv::read(path).map_err(|source| ImportError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let (tx, mut rx) = mpsc::channel::<Result<NewAdvisory, (String, osv::ReadError)>>(BATCH);
    let reader = tokio::task::spawn_blocking(move || {
        for (origin, parsed) in advisories {
            let item = parsed.map(|a| to_stored(&a)).map_err(|e| (origin.to_string(), e));
            if tx.blocking_send(item).is_err() {
                return; // the importer stopped
            }
        }
    });
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(item) = rx.recv().await {
        match item {
            Ok(advisory) => {
                report.read += 1;
                batch.push(advisory);
                if batch.len() == BATCH {
                    store_batch(meta, &batch, &mut report).await?;
                    batch.clear();
                }
            }
            Err((origin, e)) => {
                report.failed += 1;
                on_error(&origin, &e);
            }
        }
    }
    if !batch.is_empty() {
        store_batch(meta, &batch, &mut report).await?;
    }
    let _ = reader.await;
    Ok(report)
}

/// Stores a batch and marks the images its changed advisories concern for re-matching.
async fn store_batch(meta: &Meta, batch: &[NewAdvisory], report: &mut ImportReport) -> Result<(), ImportError> {
    let changed = meta.put_advisories(batch).await?;
    report.changed += changed.len() as u64;
    if !changed.is_empty() {
        report.images_to_rematch += crate::services::scans::advisories_changed(meta, &changed).await?;
    }
    Ok(())
}
