//! The compact table language of these tests, so that a case is one line.
//!
//! A table is text, one case per line, columns separated by ` | `; blank lines and
//! lines starting with `#` are skipped. Inside policies and values:
//! - JSON may use `'` for `"`; a bare statement `{…}` or statement list `[…]` is
//!   wrapped into `{"Version":"2012-10-17","Statement":…}`.
//! - `{A}`, `{B}`, `{C}` are the accounts 111111111111, 222222222222, 333333333333;
//!   `{ecr}` is `arn:aws:ecr:us-east-1`.
//! - Named policies: `@ro`, `@pu`, `@fa` (managed), `@all` (Allow `*` on `*`),
//!   `@ecr` (Allow `ecr:*` on `*`), `@none` (Allow an unrelated action),
//!   `@grant:<principal>` / `@refuse:<principal>` (a resource policy allowing /
//!   denying `ecr:*` to `{'AWS':'<principal>'}`, or to `"*"` for `*`).
//!
//! Principals: `user:A:alice`, `role:A:R`, `session:A:R/s1` (a session of role R),
//! `root:A`, `anon`, `svc:<name>`. Resources: `A:app` (repository `app` in account
//! A), `*` (the caller's account; A for anonymous and service callers), `B:*`.
//! Contexts: `-`, or `key=v1,v2; key2=v` (`key=` sets an empty list).
//! Expectations: `allow`, `deny:<identity|resource|session>` (explicit),
//! `implicit:<identity|resource|session>`.

use stowage_policy::{
    Context, Decision, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request, evaluate, managed,
};

pub const A: &str = "111111111111";
pub const B: &str = "222222222222";
pub const C: &str = "333333333333";

/// Expands placeholders, quotes and named policies into a full document.
pub fn doc(short: &str) -> String {
    let s = short.trim();
    let named = match s {
        "@ro" => return managed::READ_ONLY.document.to_owned(),
        "@pu" => return managed::POWER_USER.document.to_owned(),
        "@fa" => return managed::FULL_ACCESS.document.to_owned(),
        "@all" => Some("{'Effect':'Allow','Action':'*','Resource':'*'}".to_owned()),
        "@ecr" => Some("{'Effect':'Allow','Action':'ecr:*','Resource':'*'}".to_owned()),
        "@none" => Some("{'Effect':'Allow','Action':'s3:GetObject','Resource':'*'}".to_owned()),
        _ => None,
    };
    let s = named.unwrap_or_else(|| {
        let resource_statement = |effect: &str, who: &str| {
            let principal = if who == "*" {
                "'*'".to_owned()
            } else {
                format!("{{'AWS':'{who}'}}")
            };
            format!("{{'Effect':'{effect}','Principal':{principal},'Action':'ecr:*'}}")
        };
        if let Some(who) = s.strip_prefix("@grant:") {
            resource_statement("Allow", who)
        } else if let Some(who) = s.strip_prefix("@refuse:") {
            resource_statement("Deny", who)
        } else {
            s.to_owned()
        }
    });
    let s = s
        .replace('\'', "\"")
        .replace("{A}", A)
        .replace("{B}", B)
        .replace("{C}", C)
        .replace("{ecr}", "arn:aws:ecr:us-east-1");
    if s.starts_with('[') || (s.starts_with('{') && !s.contains("\"Statement\"")) {
        format!("{{\"Version\":\"2012-10-17\",\"Statement\":{s}}}")
    } else {
        s
    }
}

pub fn account(letter: &str) -> &'static str {
    match letter {
        "A" => A,
        "B" => B,
        "C" => C,
        other => panic!("unknown account {other:?}"),
    }
}

/// `user:A:alice`, `role:A:R`, `session:A:R/s1`, `root:A`, `anon`, `svc:<name>`.
pub fn principal(spec: &str) -> Principal {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["anon"] => Principal::anonymous(),
        ["svc", name] => Principal::service(name),
        ["root", acct] => Principal::root(account(acct)),
        ["user", acct, name] => Principal::from_arn(&format!("arn:aws:iam::{}:user/{name}", account(acct))).unwrap(),
        ["role", acct, name] => Principal::from_arn(&format!("arn:aws:iam::{}:role/{name}", account(acct))).unwrap(),
        ["session", acct, role_session] => {
            let (role, _) = role_session.split_once('/').unwrap();
            let acct = account(acct);
            Principal::assumed_role(
                &format!("arn:aws:sts::{acct}:assumed-role/{role_session}"),
                &format!("arn:aws:iam::{acct}:role/{role}"),
            )
            .unwrap()
        }
        _ => panic!("bad principal spec {spec:?}"),
    }
}

