//! The one authorization decision every request on every plane asks for: the
//! caller's identity policies, the target repository's policy and the target
//! account's registry policy go to `stowage_policy::evaluate` with the request's
//! condition keys (spec §5.3-§5.5).
//!
//! Parsed policies are cached for [`TTL`], like repository lookups: this node
//! forgets an entry as soon as it changes it, another node sees a change
//! within `TTL`.

use std::net::IpAddr;
use std::sync::Arc;

use stowage_meta::{MetaError, Repository};
use stowage_policy::{Context, Decision, Policy, PolicySet, keys};

use crate::AppState;
use crate::auth::{AuthError, Identity, Principal, Resource};

/// How long loaded policies are reused.
pub use super::ttl_cache::TTL;
use super::ttl_cache::TtlCache;

/// What a request tells the evaluator beyond who, what and on which resource.
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    /// The client's address (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Tags the request sets (`aws:RequestTag/…`).
    pub request_tags: Vec<(String, String)>,
    /// Tag keys the request names (`aws:TagKeys`).
    pub tag_keys: Vec<String>,
    /// When the caller's temporary credentials were issued, epoch seconds (`aws:TokenIssueTime`).
    pub token_issued_at: Option<i64>,
}

/// Request extension the server adds to every request that arrived over TLS
/// (`aws:SecureTransport` is `"true"` with it, `"false"` without).
#[derive(Clone, Copy, Debug)]
pub struct SecureTransport;

impl RequestFacts {
    /// Facts known from the connection: the peer address (when the server was
    /// started with connect info) and whether it is TLS ([`SecureTransport`]).
    pub fn from_extensions(ext: &http::Extensions) -> Self {
        RequestFacts {
            source_ip: ext
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
            secure_transport: ext.get::<SecureTransport>().is_some(),
            ..Default::default()
        }
    }
}

/// What the evaluator needs of a repository: its policy and resource tags.
#[derive(Clone, Default)]
struct RepositoryFacts {
    policy: Option<Arc<Policy>>,
    tags: Arc<Vec<(String, String)>>,
}

/// What the evaluator needs of the caller: its policies, tags and unique id.
#[derive(Default)]
struct IdentityFacts {
    policies: Vec<Policy>,
    /// The user's tags, or the role's for a role session (`aws:PrincipalTag/…`).
    tags: Vec<(String, String)>,
    /// `AIDA…` / `AROA…` (`aws:userid`).
    unique_id: Option<String>,
}

/// Recently loaded policies.
#[derive(Default)]
pub struct PolicyCache {
    identities: TtlCache<String, Arc<IdentityFacts>>,
    sessions: TtlCache<String, Option<Arc<Policy>>>,
    repositories: TtlCache<i64, RepositoryFacts>,
    registries: TtlCache<String, Option<Arc<Policy>>>,
}

impl PolicyCache {
    /// Forgets a principal's identity policies (after an IAM change on this node).
    pub fn forget_principal(&self, principal_arn: &str) {
        self.identities.forget(&principal_arn.to_string());
    }

    /// Forgets every principal's identity policies (after a group or managed-policy change).
    pub fn forget_principals(&self) {
        self.identities.forget_where(|_| true);
    }

    /// Forgets a repository's policy and tags (after a change on this node).
    pub fn forget_repository(&self, repository_id: i64) {
        self.repositories.forget(&repository_id);
    }

    /// Forgets an account's registry policy (after a change on this node).
    pub fn forget_registry(&self, account_id: &str) {
        self.registries.forget(&account_id.to_string());
    }
}

