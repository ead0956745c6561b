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
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were presented.
    Anonymous,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("User: {principal} is not authorized to perform: {action} on resource: {resource}")]
    Denied {
        principal: String,
        action: Action,
        resource: String,
    },
}

/// Decides whether `principal` may perform `action` on the repository.
///
/// Until identities exist, every caller is the registry's own account and may
/// do everything; identity and resource policies plug in here.
pub fn authorize(principal: &Principal, action: Action, repository: Option<&str>) -> Result<(), AuthError> {
    tracing::trace!(?principal, %action, repository, "authorized");
    Ok(())
}
