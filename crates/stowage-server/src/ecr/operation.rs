//! `X-Amz-Target` values: the ECR operations by their AWS names, each with the
//! IAM action it is authorized as.

use crate::auth::Action;

/// The target prefix of ECR's JSON API.
pub const ECR_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

json_operations!(
    /// An ECR operation this registry serves.
    GetAuthorizationToken,
    CreateRepository,
    DescribeRepositories,
    DeleteRepository,
    PutImageTagMutability,
    PutImage,
    BatchGetImage,
    BatchDeleteImage,
    DescribeImages,
    ListImages,
    BatchCheckLayerAvailability,
    InitiateLayerUpload,
    UploadLayerPart,
    CompleteLayerUpload,
    GetDownloadUrlForLayer,
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
);

/// Operations of the ECR model that later work will serve; until then they
/// answer `ValidationException` (spec §1.7).
pub const NOT_YET: &[&str] = &[
    "CreatePullThroughCacheRule",
    "CreateRepositoryCreationTemplate",
    "DeletePullThroughCacheRule",
    "DeleteRepositoryCreationTemplate",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribeImageReplicationStatus",
    "DescribeImageSigningStatus",
    "DescribePullThroughCacheRules",
    "DescribeRepositoryCreationTemplates",
    "GetSigningConfiguration",
    "ListImageReferrers",
    "ListPullTimeUpdateExclusions",
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "UpdateImageStorageClass",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "ValidatePullThroughCacheRule",
];

impl Operation {
    /// The IAM action checked for the operation.
    pub fn action(self) -> Action {
        match self {
            Operation::GetAuthorizationToken => Action::GetAuthorizationToken,
            Operation::CreateRepository => Action::CreateRepository,
            Operation::DescribeRepositories => Action::DescribeRepositories,
            Operation::DeleteRepository => Action::DeleteRepository,
            Operation::PutImageTagMutability => Action::PutImageTagMutability,
            Operation::PutImage => Action::PutImage,
            Operation::BatchGetImage => Action::BatchGetImage,
            Operation::BatchDeleteImage => Action::BatchDeleteImage,
            Operation::DescribeImages => Action::DescribeImages,
            Operation::ListImages => Action::ListImages,
            Operation::BatchCheckLayerAvailability => Action::BatchCheckLayerAvailability,
            Operation::InitiateLayerUpload => Action::InitiateLayerUpload,
            Operation::UploadLayerPart => Action::UploadLayerPart,
            Operation::CompleteLayerUpload => Action::CompleteLayerUpload,
            Operation::GetDownloadUrlForLayer => Action::GetDownloadUrlForLayer,
            Operation::TagResource => Action::TagResource,
            Operation::UntagResource => Action::UntagResource,
            Operation::ListTagsForResource => Action::ListTagsForResource,
            Operation::DescribeRegistry => Action::DescribeRegistry,
            Operation::GetAccountSetting => Action::GetAccountSetting,
            Operation::PutAccountSetting => Action::PutAccountSetting,
            Operation::PutLifecyclePolicy => Action::PutLifecyclePolicy,
            Operation::GetLifecyclePolicy => Action::GetLifecyclePolicy,
            Operation::DeleteLifecyclePolicy => Action::DeleteLifecyclePolicy,
            Operation::StartLifecyclePolicyPreview => Action::StartLifecyclePolicyPreview,
            Operation::GetLifecyclePolicyPreview => Action::GetLifecyclePolicyPreview,
            Operation::SetRepositoryPolicy => Action::SetRepositoryPolicy,
            Operation::GetRepositoryPolicy => Action::GetRepositoryPolicy,
            Operation::DeleteRepositoryPolicy => Action::DeleteRepositoryPolicy,
            Operation::PutRegistryPolicy => Action::PutRegistryPolicy,
            Operation::GetRegistryPolicy => Action::GetRegistryPolicy,
            Operation::DeleteRegistryPolicy => Action::DeleteRegistryPolicy,
            Operation::PutImageScanningConfiguration => Action::PutImageScanningConfiguration,
            Operation::PutRegistryScanningConfiguration => Action::PutRegistryScanningConfiguration,
            Operation::GetRegistryScanningConfiguration => Action::GetRegistryScanningConfiguration,
            Operation::BatchGetRepositoryScanningConfiguration => Action::BatchGetRepositoryScanningConfiguration,
            Operation::StartImageScan => Action::StartImageScan,
            Operation::DescribeImageScanFindings => Action::DescribeImageScanFindings,
        }
    }
}
