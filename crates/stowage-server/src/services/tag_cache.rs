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

/// Recently served manifests by repository and tag.
#[derive(Default)]
pub struct TagCache {
    repos: Mutex<(usize, HashMap<i64, HashMap<String, Entry>>)>,
}

impl TagCache {
    /// Drops every cached tag of a repository (after this node changed it).
    pub fn forget(&self, repository_id: i64) {
        let mut guard = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tags) = guard.1.remove(&repository_id) {
            guard.0 -= tags.len();
        }
    }
}

/// The manifest `tag` points at, from the cache when fresh.
pub async fn manifest_by_tag(
    state: &AppState,
    repository_id: i64,
    tag: &str,
) -> Result<Option<Arc<StoredManifest>>, MetaError> {
    {
        let guard = state.tag_cache.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, m)) = guard.1.get(&repository_id).and_then(|tags| tags.get(tag))
            && at.elapsed() < TTL
        {
            return Ok(Some(m.clone()));
        }
    }
    let Some(m) = state.meta.manifest_by_tag(repository_id, tag).await? else {
        return Ok(None);
    };
    let m = Arc::new(m);
    if m.body.len() <= MAX_CACHED_BYTES {
        let mut guard = state.tag_cache.repos.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 >= MAX_ENTRIES {
            *guard = (0, HashMap::new());
        }
        let (count, repos) = &mut *guard;
        if repos
            .entry(repository_id)
            .or_default()
            .insert(tag.to_string(), (Instant::now(), m.clone()))
            .is_none()
        {
            *count += 1;
        }
    }
    Ok(Some(m))
}
