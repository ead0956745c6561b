//! The ECR Public control plane (spec §1.8, §2.14): `X-Amz-Target:
//! SpencerFrontendService.<Op>`, SigV4 with signing name `ecr-public` in
//! `us-east-1`. Requests arrive through `ecr::dispatch`, are authorized as
//! `ecr-public:<Op>` on `arn:aws:ecr-public::<account>:repository/<name>`, and
//! are served by the private ECR handlers wherever the wire shapes agree, with
//! the context's namespace set to the public registry.

mod registry;
mod repositories;

use http::request::Parts;
use serde_json::Value;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::ecr::{self, ApiCtx, EcrError};
use crate::services::authz::{self, RequestFacts};
use crate::services::repositories::Namespace;

/// The target prefix of ECR Public's JSON API.
pub const TARGET_PREFIX: &str = "SpencerFrontendService.";
/// The only region ECR Public is served from; its SigV4 scope.
pub const REGION: &str = "us-east-1";
/// SigV4 signing name.
const SIGNING_NAME: &str = "ecr-public";

json_operations!(
    /// An ECR Public operation (every one of the 2020-10-30 model).
    BatchCheckLayerAvailability,
    BatchDeleteImage,
    CompleteLayerUpload,
    CreateRepository,
    DeleteRepository,
    DeleteRepositoryPolicy,
    DescribeImageTags,
    DescribeImages,
    DescribeRegistries,
    DescribeRepositories,
    GetAuthorizationToken,
    GetRegistryCatalogData,
    GetRepositoryCatalogData,
    GetRepositoryPolicy,
    InitiateLayerUpload,
    ListTagsForResource,
    PutImage,
    PutRegistryCatalogData,
    PutRepositoryCatalogData,
    SetRepositoryPolicy,
    TagResource,
    UntagResource,
    UploadLayerPart,
);

impl Operation {
    /// The IAM action checked for the operation, e.g. `ecr-public:PutImage`.
    pub fn action(self) -> String {
        format!("ecr-public:{}", self.name())
    }
}

/// `arn:aws:ecr-public::<account>:registry/<account>`.
pub fn registry_arn(account_id: &str) -> String {
    format!("arn:aws:ecr-public::{account_id}:registry/{account_id}")
}

