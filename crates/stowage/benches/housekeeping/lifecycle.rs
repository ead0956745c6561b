//! Part 2: previewing a lifecycle policy on a repository of many images,
//! against the pure evaluator on the same facts.
//!
//! The repository is seeded in bulk, in one transaction, straight into the
//! bench's own SQLite file with the schema of
//! `crates/stowage-meta/migrations/sqlite/`: pushing 100,000 images through
//! `put_manifest`, one durable transaction each, would take minutes. This is
//! bench-only seeding; keep it in step with the migrations. It writes what a
//! push would leave behind for lifecycle to read (manifests, their blob
//! references, the blobs with their sizes and repository links, tags), not
//! the blob files (lifecycle never reads them) nor GC review rows (a push
//! queues them, and the pass after the grace period closes them again).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Sqlite};
use stowage_core::Digest;
use stowage_core::lifecycle::{self, ImageFacts, LifecyclePolicy};
use stowage_meta::{ImageRole, LifecycleImage, NewRepository};
use stowage_server::services::lifecycle as service;

use crate::{Settings, best_of, progress, sync};

const REPO: &str = "bench/lifecycle";
const DAY_MS: i64 = 86_400_000;
/// Push times spread over this many days, oldest first.
const SPAN_DAYS: i64 = 90;
/// The `any` rule's age limit.
const SINCE_DAYS: i64 = 30;
/// The release rule's count.
const KEEP_RELEASES: usize = 1000;
/// The untagged rule's count.
const KEEP_UNTAGGED: usize = 10;
/// Full previews timed (best of).
const RUNS: u32 = 3;
/// No more previews once they took this long in all: far off the target, a
/// best of 3 adds little and would take minutes.
const REPEAT_BUDGET: Duration = Duration::from_secs(20);
/// Size of the base layer every image shares.
const BASE_LAYER_BYTES: i64 = 28_000_000;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Keep the newest 1000 `release…` images and the newest 10 untagged ones;
/// anything else goes 30 days after its push.
const POLICY: &str = r#"{"rules": [
  {"rulePriority": 1, "description": "keep the newest 1000 releases",
   "selection": {"tagStatus": "tagged", "tagPrefixList": ["release"], "countType": "imageCountMoreThan", "countNumber": 1000},
   "action": {"type": "expire"}},
  {"rulePriority": 2, "description": "keep the newest 10 untagged images",
   "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10},
   "action": {"type": "expire"}},
  {"rulePriority": 3, "description": "anything else goes after 30 days",
   "selection": {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 30},
   "action": {"type": "expire"}}
]}"#;

/// What part 2 measured.
pub struct LifecycleMeasured {
    pub images: u64,
    pub tagged: u64,
    /// Bulk seeding, for the record.
    pub seed: Duration,
    /// `services::lifecycle::preview`, best of `runs`.
    pub preview: Duration,
    pub runs: u32,
    /// `Meta::lifecycle_images` alone, best of `RUNS`.
    pub load: Duration,
    /// The pure evaluator on the loaded facts, best of `RUNS`.
    pub evaluate: Duration,
    pub expired: u64,
    pub reclaimable_bytes: u64,
    /// When the probe below started, into the first preview.
    pub probe_delay: Duration,
    /// Opening an upload session `probe_delay` into the first preview: how
    /// long it waited, or what it failed with after how long.
    pub write_during_preview: Result<Duration, (Duration, String)>,
    /// Opening an upload session on the idle registry, best of `RUNS`.
    pub write_idle: Duration,
}

/// Which rule group an image falls in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Release,
    Dev,
    Untagged,
}

/// One seeded image, as the oracle needs it.
struct Seeded {
    digest: Digest,
    kind: Kind,
    pushed_at: i64,
    /// Its config and own layer: what expiring it frees.
    own_bytes: i64,
}

