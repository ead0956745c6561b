//! The results table.

use std::time::Duration;

use crate::load::LoadResult;
use crate::stowage_only::{Latency, StowageOnly};

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

/// Prints the Stowage-only table: each measure beside a baseline from the same run.
pub fn print_stowage_only(conns: usize, manifest: &LoadResult, so: &StowageOnly) {
    let auth = &so.auth;
    let auth_ratio = auth.req_per_sec / manifest.req_per_sec;
    let mut rows = vec![
        Row {
            measure: format!("`GET /v2/` (auth only), {conns} conns, hyper (req/s)"),
            stowage: format!("{:.0}", auth.req_per_sec),
            docker: format!("{:.0} (manifest GET by tag)", manifest.req_per_sec),
            ratio: format!("{auth_ratio:.2}×"),
            target: "—",
            met: "",
        },
        Row {
            measure: "`GET /v2/` p50 / p99 under that load (ms)".into(),
            stowage: pair(auth.p50, auth.p99),
            docker: pair(manifest.p50, manifest.p99),
            ratio: ratio(secs(auth.p50), secs(manifest.p50)),
            target: "—",
            met: "",
        },
    ];
    if let (Some(a), Some(n), Some(m)) = (
        auth.server_cpu_per_request(),
        so.anonymous.server_cpu_per_request(),
        manifest.server_cpu_per_request(),
    ) {
        let verify = a.saturating_sub(n);
        let share = secs(verify) / secs(m);
        rows.push(Row {
            measure: "password verification, server CPU per request: `GET /v2/` minus its 401 (µs)".into(),
            stowage: format!("{:.1}", verify.as_secs_f64() * 1e6),
            docker: format!("{:.1} (manifest GET by tag)", m.as_secs_f64() * 1e6),
            ratio: format!("{share:.2}×"),
            target: "< 0.25× of a manifest GET",
            met: verdict(share < 0.25),
        });
    }
    if let (Some(a), Some(m)) = (auth.server_cpu_per_request(), manifest.server_cpu_per_request()) {
        rows.push(Row {
            measure: "server CPU per request; `GET /v2/`'s bounds the auth cost (µs)".into(),
            stowage: format!("{:.1}", a.as_secs_f64() * 1e6),
            docker: format!("{:.1} (manifest GET by tag)", m.as_secs_f64() * 1e6),
            ratio: ratio(secs(a), secs(m)),
            target: "—",
            met: "",
        });
    }
    rows.push(Row {
        measure: format!(
            "GetAuthorizationToken, {} sequential, p50 / p99 (ms)",
            so.get_token.calls
        ),
        stowage: pair(so.get_token.p50, so.get_token.p99),
        docker: format!(
            "{} (DescribeImages, 100 images)",
            pair(so.baseline_describe.p50, so.baseline_describe.p99)
        ),
        ratio: ratio(secs(so.get_token.p50), secs(so.baseline_describe.p50)),
        target: "—",
        met: "",
    });
    rows.push(Row {
        measure: format!("populate: {} manifest PUTs via /v2/, 4 clients (images/s)", so.images),
        stowage: format!("{:.0}", so.images as f64 / so.populate.as_secs_f64()),
        docker: "—".into(),
        ratio: "—".into(),
        target: "—",
        met: "",
    });
    let base = &so.baseline_describe;
    let listing = |measure: String, l: &Latency| Row {
        measure,
        stowage: pair(l.p50, l.p99),
        docker: pair(base.p50, base.p99),
        ratio: ratio(secs(l.p50), secs(base.p50)),
        target: "—",
        met: "",
    };
    let n = so.images;
    rows.push(listing(
        format!("DescribeImages, {n} images, maxResults=100, first page, p50 / p99 (ms)"),
        &so.describe_first,
    ));
    let (deep, l) = &so.describe_deep;
    rows.push(listing(
        format!(
            "DescribeImages, {n} images, page {deep} by nextToken (offset {}), p50 / p99 (ms)",
            (deep - 1) * 100
        ),
        l,
    ));
    let (last, l) = &so.describe_last;
    if last != deep {
        rows.push(listing(
            format!(
                "DescribeImages, {n} images, last page {last} by nextToken (offset {}), p50 / p99 (ms)",
                (last - 1) * 100
            ),
            l,
        ));
    }
    rows.push(listing(
        format!(
            "ListImages, {n} images, maxResults=1000 ({} ids), p50 / p99 (ms)",
            so.list_len
        ),
        &so.list_images,
    ));

    println!();
    println!("Stowage only (docker-registry has no equivalent):");
    println!();
    println!("| measure | stowage | baseline (same run) | ratio | target | met |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.stowage, r.docker, r.ratio, r.target, r.met
        );
    }
    println!();
    println!(
        "ratio = stowage / baseline (of req/s, or of p50). Baselines: `GET /v2/` vs. manifest GET by tag \
         (same load, same run); GetAuthorizationToken and the listings vs. DescribeImages maxResults=100 \
         on a {}-image repository ({} sequential signed calls, same client). `GET /v2/` does \
         authentication and nothing else, so its server CPU per request bounds the per-request \
         token-verification cost from above.",
        100, base.calls
    );
}

fn pair(p50: Duration, p99: Duration) -> String {
    format!("{} / {}", ms(p50), ms(p99))
}

/// The cipher on its own, and how the encrypted push and pull compare with
/// docker-registry's unencrypted ones in the same run.
pub fn print_cipher(blob_mib: u64, c: &crate::cipher::Cipher, s: &Measured, d: &Measured) {
    println!("\n### Encryption at rest ({blob_mib} MiB, one core)\n");
    println!("| measure | MB/s | vs copy |");
    println!("|---|---|---|");
    println!("| copy (baseline) | {:.0} | 1.00× |", c.copy);
    println!(
        "| seal (AES-256-GCM, 64 KiB segments) | {:.0} | {:.2}× |",
        c.seal,
        c.seal / c.copy
    );
    println!("| open | {:.0} | {:.2}× |", c.open, c.open / c.copy);
    println!(
        "\nencrypted push {:.0} MB/s vs docker-registry unencrypted {:.0} MB/s ({:.2}×, target ≥ 0.8×); \
         encrypted pull {:.0} MB/s vs {:.0} MB/s ({:.2}×, target ≥ 0.8×)",
        s.push_mbps,
        d.push_mbps,
        s.push_mbps / d.push_mbps,
        s.pull_mbps,
        d.pull_mbps,
        s.pull_mbps / d.pull_mbps
    );
}
