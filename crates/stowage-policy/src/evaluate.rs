//! The one evaluator (spec §5.3): given a request and the policies that apply to
//! it, allow or deny — and say why, in AWS's terms.
//!
//! 1. An applicable `Deny` statement in any policy wins (identity policies are
//!    checked first, then the repository and registry policies, then the session
//!    policy; the first found names the denial).
//! 2. Anonymous callers and service principals have no identity policies: only a
//!    repository/registry statement whose principal names them (`*`, or for
//!    anonymous callers also `{"AWS": "*"}`) can allow.
//! 3. Same account: an identity allow, or a repository/registry allow that names the
//!    caller (its ARN, its role, `*`), is enough. Naming only the caller's account
//!    delegates to identity policies and adds nothing. The account's root is allowed.
//! 4. Across accounts: both an identity allow in the caller's account (implicit for
//!    its root) and a repository/registry allow naming the caller (its account, its
//!    ARN, its role, or `*`).
//! 5. A session policy, when present, must also allow — except for a resource-policy
//!    allow naming the session's own `assumed-role` ARN, which AWS documents as not
//!    limited by the session policy.
//!
//! Permissions boundaries and organization policies (SCPs) are not modelled.

use crate::context::Context;
use crate::document::{Clause, Effect, Policy, Statement};
use crate::matching::{action_matches, resource_matches};
use crate::principal::{Grant, Principal, PrincipalKind};

/// The action that the lock-out check of SetRepositoryPolicy protects.
pub const SET_REPOSITORY_POLICY: &str = "ecr:SetRepositoryPolicy";

/// One authorization question: may `principal` perform `action` on `resource`?
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `service:Operation`, e.g. `ecr:PutImage`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions that are not resource-scoped
    /// (`ecr:GetAuthorizationToken`, registry-level operations).
    pub resource: &'a str,
    /// The account owning the resource; for `*` resources, the caller's own account.
    pub resource_account: &'a str,
    pub context: &'a Context,
}

/// The policies that apply to a request.
#[derive(Clone, Copy, Debug, Default)]
pub struct PolicySet<'a> {
    /// The caller's identity policies: inline, attached managed, and (for users)
    /// its groups' policies.
    pub identity: &'a [&'a Policy],
    /// The repository policy of the target repository, if any.
    pub resource: Option<&'a Policy>,
    /// The registry policy of the resource's account, if any (a resource policy too).
    pub registry: Option<&'a Policy>,
    /// The session policy of an assumed-role session, if any: it intersects.
    pub session: Option<&'a Policy>,
}

/// The kinds of policy a decision can point at (AWS's message wording follows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    Identity,
    Resource,
    Session,
}

/// The evaluator's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement of this kind of policy applied.
    ExplicitDeny {
        policy: PolicyType,
    },
    /// Nothing denied, but no policy of this kind allowed (the one AWS names).
    ImplicitDeny {
        missing: PolicyType,
    },
}

impl Decision {
    /// Is the request allowed?
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Decides a request (see the module docs for the rules).
pub fn evaluate(req: &Request<'_>, policies: &PolicySet<'_>) -> Decision {
    let resource_policies = || policies.resource.into_iter().chain(policies.registry);
    if policies
        .identity
        .iter()
        .any(|p| applies(p, req, Effect::Deny).is_some())
    {
        return Decision::ExplicitDeny {
            policy: PolicyType::Identity,
        };
    }
    if resource_policies().any(|p| applies(p, req, Effect::Deny).is_some()) {
        return Decision::ExplicitDeny {
            policy: PolicyType::Resource,
        };
    }
    if policies
        .session
        .is_some_and(|p| applies(p, req, Effect::Deny).is_some())
    {
        return Decision::ExplicitDeny {
            policy: PolicyType::Session,
        };
    }

    let grant = resource_policies().filter_map(|p| applies(p, req, Effect::Allow)).max();
    let kind = &req.principal.kind;
    if matches!(kind, PrincipalKind::Anonymous | PrincipalKind::Service) {
        return match grant {
            Some(_) => Decision::Allow,
            None => Decision::ImplicitDeny {
                missing: PolicyType::Resource,
            },
        };
    }
    let root = *kind == PrincipalKind::Root;
    let identity_allows = root
        || policies
            .identity
            .iter()
            .any(|p| applies(p, req, Effect::Allow).is_some());
    let session_allows = policies
        .session
        .is_none_or(|p| applies(p, req, Effect::Allow).is_some());
    let deny = |missing| Decision::ImplicitDeny { missing };

    if req.principal.account == req.resource_account {
        if root || grant == Some(Grant::Session) {
            return Decision::Allow;
        }
        if !(identity_allows || grant >= Some(Grant::Principal)) {
            return deny(PolicyType::Identity);
        }
        if !session_allows {
            return deny(PolicyType::Session);
        }
        Decision::Allow
    } else {
        if grant.is_none() {
            return deny(PolicyType::Resource);
        }
        if !identity_allows {
            return deny(PolicyType::Identity);
        }
        if !session_allows {
            return deny(PolicyType::Session);
        }
        Decision::Allow
    }
}

/// Would `policy`, as the repository's new policy, explicitly deny `caller`
/// `ecr:SetRepositoryPolicy` on the repository? (SetRepositoryPolicy refuses such a
/// policy unless `force` is set.) Only explicit denies count.
pub fn would_lock_out(policy: &Policy, caller: &Principal, repository_arn: &str, context: &Context) -> bool {
    let req = Request {
        principal: caller,
        action: SET_REPOSITORY_POLICY,
        resource: repository_arn,
        resource_account: &caller.account,
        context,
    };
    applies(policy, &req, Effect::Deny).is_some()
}

/// The strongest grant among the policy's statements with this effect that apply
/// to the request; `None` when none applies.
fn applies(policy: &Policy, req: &Request<'_>, effect: Effect) -> Option<Grant> {
    policy
        .statements
        .iter()
        .filter(|s| s.effect == effect)
        .filter_map(|s| statement_applies(s, req))
        .max()
}

/// Does the statement cover the request: action, resource, principal (when the
/// statement names one), then every condition? Identity statements grant as
/// [`Grant::Principal`].
fn statement_applies(st: &Statement, req: &Request<'_>) -> Option<Grant> {
    if !clause_matches(&st.action, |p| action_matches(p, req.action)) {
        return None;
    }
    if let Some(resource) = &st.resource
        && !clause_matches(resource, |p| resource_matches(p, req.resource))
    {
        return None;
    }
    let grant = match &st.principal {
        None => Grant::Principal,
        Some(Clause::Is(entries)) => req.principal.named_by(entries)?,
        Some(Clause::Not(entries)) => {
            if !req.principal.outside(entries) {
                return None;
            }
            Grant::Principal
        }
    };
    st.conditions.iter().all(|c| c.holds(req.context)).then_some(grant)
}

fn clause_matches(clause: &Clause<String>, matches: impl Fn(&str) -> bool) -> bool {
    match clause {
        Clause::Is(items) => items.iter().any(|i| matches(i)),
        Clause::Not(items) => !items.iter().any(|i| matches(i)),
    }
}
