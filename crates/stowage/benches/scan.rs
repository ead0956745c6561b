//! Image vulnerability scanning, end to end on a Stowage child process on
//! loopback: advisory import, the first scan of an image, a continuous-scan
//! re-match, and the scanner's memory against layer size.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p stowage --bench scan
//! STOWAGE_BENCH_SCAN_MIB=50 STOWAGE_BENCH_SCAN_LAYERS=5 \
//!     cargo bench -p stowage --bench scan              # a quick run
//! ```
//!
//! Each server is a fresh `stowage serve` with its own temp data dir (under
//! `STOWAGE_BENCH_DIR`, default the system temp dir), the registry scanning
//! configuration ENHANCED with a CONTINUOUS_SCAN rule for the bench's
//! repository (so a push queues a scan, and an advisory import that changes
//! advisories queues a re-match). The bench reads the server's JSON log for
//! the worker's `scan finished … kind elapsed_ms` lines. Each measure is
//! reported beside a baseline from the same run:
//!
//! 1. advisory import: `stowage vulndb import PATH --data-dir …` (the CLI,
//!    against the running server's database, as an operator runs it) of the
//!    advisory set at `STOWAGE_BENCH_ADVISORIES` (default
//!    `/work/shared/data/advisories`: Go, PyPI and crates.io, ~8,200 files,
//!    16 MB of JSON and YAML, 37 MB on disk; when
//!    missing, the small set in `crates/stowage-scan/testdata/advisories`,
//!    and the output says so): time and records/s, against
//!    `stowage vulndb status` (starting the CLI and opening the database: the
//!    fixed cost inside every import); then the same import again, which
//!    must change nothing, against the first;
//! 2. first scan: an image of `STOWAGE_BENCH_SCAN_LAYERS` (20) gzip'd tar
//!    layers, `STOWAGE_BENCH_SCAN_MIB` (200) MiB compressed in all, generated
//!    in memory (untimed; deterministic pseudo-random filler files from 100 B
//!    to 8 MiB, mostly incompressible, 15% text, 10% executable; and real
//!    package metadata spread over the layers: this machine's
//!    `/etc/os-release` and `/var/lib/dpkg/status`, ten Python
//!    `site-packages/*.dist-info/METADATA` of old versions with PyPI
//!    advisories, a `Cargo.lock` of old crates with RustSec advisories, the
//!    executable `STOWAGE_BENCH_SCAN_BINARY` (default `/usr/bin/docker-registry`,
//!    a Go binary, when present; `none` to leave it out), and in the last layer a
//!    whiteout deleting the first Python package, Django, whose findings must
//!    then be absent (an image of fewer than 3 layers leaves Django out);
//!    `STOWAGE_BENCH_SCAN_DPKG_STATUS` replaces the dpkg status file). Its
//!    blobs are pushed through `/v2/`, then the manifest, which queues the scan;
//!    `DescribeImageScanFindings` is polled every 50 ms until the status
//!    leaves IN_PROGRESS. Reported: the wall time from the manifest PUT, the
//!    worker's own `elapsed_ms`, MB/s of compressed layer bytes, the number of
//!    findings, and the server's RSS growth during the scan (its `VmHWM`
//!    reset through `/proc/PID/clear_refs` just before the manifest PUT, and
//!    `VmRSS` sampled every 10 ms); against `GET` of all the image's layer
//!    blobs, one after the other, from the same server (best of 2): what
//!    merely reading the layers costs;
//! 3. re-match, `STOWAGE_BENCH_REMATCHES` (5) rounds: `STOWAGE_BENCH_SCAN_CHANGED`
//!    (3) advisories behind the first scan's findings (distinct packages,
//!    JSON files first) are copied to a temp dir, each with `modified` set to
//!    now and one more reference URL, and imported (after a pause of 0–1 s
//!    that varies by round, so that the rounds meet the worker's 1 s idle
//!    poll at different points); timed from the import's end until the
//!    image's findings show a newer `lastObservedAt` (polled every 50 ms),
//!    and by the worker's `elapsed_ms` of kind `rematch`; medians against the
//!    first scan's (target: a re-match ≥ 50× faster by `elapsed_ms`). Also
//!    checked: each round's new reference URL shows in the findings, and
//!    `stowage_job_runs_total{job="rematch"}` on `/metrics`;
//! 4. memory against layer size: on a second fresh server (the advisories
//!    imported again, and reported), an image of ONE layer of the same
//!    total size (fresh content, same mix), its first scan measured as in 2.;
//!    its RSS growth against the 20-layer image's (target ~1×: memory does
//!    not grow with layer size).
//!
//! The worker looks for due scans every second when idle, so wall times
//! include up to a second of waiting before the worker claims the scan; the
//! `elapsed_ms` figures do not.
//!
//! Prints markdown tables of the results, their ratios and the targets.
//! Targets are informational: the bench fails only on functional errors (a
//! wrong status or digest, a scan that ends other than COMPLETE). Under
//! `cargo test` (no `--bench` argument) it does nothing.

