//! Who is calling and what they ask for: the ECR actions registry requests map
//! to (spec §3.2), principals, resources. The decision is `services::authz`.

use std::fmt;

/// ECR actions that registry requests map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    BatchGetImage,
    BatchCheckLayerAvailability,
    GetDownloadUrlForLayer,
    InitiateLayerUpload,
    UploadLayerPart,
    CompleteLayerUpload,
    PutImage,
    BatchDeleteImage,
    ListImages,
    DescribeRepositories,
    ListImageReferrers,
    /// `GET /v2/`: needs only a valid identity.
    GetAuthorizationToken,
    CreateRepository,
    DeleteRepository,
    PutImageTagMutability,
    DescribeImages,
    TagResource,
    UntagResource,
    ListTagsForResource,
    DescribeRegistry,
    GetAccountSetting,
    PutAccountSetting,
    PutLifecyclePolicy,
    GetLifecyclePolicy,
    DeleteLifecyclePolicy,
    StartLifecyclePolicyPreview,
    GetLifecyclePolicyPreview,
    SetRepositoryPolicy,
    GetRepositoryPolicy,
    DeleteRepositoryPolicy,
    PutRegistryPolicy,
    GetRegistryPolicy,
    DeleteRegistryPolicy,
    PutImageScanningConfiguration,
    PutRegistryScanningConfiguration,
    GetRegistryScanningConfiguration,
    BatchGetRepositoryScanningConfiguration,
    StartImageScan,
    DescribeImageScanFindings,
}

impl Action {
    /// The IAM action name, e.g. `ecr:PutImage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BatchGetImage => "ecr:BatchGetImage",
            Self::BatchCheckLayerAvailability => "ecr:BatchCheckLayerAvailability",
            Self::GetDownloadUrlForLayer => "ecr:GetDownloadUrlForLayer",
            Self::InitiateLayerUpload => "ecr:InitiateLayerUpload",
            Self::UploadLayerPart => "ecr:UploadLayerPart",
            Self::CompleteLayerUpload => "ecr:CompleteLayerUpload",
            Self::PutImage => "ecr:PutImage",
            Self::BatchDeleteImage => "ecr:BatchDeleteImage",
            Self::ListImages => "ecr:ListImages",
            Self::DescribeRepositories => "ecr:DescribeRepositories",
            Self::ListImageReferrers => "ecr:ListImageReferrers",
            Self::GetAuthorizationToken => "ecr:GetAuthorizationToken",
            Self::CreateRepository => "ecr:CreateRepository",
            Self::DeleteRepository => "ecr:DeleteRepository",
            Self::PutImageTagMutability => "ecr:PutImageTagMutability",
            Self::DescribeImages => "ecr:DescribeImages",
            Self::TagResource => "ecr:TagResource",
            Self::UntagResource => "ecr:UntagResource",
            Self::ListTagsForResource => "ecr:ListTagsForResource",
            Self::DescribeRegistry => "ecr:DescribeRegistry",
            Self::GetAccountSetting => "ecr:GetAccountSetting",
            Self::PutAccountSetting => "ecr:PutAccountSetting",
            Self::PutLifecyclePolicy => "ecr:PutLifecyclePolicy",
            Self::GetLifecyclePolicy => "ecr:GetLifecyclePolicy",
            Self::DeleteLifecyclePolicy => "ecr:DeleteLifecyclePolicy",
            Self::StartLifecyclePolicyPreview => "ecr:StartLifecyclePolicyPreview",
            Self::GetLifecyclePolicyPreview => "ecr:GetLifecyclePolicyPreview",
            Self::SetRepositoryPolicy => "ecr:SetRepositoryPolicy",
            Self::GetRepositoryPolicy => "ecr:GetRepositoryPolicy",
            Self::DeleteRepositoryPolicy => "ecr:DeleteRepositoryPolicy",
            Self::PutRegistryPolicy => "ecr:PutRegistryPolicy",
            Self::GetRegistryPolicy => "ecr:GetRegistryPolicy",
            Self::PutImageScanningConfiguration => "ecr:PutImageScanningConfiguration",
            Self::PutRegistryScanningConfiguration => "ecr:PutRegistryScanningConfiguration",
            Self::GetRegistryScanningConfiguration => "ecr:GetRegistryScanningConfiguration",
            Self::BatchGetRepositoryScanningConfiguration => "ecr:BatchGetRepositoryScanningConfiguration",
            Self::StartImageScan => "ecr:StartImageScan",
            Self::DescribeImageScanFindings => "ecr:DescribeImageScanFindings",
            Self::DeleteRegistryPolicy => "ecr:DeleteRegistryPolicy",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller: an IAM principal of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account_id: String,
    pub principal_arn: String,
    /// The access key id of the temporary credentials (`ASIA…`) the caller
    /// signed with, directly or through a login password: their session
    /// policy applies too.
    pub session_key: Option<String>,
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were presented.
    Anonymous,
    Authenticated(Identity),
}

impl Principal {
    /// The ARN named in denial messages.
    pub fn arn(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Authenticated(id) => &id.principal_arn,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The policies do not allow it; the message is AWS's.
    #[error("{message}")]
    Denied { message: String },
    /// The policies could not be loaded.
    #[error(transparent)]
    Meta(#[from] stowage_meta::MetaError),
}

/// What an action is performed on.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    /// The account that owns the resource.
    pub account_id: &'a str,
    /// Its ARN (`*` for account-wide actions such as GetAuthorizationToken).
    pub arn: &'a str,
    /// The repository, when the resource is one (its policy and tags apply).
    pub repository: Option<&'a stowage_meta::Repository>,
}

/// `arn:aws:ecr:<region>:<account>:repository/<name>`.
pub fn repository_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:ecr:{region}:{account_id}:repository/{name}")
}
