//! The state every handler receives: configuration, metadata, blobs, metrics.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stowage_meta::Meta;
use stowage_store::BlobStore;
use uuid::Uuid;

use crate::keys::{MasterKey, TokenKeyCache};
use crate::ops::Metrics;

/// Settings the server needs at run time.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The registry's account id (12 digits).
    pub account_id: String,
    /// The region in ARNs and SigV4 scopes.
    pub region: String,
    /// What users `docker tag` with: `http(s)://host[:port]`, no trailing slash.
    pub public_url: String,
    /// The public registry's URL (ECR Public, on its own listener), when served.
    pub public_registry_url: Option<String>,
    /// Timing of background work.
    pub housekeeping: Housekeeping,
}

/// When background work runs and how long garbage waits.
#[derive(Clone, Copy, Debug)]
pub struct Housekeeping {
    /// Between lifecycle-policy runs.
    pub lifecycle_interval: Duration,
    /// Between garbage-collection passes.
    pub gc_interval: Duration,
    /// How long an unreferenced blob waits before it may be deleted.
    pub gc_grace: Duration,
    /// How long an idle upload is kept.
    pub upload_ttl: Duration,
    /// How often an idle node looks for scans to run.
    pub scan_poll: Duration,
}

impl Default for Housekeeping {
    fn default() -> Self {
        Housekeeping {
            lifecycle_interval: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(600),
            gc_grace: Duration::from_secs(24 * 3600),
            upload_ttl: Duration::from_secs(24 * 3600),
            scan_poll: Duration::from_secs(1),
        }
    }
}

impl ServerConfig {
    /// `host[:port]` of the public URL (the `repositoryUri` prefix).
    pub fn registry_host(&self) -> &str {
        self.public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, h)| h)
    }

    /// `host[:port]` of the public registry (ECR Public `repositoryUri` prefix);
    /// the private registry's when no public listener is configured.
    pub fn public_registry_host(&self) -> &str {
        match &self.public_registry_url {
            Some(url) => url.split_once("://").map_or(url.as_str(), |(_, h)| h),
            None => self.registry_host(),
        }
    }
}

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: ServerConfig,
    pub meta: Meta,
    pub store: Arc<dyn BlobStore>,
    pub metrics: Metrics,
    /// Seals secrets kept in metadata.
    pub master_key: MasterKey,
    /// The registry token MAC key, cached.
    pub token_keys: TokenKeyCache,
    /// Recent pull-time writes.
    pub pulls: crate::services::pulls::PullRecorder,
    /// Recently looked-up repositories.
    pub repositories: crate::services::repositories::RepositoryCache,
    /// Recently served manifests by tag.
    pub tag_cache: crate::services::tag_cache::TagCache,
    /// Recently loaded policies.
    pub policies: crate::services::authz::PolicyCache,
    /// Audit entries on their way to the database.
    pub audit: crate::services::audit::AuditQueue,
    /// Recently read key-service keys and their material.
    pub kms_keys: crate::services::kms::KeyCache,
    /// Upload sessions with a request in flight on this node.
    busy_uploads: Mutex<HashSet<Uuid>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Assembles the state.
    pub fn new(config: ServerConfig, meta: Meta, store: Arc<dyn BlobStore>, master_key: MasterKey) -> Self {
        AppState(Arc::new(Inner {
            config,
            meta,
            store,
            metrics: Metrics::new(),
            master_key,
            token_keys: TokenKeyCache::default(),
            pulls: Default::default(),
            repositories: Default::default(),
            tag_cache: Default::default(),
            policies: Default::default(),
            audit: Default::default(),
            kms_keys: Default::default(),
            busy_uploads: Mutex::new(HashSet::new()),
        }))
    }
}

impl Inner {
    /// Marks an upload busy for the life of the returned guard; `None` if a
    /// request on it is already in flight.
    pub fn claim_upload(&self, id: Uuid) -> Option<UploadGuard<'_>> {
        let mut busy = self.busy_uploads.lock().unwrap_or_else(|e| e.into_inner());
        busy.insert(id).then_some(UploadGuard {
            set: &self.busy_uploads,
            id,
        })
    }
}

/// Releases an upload claimed with [`Inner::claim_upload`] when dropped.
pub struct UploadGuard<'a> {
    set: &'a Mutex<HashSet<Uuid>>,
    id: Uuid,
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}
