//! IAM and STS rules, callable without HTTP: users, groups, roles, access keys,
//! inline and managed policies (validated with `stowage_policy`'s messages),
//! attachments, and AssumeRole (the caller's identity policies and the role's
//! trust policy, spec §5.3). Every change makes this node forget the identity
//! policies it cached.

use sha2::{Digest as _, Sha256};
use stowage_meta::{Entity, EntityKind, IdentityPolicy, ManagedPolicyRecord, MetaError};
use stowage_policy::{Context, Decision, Policy, PolicyKind, PolicySet, keys, managed};

use crate::AppState;
use crate::auth::Identity;
use crate::services::credentials::{self, NewKey};

/// The policy attached to administrators and to every user made before IAM.
pub const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
/// Long-term access keys a user may have at once (IAM's quota).
pub const MAX_ACCESS_KEYS: usize = 2;
/// AssumeRole's shortest session.
pub const MIN_SESSION_SECS: i64 = 900;
/// A role's maximum session duration unless it sets one.
pub const DEFAULT_MAX_SESSION_SECS: i64 = 3600;

/// Why an IAM or STS request failed; `Display` is IAM's message.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// How IAM names each kind in messages.
fn noun(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "user",
        EntityKind::Group => "group",
        EntityKind::Role => "role",
    }
}

fn no_such(kind: EntityKind, name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The {} with name {name} cannot be found.", noun(kind)))
}

