//! AWS-managed policies for ECR that every account sees under AWS's ARNs, so
//! scripts attaching `arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly`
//! work unchanged.
//!
//! - `AmazonEC2ContainerRegistryReadOnly`: `ecr:GetAuthorizationToken`,
//!   `BatchCheckLayerAvailability`, `GetDownloadUrlForLayer`, `GetRepositoryPolicy`,
//!   `DescribeRepositories`, `ListImages`, `DescribeImages`, `BatchGetImage`,
//!   `GetLifecyclePolicy`, `GetLifecyclePolicyPreview`, `ListTagsForResource`,
//!   `DescribeImageScanFindings`, on `*`.
//! - `AmazonEC2ContainerRegistryPowerUser`: the same plus `InitiateLayerUpload`,
//!   `UploadLayerPart`, `CompleteLayerUpload`, `PutImage`, on `*`.
//! - `AmazonEC2ContainerRegistryFullAccess`: `ecr:*` on `*`.
//! - `AdministratorAccess`: `*` on `*` — what every user had before IAM, and what
//!   an account's first administrator gets.

use std::sync::OnceLock;

use crate::document::{Policy, PolicyKind};

/// One managed policy: its name, ARN, description and document text.
#[derive(Debug)]
pub struct ManagedPolicy {
    pub name: &'static str,
    pub arn: &'static str,
    pub description: &'static str,
    /// The document as IAM's GetPolicyVersion returns it.
    pub document: &'static str,
    parsed: OnceLock<Policy>,
}

impl ManagedPolicy {
    /// The parsed identity policy.
    pub fn policy(&self) -> &Policy {
        self.parsed.get_or_init(|| {
            Policy::parse(self.document, PolicyKind::Identity)
                .unwrap_or_else(|e| panic!("managed policy {} does not parse: {e:?}", self.name))
        })
    }
}

/// The path every AWS-managed policy ARN starts with.
pub const ARN_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// `AmazonEC2ContainerRegistryReadOnly`.
pub static READ_ONLY: ManagedPolicy = ManagedPolicy {
    name: "AmazonEC2ContainerRegistryReadOnly",
    arn: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
    document: r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
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
                "ecr:DescribeImageScanFindings"
            ],
            "Resource": "*"
        }
    ]
}"#,
    parsed: OnceLock::new(),
};

/// `AmazonEC2ContainerRegistryPowerUser`.
pub static POWER_USER: ManagedPolicy = ManagedPolicy {
    name: "AmazonEC2ContainerRegistryPowerUser",
    arn: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
    description: "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.",
    document: r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
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
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage"
            ],
            "Resource": "*"
        }
    ]
}"#,
    parsed: OnceLock::new(),
};

/// `AmazonEC2ContainerRegistryFullAccess`.
pub static FULL_ACCESS: ManagedPolicy = ManagedPolicy {
    name: "AmazonEC2ContainerRegistryFullAccess",
    arn: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
    description: "Provides administrative access to Amazon ECR resources",
    document: r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:*"
            ],
            "Resource": "*"
        }
    ]
}"#,
    parsed: OnceLock::new(),
};

/// `AdministratorAccess`.
pub static ADMINISTRATOR_ACCESS: ManagedPolicy = ManagedPolicy {
    name: "AdministratorAccess",
    arn: "arn:aws:iam::aws:policy/AdministratorAccess",
    description: "Provides full access to AWS services and resources.",
    document: r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
}"#,
    parsed: OnceLock::new(),
};

/// Every managed policy.
pub static ALL: [&ManagedPolicy; 4] = [&READ_ONLY, &POWER_USER, &FULL_ACCESS, &ADMINISTRATOR_ACCESS];

/// The managed policy with this ARN.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    ALL.iter().copied().find(|p| p.arn == arn)
}

/// The managed policy with this name.
pub fn by_name(name: &str) -> Option<&'static ManagedPolicy> {
    ALL.iter().copied().find(|p| p.name == name)
}
