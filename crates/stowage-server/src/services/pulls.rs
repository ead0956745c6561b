//! `lastRecordedPullTime`: pulls are recorded at most once a minute per image
//! per node, off the request path, so a hot manifest GET costs no write.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use stowage_core::Digest;

use crate::AppState;

/// How often one image's pull time is written.
pub const GRANULARITY: Duration = Duration::from_secs(60);
/// Entries kept before the memory of recent writes is dropped.
const MAX_ENTRIES: usize = 100_000;

/// Remembers when each image's pull time was last written from this node.
#[derive(Default)]
pub struct PullRecorder {
    last: Mutex<HashMap<(i64, Digest), Instant>>,
}

/// Records a pull of `digest` in the repository, if not recorded recently.
pub fn record(state: &AppState, repository_id: i64, digest: Digest) {
    {
        let mut last = state.pulls.last.lock().unwrap_or_else(|e| e.into_inner());
        if last
            .get(&(repository_id, digest))
            .is_some_and(|t| t.elapsed() < GRANULARITY)
        {
            return;
        }
        if last.len() >= MAX_ENTRIES {
            last.clear();
        }
        last.insert((repository_id, digest), Instant::now());
    }
    let state = state.clone();
    tokio::spawn(async move {
        let at = stowage_meta::now_ms();
        if let Err(e) = state
            .meta
            .record_pull(repository_id, &digest, at, GRANULARITY.as_millis() as i64)
            .await
        {
            tracing::warn!(error = %e, image.digest = %digest, "recording the pull time failed");
        }
    });
}