#[allow(dead_code)]
#[path = "registry/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "registry/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "registry/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "registry/servers.rs"]
mod servers;
#[allow(dead_code)]
#[path = "registry/stowage_only.rs"]
mod stowage_only;

#[path = "scan/advisories.rs"]
mod advisories;
#[path = "scan/image.rs"]
mod image;
#[path = "scan/report.rs"]
mod report;
#[path = "scan/watch.rs"]
mod watch;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::json;

use advisories::Imported;
use client::pull_blob;
use image::{Image, MachineFiles};
use servers::{Server, StowageOptions};
use stowage_only::Ecr;
use watch::{Memory, MemoryWatch, ScanLog, ScanView};

const REPO: &str = "bench/scan";
/// How often the API is polled while waiting for a scan or a re-match.
const POLL: Duration = Duration::from_millis(50);
/// Longest wait for a re-match after the import that should cause it.
const REMATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// The bench's knobs, from the environment.
pub struct Settings {
    pub scan_mib: u64,
    pub layers: usize,
    pub changed: usize,
    pub rematches: usize,
    pub advisories: PathBuf,
    /// Why the advisory set is not the one asked for, if it is not.
    pub advisories_note: Option<String>,
    pub binary: Option<PathBuf>,
    pub dpkg_status: PathBuf,
    pub dir: PathBuf,
    pub scan_timeout: Duration,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let wanted = std::env::var_os("STOWAGE_BENCH_ADVISORIES")
            .map_or_else(|| PathBuf::from("/work/shared/data/advisories"), PathBuf::from);
        let (advisories, advisories_note) = if wanted.exists() {
            (wanted, None)
        } else {
            let fallback = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stowage-scan/testdata/advisories");
            let note = format!(
                "the advisory set {} is missing: using the small test set {} instead",
                wanted.display(),
                fallback.display()
            );
            (fallback, Some(note))
        };
        let binary = match std::env::var_os("STOWAGE_BENCH_SCAN_BINARY") {
            Some(p) if p == "none" || p.is_empty() => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from("/usr/bin/docker-registry")).filter(|p| p.is_file()),
        };
        Ok(Settings {
            scan_mib: env_u64("STOWAGE_BENCH_SCAN_MIB", 200)?,
            layers: env_u64("STOWAGE_BENCH_SCAN_LAYERS", 20)? as usize,
            changed: env_u64("STOWAGE_BENCH_SCAN_CHANGED", 3)? as usize,
            rematches: env_u64("STOWAGE_BENCH_REMATCHES", 5)? as usize,
            advisories,
            advisories_note,
            binary,
            dpkg_status: std::env::var_os("STOWAGE_BENCH_SCAN_DPKG_STATUS")
                .map_or_else(|| PathBuf::from("/var/lib/dpkg/status"), PathBuf::from),
            dir: std::env::var_os("STOWAGE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
            scan_timeout: Duration::from_secs(env_u64("STOWAGE_BENCH_SCAN_TIMEOUT_SECS", 600)?),
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
        eprintln!("scan bench: skipped (run it with `cargo bench -p stowage --bench scan`)");
        return ExitCode::SUCCESS;
    }
    // One thread, as the registry bench: pulls are measured the same way.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    match runtime.block_on(run_until_signal()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scan bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bench; on SIGINT/SIGTERM drops it, which kills the servers.
async fn run_until_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = run() => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        _ = term.recv() => anyhow::bail!("terminated"),
    }
}

/// Everything measured, for the report.
pub struct Results {
    pub advisory_files: u64,
    pub advisory_bytes: u64,
    pub cli_floor: Duration,
    pub import: Imported,
    pub reimport: Imported,
    pub import_second: Imported,
    pub multi: FirstScan,
    pub rematch: Rematch,
    pub single: FirstScan,
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let load_at_start = load_average();
    if let Some(note) = &settings.advisories_note {
        progress("", &format!("NOTE: {note}"));
    }
    let machine = MachineFiles::read(&settings.dpkg_status, settings.binary.as_deref())?;
    let (advisory_bytes, advisory_files) = advisories::size_of(&settings.advisories);
    let total = settings.scan_mib << 20;