pub async fn run(settings: &Settings, root: &std::path::Path) -> anyhow::Result<LifecycleMeasured> {
    let n = settings.lifecycle_images;
    let config = stowage::Config {
        data_dir: root.join("data"),
        ..stowage::Config::default()
    };
    let state = stowage::open(&config, None).await?;
    let repo = state
        .meta
        .create_repository(&state.config.account_id, REPO, NewRepository::default())
        .await?;

    progress(&format!(
        "lifecycle: seeding {n} images in bulk (bench-only, one transaction)"
    ));
    let start = Instant::now();
    let now = stowage_meta::now_ms();
    let images = seed(&config.data_dir.join("stowage.db"), repo.id, n, now).await?;
    let seed_time = start.elapsed();
    let tagged = images.iter().filter(|i| i.kind != Kind::Untagged).count() as u64;
    let (expected, expected_bytes) = oracle(&images, now);
    sync();

    // The parts on their own: loading the facts, then evaluating them.
    progress("lifecycle: loading image facts");
    let (load, loaded) = best_of(RUNS, || async { Ok(state.meta.lifecycle_images(repo.id).await?) }).await?;
    ensure!(loaded.len() as u64 == n, "loaded {} images, seeded {n}", loaded.len());
    let policy = LifecyclePolicy::parse(POLICY).context("the bench's policy")?;
    let own: Vec<&LifecycleImage> = loaded.iter().filter(|i| i.role == ImageRole::Own).collect();
    let facts: Vec<ImageFacts<'_>> = own.iter().map(|i| i.facts()).collect();
    progress("lifecycle: pure evaluation");
    let eval_now = stowage_meta::now_ms();
    let (evaluate, expiries) = best_of(RUNS, || async {
        Ok(std::hint::black_box(lifecycle::evaluate(&policy, &facts, eval_now)))
    })
    .await?;
    let selected: HashSet<Digest> = expiries.iter().map(|e| own[e.index].digest).collect();
    ensure!(
        selected == expected,
        "the evaluator expires {} images, the bench's own reading of the policy {}",
        selected.len(),
        expected.len()
    );

    // The whole preview, as StartLifecyclePolicyPreview runs it.
    let mut preview = Duration::MAX;
    let mut spent = Duration::ZERO;
    let mut runs = 0;
    let mut write_during_preview = None;
    while runs < RUNS && (runs == 0 || spent < REPEAT_BUDGET) {
        progress(&format!("lifecycle: preview ({}/{RUNS})", runs + 1));
        // During the first one, once the facts are loaded, a push starts an upload session.
        let probe = (runs == 0).then(|| tokio::spawn(write_probe(state.clone(), repo.id, probe_delay(load))));
        let start = Instant::now();
        let (_, outcome) = service::preview(&state, &repo, Some(POLICY.to_string())).await?;
        let elapsed = start.elapsed();
        if let Some(probe) = probe {
            write_during_preview = Some(probe.await?);
        }
        preview = preview.min(elapsed);
        spent += elapsed;
        runs += 1;
        let previewed: Vec<Digest> = outcome.images.iter().map(|i| i.digest).collect();
        let distinct: HashSet<Digest> = previewed.iter().copied().collect();
        ensure!(
            distinct == expected && previewed.len() == expected.len(),
            "the preview expires {} images ({} distinct), expected {}",
            previewed.len(),
            distinct.len(),
            expected.len()
        );
        ensure!(
            outcome.reclaimable_bytes == expected_bytes,
            "the preview frees {} bytes, expected {expected_bytes}",
            outcome.reclaimable_bytes
        );
    }
    let mut write_idle = Duration::MAX;
    for _ in 0..RUNS {
        let took = write_probe(state.clone(), repo.id, Duration::ZERO)
            .await
            .map_err(|(_, e)| anyhow::anyhow!("opening an upload session: {e}"))?;
        write_idle = write_idle.min(took);
    }
    let left = state.meta.lifecycle_images(repo.id).await?.len() as u64;
    ensure!(left == n, "a preview deleted images: {left} of {n} left");

    state.meta.close().await;
    Ok(LifecycleMeasured {
        images: n,
        tagged,
        seed: seed_time,
        preview,
        runs,
        load,
        evaluate,
        expired: expected.len() as u64,
        reclaimable_bytes: expected_bytes,
        probe_delay: probe_delay(load),
        write_during_preview: write_during_preview.context("no preview ran")?,
        write_idle,
    })
}

/// How far into a preview the concurrent write starts: past loading the
/// facts (which took `load` alone) and evaluating them, into the expiry walk.
fn probe_delay(load: Duration) -> Duration {
    load * 2 + Duration::from_millis(200)
}

