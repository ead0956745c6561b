//! The ECR control plane: AWS JSON 1.1 on `POST /`, dispatched on
//! `X-Amz-Target`. Each request is SigV4-verified, named as its operation,
//! authorized once as its IAM action, then served by a thin handler.

mod error;
pub(crate) mod images;
pub(crate) mod layers;
mod lifecycle;
pub mod operation;
pub(crate) mod paging;
pub(crate) mod policies;
mod registry;
pub(crate) mod repositories;
mod scanning;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use stowage_meta::Repository;

pub use error::EcrError;
use operation::{ECR_PREFIX, NOT_YET, Operation};

use crate::AppState;
use crate::auth::{self, Identity, Principal};
use crate::ops::RequestInfo;
use crate::services::authz::{self, RequestFacts};
use crate::services::repositories::Namespace;

/// Largest request body: a 20 MiB `UploadLayerPart` part, base64-encoded, plus JSON.
const MAX_BODY: usize = 30 * 1024 * 1024;
/// The JSON 1.1 content type.
pub const JSON_11: &str = "application/x-amz-json-1.1";

/// What a handler gets: the state, the verified caller, the registry account
/// and which registry (private, or ECR Public) the request is about.
pub struct ApiCtx {
    pub state: AppState,
    pub identity: Identity,
    pub account: String,
    pub namespace: Namespace,
}

impl ApiCtx {
    /// The repository `name` of the registry, or `RepositoryNotFoundException`.
    pub async fn repository(&self, name: &str) -> Result<Repository, EcrError> {
        crate::services::repositories::lookup_in(&self.state, self.namespace, &self.account, name)
            .await?
            .ok_or_else(|| EcrError::repository_not_found(name, &self.account))
    }
}

/// Serialises a response body.
fn json_response_body(v: &Value) -> ([(header::HeaderName, HeaderValue); 1], String) {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_11))],
        v.to_string(),
    )
}

/// Entry point for `POST /`.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut endpoint = "UnknownOperation";
    let result = handle(&state, req, &mut endpoint).await;
    let mut resp = match result {
        Ok(v) => json_response_body(&v).into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp.extensions_mut().insert(RequestInfo {
        endpoint,
        repository: None,
    });
    resp
}

async fn handle(state: &AppState, req: Request, endpoint: &mut &'static str) -> Result<Value, EcrError> {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| EcrError::serialization("request body is too large or could not be read"))?;
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(name) = target.strip_prefix(crate::ecr_public::TARGET_PREFIX) {
        return crate::ecr_public::handle(state, &parts, &body, name, endpoint).await;
    }
    if let Some(name) = target.strip_prefix(crate::kms::TARGET_PREFIX) {
        return crate::kms::handle(state, &parts, &body, name, endpoint).await;
    }
    let identity = authenticate(state, &parts, &body, "ecr", &state.config.region).await?;

    let name = target.strip_prefix(ECR_PREFIX).ok_or_else(|| {
        EcrError::new(
            "UnknownOperationException",
            format!("unknown operation target '{target}'"),
        )
    })?;
    let op = match Operation::parse(name) {
        Some(op) => op,
        None if NOT_YET.contains(&name) => {
            return Err(EcrError::new(
                "ValidationException",
                format!("{name} is not supported by this registry"),
            ));
        }
        None => {
            return Err(EcrError::new(
                "UnknownOperationException",
                format!("unknown operation '{name}'"),
            ));
        }
    };
    *endpoint = op.name();

    let input = input_object(&body)?;
    let mut facts = RequestFacts::from_extensions(&parts.extensions);
    request_tags(&input, &mut facts);
    invoke(state, identity, op, input, facts).await
}

