//! Who makes a request (the caller), and how the caller is seen by a policy's
//! `Principal`/`NotPrincipal` element.
//!
//! IAM evaluates a caller under several identities at once, its *facets*: a user is
//! both its own ARN and its account; a role session is its session ARN, its role's
//! ARN and its account. `Principal` matches when any facet is listed; `NotPrincipal`
//! applies when some facet is not listed — which is why AWS's documentation tells
//! `NotPrincipal` + `Deny` policies to list the account and, for role sessions, both
//! the role and the session ARN.

use std::collections::BTreeMap;

use crate::document::PrincipalEntry;

/// The caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The caller's ARN (`arn:aws:iam::<acct>:user/<name>`, `…:root`,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`); `anonymous` for
    /// unauthenticated callers; the service name for a service principal.
    pub arn: String,
    /// The caller's account id; empty for anonymous and service callers.
    pub account: String,
    pub kind: PrincipalKind,
    /// The caller's tags (the user's or role's), for `aws:PrincipalTag/…`.
    pub tags: BTreeMap<String, String>,
}

/// What kind of identity the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account itself (its root user / administrator): every action on its own
    /// account's resources is allowed unless explicitly denied.
    Root,
    User,
    /// A role acting without a session (callers that do not model sessions).
    Role,
    /// A role session from AssumeRole; `role_arn` is the IAM role's ARN (with path).
    AssumedRole {
        role_arn: String,
    },
    FederatedUser,
    /// An AWS service principal such as `ecr.amazonaws.com`; only resource
    /// policies naming it (or `*`) can allow it.
    Service,
    /// No credentials: only resource policies with `Principal: "*"` can allow it.
    Anonymous,
}

/// One of the identities a caller is evaluated under (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Facet<'a> {
    Account(&'a str),
    /// A user, role or federated user ARN — or the IAM role behind a session.
    Arn(&'a str),
    /// An `assumed-role` session ARN.
    Session(&'a str),
    Service(&'a str),
    Anonymous,
}

/// How directly a matching `Principal` element names the caller; decides whether a
/// resource policy's allow stands on its own (spec §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// Only the caller's account was named: the account delegates to its own
    /// identity policies (enough across accounts, nothing extra within one).
    Account,
    /// The caller's ARN, its role, `*`, or a `NotPrincipal` that leaves it out.
    Principal,
    /// The session's own ARN: not limited by a session policy.
    Session,
}

impl Principal {
    /// A caller of the given kind with no tags.
    pub fn new(arn: impl Into<String>, account: impl Into<String>, kind: PrincipalKind) -> Self {
        Self {
            arn: arn.into(),
            account: account.into(),
            kind,
            tags: BTreeMap::new(),
        }
    }

    /// The account's root identity, `arn:aws:iam::<account>:root`.
    pub fn root(account: &str) -> Self {
        Self::new(format!("arn:aws:iam::{account}:root"), account, PrincipalKind::Root)
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Self::new("anonymous", "", PrincipalKind::Anonymous)
    }

    /// An AWS service principal such as `ecr.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self::new(name, "", PrincipalKind::Service)
    }

    /// A role session: its `assumed-role` ARN and the role's IAM ARN.
    pub fn assumed_role(session_arn: &str, role_arn: &str) -> Option<Self> {
        let (_, account) = iam_arn(session_arn, "sts")?;
        Some(Self::new(
            session_arn,
            account,
            PrincipalKind::AssumedRole {
                role_arn: role_arn.to_owned(),
            },
        ))
    }

    /// Reads the kind and account from an IAM or STS ARN (`…:root`, `…:user/…`,
    /// `…:role/…`, `arn:aws:sts::…:assumed-role/<role>/<session>`,
    /// `…:federated-user/…`). A session's role ARN is rebuilt without a path; use
    /// [`Principal::assumed_role`] when the role has one.
    pub fn from_arn(arn: &str) -> Option<Self> {
        if let Some((resource, account)) = iam_arn(arn, "iam") {
            let kind = if resource == "root" {
                PrincipalKind::Root
            } else if resource.strip_prefix("user/").is_some_and(|n| !n.is_empty()) {
                PrincipalKind::User
            } else if resource.strip_prefix("role/").is_some_and(|n| !n.is_empty()) {
                PrincipalKind::Role
            } else {
                return None;
            };
            return Some(Self::new(arn, account, kind));
        }
        let (resource, account) = iam_arn(arn, "sts")?;
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let (role, session) = rest.split_once('/')?;
            if role.is_empty() || session.is_empty() {
                return None;
            }
            let partition = arn.split(':').nth(1)?;
            let role_arn = format!("arn:{partition}:iam::{account}:role/{role}");
            return Some(Self::new(arn, account, PrincipalKind::AssumedRole { role_arn }));
        }
        if resource.strip_prefix("federated-user/").is_some_and(|n| !n.is_empty()) {
            return Some(Self::new(arn, account, PrincipalKind::FederatedUser));
        }
        None
    }

    /// Adds a tag (for `aws:PrincipalTag/…`).
    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The `aws:PrincipalType` value: `Account`, `User`, `AssumedRole`,
    /// `FederatedUser`, `Anonymous` (and `Service` for service principals).
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::Role | PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
            PrincipalKind::Service => "Service",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }

    /// The user name (last path segment of a user ARN), for `aws:username`.
    pub fn username(&self) -> Option<&str> {
        match self.kind {
            PrincipalKind::User => self.arn.rsplit('/').next(),
            _ => None,
        }
    }

    /// The identities this caller is evaluated under.
    pub(crate) fn facets(&self) -> Vec<Facet<'_>> {
        match &self.kind {
            PrincipalKind::Root => vec![Facet::Account(&self.account)],
            PrincipalKind::User | PrincipalKind::Role | PrincipalKind::FederatedUser => {
                vec![Facet::Arn(&self.arn), Facet::Account(&self.account)]
            }
            PrincipalKind::AssumedRole { role_arn } => vec![
                Facet::Session(&self.arn),
                Facet::Arn(role_arn),
                Facet::Account(&self.account),
            ],
            PrincipalKind::Service => vec![Facet::Service(&self.arn)],
            PrincipalKind::Anonymous => vec![Facet::Anonymous],
        }
    }

    /// `Principal` element: the strongest grant among the listed entries that name
    /// one of the caller's facets; `None` when none does. A wildcard grants as
    /// [`Grant::Principal`]; only an entry spelling out the session ARN grants as
    /// [`Grant::Session`]; an account entry grants as [`Grant::Account`] except to the
    /// account's root, whom it names directly.
    pub(crate) fn named_by(&self, entries: &[PrincipalEntry]) -> Option<Grant> {
        let facets = self.facets();
        entries
            .iter()
            .flat_map(|e| facets.iter().filter(|f| e.names(**f)).map(move |f| (e, *f)))
            .map(|(entry, facet)| match (entry, facet) {
                (PrincipalEntry::Account(_), _) if self.kind != PrincipalKind::Root => Grant::Account,
                (PrincipalEntry::Arn(_), Facet::Session(_)) => Grant::Session,
                _ => Grant::Principal,
            })
            .max()
    }

    /// `NotPrincipal` element: applies when some facet of the caller is not listed.
    pub(crate) fn outside(&self, entries: &[PrincipalEntry]) -> bool {
        self.facets()
            .into_iter()
            .any(|facet| !entries.iter().any(|e| e.names(facet)))
    }
}