/// After `delay`, opens an upload session (the first write of a push) and
/// closes it again; returns how long opening took, or what it failed with
/// after how long.
async fn write_probe(
    state: stowage_server::AppState,
    repository_id: i64,
    delay: Duration,
) -> Result<Duration, (Duration, String)> {
    tokio::time::sleep(delay).await;
    let start = Instant::now();
    match state
        .meta
        .create_upload(uuid::Uuid::new_v4(), repository_id, "registry", b"probe", b"probe")
        .await
    {
        Ok(upload) => {
            let took = start.elapsed();
            let _ = state.meta.delete_upload(repository_id, upload.id).await;
            Ok(took)
        }
        Err(e) => Err((start.elapsed(), e.to_string())),
    }
}

/// What the policy expires at `now`, read plainly off the seeding, and the
/// bytes that frees (each expired image's config and own layer; the base
/// layer stays referenced by the images kept).
fn oracle(images: &[Seeded], now: i64) -> (HashSet<Digest>, u64) {
    let newest_first = |kind: Kind| {
        let mut of_kind: Vec<&Seeded> = images.iter().filter(|i| i.kind == kind).collect();
        of_kind.sort_by_key(|i| std::cmp::Reverse(i.pushed_at));
        of_kind
    };
    let mut expired: Vec<&Seeded> = Vec::new();
    expired.extend(newest_first(Kind::Release).into_iter().skip(KEEP_RELEASES));
    expired.extend(newest_first(Kind::Untagged).into_iter().skip(KEEP_UNTAGGED));
    expired.extend(
        newest_first(Kind::Dev)
            .into_iter()
            .filter(|i| now - i.pushed_at > SINCE_DAYS * DAY_MS),
    );
    let bytes = expired.iter().map(|i| i.own_bytes as u64).sum();
    (expired.into_iter().map(|i| i.digest).collect(), bytes)
}

/// A value bound into a bulk insert.
enum Val {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// Rows for one table, inserted many per statement.
struct Bulk {
    head: &'static str,
    columns: usize,
    rows: Vec<Vec<Val>>,
}

impl Bulk {
    /// Rows per statement: SQLite allows 32766 bound values.
    const ROWS: usize = 500;

    fn new(head: &'static str, columns: usize) -> Bulk {
        Bulk {
            head,
            columns,
            rows: Vec::new(),
        }
    }

