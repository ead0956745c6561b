//! Repository lookups with a short-lived cache: every registry request resolves
//! its repository, and a manifest GET should cost one query, not two.
//!
//! Entries live for [`TTL`]; this node drops an entry as soon as it changes or
//! deletes the repository, so another node sees such a change within `TTL`.
//! Misses are not cached, so a repository created elsewhere is seen at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use stowage_meta::{MetaError, Repository};

use crate::AppState;

/// How long a looked-up repository is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// Entries kept before the cache is emptied.
const MAX_ENTRIES: usize = 10_000;

type Key = (String, String);

/// Recently looked-up repositories by account and name.
#[derive(Default)]
pub struct RepositoryCache {
    entries: Mutex<HashMap<Key, (Instant, Repository)>>,
}

impl RepositoryCache {
    /// Forgets a repository (after this node changed or deleted it).
    pub fn invalidate(&self, account_id: &str, name: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(account_id.to_string(), name.to_string()));
    }
}

/// The repository `name` of the account, from the cache when fresh.
pub async fn lookup(state: &AppState, account_id: &str, name: &str) -> Result<Option<Repository>, MetaError> {
    let key = (account_id.to_string(), name.to_string());
    if let Some((at, repo)) = state
        .repositories
        .entries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        && at.elapsed() < TTL
    {
        return Ok(Some(repo.clone()));
    }
    let repo = state.meta.repository(account_id, name).await?;
    if let Some(r) = &repo {
        let mut entries = state.repositories.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), r.clone()));
    }
    Ok(repo)
}
