//! Scale-out: Stowage on PostgreSQL (metadata) and an S3 bucket (blobs, Garage),
//! the setup of many stateless nodes, measured beside the single-node default
//! (SQLite + filesystem) of the same run:
//!
//! - one node: the main section's blob push and pull (MB/s), manifest GET by
//!   tag under the same load (req/s, p99) and peak RSS after the push;
//! - `NODES` nodes sharing the database, the bucket prefix and the master key:
//!   the same manifest load with its connections spread round-robin over the
//!   nodes, against the same load on one of them, back to back.
//!
//! It needs the services of `scripts/test --services-only`: `STOWAGE_TEST_DATABASE_URL`
//! (a superuser URL; the section makes a database of its own and drops it after)
//! and `STOWAGE_TEST_S3_{ENDPOINT,REGION,BUCKET,ACCESS_KEY_ID,SECRET_ACCESS_KEY}`
//! (the section writes under a fresh prefix of that bucket). Without them, or
//! with `STOWAGE_BENCH_CLUSTER=0`, it is skipped with a line saying why.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::client::{MANIFEST_ACCEPT, check_manifest, pull_blob, push_blob, push_image};
use crate::load::{Load, LoadResult};
use crate::report::Measured;
use crate::servers::{Server, StowageOptions};
use crate::{Blobs, REPO, Settings, TAG, mb_per_sec, progress, sync};

/// Nodes of the cluster.
pub const NODES: usize = 3;

/// The environment variables the section needs (from `scripts/test --services-only`).
const REQUIRED: [&str; 6] = [
    "STOWAGE_TEST_DATABASE_URL",
    "STOWAGE_TEST_S3_ENDPOINT",
    "STOWAGE_TEST_S3_REGION",
    "STOWAGE_TEST_S3_BUCKET",
    "STOWAGE_TEST_S3_ACCESS_KEY_ID",
    "STOWAGE_TEST_S3_SECRET_ACCESS_KEY",
];

/// The PostgreSQL server and S3 bucket to run on.
pub struct Services {
    /// A superuser's URL, to create (and drop) the section's database.
    admin_url: String,
    endpoint: String,
    region: String,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Services {
    /// The services from the environment, or why the section is skipped.
    pub fn from_env() -> Result<Services, String> {
        if std::env::var("STOWAGE_BENCH_CLUSTER").is_ok_and(|v| v.trim() == "0") {
            return Err("STOWAGE_BENCH_CLUSTER=0".into());
        }
        let missing: Vec<&str> = REQUIRED
            .into_iter()
            .filter(|name| std::env::var(name).map_or(true, |v| v.trim().is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{} not set (start PostgreSQL and Garage with `scripts/test --services-only` \
                 and source its `export` lines)",
                missing.join(", ")
            ));
        }
        let var = |name: &str| std::env::var(name).unwrap_or_default().trim().to_string();
        Ok(Services {
            admin_url: var(REQUIRED[0]),
            endpoint: var(REQUIRED[1]),
            region: var(REQUIRED[2]),
            bucket: var(REQUIRED[3]),
            access_key_id: var(REQUIRED[4]),
            secret_access_key: var(REQUIRED[5]),
        })
    }
}

/// What the section measured.
#[derive(Default)]
pub struct ClusterMeasured {
    /// One node on PostgreSQL + S3, the main section's measures.
    pub push_mbps: f64,
    pub pull_mbps: f64,
    pub manifest: LoadResult,
    pub rss_push_kib: u64,
    /// The same manifest load, back to back, on one node of the cluster and
    /// spread over all `NODES` (server CPU summed over all nodes in both).
    pub one_node: LoadResult,
    pub all_nodes: LoadResult,
}

/// Runs the section: a fresh database and bucket prefix, one node measured like
/// the main section, then `NODES` nodes. Drops the database afterwards (the
/// bucket's objects stay, under their prefix, with the services' temp data).
pub async fn run(services: &Services, settings: &Settings, blobs: &Blobs) -> anyhow::Result<ClusterMeasured> {
    let database = Database::create(&services.admin_url).await?;
    let keys = tempfile::Builder::new()
        .prefix("bench-cluster-")
        .tempdir_in(&settings.dir)?;
    let master_key_file = keys.path().join("master.key");
    std::fs::write(&master_key_file, hex::encode(rand::random::<[u8; 32]>()))?;
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let options = StowageOptions {
        args: [
            "--database-url",
            &database.url,
            "--blob-store",
            "s3",
            "--s3-endpoint",
            &services.endpoint,
            "--s3-bucket",
            &services.bucket,
            "--s3-region",
            &services.region,
            "--s3-prefix",
            &prefix,
            "--master-key-file",
            &master_key_file.display().to_string(),
        ]
        .map(String::from)
        .to_vec(),
        env: vec![
            ("AWS_ACCESS_KEY_ID".into(), services.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), services.secret_access_key.clone()),
        ],
    };
    let result = measure(&options, settings, blobs).await;
    // The nodes are gone (dropped in `measure`): the database can be dropped.
    if let Err(e) = database.drop_it(&services.admin_url).await {
        progress("cluster", &format!("could not drop database {}: {e:#}", database.name));
    }
    result
}

