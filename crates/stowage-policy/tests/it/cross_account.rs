//! Every combination of caller (user, role session, root; in the repository's
//! account or another), identity policy (none, allow, deny), repository policy,
//! registry policy and session policy — checked against spec §5.3 written out as a
//! truth table, independently of the evaluator's code.

use stowage_policy::{Decision, Policy, PolicyKind, PolicySet, PolicyType, Request, evaluate};

use crate::support::{A, B, context, doc, principal};

const ACTION: &str = "ecr:BatchGetImage";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    UserSame,
    UserOther,
    SessionSame,
    SessionOther,
    RootSame,
    RootOther,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Identity {
    None,
    Allow,
    Deny,
}

/// The repository policy, relative to the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Repo {
    Absent,
    AllowArn,
    AllowSessionArn,
    AllowAccount,
    AllowStar,
    AllowSomeoneElse,
    DenyArn,
    DenyAccount,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Registry {
    Absent,
    AllowAccount,
    DenyStar,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Session {
    Absent,
    Allow,
    AllowOtherAction,
}

impl Caller {
    fn spec(self) -> String {
        let acct = if self.same() { "A" } else { "B" };
        match self {
            Caller::UserSame | Caller::UserOther => format!("user:{acct}:dev"),
            Caller::SessionSame | Caller::SessionOther => format!("session:{acct}:Builder/s1"),
            Caller::RootSame | Caller::RootOther => format!("root:{acct}"),
        }
    }
    fn same(self) -> bool {
        matches!(self, Caller::UserSame | Caller::SessionSame | Caller::RootSame)
    }
    fn account(self) -> &'static str {
        if self.same() { A } else { B }
    }
    fn is_session(self) -> bool {
        matches!(self, Caller::SessionSame | Caller::SessionOther)
    }
    fn is_root(self) -> bool {
        matches!(self, Caller::RootSame | Caller::RootOther)
    }
    /// The ARN a policy names the caller by (a session's role; the root's root ARN).
    fn arn(self) -> String {
        let acct = self.account();
        match self {
            Caller::UserSame | Caller::UserOther => format!("arn:aws:iam::{acct}:user/dev"),
            Caller::SessionSame | Caller::SessionOther => format!("arn:aws:iam::{acct}:role/Builder"),
            Caller::RootSame | Caller::RootOther => format!("arn:aws:iam::{acct}:root"),
        }
    }
    fn session_arn(self) -> String {
        format!("arn:aws:sts::{}:assumed-role/Builder/s1", self.account())
    }
}

fn resource_statement(effect: &str, principal: &str) -> String {
    format!("{{'Effect':'{effect}','Principal':{principal},'Action':'ecr:*'}}")
}

fn repo_policy(repo: Repo, caller: Caller) -> Option<String> {
    let aws = |who: &str| format!("{{'AWS':'{who}'}}");
    Some(match repo {
        Repo::Absent => return None,
        Repo::AllowArn => resource_statement("Allow", &aws(&caller.arn())),
        Repo::AllowSessionArn => resource_statement("Allow", &aws(&caller.session_arn())),
        Repo::AllowAccount => resource_statement("Allow", &aws(caller.account())),
        Repo::AllowStar => resource_statement("Allow", "'*'"),
        Repo::AllowSomeoneElse => resource_statement("Allow", &aws("arn:aws:iam::333333333333:user/other")),
        Repo::DenyArn => format!(
            "[{},{}]",
            resource_statement("Allow", "'*'"),
            resource_statement("Deny", &aws(&caller.arn()))
        ),
        Repo::DenyAccount => resource_statement("Deny", &aws(caller.account())),
    })
}

/// Spec §5.3 as a truth table.
fn expected(caller: Caller, id: Identity, repo: Repo, reg: Registry, sess: Session) -> Decision {
    if id == Identity::Deny {
        return Decision::ExplicitDeny {
            policy: PolicyType::Identity,
        };
    }
    if matches!(repo, Repo::DenyArn | Repo::DenyAccount) || reg == Registry::DenyStar {
        return Decision::ExplicitDeny {
            policy: PolicyType::Resource,
        };
    }
    // Which resource-side allows name the caller, and how.
    let names_session = repo == Repo::AllowSessionArn && caller.is_session();
    let names_directly = matches!(repo, Repo::AllowArn | Repo::AllowStar) || names_session;
    let names_account = repo == Repo::AllowAccount || reg == Registry::AllowAccount;
    let resource_any = names_directly || names_account;
    let identity = id == Identity::Allow || caller.is_root();
    let session_ok = sess != Session::AllowOtherAction;
    let implicit = |missing| Decision::ImplicitDeny { missing };

    if caller.same() {
        // Root: everything in its account. A grant to the session ARN skips the
        // session policy. Otherwise identity OR a resource grant naming the caller
        // (naming only the account delegates to identity policies), then the session.
        if caller.is_root() || names_session {
            return Decision::Allow;
        }
        match (identity || names_directly, session_ok) {
            (false, _) => implicit(PolicyType::Identity),
            (true, false) => implicit(PolicyType::Session),
            (true, true) => Decision::Allow,
        }
    } else {
        match (resource_any, identity, session_ok) {
            (false, _, _) => implicit(PolicyType::Resource),
            (true, false, _) => implicit(PolicyType::Identity),
            (true, true, false) => implicit(PolicyType::Session),
            (true, true, true) => Decision::Allow,
        }
    }
}