impl PrincipalEntry {
    /// Does this entry of a `Principal` element name the facet?
    pub(crate) fn names(&self, facet: Facet<'_>) -> bool {
        match (self, facet) {
            (PrincipalEntry::Everyone, _) => true,
            (PrincipalEntry::AnyAws, facet) => !matches!(facet, Facet::Service(_)),
            (PrincipalEntry::Account(a), Facet::Account(b)) => a == b,
            (PrincipalEntry::Arn(a), Facet::Arn(b) | Facet::Session(b)) => a == b,
            (PrincipalEntry::Service(a), Facet::Service(b)) => a == b,
            _ => false,
        }
    }
}

/// `(resource, account)` of `arn:<partition>:<service>::<12 digits>:<resource>`.
pub(crate) fn iam_arn<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str)> {
    let parts = crate::matching::arn_parts(arn)?;
    let ok = !parts[1].is_empty()
        && parts[2] == service
        && parts[3].is_empty()
        && is_account_id(parts[4])
        && !parts[5].is_empty();
    ok.then_some((parts[5], parts[4]))
}

/// Twelve ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_arns() {
        let p = Principal::from_arn("arn:aws:iam::111122223333:user/dev/alice").unwrap();
        assert_eq!(
            (p.kind.clone(), p.account.as_str()),
            (PrincipalKind::User, "111122223333")
        );
        assert_eq!(p.username(), Some("alice"));
        assert_eq!(
            Principal::from_arn("arn:aws:iam::111122223333:root").unwrap().kind,
            PrincipalKind::Root
        );
        let s = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/Admin/s1").unwrap();
        assert_eq!(
            s.kind,
            PrincipalKind::AssumedRole {
                role_arn: "arn:aws:iam::111122223333:role/Admin".into()
            }
        );
        for bad in [
            "arn:aws:iam::1111:user/a",
            "arn:aws:iam::111122223333:group/g",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:sts::111122223333:assumed-role/Admin",
            "arn:aws:ecr:us-east-1:111122223333:repository/a",
            "anonymous",
        ] {
            assert_eq!(Principal::from_arn(bad), None, "{bad}");
        }
    }
}
