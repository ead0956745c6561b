//! Stowage vs. docker-registry (distribution v2.8), side by side, on loopback.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p stowage --bench registry
//! STOWAGE_BENCH_BLOB_MIB=64 STOWAGE_BENCH_SMALL_MIB=16 STOWAGE_BENCH_SECS=3 \
//!     cargo bench -p stowage --bench registry          # a quick run
//! ```
//!
//! Both registries run as fresh child processes with their own temp data dir
//! (under `STOWAGE_BENCH_DIR`, default the system temp dir) at the same time; each
//! step is run on one, then on the other, with the same client, so that load from
//! outside the bench (the machine may be shared) affects both alike:
//!
//! 1. blob push: an OCI monolithic upload (`POST /v2/<repo>/blobs/uploads/`, then
//!    `PUT <Location>?digest=` with the whole blob as one streamed body) of
//!    `STOWAGE_BENCH_BLOB_MIB` (1024) MiB of generated data, in MB/s. The durable
//!    write limit of the disk is measured with `dd ... conv=fdatasync` of the same
//!    size in the same dir, before and after the registries ran (Stowage fsyncs
//!    a blob before acknowledging it; docker-registry does not);
//! 2. blob pull: `GET` of that blob, streamed and discarded, in MB/s, best of
//!    `STOWAGE_BENCH_PULLS` (3) alternating rounds (the blob was just written, so
//!    it is served from the page cache);
//! 3. manifest `GET` by tag of a small pushed OCI image: `STOWAGE_BENCH_CONNS`
//!    (64) keep-alive connections sending GETs back to back for
//!    `STOWAGE_BENCH_SECS` (10) s after `STOWAGE_BENCH_WARMUP_SECS` (2) s of
//!    warm-up: req/s and p99 latency, from a hyper client with one event loop per
//!    core; repeated with `wrk` when it is installed (`apt-get install wrk`);
//! 4. the server's peak RSS (`VmHWM`) right after the push, and, on a separate
//!    fresh server, after a push of `STOWAGE_BENCH_SMALL_MIB` (256) MiB, to show
//!    whether memory stays flat as the blob grows.
//!
//! Stowage stores every blob encrypted (AES-256-GCM segments under the
//! repository's key), so steps 1 and 2 are encrypted push and pull, beside
//! docker-registry's unencrypted ones. Step 7 isolates the cipher.
//!
//! Then, on Stowage alone (docker-registry has no equivalent), each beside a
//! baseline from the same run:
//!
//! 5. token verification: `GET /v2/` (authentication only) with the load of 3.,
//!    req/s, p50/p99 and server CPU per request, against manifest GET by tag;
//!    and `STOWAGE_BENCH_ECR_CALLS` (200) sequential SigV4-signed
//!    `GetAuthorizationToken` calls, p50/p99;
//! 6. listing a big repository: `STOWAGE_BENCH_IMAGES` (10000) distinct OCI
//!    manifests, each under its own tag, pushed through `/v2/` by 4 concurrent
//!    clients (images/s), then `DescribeImages` maxResults=100 (first page, page
//!    50 and the last page, reached with their `nextToken`s) and `ListImages`
//!    maxResults=1000, `STOWAGE_BENCH_ECR_CALLS` sequential calls each, p50/p99,
//!    against `DescribeImages` on a 100-image repository.
//! 7. the cipher alone: sealing and opening the blob's size in the stored
//!    segment format on one core, MB/s, against copying the same bytes.
//!
//! Then, once the registries above have stopped, scale-out on the multi-node
//! setup (metadata in PostgreSQL, blobs in an S3 bucket), beside the
//! single-node default (SQLite + filesystem) Stowage measured above:
//!
//! 8. one Stowage node on a fresh PostgreSQL database and a fresh prefix of the
//!    S3 bucket: the push of 1., the pull of 2. and the manifest load of 3.
//!    (hyper), req/s and p99, and the peak RSS after the push, as ratios to
//!    the filesystem node's; then 3 nodes on the same database, bucket prefix
//!    and master key (`--master-key-file`): the manifest load of 3. with its
//!    `STOWAGE_BENCH_CONNS` connections spread round-robin over the 3 nodes,
//!    against all of them on one node, back to back: req/s, p50/p99, and the
//!    server CPU per request summed over the nodes. Everything (nodes,
//!    PostgreSQL, Garage, load generator) shares this machine's cores, so
//!    that ratio shows overhead and contention, not what separate machines
//!    would give. It runs on the services `scripts/test --services-only`
//!    starts: `STOWAGE_TEST_DATABASE_URL` (a superuser URL; the step creates
//!    a database of its own and drops it afterwards) and
//!    `STOWAGE_TEST_S3_ENDPOINT`, `_REGION`, `_BUCKET`, `_ACCESS_KEY_ID`,
//!    `_SECRET_ACCESS_KEY`; without them, or with `STOWAGE_BENCH_CLUSTER=0`,
//!    it is skipped with a line saying why.
//!
//! Prints markdown tables of the results, their ratios and the targets. Targets
//! are informational: the bench fails only on functional errors (a wrong status,
//! digest or length). `docker-registry` is taken from `STOWAGE_TEST_DOCKER_REGISTRY`
//! or the PATH. Under `cargo test` (no `--bench` argument) it does nothing.
//!
//! Stowage is sent its administrator's Basic credentials on every request (its
//! `/v2/` requires them); docker-registry runs without auth, so Stowage's
//! numbers include verifying a login token per request. Both keep their default
//! per-request logging (discarded); the environment, e.g. `STOWAGE_LOG`, is
//! passed on to the servers.