/// Checks an IAM name (`[\w+=,.@-]+`, at most `max` characters).
pub fn validate_name(member: &str, name: &str, max: usize) -> Result<(), IamError> {
    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if name.is_empty() || !ok {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    if name.chars().count() > max {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

/// Checks an IAM path: `/`, or `/…/` of printable ASCII, at most 512 characters.
pub fn validate_path(path: &str) -> Result<(), IamError> {
    let ok = path == "/"
        || (path.len() >= 2
            && path.len() <= 512
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(IamError::Validation(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.".into(),
        ))
    }
}

/// `arn:aws:iam::<account>:<kind><path><name>`.
pub fn entity_arn(account_id: &str, kind: EntityKind, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:{}{path}{name}", kind.as_str())
}

/// The unique-id prefix of each kind (`AIDA…` users, `AGPA…` groups, `AROA…` roles).
fn id_prefix(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "AIDA",
        EntityKind::Group => "AGPA",
        EntityKind::Role => "AROA",
    }
}

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new unique id: the prefix and 17 random characters, as IAM's.
fn new_id(prefix: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let tail: String = (0..17)
        .map(|_| char::from(ID_CHARS[rng.random_range(0..ID_CHARS.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// A stable id derived from an ARN, for principals made before IAM and for
/// AWS-managed policies.
fn derived_id(prefix: &str, arn: &str) -> String {
    let hash = Sha256::digest(arn.as_bytes());
    let tail: String = hash
        .iter()
        .take(17)
        .map(|b| char::from(ID_CHARS[usize::from(*b) % ID_CHARS.len()]))
        .collect();
    format!("{prefix}{tail}")
}

/// The entity's unique id (`UserId`, `GroupId`, `RoleId`).
pub fn unique_id(e: &Entity) -> String {
    e.unique_id
        .clone()
        .unwrap_or_else(|| derived_id(id_prefix(e.kind), &e.arn))
}

/// Validates a document as an identity policy, with IAM's message.
pub fn validate_identity_policy(document: &str) -> Result<Policy, IamError> {
    Policy::parse(document, PolicyKind::Identity).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

/// Validates a role's trust policy (a resource policy).
pub fn validate_trust_policy(document: &str) -> Result<Policy, IamError> {
    Policy::parse(document, PolicyKind::Resource).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

/// Forgets cached identity policies on this node after any IAM change.
fn changed(state: &AppState) {
    state.policies.forget_principals();
}

/// What a new user, group or role is made with.
#[derive(Clone, Debug, Default)]
pub struct NewEntity {
    pub name: String,
    pub path: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Roles: the trust policy (required).
    pub trust_policy: Option<String>,
    pub description: Option<String>,
    /// Roles: maximum session duration in seconds (3600–43200).
    pub max_session_duration: Option<i64>,
}

/// Creates a user, group or role in the account.
pub async fn create_entity(
    state: &AppState,
    account_id: &str,
    kind: EntityKind,
    new: NewEntity,
) -> Result<Entity, IamError> {
    let member = match kind {
        EntityKind::User => "userName",
        EntityKind::Group => "groupName",
        EntityKind::Role => "roleName",
    };
    validate_name(member, &new.name, if kind == EntityKind::Group { 128 } else { 64 })?;
    let path = new.path.unwrap_or_else(|| "/".into());
    validate_path(&path)?;
    if let Some(doc) = &new.trust_policy {
        validate_trust_policy(doc)?;
    }
    if let Some(secs) = new.max_session_duration
        && !(3600..=43200).contains(&secs)
    {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{secs}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
        )));
    }
    let entity = Entity {
        arn: entity_arn(account_id, kind, &path, &new.name),
        account_id: account_id.to_string(),
        kind,
        name: new.name.clone(),
        path,
        unique_id: Some(new_id(id_prefix(kind))),
        created_at: stowage_meta::now_ms(),
        tags: new.tags,
        trust_policy: new.trust_policy,
        description: new.description,
        max_session_duration: new.max_session_duration,
    };
    match state.meta.create_entity(&entity).await {
        Ok(e) => Ok(e),
        Err(MetaError::EntityAlreadyExists(_)) => Err(IamError::EntityAlreadyExists(format!(
            "{} with name {} already exists.",
            capitalized(noun(kind)),
            new.name
        ))),
        Err(e) => Err(e.into()),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The account's user, group or role of this name, or `NoSuchEntity`.
pub async fn entity(state: &AppState, account_id: &str, kind: EntityKind, name: &str) -> Result<Entity, IamError> {
    state
        .meta
        .entity(account_id, kind, name)
        .await?
        .ok_or_else(|| no_such(kind, name))
}

/// The ARN a request about `name` is authorized on: the entity's own (with its
/// path) when it exists, else the path-less one.
pub async fn resource_arn(
    state: &AppState,
    account_id: &str,
    kind: EntityKind,
    name: &str,
) -> Result<String, IamError> {
    Ok(match state.meta.entity(account_id, kind, name).await? {
        Some(e) => e.arn,
        None => entity_arn(account_id, kind, "/", name),
    })
}

/// Deletes a user, group or role (`DeleteConflict` while it has keys, policies or members).
pub async fn delete_entity(state: &AppState, account_id: &str, kind: EntityKind, name: &str) -> Result<(), IamError> {
    let e = entity(state, account_id, kind, name).await?;
    match state.meta.delete_entity(&e.arn, kind).await {
        Ok(()) => {}
        Err(MetaError::DeleteConflict(m)) => return Err(IamError::DeleteConflict(m)),
        Err(MetaError::NoSuchEntity(_)) => return Err(no_such(kind, name)),
        Err(e) => return Err(e.into()),
    }
    changed(state);
    Ok(())
}

/// Who "the caller" is for user operations without `UserName`.
pub async fn calling_user(state: &AppState, caller: &Identity) -> Result<Entity, IamError> {
    match state.meta.entity_by_arn(&caller.principal_arn).await? {
        Some(e) if e.kind == EntityKind::User => Ok(e),
        _ => Err(IamError::Validation(
            "Must specify userName when calling with non-User credentials".into(),
        )),
    }
}

/// Creates a long-term access key for a user (at most [`MAX_ACCESS_KEYS`]).
pub async fn create_access_key(state: &AppState, user: &Entity) -> Result<(NewKey, i64), IamError> {
    if state.meta.list_access_keys(&user.arn).await?.len() >= MAX_ACCESS_KEYS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
        )));
    }
    let key = credentials::issue_key(state, &user.arn, None).await?;
    Ok((key, stowage_meta::now_ms()))
}

/// Deletes a user's access key.
pub async fn delete_access_key(state: &AppState, user: &Entity, id: &str) -> Result<(), IamError> {
    if !state.meta.delete_access_key(&user.arn, id).await? {
        return Err(IamError::NoSuchEntity(format!(
            "The Access Key with id {id} cannot be found."
        )));
    }
    Ok(())
}

/// Creates or replaces an inline policy of a user, group or role.
pub async fn put_inline_policy(state: &AppState, owner: &Entity, name: &str, document: &str) -> Result<(), IamError> {
    validate_name("policyName", name, 128)?;
    validate_identity_policy(document)?;
    state.meta.put_inline_policy(&owner.arn, name, document).await?;
    changed(state);
    Ok(())
}

/// An inline policy's document, or `NoSuchEntity`.
pub async fn inline_policy(state: &AppState, owner: &Entity, name: &str) -> Result<String, IamError> {
    state.meta.inline_policy(&owner.arn, name).await?.ok_or_else(|| {
        IamError::NoSuchEntity(format!(
            "The {} policy with name {name} cannot be found.",
            noun(owner.kind)
        ))
    })
}

/// Deletes an inline policy, or `NoSuchEntity`.
pub async fn delete_inline_policy(state: &AppState, owner: &Entity, name: &str) -> Result<(), IamError> {
    if !state.meta.delete_inline_policy(&owner.arn, name).await? {
        return Err(IamError::NoSuchEntity(format!(
            "The {} policy with name {name} cannot be found.",
            noun(owner.kind)
        )));
    }
    changed(state);
    Ok(())
}

/// A managed policy as IAM describes it: customer managed, or AWS-managed.
#[derive(Clone, Debug)]
pub struct PolicyView {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub path: String,
    pub description: Option<String>,
    pub document: String,
    pub attachment_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// When AWS-managed policies are said to be created (a fixed date, as AWS's are).
const AWS_MANAGED_CREATED: i64 = 1_423_180_800_000; // 2015-02-06

fn view_customer(p: ManagedPolicyRecord) -> PolicyView {
    PolicyView {
        name: p.name,
        arn: p.arn,
        id: p.policy_id,
        path: p.path,
        description: p.description,
        document: p.document,
        attachment_count: p.attachment_count,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

async fn view_aws(state: &AppState, p: &managed::ManagedPolicy) -> Result<PolicyView, IamError> {
    Ok(PolicyView {
        name: p.name.to_string(),
        arn: p.arn.to_string(),
        id: derived_id("ANPA", p.arn),
        path: "/".into(),
        description: Some(p.description.to_string()),
        document: p.document.to_string(),
        attachment_count: state.meta.attachment_count(p.arn).await?,
        created_at: AWS_MANAGED_CREATED,
        updated_at: AWS_MANAGED_CREATED,
    })
}

/// Creates a customer managed policy, `arn:aws:iam::<account>:policy<path><name>`.
pub async fn create_policy(
    state: &AppState,
    account_id: &str,
    name: &str,
    path: Option<&str>,
    document: &str,
    description: Option<&str>,
) -> Result<PolicyView, IamError> {
    validate_name("policyName", name, 128)?;
    let path = path.unwrap_or("/");
    validate_path(path)?;
    validate_identity_policy(document)?;
    let now = stowage_meta::now_ms();
    let record = ManagedPolicyRecord {
        arn: format!("arn:aws:iam::{account_id}:policy{path}{name}"),
        account_id: account_id.to_string(),
        name: name.to_string(),
        path: path.to_string(),
        policy_id: new_id("ANPA"),
        description: description.map(str::to_string),
        document: document.to_string(),
        created_at: now,
        updated_at: now,
        attachment_count: 0,
    };
    match state.meta.create_managed_policy(&record).await {
        Ok(p) => Ok(view_customer(p)),
        Err(MetaError::EntityAlreadyExists(_)) => Err(IamError::EntityAlreadyExists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A managed policy the account can see (its own or AWS's), or `NoSuchEntity`.
pub async fn policy(state: &AppState, account_id: &str, arn: &str) -> Result<PolicyView, IamError> {
    if let Some(p) = managed::by_arn(arn) {
        return view_aws(state, p).await;
    }
    match state.meta.managed_policy(arn).await? {
        Some(p) if p.account_id == account_id => Ok(view_customer(p)),
        _ => Err(IamError::NoSuchEntity(format!("Policy {arn} was not found."))),
    }
}

/// Deletes a customer managed policy (`DeleteConflict` while attached).
pub async fn delete_policy(state: &AppState, account_id: &str, arn: &str) -> Result<(), IamError> {
    if managed::by_arn(arn).is_some() {
        return Err(IamError::InvalidInput(format!(
            "Cannot delete policy {arn}: AWS managed policies cannot be deleted."
        )));
    }
    policy(state, account_id, arn).await?;
    match state.meta.delete_managed_policy(arn).await {
        Ok(()) => Ok(()),
        Err(MetaError::DeleteConflict(m)) => Err(IamError::DeleteConflict(m)),
        Err(MetaError::NoSuchEntity(_)) => Err(IamError::NoSuchEntity(format!("Policy {arn} was not found."))),
        Err(e) => Err(e.into()),
    }
}

/// Which policies ListPolicies returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Aws,
    Local,
}

/// The managed policies the account sees, AWS's first, then its own by name.
pub async fn list_policies(
    state: &AppState,
    account_id: &str,
    scope: Scope,
    only_attached: bool,
    path_prefix: &str,
) -> Result<Vec<PolicyView>, IamError> {
    let mut out = Vec::new();
    if scope != Scope::Local {
        for p in managed::ALL.iter() {
            out.push(view_aws(state, p).await?);
        }
    }
    if scope != Scope::Aws {
        out.extend(
            state
                .meta
                .list_managed_policies(account_id, path_prefix)
                .await?
                .into_iter()
                .map(view_customer),
        );
    }
    out.retain(|p| p.path.starts_with(path_prefix) && (!only_attached || p.attachment_count > 0));
    Ok(out)
}

/// Attaches a managed policy (the account's own or AWS's) to a user, group or role.
pub async fn attach_policy(state: &AppState, owner: &Entity, policy_arn: &str) -> Result<(), IamError> {
    let attachable = managed::by_arn(policy_arn).is_some()
        || state
            .meta
            .managed_policy(policy_arn)
            .await?
            .is_some_and(|p| p.account_id == owner.account_id);
    if !attachable {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {policy_arn} does not exist or is not attachable."
        )));
    }
    state.meta.attach_policy(&owner.arn, policy_arn).await?;
    changed(state);
    Ok(())
}

/// Detaches a managed policy, or `NoSuchEntity` if it was not attached.
pub async fn detach_policy(state: &AppState, owner: &Entity, policy_arn: &str) -> Result<(), IamError> {
    if !state.meta.detach_policy(&owner.arn, policy_arn).await? {
        return Err(IamError::NoSuchEntity(format!("Policy {policy_arn} was not found.")));
    }
    changed(state);
    Ok(())
}

/// The (name, ARN) of each managed policy attached to an entity.
pub async fn attached_policies(state: &AppState, owner: &Entity) -> Result<Vec<(String, String)>, IamError> {
    Ok(state
        .meta
        .attached_policies(&owner.arn)
        .await?
        .into_iter()
        .map(|arn| (arn.rsplit('/').next().unwrap_or(&arn).to_string(), arn))
        .collect())
}

/// Adds a user to a group.
pub async fn add_user_to_group(state: &AppState, group: &Entity, user: &Entity) -> Result<(), IamError> {
    state.meta.add_group_member(&group.arn, &user.arn).await?;
    changed(state);
    Ok(())
}

/// Removes a user from a group, or `NoSuchEntity` if it was not a member.
pub async fn remove_user_from_group(state: &AppState, group: &Entity, user: &Entity) -> Result<(), IamError> {
    if !state.meta.remove_group_member(&group.arn, &user.arn).await? {
        return Err(IamError::NoSuchEntity(format!(
            "User {} is not in group {}.",
            user.name, group.name
        )));
    }
    changed(state);
    Ok(())
}

/// Parses stored identity policies; one that no longer parses (or names an
/// unknown AWS-managed policy) is skipped and logged, never half-applied.
pub fn parse_identity_policies(stored: &[IdentityPolicy]) -> Vec<Policy> {
    stored
        .iter()
        .filter_map(|p| {
            let parsed = match p {
                IdentityPolicy::Inline { document, .. }
                | IdentityPolicy::Managed {
                    document: Some(document),
                    ..
                } => Policy::parse(document, PolicyKind::Identity).ok(),
                IdentityPolicy::Managed { arn, document: None } => managed::by_arn(arn).map(|m| m.policy().clone()),
            };
            if parsed.is_none() {
                tracing::warn!(policy = ?p, "ignoring a stored identity policy that does not parse");
            }
            parsed
        })
        .collect()
}

/// `GetCallerIdentity`: (UserId, Account, Arn).
pub async fn caller_identity(state: &AppState, caller: &Identity) -> Result<(String, String, String), IamError> {
    let arn = &caller.principal_arn;
    let user_id = if let Some((role, session)) = assumed_role_parts(arn) {
        match state.meta.entity(&caller.account_id, EntityKind::Role, role).await? {
            Some(r) => format!("{}:{session}", unique_id(&r)),
            None => format!("{}:{session}", derived_id("AROA", arn)),
        }
    } else {
        match state.meta.entity_by_arn(arn).await? {
            Some(e) => unique_id(&e),
            None => derived_id("AIDA", arn),
        }
    };
    Ok((user_id, caller.account_id.clone(), arn.clone()))
}

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → (role, session).
fn assumed_role_parts(arn: &str) -> Option<(&str, &str)> {
    let (_, resource) = arn.strip_prefix("arn:aws:sts::")?.split_once(':')?;
    resource.strip_prefix("assumed-role/")?.split_once('/')
}

/// What AssumeRole asks for.
#[derive(Clone, Debug)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_secs: Option<i64>,
    /// An inline session policy.
    pub policy: Option<String>,
}

/// What AssumeRole returns.
#[derive(Clone, Debug)]
pub struct AssumedRole {
    pub key: NewKey,
    /// Epoch milliseconds.
    pub expires_at: i64,
    /// `<RoleId>:<session>`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
    pub arn: String,
}

/// AssumeRole: the role's trust policy must allow the caller, and — unless it
/// names the caller itself in the role's own account — so must the caller's
/// identity policies (both across accounts, spec §5.3).
pub async fn assume_role(
    state: &AppState,
    caller: &Identity,
    caller_key: &str,
    req: AssumeRole,
) -> Result<AssumedRole, IamError> {
    let name = &req.session_name;
    let name_ok =
        (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !name_ok {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let session_policy = req.policy.as_deref().map(validate_identity_policy).transpose()?;

    let denied = |decision: &Decision| {
        IamError::AccessDenied(
            stowage_policy::denial_message(&caller.principal_arn, "sts:AssumeRole", &req.role_arn, decision)
                .unwrap_or_else(|| {
                    format!(
                        "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                        caller.principal_arn, req.role_arn
                    )
                }),
        )
    };
    let missing = Decision::ImplicitDeny {
        missing: stowage_policy::PolicyType::Resource,
    };
    // A role that does not exist is indistinguishable from one that does not trust the caller.
    let role = match role_by_arn(state, &req.role_arn).await? {
        Some(r) => r,
        None => return Err(denied(&missing)),
    };
    let trust = match role.trust_policy.as_deref().map(validate_trust_policy) {
        Some(Ok(p)) => p,
        _ => return Err(denied(&missing)),
    };

    let principal = match assumed_role_parts(&caller.principal_arn) {
        Some((role_name, _)) => {
            let role_arn = match state
                .meta
                .entity(&caller.account_id, EntityKind::Role, role_name)
                .await?
            {
                Some(r) => r.arn,
                None => entity_arn(&caller.account_id, EntityKind::Role, "/", role_name),
            };
            stowage_policy::Principal::assumed_role(&caller.principal_arn, &role_arn)
        }
        None => stowage_policy::Principal::from_arn(&caller.principal_arn),
    }
    .unwrap_or_else(|| {
        stowage_policy::Principal::new(
            &caller.principal_arn,
            &caller.account_id,
            stowage_policy::PrincipalKind::User,
        )
    });
    let now = stowage_meta::now_ms();
    let context = Context::new()
        .with_principal(&principal)
        .with(keys::EPOCH_TIME, (now / 1000).to_string())
        .with(keys::CURRENT_TIME, crate::iam::xml::date(now))
        .with(keys::REQUESTED_REGION, state.config.region.clone());
    let identity = parse_identity_policies(&state.meta.identity_policies(&caller.principal_arn).await?);
    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let caller_session = state
        .meta
        .session_policy(caller_key)
        .await?
        .and_then(|p| Policy::parse(&p, PolicyKind::Identity).ok());
    let request = stowage_policy::Request {
        principal: &principal,
        action: "sts:AssumeRole",
        resource: &role.arn,
        resource_account: &role.account_id,
        context: &context,
    };
    let decision = stowage_policy::evaluate(
        &request,
        &PolicySet {
            identity: &identity_refs,
            resource: Some(&trust),
            registry: None,
            session: caller_session.as_ref(),
        },
    );
    if !decision.is_allow() {
        return Err(denied(&decision));
    }
    // Within an account an identity allow alone is not enough for a role: its
    // trust policy must name the caller or its account. Evaluated as if across
    // accounts with an allow-all identity, the trust policy decides alone.
    let allow_all = managed::ADMINISTRATOR_ACCESS.policy();
    let elsewhere = if role.account_id == "000000000000" {
        "000000000001"
    } else {
        "000000000000"
    };
    let trust_only = stowage_policy::evaluate(
        &stowage_policy::Request {
            resource_account: if principal.account == role.account_id {
                elsewhere
            } else {
                &role.account_id
            },
            ..request
        },
        &PolicySet {
            identity: &[allow_all],
            resource: Some(&trust),
            ..Default::default()
        },
    );
    if !trust_only.is_allow() {
        return Err(denied(&missing));
    }

    let max = role.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_SECS);
    let duration = req.duration_secs.unwrap_or(DEFAULT_MAX_SESSION_SECS.min(max));
    if !(MIN_SESSION_SECS..=43200).contains(&duration) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between {MIN_SESSION_SECS} and 43200"
        )));
    }
    if duration > max {
        return Err(IamError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
        ));
    }
    let session_arn = format!(
        "arn:aws:sts::{}:assumed-role/{}/{}",
        role.account_id, role.name, req.session_name
    );
    let key = credentials::issue_session_key(
        state,
        &role.arn,
        &session_arn,
        duration,
        session_policy.and(req.policy.as_deref()),
    )
    .await?;
    Ok(AssumedRole {
        expires_at: now + duration * 1000,
        assumed_role_id: format!("{}:{}", unique_id(&role), req.session_name),
        arn: session_arn,
        key,
    })
}

/// The role a `RoleArn` names (its path included), if it exists.
async fn role_by_arn(state: &AppState, arn: &str) -> Result<Option<Entity>, IamError> {
    let Some((account, resource)) = arn.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(':')) else {
        return Ok(None);
    };
    let Some(name) = resource.strip_prefix("role/").and_then(|r| r.rsplit('/').next()) else {
        return Ok(None);
    };
    Ok(state
        .meta
        .entity(account, EntityKind::Role, name)
        .await?
        .filter(|r| r.arn == arn))
}

/// Creates another account with an administrator user (AdministratorAccess)
/// and returns the administrator's access key.
pub async fn create_account(state: &AppState, account_id: &str, admin: &str) -> Result<NewKey, IamError> {
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IamError::Validation(format!(
            "account id '{account_id}' is not 12 digits"
        )));
    }
    if state.meta.entity(account_id, EntityKind::User, admin).await?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "account {account_id} already has a user named {admin}"
        )));
    }
    state.meta.ensure_account(account_id).await?;
    let user = create_entity(
        state,
        account_id,
        EntityKind::User,
        NewEntity {
            name: admin.to_string(),
            ..Default::default()
        },
    )
    .await?;
    state.meta.attach_policy(&user.arn, ADMINISTRATOR_ACCESS).await?;
    changed(state);
    Ok(credentials::issue_key(state, &user.arn, None).await?)
}
