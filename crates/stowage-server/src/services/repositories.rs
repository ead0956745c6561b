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

/// Which registry a repository lives in: the private one (ECR) or the public one
/// (ECR Public). The two are separate namespaces; a name may exist in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Namespace {
    #[default]
    Private,
    Public,
}

impl Namespace {
    /// A repository's ARN: `arn:aws:ecr:<region>:…` or `arn:aws:ecr-public::…`.
    pub fn repository_arn(self, region: &str, account_id: &str, name: &str) -> String {
        match self {
            Namespace::Private => crate::auth::repository_arn(region, account_id, name),
            Namespace::Public => format!("arn:aws:ecr-public::{account_id}:repository/{name}"),
        }
    }

    /// The IAM action of an ECR operation in this namespace: `ecr:<op>` or `ecr-public:<op>`.
    pub fn action(self, action: crate::auth::Action) -> String {
        match self {
            Namespace::Private => action.as_str().to_string(),
            Namespace::Public => action.as_str().replacen("ecr:", "ecr-public:", 1),
        }
    }
}

type Key = (Namespace, String, String);

/// Recently looked-up repositories by account and name.
#[derive(Default)]
pub struct RepositoryCache {
    entries: Mutex<HashMap<Key, (Instant, Repository)>>,
}

impl RepositoryCache {
    /// Forgets a private repository (after this node changed or deleted it).
    pub fn invalidate(&self, account_id: &str, name: &str) {
        self.invalidate_in(Namespace::Private, account_id, name);
    }

    /// Forgets a repository of the namespace (after this node changed or deleted it).
    pub fn invalidate_in(&self, ns: Namespace, account_id: &str, name: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(ns, account_id.to_string(), name.to_string()));
    }
}

/// The private repository `name` of the account, from the cache when fresh.
pub async fn lookup(state: &AppState, account_id: &str, name: &str) -> Result<Option<Repository>, MetaError> {
    lookup_in(state, Namespace::Private, account_id, name).await
}

/// The repository `name` of the account in the namespace, from the cache when fresh.
pub async fn lookup_in(
    state: &AppState,
    ns: Namespace,
    account_id: &str,
    name: &str,
) -> Result<Option<Repository>, MetaError> {
    let key = (ns, account_id.to_string(), name.to_string());
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
    let repo = match ns {
        Namespace::Private => state.meta.repository(account_id, name).await?,
        Namespace::Public => state.meta.public_repository(account_id, name).await?,
    };
    if let Some(r) = &repo {
        let mut entries = state.repositories.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), r.clone()));
    }
    Ok(repo)
}