#[path = "registry/cipher.rs"]
mod cipher;
#[path = "registry/client.rs"]
mod client;
#[path = "registry/cluster.rs"]
mod cluster;
#[path = "registry/data.rs"]
mod data;
#[path = "registry/load.rs"]
mod load;
#[path = "registry/report.rs"]
mod report;
#[path = "registry/servers.rs"]
mod servers;
#[path = "registry/stowage_only.rs"]
mod stowage_only;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use client::{MANIFEST_ACCEPT, check_manifest, pull_blob, push_blob, push_image};
use data::Blob;
use load::Load;
use report::{Labels, Measured};
use servers::{Kind, Server};
use stowage_only::StowageOnly;

const REPO: &str = "bench/app";
const TAG: &str = "v1";

/// The bench's knobs, from the environment.
struct Settings {
    blob_mib: u64,
    small_mib: u64,
    conns: usize,
    warmup: Duration,
    duration: Duration,
    pulls: u64,
    images: u64,
    ecr_calls: usize,
    dir: PathBuf,
    docker_registry: PathBuf,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        Ok(Settings {
            blob_mib: env_u64("STOWAGE_BENCH_BLOB_MIB", 1024)?,
            small_mib: env_u64("STOWAGE_BENCH_SMALL_MIB", 256)?,
            conns: env_u64("STOWAGE_BENCH_CONNS", 64)? as usize,
            warmup: Duration::from_secs(env_u64("STOWAGE_BENCH_WARMUP_SECS", 2)?),
            duration: Duration::from_secs(env_u64("STOWAGE_BENCH_SECS", 10)?),
            pulls: env_u64("STOWAGE_BENCH_PULLS", 3)?,
            images: env_u64("STOWAGE_BENCH_IMAGES", 10_000)?,
            ecr_calls: env_u64("STOWAGE_BENCH_ECR_CALLS", 200)? as usize,
            dir: std::env::var_os("STOWAGE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
            docker_registry: std::env::var_os("STOWAGE_TEST_DOCKER_REGISTRY")
                .map_or_else(|| PathBuf::from("docker-registry"), PathBuf::from),
        })
    }