    // 1.–3. on the first server.
    let node = Node::start(&settings).await?;
    progress("", "`stowage vulndb status` x3 (the CLI's fixed cost)");
    let cli_floor = advisories::cli_floor(&node.server)?;
    progress(
        "",
        &format!(
            "importing {advisory_files} advisory files ({:.1} MB) from {}",
            advisory_bytes as f64 / 1e6,
            settings.advisories.display()
        ),
    );
    let import = advisories::import(&node.server, &settings.advisories)?;
    progress("", "importing them again (nothing changed)");
    let reimport = advisories::import(&node.server, &settings.advisories)?;
    let multi = {
        let image = generate(1, total, settings.layers, &machine).await?;
        first_scan(&node, &image, "multi", &settings).await?
    };
    let rematch = rematch(&node, &settings, &multi, "multi").await?;
    drop(node);

    // 4. on a second fresh server.
    let node = Node::start(&settings).await?;
    progress("", "second server: importing the advisories");
    let import_second = advisories::import(&node.server, &settings.advisories)?;
    let single = {
        let image = generate(2, total, 1, &machine).await?;
        first_scan(&node, &image, "single", &settings).await?
    };
    drop(node);

    let results = Results {
        advisory_files,
        advisory_bytes,
        cli_floor,
        import,
        reimport,
        import_second,
        multi,
        rematch,
        single,
    };
    report::print(&settings, &results);
    println!(
        "\nmachine: {} cores; load average (1/5/15 min) at start {load_at_start}, at end {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    Ok(())
}

/// A server under test with its client, signed ECR calls and scan log.
struct Node {
    server: Server,
    client: reqwest::Client,
    ecr: Ecr,
    log: ScanLog,
}

impl Node {
    /// A fresh server, the bench's repository, and scanning ENHANCED with
    /// CONTINUOUS_SCAN for it.
    async fn start(settings: &Settings) -> anyhow::Result<Node> {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = Server::start_stowage_with_log(&settings.dir, StowageOptions::default(), tx).await?;
        server.create_repo(REPO)?;
        let ecr = Ecr::new(&server)?;
        let config = json!({
            "scanType": "ENHANCED",
            "rules": [{
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{ "filter": REPO, "filterType": "WILDCARD" }],
            }],
        });
        ecr.call("PutRegistryScanningConfiguration", &config).await?;
        Ok(Node {
            client: server.http_client(),
            server,
            ecr,
            log: ScanLog::collect(rx),
        })
    }
}

/// Generates an image on the blocking pool (untimed).
async fn generate(seed: u64, total: u64, layers: usize, machine: &MachineFiles) -> anyhow::Result<Image> {
    progress(
        "",
        &format!("generating a {} MiB image in {layers} layer(s) (untimed)", total >> 20),
    );
    let start = Instant::now();
    let machine = machine.clone();
    let image = tokio::task::spawn_blocking(move || Image::generate(seed, total, layers, &machine)).await?;
    progress(
        "",
        &format!(
            "generated {:.1} MB compressed ({:.1} MB of tar, {} entries) in {:.1} s",
            image.layer_bytes() as f64 / 1e6,
            image.tar_bytes() as f64 / 1e6,
            image.entries(),
            start.elapsed().as_secs_f64()
        ),
    );
    Ok(image)
}

/// What the first scan of one image measured.
pub struct FirstScan {
    pub layers: usize,
    pub layer_bytes: u64,
    pub tar_bytes: u64,
    pub entries: u64,
    pub whiteouts: BTreeSet<String>,
    /// Findings naming a package that a whiteout deleted (must be 0).
    pub whited_out_findings: usize,
    /// Size of the executable in the image, if any.
    pub binary_bytes: Option<u64>,
    pub digest: String,
    pub push: Duration,
    /// GET of every layer blob, best of 2 rounds.
    pub pull: Duration,
    /// Manifest PUT → COMPLETE seen.
    pub wall: Duration,
    /// The worker's `elapsed_ms` (kind `scan`).
    pub worker: Option<Duration>,
    pub view: ScanView,
    pub memory: Memory,
}