/// Authorizes `op` for `identity` (as its IAM action on the resource the input
/// names) and runs it: the one way into the ECR operations, for the wire and
/// for the console.
pub async fn invoke(
    state: &AppState,
    identity: Identity,
    op: Operation,
    input: Value,
    facts: RequestFacts,
) -> Result<Value, EcrError> {
    let account = registry_id(&input, &identity)?;
    let resource_arn = resource_arn(op, &input, state, &account);
    let repository = match resource_repository_name(&input, &resource_arn) {
        Some(name) => crate::services::repositories::lookup(state, &account, &name).await?,
        None => None,
    };
    let principal = Principal::Authenticated(identity.clone());
    authz::authorize(
        state,
        &principal,
        op.action().as_str(),
        auth::Resource {
            account_id: &account,
            arn: &resource_arn,
            repository: repository.as_ref(),
        },
        &facts,
    )
    .await?;

    let ctx = ApiCtx {
        state: state.clone(),
        identity,
        account,
        namespace: Namespace::Private,
    };
    use Operation as O;
    match op {
        O::GetAuthorizationToken => registry::get_authorization_token(&ctx, input).await,
        O::DescribeRegistry => registry::describe_registry(&ctx, input).await,
        O::GetAccountSetting => registry::get_account_setting(&ctx, input).await,
        O::PutAccountSetting => registry::put_account_setting(&ctx, input).await,
        O::CreateRepository => repositories::create_repository(&ctx, input).await,
        O::DescribeRepositories => repositories::describe_repositories(&ctx, input).await,
        O::DeleteRepository => repositories::delete_repository(&ctx, input).await,
        O::PutImageTagMutability => repositories::put_image_tag_mutability(&ctx, input).await,
        O::TagResource => repositories::tag_resource(&ctx, input).await,
        O::UntagResource => repositories::untag_resource(&ctx, input).await,
        O::ListTagsForResource => repositories::list_tags_for_resource(&ctx, input).await,
        O::PutImage => images::put_image(&ctx, input).await,
        O::BatchGetImage => images::batch_get_image(&ctx, input).await,
        O::BatchDeleteImage => images::batch_delete_image(&ctx, input).await,
        O::DescribeImages => images::describe_images(&ctx, input).await,
        O::ListImages => images::list_images(&ctx, input).await,
        O::BatchCheckLayerAvailability => layers::batch_check_layer_availability(&ctx, input).await,
        O::InitiateLayerUpload => layers::initiate_layer_upload(&ctx, input).await,
        O::UploadLayerPart => layers::upload_layer_part(&ctx, input).await,
        O::CompleteLayerUpload => layers::complete_layer_upload(&ctx, input).await,
        O::GetDownloadUrlForLayer => layers::get_download_url_for_layer(&ctx, input).await,
        O::PutLifecyclePolicy => lifecycle::put_lifecycle_policy(&ctx, input).await,
        O::GetLifecyclePolicy => lifecycle::get_lifecycle_policy(&ctx, input).await,
        O::DeleteLifecyclePolicy => lifecycle::delete_lifecycle_policy(&ctx, input).await,
        O::StartLifecyclePolicyPreview => lifecycle::start_lifecycle_policy_preview(&ctx, input).await,
        O::GetLifecyclePolicyPreview => lifecycle::get_lifecycle_policy_preview(&ctx, input).await,
        O::SetRepositoryPolicy => policies::set_repository_policy(&ctx, input).await,
        O::GetRepositoryPolicy => policies::get_repository_policy(&ctx, input).await,
        O::DeleteRepositoryPolicy => policies::delete_repository_policy(&ctx, input).await,
        O::PutRegistryPolicy => policies::put_registry_policy(&ctx, input).await,
        O::GetRegistryPolicy => policies::get_registry_policy(&ctx, input).await,
        O::DeleteRegistryPolicy => policies::delete_registry_policy(&ctx, input).await,
        O::PutImageScanningConfiguration => scanning::put_image_scanning_configuration(&ctx, input).await,
        O::PutRegistryScanningConfiguration => scanning::put_registry_scanning_configuration(&ctx, input).await,
        O::GetRegistryScanningConfiguration => scanning::get_registry_scanning_configuration(&ctx, input).await,
        O::BatchGetRepositoryScanningConfiguration => {
            scanning::batch_get_repository_scanning_configuration(&ctx, input).await
        }
        O::StartImageScan => scanning::start_image_scan(&ctx, input).await,
        O::DescribeImageScanFindings => scanning::describe_image_scan_findings(&ctx, input).await,
    }
}

