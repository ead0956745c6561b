//! Manifests by tag, cached for a second: a pull storm on one tag should cost
//! one query a second, not one per request.
//!
//! Every change this node makes to a repository's manifests or tags drops that
//! repository's entries at once, so this node never serves a stale tag; another
//! node sees a moved or deleted tag within [`TTL`]. Small manifests only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stowage_meta::{MetaError, StoredManifest};

use crate::AppState;

/// How long a tag's manifest is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// Larger manifests are always read from the database.
const MAX_CACHED_BYTES: usize = 16 * 1024;
/// Entries kept before the cache is emptied (bounds memory to ~32 MiB).
const MAX_ENTRIES: usize = 2048;

type Entry = (Instant, Arc<StoredManifest>);

#[derive(Default)]
struct Entries {
    count: usize,
    by_repo: HashMap<i64, HashMap<String, Entry>>,
    /// Bumped by every `forget`: a read that began before a change must not
    /// store what it read after the change dropped the entries.
    epoch: u64,
}

/// Recently served manifests by repository and tag.
#[derive(Default)]
pub struct TagCache {
    repos: Mutex<Entries>,
}

impl TagCache {
    /// Drops every cached tag of a repository (after this node changed it).
    pub fn forget(&self, repository_id: i64) {
        let mut guard = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        guard.epoch += 1;
        if let Some(tags) = guard.by_repo.remove(&repository_id) {
            guard.count -= tags.len();
        }
    }
}

/// The manifest `tag` points at, from the cache when fresh.
pub async fn manifest_by_tag(
    state: &AppState,
    repository_id: i64,
    tag: &str,
) -> Result<Option<Arc<StoredManifest>>, MetaError> {
    let epoch = {
        let guard = state.tag_cache.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, m)) = guard.by_repo.get(&repository_id).and_then(|tags| tags.get(tag))
            && at.elapsed() < TTL
        {
            return Ok(Some(m.clone()));
        }
        guard.epoch
    };
    let Some(m) = state.meta.manifest_by_tag(repository_id, tag).await? else {
        return Ok(None);
    };
    let m = Arc::new(m);
    if m.body.len() <= MAX_CACHED_BYTES {
        let mut guard = state.tag_cache.repos.lock().unwrap_or_else(|e| e.into_inner());
        if guard.epoch != epoch {
            return Ok(Some(m)); // something changed while we read: serve it, don't keep it
        }
        if guard.count >= MAX_ENTRIES {
            guard.by_repo.clear();
            guard.count = 0;
        }
        let fresh = (Instant::now(), m.clone());
        if guard
            .by_repo
            .entry(repository_id)
            .or_default()
            .insert(tag.to_string(), fresh)
            .is_none()
        {
            guard.count += 1;
        }
    }
    Ok(Some(m))
}