impl FirstScan {
    /// The worker's time, or the wall time when the log line was not seen.
    pub fn scan_time(&self) -> Duration {
        self.worker.unwrap_or(self.wall)
    }
}

/// Pushes the image's blobs, pulls them back (the baseline), then pushes the
/// manifest (queuing the scan) and waits for the scan, watching memory.
async fn first_scan(node: &Node, image: &Image, tag: &str, settings: &Settings) -> anyhow::Result<FirstScan> {
    let (client, server) = (&node.client, &node.server);
    progress("", &format!("{tag}: pushing {} layer blobs", image.layers.len()));
    let start = Instant::now();
    image.push_blobs(client, server, REPO).await?;
    let push = start.elapsed();
    sync();
    let mut pull = Duration::MAX;
    for round in 1..=2 {
        progress(
            "",
            &format!("{tag}: pulling the {} layer blobs ({round}/2)", image.layers.len()),
        );
        let mut took = Duration::ZERO;
        for layer in &image.layers {
            took += pull_blob(client, server, REPO, &layer.digest, layer.bytes.len() as u64).await?;
        }
        pull = pull.min(took);
    }
    let digest = data::digest_of(&image.manifest());
    progress("", &format!("{tag}: pushing the manifest; waiting for the scan"));
    let memory = MemoryWatch::start(server)?;
    let start = Instant::now();
    image.push_manifest(client, server, REPO, tag).await?;
    let waited = watch::wait_done(&node.ecr, REPO, tag, POLL, settings.scan_timeout).await;
    let memory = memory.finish();
    let (view, seen) = waited?;
    let wall = seen - start;
    ensure!(
        view.status == "COMPLETE",
        "the scan of {REPO}:{tag} ({digest}) ended {}: {}",
        view.status,
        view.description
    );
    let worker = node
        .log
        .wait(&digest, "scan", 0)
        .await
        .map(|e| Duration::from_millis(e.elapsed_ms));
    progress(
        "",
        &format!(
            "{tag}: COMPLETE after {:.2} s (worker {}), {} findings",
            wall.as_secs_f64(),
            worker.map_or("n/a".into(), |w| format!("{:.2} s", w.as_secs_f64())),
            view.findings
        ),
    );
    Ok(FirstScan {
        layers: image.layers.len(),
        layer_bytes: image.layer_bytes(),
        tar_bytes: image.tar_bytes(),
        entries: image.entries(),
        whited_out_findings: view
            .list
            .iter()
            .filter(|f| {
                let name = f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"]
                    .as_str()
                    .unwrap_or_default();
                image.whiteouts.iter().any(|w| w.eq_ignore_ascii_case(name))
            })
            .count(),
        whiteouts: image.whiteouts.clone(),
        binary_bytes: image.binary_bytes,
        digest,
        push,
        pull,
        wall,
        worker,
        view,
        memory,
    })
}

/// One re-match round: an import of changed advisories and what followed.
#[derive(Default)]
pub struct Round {
    pub import: Imported,
    /// Import end → newer `lastObservedAt` seen; `None`: not within the timeout.
    pub wall: Option<Duration>,
    /// The worker's `elapsed_ms` (kind `rematch`).
    pub worker: Option<Duration>,
    /// Whether the reference URL this round added shows in the findings.
    pub reference_seen: bool,
}

/// What the re-matches measured.
#[derive(Default)]
pub struct Rematch {
    pub changed_ids: Vec<String>,
    pub rounds: Vec<Round>,
    /// Findings after the last round.
    pub findings: u64,
    pub job_runs: (u64, u64),
    /// `scan finished` lines of kind `rematch` seen in all.
    pub rematch_lines: usize,
}

impl Rematch {
    /// Median of the rounds' worker times (those with a log line).
    pub fn worker(&self) -> Option<Duration> {
        median(self.rounds.iter().filter_map(|r| r.worker).collect())
    }

    /// Median of the rounds' wall times (those that ended).
    pub fn wall(&self) -> Option<Duration> {
        median(self.rounds.iter().filter_map(|r| r.wall).collect())
    }

    /// (min, max) of a per-round measure.
    pub fn spread(&self, of: impl Fn(&Round) -> Option<Duration>) -> Option<(Duration, Duration)> {
        let all: Vec<Duration> = self.rounds.iter().filter_map(of).collect();
        Some((*all.iter().min()?, *all.iter().max()?))
    }
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort_unstable();
    v.get(v.len().checked_sub(1)? / 2).copied()
}

