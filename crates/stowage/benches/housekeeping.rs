//! Housekeeping on the library directly (no HTTP): garbage collection on the
//! filesystem store and lifecycle-policy evaluation of a big repository.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p stowage --bench housekeeping
//! STOWAGE_BENCH_GC_BLOBS=200 STOWAGE_BENCH_LIFECYCLE_IMAGES=10000 \
//!     cargo bench -p stowage --bench housekeeping      # a quick run
//! ```
//!
//! Each part opens a fresh registry (`stowage::open`, SQLite metadata) in its
//! own temp data dir under `STOWAGE_BENCH_DIR` (default the system temp dir):
//!
//! 1. GC throughput: `STOWAGE_BENCH_GC_BLOBS` (2000) distinct blobs of
//!    `STOWAGE_BENCH_GC_KIB` (64) KiB go in through the real upload path
//!    (`create_upload`, `services::uploads::append`, `services::uploads::complete`,
//!    one after another), so each is linked to the repository and queued for
//!    review like a real upload; no manifest references them. Then, with
//!    `gc_grace = 0`, a dry-run `services::gc::pass` (blobs reviewed per
//!    second) and a real one (blobs and MB freed per second). Baselines from the
//!    same run: as many same-size plain files in a sibling dir, each created
//!    durably (write, fdatasync, fsync of its dir: what the store pays per
//!    upload), then each deleted durably (unlink, fsync of its dir: the least a
//!    crash-safe delete pays; GC's quarantine + purge pays it too, plus a
//!    rename, a second directory fsync and a database commit).
//! 2. Lifecycle evaluation: a repository of `STOWAGE_BENCH_LIFECYCLE_IMAGES`
//!    (100000) images (20% tagged `release-N`, 20% `dev-N`, 60% untagged,
//!    pushed over 90 days; each with its own config and layer and one shared
//!    base layer), seeded in bulk straight into the SQLite file (see
//!    `housekeeping/lifecycle.rs`). The policy keeps the newest 1000
//!    `release` images and the newest 10 untagged ones and expires anything
//!    else after 30 days. Timed: `services::lifecycle::preview`, what
//!    StartLifecyclePolicyPreview runs — load the image facts from the
//!    database, evaluate, walk the expiry without deleting and count the bytes
//!    it would free — best of 3, or fewer once they took 20 s in all (target
//!    < 1 s); against the pure `stowage_core::lifecycle::evaluate` on the same
//!    facts in memory, so the ratio is the database's share. Also timed alone:
//!    `Meta::lifecycle_images`; and a push's first write (`create_upload`)
//!    started during the first preview's expiry walk, against the same write
//!    on the idle registry, to show whether a preview holds up pushes.
//!
//! Prints markdown tables of the results, their ratios and the targets. Targets
//! are informational: the bench fails only on functional errors (GC freeing a
//! different number of blobs or bytes, files left behind, a preview expiring
//! other images than the evaluator selects). Under `cargo test` (no `--bench`
//! argument) it does nothing.

#[path = "housekeeping/gc.rs"]
mod gc;
#[path = "housekeeping/lifecycle.rs"]
mod lifecycle;
#[path = "housekeeping/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, ensure};

/// The bench's knobs, from the environment.
pub struct Settings {
    pub gc_blobs: u64,
    pub gc_kib: u64,
    pub lifecycle_images: u64,
    pub dir: PathBuf,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        Ok(Settings {
            gc_blobs: env_u64("STOWAGE_BENCH_GC_BLOBS", 2000)?,
            gc_kib: env_u64("STOWAGE_BENCH_GC_KIB", 64)?,
            lifecycle_images: env_u64("STOWAGE_BENCH_LIFECYCLE_IMAGES", 100_000)?,
            dir: std::env::var_os("STOWAGE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
        })
    }
}

/// A positive integer from the environment, or `default` when unset.
fn env_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let value: u64 = text
        .trim()
        .parse()
        .with_context(|| format!("{name}={text:?} is not a number"))?;
    ensure!(value > 0, "{name} must be positive");
    Ok(value)
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("housekeeping bench: skipped (run it with `cargo bench -p stowage --bench housekeeping`)");
        return ExitCode::SUCCESS;
    }
    // The server's own runtime: GC's file operations go to blocking threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    match runtime.block_on(run_until_signal()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("housekeeping bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bench; on SIGINT/SIGTERM drops it, which removes the temp dirs.
async fn run_until_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = run() => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        _ = term.recv() => anyhow::bail!("terminated"),
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let load_at_start = load_average();
    let gc = gc::run(&settings, &temp_dir(&settings, "gc")?).await?;
    let lifecycle = lifecycle::run(&settings, &temp_dir(&settings, "lifecycle")?).await?;
    report::print_gc(&gc);
    report::print_lifecycle(&lifecycle);
    println!(
        "machine: {} cores; load average (1/5/15 min) at start {load_at_start}, at end {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    Ok(())
}

/// A fresh dir under the bench dir, removed when dropped.
fn temp_dir(settings: &Settings, part: &str) -> anyhow::Result<TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("stowage-bench-{part}-"))
        .tempdir_in(&settings.dir)
        .with_context(|| format!("creating a temp dir in {}", settings.dir.display()))?;
    Ok(TempDir(dir))
}

/// A temp dir that derefs to its path.
pub struct TempDir(tempfile::TempDir);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

/// The first three fields of `/proc/loadavg`: other work on the machine skews the numbers.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Flushes dirty pages so one phase's writeback does not slow the next.
pub fn sync() {
    let _ = Command::new("sync").status();
}

pub fn progress(what: &str) {
    eprintln!("housekeeping bench: {what}");
}

/// Best of `runs` timings of `f`, also returning the last run's output.
pub async fn best_of<T, F, Fut>(runs: u32, mut f: F) -> anyhow::Result<(Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let out = f().await?;
        best = best.min(start.elapsed());
        last = Some(out);
    }
    Ok((best, last.context("no runs")?))
}