#[test]
fn every_cross_account_combination() {
    let callers = [
        Caller::UserSame,
        Caller::UserOther,
        Caller::SessionSame,
        Caller::SessionOther,
        Caller::RootSame,
        Caller::RootOther,
    ];
    let repos = [
        Repo::Absent,
        Repo::AllowArn,
        Repo::AllowSessionArn,
        Repo::AllowAccount,
        Repo::AllowStar,
        Repo::AllowSomeoneElse,
        Repo::DenyArn,
        Repo::DenyAccount,
    ];
    let registries = [Registry::Absent, Registry::AllowAccount, Registry::DenyStar];
    let resource_arn = format!("arn:aws:ecr:us-east-1:{A}:repository/shared");
    let ctx = context("-");
    let parse = |kind, text: &str| Policy::parse(&doc(text), kind).unwrap();
    let allow_identity = parse(PolicyKind::Identity, "@ro");
    let deny_identity = parse(
        PolicyKind::Identity,
        "[{'Effect':'Allow','Action':'*','Resource':'*'},{'Effect':'Deny','Action':'ecr:BatchGetImage','Resource':'*'}]",
    );
    let session_allow = parse(PolicyKind::Identity, "@ecr");
    let session_other = parse(
        PolicyKind::Identity,
        "{'Effect':'Allow','Action':'ecr:PutImage','Resource':'*'}",
    );

    let mut total = 0;
    let mut failures = Vec::new();
    for caller in callers {
        let who = principal(&caller.spec());
        // Roots have no identity policies; only sessions have session policies.
        let identities: &[Identity] = if caller.is_root() {
            &[Identity::None]
        } else {
            &[Identity::None, Identity::Allow, Identity::Deny]
        };
        let sessions: &[Session] = if caller.is_session() {
            &[Session::Absent, Session::Allow, Session::AllowOtherAction]
        } else {
            &[Session::Absent]
        };
        for &id in identities {
            for repo in repos {
                for reg in registries {
                    for &sess in sessions {
                        total += 1;
                        let identity: Vec<&Policy> = match id {
                            Identity::None => vec![],
                            Identity::Allow => vec![&allow_identity],
                            Identity::Deny => vec![&deny_identity],
                        };
                        let repo_policy = repo_policy(repo, caller).map(|t| parse(PolicyKind::Resource, &t));
                        let registry_policy = match reg {
                            Registry::Absent => None,
                            Registry::AllowAccount => {
                                Some(parse(PolicyKind::Resource, &format!("@grant:{}", caller.account())))
                            }
                            Registry::DenyStar => Some(parse(PolicyKind::Resource, "@refuse:*")),
                        };
                        let session_policy = match sess {
                            Session::Absent => None,
                            Session::Allow => Some(&session_allow),
                            Session::AllowOtherAction => Some(&session_other),
                        };
                        let set = PolicySet {
                            identity: &identity,
                            resource: repo_policy.as_ref(),
                            registry: registry_policy.as_ref(),
                            session: session_policy,
                        };
                        let req = Request {
                            principal: &who,
                            action: ACTION,
                            resource: &resource_arn,
                            resource_account: A,
                            context: &ctx,
                        };
                        let got = evaluate(&req, &set);
                        let want = expected(caller, id, repo, reg, sess);
                        if got != want {
                            failures.push(format!(
                                "  {caller:?} {id:?} {repo:?} {reg:?} {sess:?}: got {got:?}, want {want:?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(total, COMBINATIONS);
    crate::support::report("cross-account combinations", total, failures);
}

/// (2 users × 3 identities + 2 sessions × 3 identities × 3 session policies
/// + 2 roots) × 8 repository policies × 3 registry policies.
pub const COMBINATIONS: usize = (2 * 3 + 2 * 3 * 3 + 2) * 8 * 3;
