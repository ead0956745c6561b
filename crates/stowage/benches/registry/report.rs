//! The results table.

use std::time::Duration;

use crate::load::LoadResult;

/// Everything measured on one registry.
#[derive(Default)]
pub struct Measured {
    pub push_mbps: f64,
    pub pull_mbps: f64,
    pub manifest: LoadResult,
    pub manifest_wrk: Option<LoadResult>,
    pub rss_idle_kib: u64,
    pub rss_small_push_kib: u64,
    pub rss_push_kib: u64,
}

/// Sizes and settings echoed in row labels.
pub struct Labels {
    pub blob_mib: u64,
    pub small_mib: u64,
    pub conns: usize,
    pub pulls: u64,
}

/// Stowage's peak RSS may grow by less than this from the small to the big push
/// and still count as flat.
const FLAT_SLACK_MIB: f64 = 8.0;
const RSS_LIMIT_MIB: f64 = 64.0;

struct Row {
    measure: String,
    stowage: String,
    docker: String,
    ratio: String,
    target: &'static str,
    met: &'static str,
}

/// Prints the comparison table and the dd line on stdout; `dd` holds the dd
/// rates measured before and after the registries ran.
pub fn print(labels: &Labels, s: &Measured, d: &Measured, dd: [f64; 2]) {
    let rows = rows(labels, s, d);
    println!();
    println!("| measure | stowage | docker-registry | ratio | target | met |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.stowage, r.docker, r.ratio, r.target, r.met
        );
    }
    println!();
    let limit = dd[0].max(dd[1]);
    println!(
        "dd bs=1M count={} conv=fdatasync (durable-write limit): {:.0} MB/s before, {:.0} MB/s after; \
         stowage push = {:.0}% of the better, docker-registry push = {:.0}%",
        labels.blob_mib,
        dd[0],
        dd[1],
        100.0 * s.push_mbps / limit,
        100.0 * d.push_mbps / limit
    );
    println!("ratio = stowage / docker-registry; MB = 10^6 bytes; RSS = VmHWM of the server process.");
}

fn rows(l: &Labels, s: &Measured, d: &Measured) -> Vec<Row> {
    let mut rows = vec![
        higher_is_better(
            format!("blob push {} MiB, monolithic (MB/s)", l.blob_mib),
            s.push_mbps,
            d.push_mbps,
            1.5,
            "≥ 1.5×",
        ),
        higher_is_better(
            format!("blob pull {} MiB, best of {} (MB/s)", l.blob_mib, l.pulls),
            s.pull_mbps,
            d.pull_mbps,
            1.2,
            "≥ 1.2×",
        ),
    ];
    rows.extend(manifest_rows("hyper", l.conns, &s.manifest, &d.manifest));
    if let (Some(sw), Some(dw)) = (&s.manifest_wrk, &d.manifest_wrk) {
        rows.extend(manifest_rows("wrk", l.conns, sw, dw));
    }
    rows.extend(rss_rows(l, s, d));
    rows
}

fn manifest_rows(client: &str, conns: usize, s: &LoadResult, d: &LoadResult) -> [Row; 2] {
    [
        higher_is_better(
            format!("manifest GET by tag, {conns} conns, {client} (req/s)"),
            s.req_per_sec,
            d.req_per_sec,
            10.0,
            "≥ 10×",
        ),
        Row {
            measure: format!("manifest GET p99, {client} (ms)"),
            stowage: ms(s.p99),
            docker: ms(d.p99),
            ratio: ratio(secs(s.p99), secs(d.p99)),
            target: "—",
            met: "",
        },
    ]
}

fn rss_rows(l: &Labels, s: &Measured, d: &Measured) -> [Row; 3] {
    let (small, big) = (mib(s.rss_small_push_kib), mib(s.rss_push_kib));
    let flat = big - small < FLAT_SLACK_MIB;
    [
        rss_row(
            "RSS after start-up (MiB)".into(),
            s.rss_idle_kib,
            d.rss_idle_kib,
            "—",
            None,
        ),
        rss_row(
            format!("peak RSS, {} MiB push (MiB)", l.small_mib),
            s.rss_small_push_kib,
            d.rss_small_push_kib,
            "< 64 MiB",
            Some(small < RSS_LIMIT_MIB),
        ),
        rss_row(
            format!("peak RSS, {} MiB push (MiB)", l.blob_mib),
            s.rss_push_kib,
            d.rss_push_kib,
            "< 64 MiB, flat (+< 8 MiB)",
            Some(big < RSS_LIMIT_MIB && flat),
        ),
    ]
}

fn higher_is_better(measure: String, s: f64, d: f64, min_ratio: f64, target: &'static str) -> Row {
    Row {
        measure,
        stowage: format!("{s:.0}"),
        docker: format!("{d:.0}"),
        ratio: ratio(s, d),
        target,
        met: verdict(s / d >= min_ratio),
    }
}

fn rss_row(measure: String, s_kib: u64, d_kib: u64, target: &'static str, met: Option<bool>) -> Row {
    Row {
        measure,
        stowage: format!("{:.1}", mib(s_kib)),
        docker: format!("{:.1}", mib(d_kib)),
        ratio: ratio(s_kib as f64, d_kib as f64),
        target,
        met: met.map_or("", verdict),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
}

fn ratio(s: f64, d: f64) -> String {
    format!("{:.2}×", s / d)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}
