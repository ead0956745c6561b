//! AWS's access-denied sentences.

use stowage_policy::{Decision, PolicyType, denial_message};

const USER: &str = "arn:aws:iam::111111111111:user/alice";
const REPO: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

#[test]
fn denial_messages() {
    let head = format!("User: {USER} is not authorized to perform: ecr:PutImage on resource: {REPO}");
    let cases = [
        (
            Decision::ImplicitDeny {
                missing: PolicyType::Identity,
            },
            " because no identity-based policy allows the ecr:PutImage action",
        ),
        (
            Decision::ImplicitDeny {
                missing: PolicyType::Resource,
            },
            " because no resource-based policy allows the ecr:PutImage action",
        ),
        (
            Decision::ImplicitDeny {
                missing: PolicyType::Session,
            },
            " because no session policy allows the ecr:PutImage action",
        ),
        (
            Decision::ExplicitDeny {
                policy: PolicyType::Identity,
            },
            " with an explicit deny in an identity-based policy",
        ),
        (
            Decision::ExplicitDeny {
                policy: PolicyType::Resource,
            },
            " with an explicit deny in a resource-based policy",
        ),
        (
            Decision::ExplicitDeny {
                policy: PolicyType::Session,
            },
            " with an explicit deny in a session policy",
        ),
    ];
    for (decision, tail) in cases {
        assert_eq!(
            denial_message(USER, "ecr:PutImage", REPO, &decision),
            Some(format!("{head}{tail}"))
        );
        assert!(!decision.is_allow());
    }
    assert_eq!(denial_message(USER, "ecr:PutImage", REPO, &Decision::Allow), None);
    assert!(Decision::Allow.is_allow());
}

#[test]
fn anonymous_and_star_resources() {
    assert_eq!(
        denial_message(
            "anonymous",
            "ecr:BatchGetImage",
            REPO,
            &Decision::ImplicitDeny {
                missing: PolicyType::Resource
            }
        )
        .unwrap(),
        format!(
            "User: anonymous is not authorized to perform: ecr:BatchGetImage on resource: {REPO} because no resource-based policy allows the ecr:BatchGetImage action"
        )
    );
    assert_eq!(
        denial_message(
            USER,
            "ecr:GetAuthorizationToken",
            "*",
            &Decision::ImplicitDeny {
                missing: PolicyType::Identity
            }
        )
        .unwrap(),
        format!(
            "User: {USER} is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action"
        )
    );
}