    async fn push(&mut self, conn: &mut SqliteConnection, row: Vec<Val>) -> anyhow::Result<()> {
        debug_assert_eq!(row.len(), self.columns);
        self.rows.push(row);
        if self.rows.len() == Self::ROWS {
            self.flush(conn).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let one = format!("({})", vec!["?"; self.columns].join(", "));
        let sql = format!("{} VALUES {}", self.head, vec![one; self.rows.len()].join(", "));
        let mut q = sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(sql));
        for v in self.rows.drain(..).flatten() {
            q = match v {
                Val::Int(i) => q.bind(i),
                Val::Text(s) => q.bind(s),
                Val::Blob(b) => q.bind(b),
            };
        }
        q.execute(&mut *conn).await.with_context(|| self.head)?;
        Ok(())
    }
}

/// Bench-only: writes `n` images into repository `repository_id` of the SQLite
/// database at `path` in one transaction. Image `i` (oldest first) is pushed
/// `SPAN_DAYS` × (n − i) / n days before `now`; by `i % 10` it is tagged
/// `release-<i>` (0, 1), `dev-<i>` (2, 3) or untagged (4–9). Each has its own
/// config and layer blobs and shares one base layer.
async fn seed(path: &std::path::Path, repository_id: i64, n: u64, now: i64) -> anyhow::Result<Vec<Seeded>> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&options).await?;
    // A page cache that holds the whole transaction, so it is written once, at commit.
    sqlx::query("PRAGMA cache_size = -524288").execute(&mut conn).await?;
    let mut tx = conn.begin().await?;
    // Each table is flushed as its batch fills: check the foreign keys at commit.
    sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
    let mut blobs = Bulk::new("INSERT INTO blobs (digest, size, created_at)", 3);
    let mut links = Bulk::new("INSERT INTO repository_blobs (repository_id, digest, created_at)", 3);
    let mut manifests = Bulk::new(
        "INSERT INTO manifests (repository_id, digest, media_type, config_media_type, body, size, \
         image_size, pushed_at)",
        8,
    );
    let mut references = Bulk::new(
        "INSERT INTO manifest_blobs (repository_id, manifest_digest, blob_digest)",
        3,
    );
    let mut tags = Bulk::new("INSERT INTO tags (repository_id, name, digest, updated_at)", 4);

    let first_push = now - SPAN_DAYS * DAY_MS;
    let base = Digest::of(b"bench base layer");
    blobs
        .push(
            &mut tx,
            vec![text(base), Val::Int(BASE_LAYER_BYTES), Val::Int(first_push)],
        )
        .await?;
    links
        .push(&mut tx, vec![Val::Int(repository_id), text(base), Val::Int(first_push)])
        .await?;

    let mut seeded = Vec::with_capacity(n as usize);
    for i in 0..n {
        let pushed_at = push_time(i, n, now);
        let config = Digest::of(format!("bench config {i}").as_bytes());
        let config_size = 1200 + (i % 300) as i64;
        let layer = Digest::of(format!("bench layer {i}").as_bytes());
        let layer_size = 20_000 + (i % 1000) as i64 * 100;
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config.to_string(), "size": config_size},
            "layers": [
                {"mediaType": LAYER_TYPE, "digest": base.to_string(), "size": BASE_LAYER_BYTES},
                {"mediaType": LAYER_TYPE, "digest": layer.to_string(), "size": layer_size},
            ],
        })
        .to_string()
        .into_bytes();
        let digest = Digest::of(&body);
        for (blob, size) in [(config, config_size), (layer, layer_size)] {
            blobs
                .push(&mut tx, vec![text(blob), Val::Int(size), Val::Int(pushed_at)])
                .await?;
            links
                .push(&mut tx, vec![Val::Int(repository_id), text(blob), Val::Int(pushed_at)])
                .await?;
        }
        let body_len = body.len() as i64;
        manifests
            .push(
                &mut tx,
                vec![
                    Val::Int(repository_id),
                    text(digest),
                    Val::Text(MANIFEST_TYPE.into()),
                    Val::Text(CONFIG_TYPE.into()),
                    Val::Blob(body),
                    Val::Int(body_len),
                    Val::Int(config_size + BASE_LAYER_BYTES + layer_size),
                    Val::Int(pushed_at),
                ],
            )
            .await?;
        for blob in [config, base, layer] {
            references
                .push(&mut tx, vec![Val::Int(repository_id), text(digest), text(blob)])
                .await?;
        }
        let kind = match i % 10 {
            0 | 1 => Kind::Release,
            2 | 3 => Kind::Dev,
            _ => Kind::Untagged,
        };
        let tag = match kind {
            Kind::Release => Some(format!("release-{i}")),
            Kind::Dev => Some(format!("dev-{i}")),
            Kind::Untagged => None,
        };
        if let Some(tag) = tag {
            tags.push(
                &mut tx,
                vec![
                    Val::Int(repository_id),
                    Val::Text(tag),
                    text(digest),
                    Val::Int(pushed_at),
                ],
            )
            .await?;
        }
        seeded.push(Seeded {
            digest,
            kind,
            pushed_at,
            own_bytes: config_size + layer_size,
        });
    }
    for bulk in [&mut blobs, &mut links, &mut manifests, &mut references, &mut tags] {
        bulk.flush(&mut tx).await?;
    }
    tx.commit().await?;
    // Into the database file, as a live registry's checkpoints would have put it.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(seeded)
}

/// Image `i`'s push time: evenly spread over `SPAN_DAYS`, oldest first, but
/// none within two hours younger than the `any` rule's limit, so no image
/// crosses it while the bench runs.
fn push_time(i: u64, n: u64, now: i64) -> i64 {
    let age = (SPAN_DAYS * DAY_MS) as i128 * (n - i) as i128 / n as i128;
    let mut age = age as i64;
    let limit = SINCE_DAYS * DAY_MS;
    let margin = 2 * 3_600_000;
    if age <= limit && age > limit - margin {
        age = limit - margin;
    }
    now - age
}

fn text(d: Digest) -> Val {
    Val::Text(d.to_string())
}
