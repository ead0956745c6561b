//! The results tables.

use std::time::Duration;

use crate::{FirstScan, Results, Settings};

/// A re-match must be at least this many times faster than the first scan.
const REMATCH_SPEEDUP: f64 = 50.0;
/// RSS growth counts as flat across layer sizes within this ratio …
const FLAT_RATIO: f64 = 1.25;
/// … or this many MiB.
const FLAT_SLACK_MIB: f64 = 8.0;

struct Row {
    measure: String,
    value: String,
    baseline: String,
    ratio: String,
    target: &'static str,
    met: &'static str,
}

impl Row {
    fn info(measure: String, value: String) -> Row {
        Row {
            measure,
            value,
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: "",
        }
    }
}

fn table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| measure | value | baseline (same run) | ratio | target | met |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.value, r.baseline, r.ratio, r.target, r.met
        );
    }
}

pub fn print(settings: &Settings, r: &Results) {
    if let Some(note) = &settings.advisories_note {
        println!("\nNOTE: {note}.");
    }
    import_table(settings, r);
    first_scan_table(&r.multi);
    rematch_table(r);
    memory_table(r);
    println!(
        "\nMB = 10^6 bytes, MiB = 2^20. Wall times include the scan worker's idle poll (it looks for due \
         scans every 1 s), the `elapsed_ms` of its `scan finished` log line does not. RSS growth = peak RSS \
         during the scan (VmHWM after a clear_refs reset, and VmRSS sampled every 10 ms, the higher) minus \
         VmRSS just before the manifest PUT."
    );
}

fn import_table(settings: &Settings, r: &Results) {
    let (i, again, second) = (&r.import, &r.reimport, &r.import_second);
    let rows = vec![
        Row {
            measure: format!(
                "`stowage vulndb import`, {} files, {:.1} MB: {} read, {} changed, {} failed (s)",
                r.advisory_files,
                r.advisory_bytes as f64 / 1e6,
                i.read,
                i.changed,
                i.failed
            ),
            value: secs(i.elapsed),
            baseline: format!(
                "{} (`stowage vulndb status`: CLI start, database open)",
                secs(r.cli_floor)
            ),
            ratio: ratio(i.elapsed, r.cli_floor),
            target: "—",
            met: "",
        },
        Row::info("import throughput (advisories/s)".into(), format!("{:.0}", i.per_sec())),
        Row {
            measure: format!(
                "no-change re-import: {} read, {} changed, {} images to re-match (s)",
                again.read, again.changed, again.images_to_rematch
            ),
            value: secs(again.elapsed),
            baseline: format!("{} (first import)", secs(i.elapsed)),
            ratio: ratio(again.elapsed, i.elapsed),
            target: "0 changed",
            met: verdict(again.changed == 0),
        },
        Row::info(
            "re-import throughput (advisories/s)".into(),
            format!("{:.0}", again.per_sec()),
        ),
        Row {
            measure: "import into the second fresh server, for step 4 (s)".into(),
            value: secs(second.elapsed),
            baseline: format!("{} (first import)", secs(i.elapsed)),
            ratio: ratio(second.elapsed, i.elapsed),
            target: "—",
            met: "",
        },
    ];
    table(
        &format!("1. Advisory import ({})", settings.advisories.display()),
        &rows,
    );
}