    fn labels(&self) -> Labels {
        Labels {
            blob_mib: self.blob_mib,
            small_mib: self.small_mib,
            conns: self.conns,
            pulls: self.pulls,
        }
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

/// The big and small blobs with their digests.
struct Blobs {
    big: Blob,
    big_digest: String,
    small: Blob,
    small_digest: String,
}

impl Blobs {
    /// Generates both blobs once to compute their digests (untimed).
    async fn new(settings: &Settings) -> anyhow::Result<Blobs> {
        let big = Blob::new(1, settings.blob_mib << 20);
        let small = Blob::new(2, settings.small_mib << 20);
        progress("", "computing blob digests (untimed)");
        let (b, s) = (big.clone(), small.clone());
        let (big_digest, small_digest) = tokio::task::spawn_blocking(move || (b.digest(), s.digest())).await?;
        Ok(Blobs {
            big,
            big_digest,
            small,
            small_digest,
        })
    }
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("registry bench: skipped (run it with `cargo bench -p stowage --bench registry`)");
        return ExitCode::SUCCESS;
    }
    // Transfers run on one thread: hyper hands each body chunk between the
    // connection task and the reader, and a cross-core wake-up per chunk made
    // a multi-threaded client the bottleneck of loopback pulls.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    match runtime.block_on(run_until_signal()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registry bench failed: {e:#}");
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

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let load_at_start = load_average();
    let blobs = Blobs::new(&settings).await?;
    let dd_first = dd_write(&settings)?;
    let mut subjects = Vec::new();
    for kind in [Kind::Stowage, Kind::DockerRegistry] {
        let rss_small_push_kib = rss_after_push(kind, &settings, &blobs.small, &blobs.small_digest).await?;
        subjects.push(Subject::start(kind, &settings, rss_small_push_kib).await?);
    }
    for subject in &mut subjects {
        push_phase(subject, &settings, &blobs).await?;
    }
    pull_phase(&mut subjects, &settings, &blobs).await?;
    let loads = manifest_phase(&mut subjects, &settings).await?;
    let stowage_only = stowage_only_phase(&subjects[0], &loads[0], &settings).await?;
    let dd = [dd_first, dd_write(&settings)?];
    report::print(&settings.labels(), &subjects[0].measured, &subjects[1].measured, dd);
    report::print_stowage_only(settings.conns, &subjects[0].measured.manifest, &stowage_only);
    let cipher = cipher::measure(settings.blob_mib)?;
    report::print_cipher(settings.blob_mib, &cipher, &subjects[0].measured, &subjects[1].measured);
    // The registries stop (and their data dirs go) before the scale-out section.
    let single = subjects.swap_remove(0).measured;
    drop(subjects);
    cluster_phase(&settings, &blobs, &single).await?;
    println!(
        "machine: {} cores; load average (1/5/15 min) at start {load_at_start}, at end {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    Ok(())
}

/// The scale-out section (see `cluster`) on PostgreSQL + S3, reported beside
/// `single`, the single-node filesystem Stowage's measures; or a line saying
/// why it was skipped.
async fn cluster_phase(settings: &Settings, blobs: &Blobs, single: &Measured) -> anyhow::Result<()> {
    match cluster::Services::from_env() {
        Ok(services) => {
            let measured = cluster::run(&services, settings, blobs).await?;
            cluster::print(settings, &measured, single);
        }
        Err(why) => println!(
            "\nscale-out section (PostgreSQL + S3, {} nodes) skipped: {why}",
            cluster::NODES
        ),
    }
    Ok(())
}

/// The first three fields of `/proc/loadavg`: other work on the machine skews the numbers.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// A registry under test, its client, and what was measured on it so far. Both
/// run at once and each phase measures one after the other, so that load from
/// outside the bench affects both alike.
struct Subject {
    server: Server,
    client: reqwest::Client,
    measured: Measured,
}

impl Subject {
    async fn start(kind: Kind, settings: &Settings, rss_small_push_kib: u64) -> anyhow::Result<Subject> {
        let server = fresh_server(kind, settings).await?;
        let measured = Measured {
            rss_idle_kib: server.rss_kib()?,
            rss_small_push_kib,
            ..Measured::default()
        };
        Ok(Subject {
            client: server.http_client(),
            server,
            measured,
        })
    }

    fn name(&self) -> &'static str {
        self.server.kind.name()
    }
}

/// Peak RSS of a fresh server right after it took `blob`.
async fn rss_after_push(kind: Kind, settings: &Settings, blob: &Blob, digest: &str) -> anyhow::Result<u64> {
    let server = fresh_server(kind, settings).await?;
    progress(
        kind.name(),
        &format!("pushing {} MiB for the RSS probe", blob.len() >> 20),
    );
    push_blob(&server.http_client(), &server, REPO, blob, digest).await?;
    server.peak_rss_kib()
}

/// Pushes the big blob: throughput, and the server's peak RSS right after.
async fn push_phase(subject: &mut Subject, settings: &Settings, blobs: &Blobs) -> anyhow::Result<()> {
    sync();
    progress(subject.name(), &format!("pushing {} MiB", settings.blob_mib));
    let elapsed = push_blob(&subject.client, &subject.server, REPO, &blobs.big, &blobs.big_digest).await?;
    subject.measured.push_mbps = mb_per_sec(blobs.big.len(), elapsed);
    subject.measured.rss_push_kib = subject.server.peak_rss_kib()?;
    Ok(())
}

/// Pulls the big blob from each registry in turn, `settings.pulls` rounds; keeps the best.
async fn pull_phase(subjects: &mut [Subject], settings: &Settings, blobs: &Blobs) -> anyhow::Result<()> {
    sync();
    for round in 1..=settings.pulls {
        for subject in subjects.iter_mut() {
            progress(
                subject.name(),
                &format!("pulling {} MiB ({round}/{})", settings.blob_mib, settings.pulls),
            );
            let (client, server) = (&subject.client, &subject.server);
            let elapsed = pull_blob(client, server, REPO, &blobs.big_digest, blobs.big.len()).await?;
            let mbps = mb_per_sec(blobs.big.len(), elapsed);
            subject.measured.pull_mbps = subject.measured.pull_mbps.max(mbps);
        }
    }
    Ok(())
}

/// Pushes a small image to each registry, checks a GET returns it, then runs
/// the manifest load on each with hyper, then with wrk; returns the loads.
async fn manifest_phase(subjects: &mut [Subject], settings: &Settings) -> anyhow::Result<Vec<Load>> {
    let mut loads = Vec::new();
    for subject in subjects.iter() {
        let (client, server) = (&subject.client, &subject.server);
        let manifest = push_image(client, server, REPO, TAG).await?;
        check_manifest(client, server, REPO, TAG, &manifest).await?;
        loads.push(Load {
            addr: server.addr,
            path: format!("/v2/{REPO}/manifests/{TAG}"),
            accept: MANIFEST_ACCEPT,
            authorization: server.authorization.clone(),
            body_len: manifest.len(),
            conns: settings.conns,
            warmup: settings.warmup,
            duration: settings.duration,
            server_pid: Some(server.pid()),
            expect_status: hyper::StatusCode::OK,
        });
    }
    for (subject, load) in subjects.iter_mut().zip(&loads) {
        progress(
            subject.name(),
            &format!("manifest GETs, {} connections, hyper", settings.conns),
        );
        let load = load.clone();
        subject.measured.manifest = tokio::task::spawn_blocking(move || load.run()).await??;
    }
    for (subject, load) in subjects.iter_mut().zip(&loads) {
        progress(subject.name(), "manifest GETs, wrk (if installed)");
        let load = load.clone();
        subject.measured.manifest_wrk = tokio::task::spawn_blocking(move || load.run_wrk()).await??;
    }
    Ok(loads)
}

/// The Stowage-only measurements (see `stowage_only`): `GET /v2/` with the
/// manifest load's settings, GetAuthorizationToken, and the big-repository listings.
async fn stowage_only_phase(
    subject: &Subject,
    manifest_load: &Load,
    settings: &Settings,
) -> anyhow::Result<StowageOnly> {
    ensure!(
        subject.server.kind == Kind::Stowage,
        "the first subject must be Stowage"
    );
    let mut out = StowageOnly::default();
    let (server, client) = (&subject.server, &subject.client);
    stowage_only::auth_phase(server, client, manifest_load, settings.ecr_calls, &mut out).await?;
    stowage_only::listing_phase(server, client, settings.images, settings.ecr_calls, &mut out).await?;
    Ok(out)
}

async fn fresh_server(kind: Kind, settings: &Settings) -> anyhow::Result<Server> {
    let server = Server::start(kind, &settings.dir, &settings.docker_registry).await?;
    server.create_repo(REPO)?;
    Ok(server)
}

/// `dd` of the blob size with `conv=fdatasync` into the bench dir: the disk's
/// durable sequential write rate, in MB/s.
fn dd_write(settings: &Settings) -> anyhow::Result<f64> {
    let dir = tempfile::Builder::new().prefix("bench-dd-").tempdir_in(&settings.dir)?;
    let file = dir.path().join("dd.bin");
    sync();
    progress("dd", &format!("writing {} MiB with conv=fdatasync", settings.blob_mib));
    let start = Instant::now();
    let out = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", file.display()))
        .args(["bs=1M", &format!("count={}", settings.blob_mib), "conv=fdatasync"])
        .output()
        .context("running dd")?;
    let elapsed = start.elapsed();
    ensure!(
        out.status.success(),
        "dd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(mb_per_sec(settings.blob_mib << 20, elapsed))
}

/// Flushes dirty pages so one phase's writeback does not slow the next.
fn sync() {
    let _ = Command::new("sync").status();
}

fn mb_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

pub(crate) fn progress(who: &str, what: &str) {
    if who.is_empty() {
        eprintln!("registry bench: {what}");
    } else {
        eprintln!("registry bench: {who}: {what}");
    }
}