/// Changes a few of the advisories behind the first scan's findings, imports
/// them and waits for the image's findings to be observed again; as many
/// rounds as `settings.rematches` (each a new `modified` and a new reference).
async fn rematch(node: &Node, settings: &Settings, first: &FirstScan, tag: &str) -> anyhow::Result<Rematch> {
    let files = advisories::files_by_id(&settings.advisories);
    // Distinct packages, JSON files first (edited as JSON; YAML as text).
    let mut candidates: Vec<(bool, String, String)> = Vec::new();
    for finding in &first.view.list {
        let package = finding["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for id in advisories::finding_ids(finding) {
            if let Some(path) = files.get(&id) {
                let yaml = path.extension().is_some_and(|e| e != "json");
                candidates.push((yaml, package.clone(), id));
            }
        }
    }
    candidates.sort();
    let mut packages = BTreeSet::new();
    let chosen: Vec<String> = candidates
        .into_iter()
        .filter(|(_, package, _)| packages.insert(package.clone()))
        .map(|(_, _, id)| id)
        .take(settings.changed)
        .collect();
    ensure!(
        !chosen.is_empty(),
        "none of the {} findings names an advisory file of {}",
        first.view.list.len(),
        settings.advisories.display()
    );
    let dir = tempfile::Builder::new()
        .prefix("bench-scan-changed-")
        .tempdir_in(&settings.dir)?;
    let mut out = Rematch {
        job_runs: (watch::job_runs(&node.client, &node.server, "rematch").await?, 0),
        ..Rematch::default()
    };
    let mut after = first.view.last_observed();
    for round in 0..settings.rematches {
        let url = format!(
            "https://example.invalid/stowage-scan-bench/{}",
            uuid::Uuid::new_v4().simple()
        );
        let round_dir = dir.path().join(format!("round-{round}"));
        std::fs::create_dir(&round_dir)?;
        out.changed_ids = advisories::write_changed(&files, &chosen, &round_dir, &url)?;
        progress(
            "",
            &format!(
                "re-match {}/{}: importing {} changed advisories ({})",
                round + 1,
                settings.rematches,
                out.changed_ids.len(),
                out.changed_ids.join(", ")
            ),
        );
        // The worker looks for due scans every second when idle, and it last
        // did just as the previous round ended: a pause spread over that
        // second (0, 618, 236, 854, … ms) keeps the rounds from all landing
        // at the same point of its cycle.
        tokio::time::sleep(Duration::from_millis(round as u64 * 618 % 1000)).await;
        let import = advisories::import(&node.server, &round_dir)?;
        let end = Instant::now();
        let waited = watch::wait_observed_after(&node.ecr, REPO, tag, after, POLL, REMATCH_TIMEOUT).await?;
        let Some((_, seen)) = waited else {
            progress(
                "",
                &format!(
                    "re-match: the findings' lastObservedAt did not move within {REMATCH_TIMEOUT:?} \
                     (the import reported {} changed, {} images to re-match)",
                    import.changed, import.images_to_rematch
                ),
            );
            out.rounds.push(Round {
                import,
                ..Round::default()
            });
            break;
        };
        let view = watch::describe(&node.ecr, REPO, tag, true).await?;
        after = view.last_observed();
        out.findings = view.findings;
        let reference_seen = view.list.iter().any(|f| {
            f["packageVulnerabilityDetails"]["referenceUrls"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r.as_str() == Some(url.as_str())))
        });
        let worker = node
            .log
            .wait(&first.digest, "rematch", round)
            .await
            .map(|e| Duration::from_millis(e.elapsed_ms));
        out.rounds.push(Round {
            import,
            wall: Some(seen - end),
            worker,
            reference_seen,
        });
    }
    out.job_runs.1 = watch::job_runs(&node.client, &node.server, "rematch").await?;
    out.rematch_lines = node.log.all().iter().filter(|e| e.kind == "rematch").count();
    Ok(out)
}

/// The first three fields of `/proc/loadavg`: other work on the machine skews the numbers.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Flushes dirty pages so one phase's writeback does not slow the next.
fn sync() {
    let _ = Command::new("sync").status();
}

pub(crate) fn progress(who: &str, what: &str) {
    if who.is_empty() {
        eprintln!("scan bench: {what}");
    } else {
        eprintln!("scan bench: {who}: {what}");
    }
}