/// Serves one ECR Public request whose target named operation `name`.
pub(crate) async fn handle(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    name: &str,
    endpoint: &mut &'static str,
) -> Result<Value, EcrError> {
    let identity = ecr::authenticate(state, parts, body, SIGNING_NAME, REGION).await?;
    let op = Operation::parse(name)
        .ok_or_else(|| EcrError::new("UnknownOperationException", format!("unknown operation '{name}'")))?;
    *endpoint = op.name();
    let input = ecr::input_object(body)?;
    let account = ecr::registry_id(&input, &identity)?;
    let ctx = ApiCtx {
        state: state.clone(),
        identity,
        account,
        namespace: Namespace::Public,
    };

    let arn = resource_arn(op, &input, &ctx);
    let repository = match resource_repository(&input, &arn) {
        Some(name) => crate::services::repositories::lookup_in(state, Namespace::Public, &ctx.account, &name).await?,
        None => None,
    };
    let mut facts = RequestFacts::from_extensions(&parts.extensions);
    ecr::request_tags(&input, &mut facts);
    let principal = Principal::Authenticated(ctx.identity.clone());
    let resource = auth::Resource {
        account_id: &ctx.account,
        arn: &arn,
        repository: repository.as_ref(),
    };
    authz::authorize(state, &principal, &op.action(), resource, &facts).await?;
    if op == Operation::GetAuthorizationToken {
        // ECR Public's login also needs the STS bearer-token permission (spec §5.1).
        authz::authorize(state, &principal, "sts:GetServiceBearerToken", resource, &facts).await?;
    }

    use Operation as O;
    match op {
        O::GetAuthorizationToken => registry::get_authorization_token(&ctx, input).await,
        O::DescribeRegistries => registry::describe_registries(&ctx, input).await,
        O::GetRegistryCatalogData => registry::get_registry_catalog_data(&ctx, input).await,
        O::PutRegistryCatalogData => registry::put_registry_catalog_data(&ctx, input).await,
        O::CreateRepository => repositories::create_repository(&ctx, input).await,
        O::DescribeRepositories => repositories::describe_repositories(&ctx, input).await,
        O::DeleteRepository => repositories::delete_repository(&ctx, input).await,
        O::GetRepositoryCatalogData => repositories::get_repository_catalog_data(&ctx, input).await,
        O::PutRepositoryCatalogData => repositories::put_repository_catalog_data(&ctx, input).await,
        O::DescribeImageTags => repositories::describe_image_tags(&ctx, input).await,
        O::TagResource => ecr::repositories::tag_resource(&ctx, input).await,
        O::UntagResource => ecr::repositories::untag_resource(&ctx, input).await,
        O::ListTagsForResource => ecr::repositories::list_tags_for_resource(&ctx, input).await,
        O::PutImage => ecr::images::put_image(&ctx, input).await,
        O::BatchDeleteImage => ecr::images::batch_delete_image(&ctx, input).await,
        O::DescribeImages => ecr::images::describe_images(&ctx, input).await,
        O::BatchCheckLayerAvailability => ecr::layers::batch_check_layer_availability(&ctx, input).await,
        O::InitiateLayerUpload => ecr::layers::initiate_layer_upload(&ctx, input).await,
        O::UploadLayerPart => ecr::layers::upload_layer_part(&ctx, input).await,
        O::CompleteLayerUpload => ecr::layers::complete_layer_upload(&ctx, input).await,
        O::SetRepositoryPolicy => ecr::policies::set_repository_policy(&ctx, input).await,
        O::GetRepositoryPolicy => ecr::policies::get_repository_policy(&ctx, input).await,
        O::DeleteRepositoryPolicy => ecr::policies::delete_repository_policy(&ctx, input).await,
    }
}

/// The resource an operation acts on, for authorization.
fn resource_arn(op: Operation, input: &Value, ctx: &ApiCtx) -> String {
    if let Some(arn) = input.get("resourceArn").and_then(Value::as_str) {
        return arn.to_string();
    }
    let repo = |name: &str| Namespace::Public.repository_arn("", &ctx.account, name);
    match (op, input.get("repositoryName").and_then(Value::as_str)) {
        (Operation::GetAuthorizationToken | Operation::DescribeRegistries, _) => "*".to_string(),
        (Operation::GetRegistryCatalogData | Operation::PutRegistryCatalogData, _) => registry_arn(&ctx.account),
        (_, Some(name)) => repo(name),
        (_, None) => repo("*"),
    }
}

/// The repository an operation names, by `repositoryName` or in its `resourceArn`.
fn resource_repository(input: &Value, arn: &str) -> Option<String> {
    if let Some(name) = input.get("repositoryName").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    input.get("resourceArn")?;
    arn.split_once(":repository/").map(|(_, name)| name.to_string())
}

/// Validates an ECR Public repository name (spec §1.8: a stricter grammar than
/// ECR's, 2-205 characters), as `InvalidParameterException`.
pub fn repository_name(name: &str) -> Result<stowage_core::RepositoryName, EcrError> {
    let parsed = ecr::repository_name(name)?;
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    if name.len() > 205 || !name.split('/').all(component_ok) {
        return Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression \
             '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and have length between 2 and 205' (got '{name}')"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_repository_names() {
        for ok in ["ab", "team/app", "a.b-c_d/e1"] {
            assert!(repository_name(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "a__b", "a--b", "A/b", "a//b", &"a".repeat(206)] {
            assert!(repository_name(bad).is_err(), "{bad}");
        }
        assert_eq!(Operation::parse("PutImage").unwrap().action(), "ecr-public:PutImage");
        assert_eq!(Operation::ALL.len(), 23);
    }
}