/// Decides whether `principal` may perform `action` (`ecr:PutImage`,
/// `iam:CreateUser`, …) on `resource`; the error carries AWS's denial message.
pub async fn authorize(
    state: &AppState,
    principal: &Principal,
    action: &str,
    resource: Resource<'_>,
    facts: &RequestFacts,
) -> Result<(), AuthError> {
    let mut caller = policy_principal(principal);
    let identity = match principal {
        Principal::Anonymous => Arc::new(IdentityFacts::default()),
        Principal::Authenticated(id) => identity_facts(state, &id.principal_arn).await?,
    };
    for (k, v) in &identity.tags {
        caller = caller.with_tag(k, v);
    }
    let session = match principal {
        Principal::Authenticated(Identity {
            session_key: Some(key), ..
        }) => session_policy(state, key).await?,
        _ => None,
    };
    let repository = match resource.repository {
        Some(repo) => repository_facts(state, repo).await?,
        None => RepositoryFacts::default(),
    };
    let registry = registry_policy(state, resource.account_id).await?;

    // Condition keys are only read by conditions: most requests meet none.
    let conditional = identity
        .policies
        .iter()
        .chain(repository.policy.as_deref())
        .chain(registry.as_deref())
        .chain(session.as_deref())
        .any(has_conditions);
    let mut context = if conditional {
        context(state, &caller, &repository, facts)
    } else {
        Context::new()
    };
    if conditional && let Some(id) = &identity.unique_id {
        context.set(keys::USERID, id.clone());
    }
    let resource_account = if resource.arn == "*" {
        principal_account(principal).unwrap_or(resource.account_id)
    } else {
        resource.account_id
    };
    let identity_refs: Vec<&Policy> = identity.policies.iter().collect();
    let request = stowage_policy::Request {
        principal: &caller,
        action,
        resource: resource.arn,
        resource_account,
        context: &context,
    };
    let set = PolicySet {
        identity: &identity_refs,
        resource: repository.policy.as_deref(),
        registry: registry.as_deref(),
        session: session.as_deref(),
    };
    let decision = stowage_policy::evaluate(&request, &set);
    crate::services::audit::authorized(principal, action, &resource, decision == Decision::Allow);
    if decision == Decision::Allow {
        return Ok(());
    }
    let message = stowage_policy::denial_message(&caller_arn(principal), action, resource.arn, &decision)
        .unwrap_or_else(|| format!("not authorized to perform: {action}"));
    tracing::debug!(principal = %caller_arn(principal), action, resource = resource.arn, "denied");
    Err(AuthError::Denied { message })
}

/// Whether any statement of the policy has a condition.
fn has_conditions(policy: &Policy) -> bool {
    policy.statements.iter().any(|st| !st.conditions.is_empty())
}

/// The caller as the policy language sees it.
fn policy_principal(principal: &Principal) -> stowage_policy::Principal {
    match principal {
        Principal::Anonymous => stowage_policy::Principal::anonymous(),
        Principal::Authenticated(id) => stowage_policy::Principal::from_arn(&id.principal_arn).unwrap_or_else(|| {
            stowage_policy::Principal::new(&id.principal_arn, &id.account_id, stowage_policy::PrincipalKind::User)
        }),
    }
}

/// Would `policy`, set on the repository `repository_arn`, explicitly deny the
/// caller `ecr:SetRepositoryPolicy` there (locking them out of changing it)?
pub fn would_lock_out(state: &AppState, principal: &Principal, policy: &Policy, repository_arn: &str) -> bool {
    let caller = policy_principal(principal);
    let context = context(state, &caller, &RepositoryFacts::default(), &RequestFacts::default());
    stowage_policy::would_lock_out(policy, &caller, repository_arn, &context)
}

fn principal_account(principal: &Principal) -> Option<&str> {
    match principal {
        Principal::Anonymous => None,
        Principal::Authenticated(id) => Some(&id.account_id),
    }
}

fn caller_arn(principal: &Principal) -> String {
    principal.arn().to_string()
}

