//! The per-node caches of facts another node may change (policies, key
//! state and material): entries expire after a fixed time, so staleness is
//! bounded, and a cache that grows past its size is emptied.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached entry is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// Entries kept per cache before it is emptied.
const MAX_ENTRIES: usize = 10_000;

/// A small map whose entries expire after [`TTL`].
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The entry, if it is younger than [`TTL`].
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for [`TTL`].
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops one entry (this node just changed what it caches).
    pub fn forget(&self, key: &K) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Drops every entry whose key matches.
    pub fn forget_where(&self, mut matches: impl FnMut(&K) -> bool) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !matches(k));
    }
}