async fn measure(options: &StowageOptions, settings: &Settings, blobs: &Blobs) -> anyhow::Result<ClusterMeasured> {
    let mut out = ClusterMeasured::default();
    let first = Server::start_stowage(&settings.dir, options.clone()).await?;
    first.create_repo(REPO)?;
    let client = first.http_client();
    let who = "stowage pg+s3, 1 node";

    sync();
    progress(who, &format!("pushing {} MiB", settings.blob_mib));
    let elapsed = push_blob(&client, &first, REPO, &blobs.big, &blobs.big_digest).await?;
    out.push_mbps = mb_per_sec(blobs.big.len(), elapsed);
    out.rss_push_kib = first.peak_rss_kib()?;
    sync();
    for round in 1..=settings.pulls {
        progress(
            who,
            &format!("pulling {} MiB ({round}/{})", settings.blob_mib, settings.pulls),
        );
        let elapsed = pull_blob(&client, &first, REPO, &blobs.big_digest, blobs.big.len()).await?;
        out.pull_mbps = out.pull_mbps.max(mb_per_sec(blobs.big.len(), elapsed));
    }

    let manifest = push_image(&client, &first, REPO, TAG).await?;
    check_manifest(&client, &first, REPO, TAG, &manifest).await?;
    let load = Load {
        addr: first.addr,
        path: format!("/v2/{REPO}/manifests/{TAG}"),
        accept: MANIFEST_ACCEPT,
        authorization: first.authorization.clone(),
        body_len: manifest.len(),
        conns: settings.conns,
        warmup: settings.warmup,
        duration: settings.duration,
        server_pid: Some(first.pid()),
        expect_status: hyper::StatusCode::OK,
    };
    progress(who, &format!("manifest GETs, {} connections, hyper", settings.conns));
    out.manifest = spread(&load, vec![first.addr], vec![first.pid()]).await?;

    let mut nodes = vec![first];
    for n in 2..=NODES {
        progress("stowage pg+s3", &format!("starting node {n} of {NODES}"));
        nodes.push(Server::start_stowage(&settings.dir, options.clone()).await?);
    }
    // Every node serves the image pushed through the first, to the first's
    // credentials: metadata, blobs and keys are shared.
    for node in &nodes[1..] {
        check_manifest(&client, node, REPO, TAG, &manifest).await?;
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let pids: Vec<u32> = nodes.iter().map(Server::pid).collect();
    progress(
        "stowage pg+s3",
        &format!(
            "manifest GETs, {} connections, all on node 1 of {NODES}",
            settings.conns
        ),
    );
    out.one_node = spread(&load, vec![addrs[0]], pids.clone()).await?;
    progress(
        "stowage pg+s3",
        &format!(
            "manifest GETs, {} connections spread over {NODES} nodes",
            settings.conns
        ),
    );
    out.all_nodes = spread(&load, addrs, pids).await?;
    Ok(out)
}

/// Runs `load` spread over `addrs` on a blocking thread.
async fn spread(load: &Load, addrs: Vec<SocketAddr>, pids: Vec<u32>) -> anyhow::Result<LoadResult> {
    let load = load.clone();
    tokio::task::spawn_blocking(move || load.run_spread(&addrs, &pids)).await?
}

/// A database of the section's own on the test PostgreSQL server.
struct Database {
    name: String,
    url: String,
}

impl Database {
    async fn create(admin_url: &str) -> anyhow::Result<Database> {
        sqlx::any::install_default_drivers();
        let name = format!("stowage_bench_{}", uuid::Uuid::new_v4().simple());
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("STOWAGE_TEST_DATABASE_URL has no database path")?;
        let admin = connect(admin_url).await?;
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await;
        admin.close().await;
        created.with_context(|| format!("creating database {name}"))?;
        Ok(Database {
            url: format!("{base}/{name}"),
            name,
        })
    }

    async fn drop_it(&self, admin_url: &str) -> anyhow::Result<()> {
        let admin = connect(admin_url).await?;
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&admin)
        .await;
        admin.close().await;
        dropped?;
        Ok(())
    }
}