/// The request body as a JSON object (`{}` when empty).
pub(crate) fn input_object(body: &[u8]) -> Result<Value, EcrError> {
    let input: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| EcrError::serialization(format!("request body is not valid JSON: {e}")))?
    };
    if !input.is_object() {
        return Err(EcrError::serialization("request body must be a JSON object"));
    }
    Ok(input)
}

/// Verifies the SigV4 signature (signing name `service`, scoped to `region`)
/// and returns the caller.
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
    region: &str,
) -> Result<Identity, EcrError> {
    match crate::sigv4_auth::authenticate(state, parts, body, service, region).await {
        Ok(caller) => Ok(caller.identity),
        Err(crate::sigv4_auth::AuthnError::SigV4(e)) => Err(e.into()),
        Err(crate::sigv4_auth::AuthnError::Meta(e)) => Err(e.into()),
    }
}

/// The `registryId` of the request (12 digits), defaulting to the caller's
/// own registry (spec §1.6).
pub(crate) fn registry_id(input: &Value, caller: &Identity) -> Result<String, EcrError> {
    match input.get("registryId") {
        None | Some(Value::Null) => Ok(caller.account_id.clone()),
        Some(Value::String(id)) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id.clone()),
        Some(other) => Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{{12}}'' (got {other})"
        ))),
    }
}

/// The resource an operation acts on, for authorization.
fn resource_arn(op: Operation, input: &Value, state: &AppState, account: &str) -> String {
    let region = &state.config.region;
    if let Some(arn) = input.get("resourceArn").and_then(Value::as_str) {
        return arn.to_string();
    }
    match (op, input.get("repositoryName").and_then(Value::as_str)) {
        // Not resource-scoped (spec §5.1): policies name them on `*`.
        (
            Operation::GetAuthorizationToken
            | Operation::DescribeRegistry
            | Operation::GetAccountSetting
            | Operation::PutAccountSetting
            | Operation::PutRegistryPolicy
            | Operation::GetRegistryPolicy
            | Operation::DeleteRegistryPolicy
            | Operation::PutRegistryScanningConfiguration
            | Operation::GetRegistryScanningConfiguration,
            _,
        ) => "*".to_string(),
        (_, Some(name)) => auth::repository_arn(region, account, name),
        (_, None) => auth::repository_arn(region, account, "*"),
    }
}

/// The repository an operation names, by `repositoryName` or in its `resourceArn`.
fn resource_repository_name(input: &Value, resource_arn: &str) -> Option<String> {
    if let Some(name) = input.get("repositoryName").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    input.get("resourceArn")?;
    resource_arn
        .split_once(":repository/")
        .map(|(_, name)| name.to_string())
}

/// `aws:RequestTag/…` and `aws:TagKeys` from an input's `tags` / `tagKeys`.
pub(crate) fn request_tags(input: &Value, facts: &mut RequestFacts) {
    if let Some(tags) = input.get("tags").and_then(Value::as_array) {
        for t in tags {
            if let (Some(k), Some(v)) = (
                t.get("Key").and_then(Value::as_str),
                t.get("Value").and_then(Value::as_str),
            ) {
                facts.request_tags.push((k.to_string(), v.to_string()));
                facts.tag_keys.push(k.to_string());
            }
        }
    }
    if let Some(keys) = input.get("tagKeys").and_then(Value::as_array) {
        facts
            .tag_keys
            .extend(keys.iter().filter_map(Value::as_str).map(str::to_string));
    }
}

/// Deserialises an operation's input, as `SerializationException` when the shape is wrong.
pub fn parse<T: DeserializeOwned>(input: Value) -> Result<T, EcrError> {
    serde_json::from_value(input).map_err(|e| EcrError::serialization(e.to_string()))
}

/// Epoch milliseconds as the JSON 1.1 timestamp (epoch seconds, fractional).
pub fn timestamp(ms: i64) -> Value {
    serde_json::json!(ms as f64 / 1000.0)
}

/// Validates a repository name as ECR does (`InvalidParameterException`).
pub fn repository_name(name: &str) -> Result<stowage_core::RepositoryName, EcrError> {
    name.parse().map_err(|e: stowage_core::NameError| {
        EcrError::invalid_parameter(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: '{e}'"
        ))
    })
}
