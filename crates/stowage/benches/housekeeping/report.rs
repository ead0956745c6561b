//! The results tables.

use std::time::Duration;

use crate::gc::GcMeasured;
use crate::lifecycle::LifecycleMeasured;

/// The lifecycle target: a preview of the whole repository within a second.
const PREVIEW_TARGET: Duration = Duration::from_secs(1);

struct Row {
    measure: String,
    stowage: String,
    baseline: String,
    ratio: String,
    target: &'static str,
    met: &'static str,
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| measure | stowage | baseline (same run) | ratio | target | met |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.stowage, r.baseline, r.ratio, r.target, r.met
        );
    }
    println!();
}

/// Prints part 1: seeding, the dry-run pass and the pass, against plain files.
pub fn print_gc(m: &GcMeasured) {
    let n = m.blobs;
    let kib = m.blob_bytes >> 10;
    let bytes = m.total_bytes();
    let rows = [
        Row {
            measure: format!("seed: {n} uploads of {kib} KiB, create_upload + append + complete (blobs/s)"),
            stowage: rate(n, m.seed),
            baseline: format!("{} (durable file creates)", rate(n, m.baseline_create)),
            ratio: ratio(secs(m.baseline_create), secs(m.seed)),
            target: "—",
            met: "",
        },
        Row {
            measure: format!("GC dry-run pass, {n} unreferenced blobs (blobs/s reviewed)"),
            stowage: rate(n, m.dry_run),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: "",
        },
        Row {
            measure: format!("GC pass, {n} unreferenced blobs of {kib} KiB (blobs/s freed)"),
            stowage: rate(n, m.pass),
            baseline: format!("{} (durable file deletes)", rate(n, m.baseline_delete)),
            ratio: ratio(secs(m.baseline_delete), secs(m.pass)),
            target: "—",
            met: "",
        },
        Row {
            measure: "GC pass (MB/s freed)".into(),
            stowage: mb_rate(bytes, m.pass),
            baseline: mb_rate(bytes, m.baseline_delete),
            ratio: ratio(secs(m.baseline_delete), secs(m.pass)),
            target: "—",
            met: "",
        },
        Row {
            measure: "GC pass, time per blob (ms)".into(),
            stowage: per_item_ms(n, m.pass),
            baseline: per_item_ms(n, m.baseline_delete),
            ratio: ratio(secs(m.pass), secs(m.baseline_delete)),
            target: "—",
            met: "",
        },
    ];
    println!();
    println!("Garbage collection, filesystem store, SQLite metadata, gc_grace = 0:");
    print_table(&rows);
    println!(
        "ratio = stowage / baseline as rates (time per blob: stowage / baseline as times). The pass \
         freed exactly {n} blobs and {bytes} bytes and left no file behind. Baselines: {n} plain \
         files of {kib} KiB in a sibling dir, each created with write + fdatasync + fsync of its \
         dir, then each deleted with unlink + fsync of its dir. MB = 10^6 bytes."
    );
}

/// Prints part 2: the preview against the pure evaluator.
pub fn print_lifecycle(m: &LifecycleMeasured) {
    let n = m.images;
    let rows = [
        Row {
            measure: format!("seed: {n} images in bulk, one transaction, bench-only (images/s)"),
            stowage: rate(n, m.seed),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: "",
        },
        Row {
            measure: format!(
                "lifecycle preview, {n} images, 3 rules, {} expire, best of {} (s)",
                m.expired, m.runs
            ),
            stowage: format!("{:.3}", secs(m.preview)),
            baseline: format!("{:.3} (pure evaluate)", secs(m.evaluate)),
            ratio: ratio(secs(m.preview), secs(m.evaluate)),
            target: "< 1 s",
            met: verdict(m.preview < PREVIEW_TARGET),
        },
        Row {
            measure: "lifecycle preview (images/s)".into(),
            stowage: rate(n, m.preview),
            baseline: rate(n, m.evaluate),
            ratio: ratio(secs(m.evaluate), secs(m.preview)),
            target: "—",
            met: "",
        },
        Row {
            measure: "  of which: loading the image facts, `Meta::lifecycle_images` (s)".into(),
            stowage: format!("{:.3}", secs(m.load)),
            baseline: format!("{:.3}", secs(m.evaluate)),
            ratio: ratio(secs(m.load), secs(m.evaluate)),
            target: "—",
            met: "",
        },
        Row {
            measure: "  of which: dry-run expiry + reclaimable bytes (preview − load − evaluate) (s)".into(),
            stowage: format!("{:.3}", (secs(m.preview) - secs(m.load) - secs(m.evaluate)).max(0.0)),
            baseline: format!("{:.3}", secs(m.evaluate)),
            ratio: ratio(
                (secs(m.preview) - secs(m.load) - secs(m.evaluate)).max(0.0),
                secs(m.evaluate),
            ),
            target: "—",
            met: "",
        },
        write_row(m),
    ];
    println!();
    println!(
        "Lifecycle policy preview (`services::lifecycle::preview`), SQLite metadata, {n} images \
         ({} tagged release-*/dev-*, the rest untagged), pushed over 90 days:",
        m.tagged
    );
    print_table(&rows);
    println!(
        "ratio = stowage / baseline as times (images/s: as rates). Policy: tagged prefix `release` \
         imageCountMoreThan 1000; untagged imageCountMoreThan 10; any sinceImagePushed 30 days. The \
         preview expired exactly the images the bench's own reading of the policy names and would \
         free {} bytes ({:.1} MB), as expected, and deleted nothing. Baseline: \
         `stowage_core::lifecycle::evaluate` on the same facts in memory, best of 3; load and \
         evaluate best of 3 each.",
        m.reclaimable_bytes,
        m.reclaimable_bytes as f64 / 1e6
    );
}

/// The write started during the first preview, against the same write idle.
fn write_row(m: &LifecycleMeasured) -> Row {
    let idle = format!("{:.2} ms (idle)", secs(m.write_idle) * 1000.0);
    let measure = format!(
        "a push's first write (create_upload) {:.1} s into the first preview: wait (s)",
        secs(m.probe_delay)
    );
    match &m.write_during_preview {
        Ok(waited) => Row {
            measure,
            stowage: format!("{:.3}", secs(*waited)),
            baseline: idle,
            ratio: ratio(secs(*waited), secs(m.write_idle)),
            target: "—",
            met: "",
        },
        Err((waited, error)) => Row {
            measure,
            stowage: format!("FAILED after {:.1} s: {error}", secs(*waited)),
            baseline: idle,
            ratio: "—".into(),
            target: "—",
            met: "",
        },
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:.0}", n as f64 / secs(d))
}

fn mb_rate(bytes: u64, d: Duration) -> String {
    format!("{:.1}", bytes as f64 / 1e6 / secs(d))
}

fn per_item_ms(n: u64, d: Duration) -> String {
    format!("{:.3}", secs(d) * 1000.0 / n as f64)
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}×", a / b)
}

fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
}
