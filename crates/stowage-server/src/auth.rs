//! The one authorization step every request passes: the request is named as
//! its ECR action (spec §3.2) and checked for the caller.

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
    #[error(
        "User: {principal} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )]
    Denied {
        principal: String,
        action: Action,
        resource: String,
    },
}

/// What an action is performed on.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    /// The account that owns the resource.
    pub account_id: &'a str,
    /// Its ARN (`*` for account-wide actions such as GetAuthorizationToken).
    pub arn: &'a str,
}

/// Decides whether `principal` may perform `action` on `resource`.
///
/// An authenticated principal may do everything in its own account and nothing
/// in another; identity, repository and registry policies plug in here.
pub fn authorize(principal: &Principal, action: Action, resource: Resource<'_>) -> Result<(), AuthError> {
    let allowed = match principal {
        Principal::Anonymous => false,
        Principal::Authenticated(id) => id.account_id == resource.account_id,
    };
    if allowed {
        return Ok(());
    }
    let err = AuthError::Denied {
        principal: principal.arn().to_string(),
        action,
        resource: resource.arn.to_string(),
    };
    tracing::debug!(principal = principal.arn(), %action, resource = resource.arn, "denied");
    Err(err)
}

/// `arn:aws:ecr:<region>:<account>:repository/<name>`.
pub fn repository_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:ecr:{region}:{account_id}:repository/{name}")
}