/// `(resource ARN, resource account)` of `A:app`, `*`, `B:*`.
pub fn resource(spec: &str, caller: &Principal) -> (String, String) {
    if spec == "*" {
        let acct = if caller.account.is_empty() { A } else { &caller.account };
        return ("*".to_owned(), acct.to_owned());
    }
    let (acct, name) = spec.split_once(':').unwrap();
    let acct = account(acct);
    if name == "*" {
        return ("*".to_owned(), acct.to_owned());
    }
    (
        format!("arn:aws:ecr:us-east-1:{acct}:repository/{name}"),
        acct.to_owned(),
    )
}

/// `-` or `key=v1,v2; key2=v`.
pub fn context(spec: &str) -> Context {
    let mut ctx = Context::new();
    let spec = spec.trim();
    if spec == "-" || spec.is_empty() {
        return ctx;
    }
    for entry in spec.split(';') {
        let (key, values) = entry
            .trim()
            .split_once('=')
            .unwrap_or_else(|| panic!("bad context {entry:?}"));
        let values: Vec<&str> = if values.is_empty() {
            Vec::new()
        } else {
            values.split(',').collect()
        };
        ctx.set_many(
            key.trim(),
            values.into_iter().map(|v| v.replace("{A}", A).replace("{B}", B)),
        );
    }
    ctx
}

pub fn expectation(spec: &str) -> Decision {
    let policy_type = |s: &str| match s {
        "identity" => PolicyType::Identity,
        "resource" => PolicyType::Resource,
        "session" => PolicyType::Session,
        other => panic!("bad policy type {other:?}"),
    };
    match spec.split_once(':') {
        None if spec == "allow" => Decision::Allow,
        Some(("deny", t)) => Decision::ExplicitDeny { policy: policy_type(t) },
        Some(("implicit", t)) => Decision::ImplicitDeny {
            missing: policy_type(t),
        },
        _ => panic!("bad expectation {spec:?}"),
    }
}

/// The policies of a case: `id: …`, `res: …`, `reg: …`, `sess: …`, separated by ` ;; `.
#[derive(Default)]
pub struct Policies {
    pub identity: Vec<Policy>,
    pub resource: Option<Policy>,
    pub registry: Option<Policy>,
    pub session: Option<Policy>,
}

impl Policies {
    pub fn parse(spec: &str) -> Self {
        let mut out = Self::default();
        let spec = spec.trim();
        if spec == "-" || spec.is_empty() {
            return out;
        }
        for section in spec.split(";;") {
            let (slot, text) = section
                .trim()
                .split_once(':')
                .unwrap_or_else(|| panic!("bad section {section:?}"));
            let kind = match slot.trim() {
                "id" | "sess" => PolicyKind::Identity,
                "res" | "reg" => PolicyKind::Resource,
                other => panic!("bad slot {other:?}"),
            };
            let text = doc(text);
            let policy = Policy::parse(&text, kind).unwrap_or_else(|e| panic!("{text}: {e} ({e:?})"));
            match slot.trim() {
                "id" => out.identity.push(policy),
                "res" => out.resource = Some(policy),
                "reg" => out.registry = Some(policy),
                _ => out.session = Some(policy),
            }
        }
        out
    }

    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        account: &str,
        ctx: &Context,
    ) -> Decision {
        let identity: Vec<&Policy> = self.identity.iter().collect();
        let set = PolicySet {
            identity: &identity,
            resource: self.resource.as_ref(),
            registry: self.registry.as_ref(),
            session: self.session.as_ref(),
        };
        let req = Request {
            principal,
            action,
            resource,
            resource_account: account,
            context: ctx,
        };
        evaluate(&req, &set)
    }
}

/// The rows of a table: `(line number, columns)`, checking the column count.
pub fn rows(table: &str, columns: usize) -> Vec<(usize, Vec<&str>)> {
    table
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split(" | ").map(str::trim).collect();
            assert_eq!(cols.len(), columns, "line {}: {l}", i + 1);
            (i + 1, cols)
        })
        .collect()
}

/// Panics listing every failed case, after running them all.
pub fn report(what: &str, total: usize, failures: Vec<String>) {
    assert!(total > 0, "{what}: empty table");
    if !failures.is_empty() {
        panic!(
            "{what}: {} of {total} cases failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// One evaluation table: `name | principal | action | resource | policies | context | expect`.
pub fn run_evaluation_table(what: &str, table: &str) -> usize {
    let rows = rows(table, 7);
    let mut failures = Vec::new();
    for (line, c) in &rows {
        let principal = principal(c[1]);
        let (resource, account) = resource(c[3], &principal);
        let ctx = context(c[5]);
        let got = Policies::parse(c[4]).decide(&principal, c[2], &resource, &account, &ctx);
        let want = expectation(c[6]);
        if got != want {
            failures.push(format!("  line {line} {:?}: got {got:?}, want {want:?}", c[0]));
        }
    }
    report(what, rows.len(), failures);
    rows.len()
}