fn first_scan_table(s: &FirstScan) {
    let mb = s.layer_bytes as f64 / 1e6;
    let pull_mbps = mb / s.pull.as_secs_f64();
    let mut rows = vec![
        Row::info(
            "image".into(),
            format!(
                "{} layers, {mb:.1} MB compressed, {:.1} MB tar, {} entries{}",
                s.layers,
                s.tar_bytes as f64 / 1e6,
                s.entries,
                executable(s)
            ),
        ),
        Row::info(
            "push of the blobs through /v2/ (s, MB/s)".into(),
            format!("{} ({:.0} MB/s)", secs(s.push), mb / s.push.as_secs_f64()),
        ),
        Row {
            measure: "first scan, wall: manifest PUT → COMPLETE (s)".into(),
            value: secs(s.wall),
            baseline: format!("{} (GET of the {} layer blobs)", secs(s.pull), s.layers),
            ratio: ratio(s.wall, s.pull),
            target: "—",
            met: "",
        },
    ];
    if let Some(w) = s.worker {
        rows.push(Row {
            measure: "first scan, worker `elapsed_ms` (s)".into(),
            value: secs(w),
            baseline: format!("{} (GET of the layer blobs)", secs(s.pull)),
            ratio: ratio(w, s.pull),
            target: "—",
            met: "",
        });
    }
    rows.push(Row {
        measure: format!(
            "scan throughput, compressed layer bytes ({}) (MB/s)",
            if s.worker.is_some() { "worker time" } else { "wall time" }
        ),
        value: format!("{:.0}", mb / s.scan_time().as_secs_f64()),
        baseline: format!("{pull_mbps:.0} (pull)"),
        ratio: format!("{:.2}×", (mb / s.scan_time().as_secs_f64()) / pull_mbps),
        target: "—",
        met: "",
    });
    rows.push(Row::info("findings (ENHANCED)".into(), format!("{}", s.view.findings)));
    if !s.whiteouts.is_empty() {
        rows.push(Row {
            measure: format!(
                "findings naming {}, deleted by a whiteout in the last layer",
                s.whiteouts.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            value: format!("{}", s.whited_out_findings),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "0",
            met: verdict(s.whited_out_findings == 0),
        });
    }
    rows.push(memory_row(
        "server RSS growth during the scan (MiB)".into(),
        s,
        format!("{:.1} (RSS before)", mib(s.memory.before_kib)),
        s.memory.before_kib,
    ));
    table(&format!("2. First scan, {} layers", s.layers), &rows);
}

fn memory_row(measure: String, s: &FirstScan, baseline: String, base_kib: u64) -> Row {
    Row {
        measure,
        value: format!(
            "{:.1} (peak {:.1}{})",
            mib(s.memory.growth_kib()),
            mib(s.memory.peak_kib()),
            if s.memory.hwm_kib.is_some() {
                ""
            } else {
                ", sampled only"
            }
        ),
        baseline,
        ratio: format!("{:.2}×", s.memory.growth_kib() as f64 / base_kib.max(1) as f64),
        target: "—",
        met: "",
    }
}

fn rematch_table(r: &Results) {
    let (m, first) = (&r.rematch, &r.multi);
    let n = m.rounds.len();
    let imports: Vec<String> = m
        .rounds
        .iter()
        .map(|x| format!("{}/{}", x.import.changed, x.import.images_to_rematch))
        .collect();
    let import_times: Vec<Duration> = m.rounds.iter().map(|x| x.import.elapsed).collect();
    let mut rows = vec![Row::info(
        format!(
            "import of {} changed advisories ({}), {n} rounds: changed/images to re-match {} (s, median)",
            m.changed_ids.len(),
            m.changed_ids.join(", "),
            imports.join(", ")
        ),
        crate::median(import_times).map_or("—".into(), secs),
    )];
    let spread = |of: fn(&crate::Round) -> Option<Duration>| {
        m.spread(of)
            .map_or(String::new(), |(lo, hi)| format!(" ({}–{})", ms(lo), ms(hi)))
    };
    match (m.worker(), first.worker) {
        (Some(w), Some(f)) => {
            let speedup = f.as_secs_f64() / w.as_secs_f64();
            rows.push(Row {
                measure: format!("re-match, worker `elapsed_ms`, median of {n} (min–max) (ms)"),
                value: format!("{}{}", ms(w), spread(|x| x.worker)),
                baseline: format!("{} (first scan, worker)", ms(f)),
                ratio: format!("{speedup:.0}× faster"),
                target: "≥ 50× faster",
                met: verdict(speedup >= REMATCH_SPEEDUP),
            });
        }
        _ => rows.push(Row::info(
            "re-match, worker `elapsed_ms` (ms)".into(),
            format!(
                "n/a (re-match log lines {}; first scan's {})",
                if m.worker().is_some() { "seen" } else { "not seen" },
                if first.worker.is_some() { "seen" } else { "not seen" }
            ),
        )),
    }
    let never = m.rounds.iter().any(|x| x.wall.is_none());
    match m.wall() {
        Some(w) if !never => rows.push(Row {
            measure: format!("re-match, wall: import end → newer `lastObservedAt`, median of {n} (min–max) (ms)"),
            value: format!("{}{}", ms(w), spread(|x| x.wall)),
            baseline: format!("{} (first scan, wall)", ms(first.wall)),
            ratio: format!("{:.1}× faster", first.wall.as_secs_f64() / w.as_secs_f64()),
            target: "—",
            met: "",
        }),
        _ => rows.push(Row {
            measure: "re-match, wall: import end → newer `lastObservedAt` (ms)".into(),
            value: format!(
                "NEVER in round {} (not within {} s)",
                n,
                crate::REMATCH_TIMEOUT.as_secs()
            ),
            baseline: format!("{} (first scan, wall)", ms(first.wall)),
            ratio: "—".into(),
            target: "≥ 50× faster",
            met: "NO",
        }),
    }
    rows.push(Row::info(
        "findings after the re-matches (first scan's)".into(),
        format!("{} ({})", m.findings, first.view.findings),
    ));
    let seen = m.rounds.iter().filter(|x| x.reference_seen).count();
    rows.push(Row {
        measure: "rounds whose added reference URL shows in the re-matched findings".into(),
        value: format!("{seen} of {n}"),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "all",
        met: verdict(seen == n && n > 0),
    });
    rows.push(Row::info(
        "`stowage_job_runs_total{job=\"rematch\"}` before → after; `kind=\"rematch\"` log lines".into(),
        format!("{} → {}; {}", m.job_runs.0, m.job_runs.1, m.rematch_lines),
    ));
    table(
        "3. Re-match after an advisory import (ENHANCED + CONTINUOUS_SCAN)",
        &rows,
    );
}

fn memory_table(r: &Results) {
    let (one, many) = (&r.single, &r.multi);
    let (g1, gn) = (mib(one.memory.growth_kib()), mib(many.memory.growth_kib()));
    let flat = g1 <= gn * FLAT_RATIO || g1 - gn < FLAT_SLACK_MIB;
    let mut rows = vec![Row::info(
        "image".into(),
        format!(
            "1 layer, {:.1} MB compressed, {:.1} MB tar, {} entries{}",
            one.layer_bytes as f64 / 1e6,
            one.tar_bytes as f64 / 1e6,
            one.entries,
            executable(one)
        ),
    )];
    rows.push(Row {
        measure: format!(
            "server RSS growth during the scan, 1 layer vs {} layers (MiB)",
            many.layers
        ),
        value: format!("{g1:.1} (peak {:.1})", mib(one.memory.peak_kib())),
        baseline: format!("{gn:.1} (peak {:.1})", mib(many.memory.peak_kib())),
        ratio: format!("{:.2}×", g1 / gn.max(0.1)),
        target: "~1× (≤ 1.25×, or +< 8 MiB)",
        met: verdict(flat),
    });
    rows.push(Row {
        measure: format!("first scan, worker time, 1 layer vs {} layers (s)", many.layers),
        value: secs(one.scan_time()),
        baseline: secs(many.scan_time()),
        ratio: ratio(one.scan_time(), many.scan_time()),
        target: "—",
        met: "",
    });
    rows.push(Row {
        measure: "GET of the layer blob(s) (s)".into(),
        value: secs(one.pull),
        baseline: secs(many.pull),
        ratio: ratio(one.pull, many.pull),
        target: "—",
        met: "",
    });
    rows.push(Row {
        measure: "first scan, wall (s); findings".into(),
        value: format!("{}; {}", secs(one.wall), one.view.findings),
        baseline: format!("{}; {}", secs(many.wall), many.view.findings),
        ratio: ratio(one.wall, many.wall),
        target: "—",
        met: "",
    });
    table(
        &format!(
            "4. Memory against layer size (1 × {:.0} MB vs {} × {:.0} MB; fresh servers, first scans)",
            one.layer_bytes as f64 / 1e6,
            many.layers,
            many.layer_bytes as f64 / 1e6 / many.layers as f64
        ),
        &rows,
    );
}

/// ", incl. a N MB executable" when the image holds one: the scanner reads
/// an executable under 64 MiB whole, which shows in its RSS.
fn executable(s: &FirstScan) -> String {
    s.binary_bytes.map_or(String::new(), |b| {
        format!(
            ", incl. a {:.1} MB executable (read whole by the scanner)",
            b as f64 / 1e6
        )
    })
}

fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
