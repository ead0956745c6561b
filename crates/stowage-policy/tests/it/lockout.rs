//! The SetRepositoryPolicy lock-out check: only an explicit deny of
//! `ecr:SetRepositoryPolicy` to the caller counts.

use stowage_policy::{Context, Policy, PolicyKind, would_lock_out};

use crate::support::{doc, principal};

const REPO: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

#[rustfmt::skip]
const CASES: &[(&str, &str, &str, &str, bool)] = &[
    ("deny everyone everything", "user:A:alice", "@refuse:*", "-", true),
    ("deny the caller by ARN", "user:A:alice", "@refuse:arn:aws:iam::{A}:user/alice", "-", true),
    ("deny the caller's account", "user:A:alice", "@refuse:{A}", "-", true),
    ("deny someone else", "user:A:alice", "@refuse:arn:aws:iam::{A}:user/bob", "-", false),
    ("deny another account", "user:A:alice", "@refuse:{B}", "-", false),
    ("allow only", "user:A:alice", "@grant:*", "-", false),
    ("allow someone else only", "user:A:alice", "@grant:{B}", "-", false),
    ("deny another action", "user:A:alice", "{'Effect':'Deny','Principal':'*','Action':'ecr:PutImage'}", "-", false),
    ("deny by wildcard action", "user:A:alice", "{'Effect':'Deny','Principal':'*','Action':'ecr:Set*'}", "-", true),
    ("deny by NotAction", "user:A:alice", "{'Effect':'Deny','Principal':'*','NotAction':'ecr:BatchGetImage'}", "-", true),
    ("NotAction spares it", "user:A:alice", "{'Effect':'Deny','Principal':'*','NotAction':'ecr:SetRepositoryPolicy'}", "-", false),
    ("deny another repository", "user:A:alice", "{'Effect':'Deny','Principal':'*','Action':'ecr:*','Resource':'{ecr}:{A}:repository/other'}", "-", false),
    ("deny by NotPrincipal", "user:A:alice", "{'Effect':'Deny','NotPrincipal':{'AWS':'arn:aws:iam::{A}:user/bob'},'Action':'ecr:*'}", "-", true),
    ("NotPrincipal spares the caller", "user:A:alice", "{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:user/alice','{A}']},'Action':'ecr:*'}", "-", false),
    ("deny when condition holds", "user:A:alice", "{'Effect':'Deny','Principal':'*','Action':'ecr:*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}}", "aws:SourceIp=192.0.2.1", true),
    ("deny when condition fails", "user:A:alice", "{'Effect':'Deny','Principal':'*','Action':'ecr:*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}}", "aws:SourceIp=10.0.0.1", false),
    ("deny the session's role", "session:A:Admin/s1", "@refuse:arn:aws:iam::{A}:role/Admin", "-", true),
    ("deny the account locks out its root", "root:A", "@refuse:{A}", "-", true),
];

#[test]
fn lock_out() {
    for (name, who, policy, ctx, want) in CASES {
        let policy = Policy::parse(&doc(policy), PolicyKind::Resource).unwrap();
        let caller = principal(who);
        let ctx: Context = crate::support::context(ctx);
        assert_eq!(would_lock_out(&policy, &caller, REPO, &ctx), *want, "{name}");
    }
}
