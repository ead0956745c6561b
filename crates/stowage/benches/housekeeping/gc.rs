//! Part 1: a garbage-collection pass over blobs uploaded and never referenced,
//! against durable deletes of as many plain files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use stowage_core::Digest;
use stowage_meta::NewRepository;
use stowage_server::AppState;
use stowage_server::services::{gc, uploads};
use stowage_store::ByteStream;

use crate::{Settings, progress, sync};

const REPO: &str = "bench/gc";

/// What part 1 measured.
pub struct GcMeasured {
    pub blobs: u64,
    pub blob_bytes: u64,
    /// Uploading every blob through the upload path.
    pub seed: Duration,
    /// Creating as many plain files durably.
    pub baseline_create: Duration,
    pub dry_run: Duration,
    pub pass: Duration,
    /// Deleting the plain files durably.
    pub baseline_delete: Duration,
}

impl GcMeasured {
    pub fn total_bytes(&self) -> u64 {
        self.blobs * self.blob_bytes
    }
}

pub async fn run(settings: &Settings, root: &Path) -> anyhow::Result<GcMeasured> {
    let (n, size) = (settings.gc_blobs, settings.gc_kib << 10);
    let config = stowage::Config {
        data_dir: root.join("data"),
        gc_grace: Duration::ZERO,
        ..stowage::Config::default()
    };
    let state = stowage::open(&config, None).await?;
    let repo = state
        .meta
        .create_repository(&state.config.account_id, REPO, NewRepository::default())
        .await?;

    progress(&format!("gc: uploading {n} blobs of {} KiB", settings.gc_kib));
    let mut digests = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        digests.push(upload(&state, &repo, blob(i, size)).await?);
    }
    let seed = start.elapsed();

    let baseline_dir = root.join("baseline");
    progress(&format!("gc: creating {n} plain files durably (baseline)"));
    let (dir, count) = (baseline_dir.clone(), n);
    let (baseline_create, files) = tokio::task::spawn_blocking(move || create_files(&dir, count, size)).await??;

    sync();
    progress("gc: dry-run pass");
    let start = Instant::now();
    let dry = gc::pass(&state, true).await?;
    let dry_run = start.elapsed();
    check_report(&dry, n, size, "dry-run pass")?;
    ensure!(
        count_files(&config.data_dir.join("blobs"))? == n,
        "the dry-run pass removed blob files"
    );

    sync();
    progress("gc: pass");
    let start = Instant::now();
    let real = gc::pass(&state, false).await?;
    let pass = start.elapsed();
    check_report(&real, n, size, "pass")?;
    ensure!(
        real.restored == 0 && real.strays_removed == 0,
        "the pass restored {} blobs and removed {} strays, expected none",
        real.restored,
        real.strays_removed
    );
    for sub in ["blobs", "trash", "uploads"] {
        let left = count_files(&config.data_dir.join(sub))?;
        ensure!(left == 0, "{left} files left in {sub}/ after the pass");
    }
    let objects: Vec<(String, stowage_core::Digest)> = digests.iter().map(|d| ("registry".to_string(), *d)).collect();
    let known = state.meta.known_objects(&objects).await?;
    ensure!(known.is_empty(), "{} freed blobs are still recorded", known.len());
    let queued = state.meta.queued_reviews().await?;
    ensure!(queued == 0, "{queued} reviews still queued after the pass");

    sync();
    progress(&format!("gc: deleting {n} plain files durably (baseline)"));
    let baseline_delete = tokio::task::spawn_blocking(move || delete_files(&files)).await??;
    ensure!(count_files(&baseline_dir)? == 0, "baseline files left behind");

    state.meta.close().await;
    Ok(GcMeasured {
        blobs: n,
        blob_bytes: size,
        seed,
        baseline_create,
        dry_run,
        pass,
        baseline_delete,
    })
}

/// Blob `i`: `len` xorshift bytes seeded by `i`, so every blob differs.
fn blob(i: u64, len: u64) -> Bytes {
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len as usize + 8);
    while (out.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len as usize);
    Bytes::from(out)
}

/// Uploads `content` as one monolithic upload, as the registry API does:
/// open a session, append the body, complete it under its digest.
async fn upload(state: &AppState, repo: &stowage_meta::Repository, content: Bytes) -> anyhow::Result<Digest> {
    let digest = Digest::of(&content);
    let len = content.len() as u64;
    let session = uploads::start(state, repo).await?;
    let body: ByteStream = Box::pin(futures::stream::once(async move { Ok::<_, io::Error>(content) }));
    let session = uploads::append(state, &session, body, Some(len)).await?;
    uploads::complete(state, &session, &digest).await?;
    Ok(digest)
}

fn check_report(report: &gc::PassReport, n: u64, size: u64, what: &str) -> anyhow::Result<()> {
    // Freed bytes are stored bytes: the sealed size.
    let size = stowage_crypto::sealed_len(size);
    ensure!(
        report.blobs_freed == n && report.bytes_freed == n * size && report.blobs_kept == 0,
        "{what}: freed {} blobs ({} bytes) and kept {}, expected {n} blobs ({} bytes) and none kept",
        report.blobs_freed,
        report.bytes_freed,
        report.blobs_kept,
        n * size
    );
    ensure!(
        report.freed.len() as u64 == n,
        "{what}: {} digests listed",
        report.freed.len()
    );
    Ok(())
}

/// Creates `n` files of `size` bytes under `dir`, sharded like the store
/// (`<2 hex>/<64 hex>`), each written, fdatasync'ed and its directory
/// fsync'ed, as the store does for an upload. Returns the time and the paths.
fn create_files(dir: &Path, n: u64, size: u64) -> anyhow::Result<(Duration, Vec<PathBuf>)> {
    let contents: Vec<(PathBuf, Bytes)> = (0..n)
        .map(|i| {
            let content = blob(n + i, size);
            let hex = Digest::of(&content).hex();
            (dir.join(&hex[..2]).join(hex), content)
        })
        .collect();
    for (path, _) in &contents {
        fs::create_dir_all(path.parent().expect("sharded path"))?;
    }
    let start = Instant::now();
    for (path, content) in &contents {
        let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        f.write_all(content)?;
        f.sync_data()?;
        fsync_parent(path)?;
    }
    Ok((start.elapsed(), contents.into_iter().map(|(p, _)| p).collect()))
}

/// Removes each file and fsyncs its directory, one by one.
fn delete_files(files: &[PathBuf]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for path in files {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        fsync_parent(path)?;
    }
    Ok(start.elapsed())
}

fn fsync_parent(path: &Path) -> io::Result<()> {
    File::open(path.parent().expect("file has a parent"))?.sync_all()
}

/// Regular files anywhere under `dir` (0 when it does not exist).
fn count_files(dir: &Path) -> anyhow::Result<u64> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut count = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            count += count_files(&entry.path())?;
        } else {
            count += 1;
        }
    }
    Ok(count)
}