/// The condition keys of the request (§5.5).
fn context(
    state: &AppState,
    caller: &stowage_policy::Principal,
    repo: &RepositoryFacts,
    facts: &RequestFacts,
) -> Context {
    let now = stowage_meta::now_ms();
    let mut ctx = Context::new().with_principal(caller);
    ctx.set(keys::CURRENT_TIME, rfc3339(now / 1000));
    ctx.set(keys::EPOCH_TIME, (now / 1000).to_string());
    ctx.set(keys::REQUESTED_REGION, state.config.region.clone());
    ctx.set(keys::SECURE_TRANSPORT, facts.secure_transport.to_string());
    ctx.set(keys::MULTI_FACTOR_AUTH_PRESENT, "false");
    if let Some(ip) = facts.source_ip {
        ctx.set(keys::SOURCE_IP, ip.to_string());
    }
    if let Some(at) = facts.token_issued_at {
        ctx.set(keys::TOKEN_ISSUE_TIME, rfc3339(at));
    }
    for (k, v) in repo.tags.iter() {
        ctx.set(&format!("{}{k}", keys::RESOURCE_TAG_PREFIX), v.clone());
        ctx.set(&format!("{}{k}", keys::ECR_RESOURCE_TAG_PREFIX), v.clone());
    }
    for (k, v) in &facts.request_tags {
        ctx.set(&format!("{}{k}", keys::REQUEST_TAG_PREFIX), v.clone());
    }
    if !facts.tag_keys.is_empty() {
        ctx.set_many(keys::TAG_KEYS, facts.tag_keys.iter().cloned());
    }
    ctx
}

/// `YYYY-MM-DDTHH:MM:SSZ` of epoch seconds.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses a stored policy; one that no longer parses is skipped (and logged),
/// never half-applied.
fn parse_stored(text: &str, kind: stowage_policy::PolicyKind, what: &str) -> Option<Policy> {
    match Policy::parse(text, kind) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(policy = what, error = %e, "ignoring a stored policy that does not parse");
            None
        }
    }
}

/// The caller's identity policies, tags and unique id.
async fn identity_facts(state: &AppState, principal_arn: &str) -> Result<Arc<IdentityFacts>, MetaError> {
    let key = principal_arn.to_string();
    if let Some(hit) = state.policies.identities.get(&key) {
        return Ok(hit);
    }
    let stored = state.meta.identity_policies(principal_arn).await?;
    // A role session is described by its role.
    let entity_arn = match stowage_policy::Principal::from_arn(principal_arn).map(|p| p.kind) {
        Some(stowage_policy::PrincipalKind::AssumedRole { role_arn }) => role_arn,
        _ => principal_arn.to_string(),
    };
    let entity = state.meta.entity_by_arn(&entity_arn).await?;
    let loaded = Arc::new(IdentityFacts {
        policies: crate::services::iam::parse_identity_policies(&stored),
        tags: entity.as_ref().map(|e| e.tags.clone()).unwrap_or_default(),
        unique_id: entity.and_then(|e| e.unique_id),
    });
    state.policies.identities.put(key, loaded.clone());
    Ok(loaded)
}

/// The session policy AssumeRole was given for these temporary credentials, if any.
async fn session_policy(state: &AppState, access_key_id: &str) -> Result<Option<Arc<Policy>>, MetaError> {
    let key = access_key_id.to_string();
    if let Some(hit) = state.policies.sessions.get(&key) {
        return Ok(hit);
    }
    let policy = state
        .meta
        .session_policy(access_key_id)
        .await?
        .and_then(|t| parse_stored(&t, stowage_policy::PolicyKind::Identity, access_key_id))
        .map(Arc::new);
    state.policies.sessions.put(key, policy.clone());
    Ok(policy)
}

async fn repository_facts(state: &AppState, repo: &Repository) -> Result<RepositoryFacts, MetaError> {
    if let Some(hit) = state.policies.repositories.get(&repo.id) {
        return Ok(hit);
    }
    let policy = state
        .meta
        .repository_policy(repo.id)
        .await?
        .and_then(|t| parse_stored(&t, stowage_policy::PolicyKind::Resource, &repo.name))
        .map(Arc::new);
    let tags = Arc::new(state.meta.resource_tags(repo.id).await?);
    let facts = RepositoryFacts { policy, tags };
    state.policies.repositories.put(repo.id, facts.clone());
    Ok(facts)
}

async fn registry_policy(state: &AppState, account_id: &str) -> Result<Option<Arc<Policy>>, MetaError> {
    let key = account_id.to_string();
    if let Some(hit) = state.policies.registries.get(&key) {
        return Ok(hit);
    }
    let policy = state
        .meta
        .registry_policy(account_id)
        .await?
        .and_then(|t| parse_stored(&t, stowage_policy::PolicyKind::Resource, account_id))
        .map(Arc::new);
    state.policies.registries.put(key, policy.clone());
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_241_691), "2025-11-27T11:08:11Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
