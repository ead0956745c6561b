//! AWS's managed ECR policies, restated.

use stowage_policy::managed::{self, ManagedPolicy};
use stowage_policy::{Clause, Effect, PolicyKind};

const READ_ONLY_ACTIONS: &[&str] = &[
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:GetLifecyclePolicyPreview",
    "ecr:ListTagsForResource",
    "ecr:DescribeImageScanFindings",
];

const PUSH_ACTIONS: &[&str] = &[
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
];

/// The single statement's effect, actions and resources.
fn contents(p: &ManagedPolicy) -> (Effect, Vec<String>, Vec<String>) {
    let policy = p.policy();
    assert_eq!(policy.kind, PolicyKind::Identity);
    assert_eq!(policy.statements.len(), 1);
    let st = &policy.statements[0];
    let Clause::Is(actions) = &st.action else {
        panic!("NotAction in {}", p.name)
    };
    let Some(Clause::Is(resources)) = &st.resource else {
        panic!("no Resource in {}", p.name)
    };
    (st.effect, actions.clone(), resources.clone())
}

#[test]
fn documents_restate_aws() {
    let (effect, actions, resources) = contents(&managed::READ_ONLY);
    assert_eq!(
        (effect, resources.as_slice()),
        (Effect::Allow, ["*".to_owned()].as_slice())
    );
    assert_eq!(actions, READ_ONLY_ACTIONS);

    let (effect, actions, resources) = contents(&managed::POWER_USER);
    assert_eq!(
        (effect, resources.as_slice()),
        (Effect::Allow, ["*".to_owned()].as_slice())
    );
    let expected: Vec<&str> = READ_ONLY_ACTIONS.iter().chain(PUSH_ACTIONS).copied().collect();
    assert_eq!(actions, expected);

    let (effect, actions, resources) = contents(&managed::FULL_ACCESS);
    assert_eq!(
        (effect, actions.as_slice(), resources.as_slice()),
        (
            Effect::Allow,
            ["ecr:*".to_owned()].as_slice(),
            ["*".to_owned()].as_slice()
        )
    );
}

#[test]
fn lookup_by_arn_and_name() {
    for (name, p) in [
        ("AmazonEC2ContainerRegistryReadOnly", &managed::READ_ONLY),
        ("AmazonEC2ContainerRegistryPowerUser", &managed::POWER_USER),
        ("AmazonEC2ContainerRegistryFullAccess", &managed::FULL_ACCESS),
        ("AdministratorAccess", &managed::ADMINISTRATOR_ACCESS),
    ] {
        let arn = format!("arn:aws:iam::aws:policy/{name}");
        assert_eq!(p.arn, arn);
        assert!(p.arn.starts_with(managed::ARN_PREFIX));
        assert!(std::ptr::eq(managed::by_arn(&arn).unwrap(), p));
        assert!(std::ptr::eq(managed::by_name(name).unwrap(), p));
        assert!(!p.description.is_empty());
    }
    assert_eq!(managed::ALL.len(), 4);
    assert!(managed::by_arn("arn:aws:iam::aws:policy/IAMFullAccess").is_none());
    assert!(managed::by_name("amazonec2containerregistryreadonly").is_none());
}