async fn connect(admin_url: &str) -> anyhow::Result<sqlx::AnyPool> {
    sqlx::pool::PoolOptions::<sqlx::Any>::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(admin_url)
        .await
        .context("connecting to STOWAGE_TEST_DATABASE_URL")
}

/// Prints the section's tables: one node on PostgreSQL + S3 beside the
/// single-node filesystem Stowage of the same run (`fs`), then one node against
/// `NODES` nodes.
pub fn print(settings: &Settings, c: &ClusterMeasured, fs: &Measured) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let conns = settings.conns;
    println!("\n### Scale-out: Stowage on PostgreSQL + S3 (Garage)\n");
    println!("| measure | PostgreSQL + S3, 1 node | SQLite + filesystem (same run) | ratio |");
    println!("|---|---:|---:|---:|");
    let row = |measure: String, pg: String, fs: String, ratio: f64| {
        println!("| {measure} | {pg} | {fs} | {ratio:.2}× |");
    };
    row(
        format!("blob push {} MiB, monolithic (MB/s)", settings.blob_mib),
        format!("{:.0}", c.push_mbps),
        format!("{:.0}", fs.push_mbps),
        c.push_mbps / fs.push_mbps,
    );
    row(
        format!("blob pull {} MiB, best of {} (MB/s)", settings.blob_mib, settings.pulls),
        format!("{:.0}", c.pull_mbps),
        format!("{:.0}", fs.pull_mbps),
        c.pull_mbps / fs.pull_mbps,
    );
    row(
        format!("manifest GET by tag, {conns} conns, hyper (req/s)"),
        format!("{:.0}", c.manifest.req_per_sec),
        format!("{:.0}", fs.manifest.req_per_sec),
        c.manifest.req_per_sec / fs.manifest.req_per_sec,
    );
    row(
        "manifest GET p99, hyper (ms)".into(),
        ms(c.manifest.p99),
        ms(fs.manifest.p99),
        c.manifest.p99.as_secs_f64() / fs.manifest.p99.as_secs_f64(),
    );
    row(
        format!("peak RSS, {} MiB push (MiB)", settings.blob_mib),
        format!("{:.1}", c.rss_push_kib as f64 / 1024.0),
        format!("{:.1}", fs.rss_push_kib as f64 / 1024.0),
        c.rss_push_kib as f64 / fs.rss_push_kib as f64,
    );
    println!(
        "\nratio = PostgreSQL + S3 / SQLite + filesystem. Blobs go to Garage over loopback S3 \
         (one Garage node, its data on this machine's disk); metadata to PostgreSQL over loopback."
    );

    println!();
    println!("| manifest GET by tag, {conns} conns in total, hyper | 1 node | {NODES} nodes | ratio |");
    println!("|---|---:|---:|---:|");
    let (one, all) = (&c.one_node, &c.all_nodes);
    println!(
        "| req/s | {:.0} | {:.0} | {:.2}× |",
        one.req_per_sec,
        all.req_per_sec,
        all.req_per_sec / one.req_per_sec
    );
    println!(
        "| p50 (ms) | {} | {} | {:.2}× |",
        ms(one.p50),
        ms(all.p50),
        all.p50.as_secs_f64() / one.p50.as_secs_f64()
    );
    println!(
        "| p99 (ms) | {} | {} | {:.2}× |",
        ms(one.p99),
        ms(all.p99),
        all.p99.as_secs_f64() / one.p99.as_secs_f64()
    );
    if let (Some(a), Some(b)) = (one.server_cpu_per_request(), all.server_cpu_per_request()) {
        println!(
            "| server CPU per request, all nodes (µs) | {:.1} | {:.1} | {:.2}× |",
            a.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    println!(
        "\n{NODES} nodes share one PostgreSQL database, one bucket prefix and one master key; \
         \"{NODES} nodes\" spreads the {conns} connections round-robin over them ({}), \"1 node\" \
         sends all {conns} to one of them while the others idle, back to back. \
         ratio = {NODES} nodes / 1 node. All {NODES} nodes, PostgreSQL, Garage and the load \
         generator share this machine's {cores} cores, so the ratio shows the overhead and \
         contention of spreading the load, not the scaling that {NODES} separate machines would give.\n",
        per_node(conns)
    );
}

/// How many connections each node gets, e.g. `22 + 21 + 21`.
fn per_node(conns: usize) -> String {
    (0..NODES)
        .map(|n| (conns / NODES + usize::from(n < conns % NODES)).to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}
