//! Every text this crate shows a client, in one place: IAM's
//! `MalformedPolicyDocument` messages and the access-denied sentences. The wire
//! layers wrap them (IAM's XML error, ECR's `InvalidParameterException`) but never
//! rewrite them.

use crate::evaluate::{Decision, PolicyType};

/// The catch-all IAM answer: bad JSON, unknown members, wrong types, bad Effect.
pub const SYNTAX_ERRORS: &str = "Syntax errors in policy.";
/// IAM's answer for a `Version` other than `2012-10-17` or `2008-10-17`.
pub const LEGACY_PARSING: &str = "The policy failed legacy parsing";
/// An identity policy (or session policy) carrying `Principal`/`NotPrincipal`.
pub const PRINCIPAL_NOT_ALLOWED: &str = "Policy document should not specify a principal.";
/// A resource policy statement without `Principal` or `NotPrincipal`.
pub const MISSING_PRINCIPAL: &str = "Missing required field Principal";
/// A statement without `Effect`.
pub const MISSING_EFFECT: &str = "Missing required field Effect";
/// A statement without `Action`/`NotAction`, or with an empty list.
pub const MISSING_ACTIONS: &str = "Policy statement must contain actions.";
/// An identity statement without `Resource`/`NotResource`, or with an empty list.
pub const MISSING_RESOURCES: &str = "Policy statement must contain resources.";
/// An action or condition key without a `vendor:` prefix.
pub const MISSING_VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
/// An action with more than one colon.
pub const TOO_MANY_COLONS: &str = "Actions/Condition can contain only one colon.";
/// Two statements of one policy with the same `Sid`.
pub const DUPLICATE_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
/// An identity-policy `Sid` that is not alphanumeric.
pub const INVALID_SID: &str =
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
/// ECR's wrapper for any invalid repository or registry policy (SetRepositoryPolicy,
/// PutRegistryPolicy); the IAM message above is not shown there.
pub const ECR_INVALID_REPOSITORY_POLICY: &str =
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'";

/// `Invalid principal in policy: "AWS":"<value>"` (the kind is omitted when the
/// principal was a bare string other than `"*"`).
pub fn invalid_principal(kind: &str, value: &str) -> String {
    if kind.is_empty() {
        format!("Invalid principal in policy: \"{value}\"")
    } else {
        format!("Invalid principal in policy: \"{kind}\":\"{value}\"")
    }
}

/// `Unsupported condition operator: <name>`.
pub fn unsupported_operator(operator: &str) -> String {
    format!("Unsupported condition operator: {operator}")
}

/// `Resource <value> must be in ARN format or "*".`
pub fn invalid_resource(resource: &str) -> String {
    format!("Resource {resource} must be in ARN format or \"*\".")
}

/// AWS's access-denied sentence for a denial, `None` for [`Decision::Allow`]:
/// `User: <arn> is not authorized to perform: <action> on resource: <resource>`
/// followed by ` because no <type> policy allows the <action> action` or
/// ` with an explicit deny in a<n> <type> policy`.
pub fn denial_message(principal_arn: &str, action: &str, resource: &str, decision: &Decision) -> Option<String> {
    let head = format!("User: {principal_arn} is not authorized to perform: {action} on resource: {resource}");
    match decision {
        Decision::Allow => None,
        Decision::ExplicitDeny { policy } => Some(format!(
            "{head} with an explicit deny in {} {}",
            article(*policy),
            policy_type_name(*policy)
        )),
        Decision::ImplicitDeny { missing } => Some(format!(
            "{head} because no {} allows the {action} action",
            policy_type_name(*missing)
        )),
    }
}

fn policy_type_name(policy: PolicyType) -> &'static str {
    match policy {
        PolicyType::Identity => "identity-based policy",
        PolicyType::Resource => "resource-based policy",
        PolicyType::Session => "session policy",
    }
}

fn article(policy: PolicyType) -> &'static str {
    match policy {
        PolicyType::Identity => "an",
        PolicyType::Resource | PolicyType::Session => "a",
    }
}
