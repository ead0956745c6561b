//! IAM and STS on the AWS query protocol: `POST /` with a form-encoded body
//! (`Action=…&Version=…`), XML responses and errors. Each request is
//! SigV4-verified (signing name `iam` or `sts`, from the credential scope),
//! named as its operation, authorized as `iam:<Op>` / `sts:<Op>` on the IAM ARN
//! it acts on, then served by a thin handler over `services::iam`.

mod error;
mod groups;
mod keys;
mod policies;
mod roles;
mod sts;
mod users;
pub mod xml;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use stowage_core::query::Params;
use stowage_meta::EntityKind;

pub use error::QueryError;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::ops::{ErrorCode, RequestInfo};
use crate::services::authz::{self, RequestFacts};
use crate::services::iam::{self as svc, IamError};
use crate::sigv4_auth::{self, Authenticated, AuthnError};

/// IAM's XML namespace (API version 2010-05-08).
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace (API version 2011-06-15).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Largest request body: IAM's largest input is a 128 KiB policy document.
const MAX_BODY: usize = 1024 * 1024;

/// Is this `POST /` a query-protocol request (form-encoded, no `X-Amz-Target`)?
pub fn is_query_request(headers: &HeaderMap) -> bool {
    headers.get("x-amz-target").is_none()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/x-www-form-urlencoded"))
}

/// Which service an operation belongs to (and signs for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Iam,
    Sts,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Iam => IAM_NAMESPACE,
            Service::Sts => STS_NAMESPACE,
        }
    }
}

macro_rules! operations {
    ($($service:ident: $($op:ident),+;)+) => {
        /// The IAM and STS operations served.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Operation { $($($op),+),+ }

        impl Operation {
            /// The operation named by `Action`.
            pub fn parse(name: &str) -> Option<Operation> {
                match name {
                    $($(stringify!($op) => Some(Operation::$op),)+)+
                    _ => None,
                }
            }

            /// Its AWS name.
            pub fn name(self) -> &'static str {
                match self { $($(Operation::$op => stringify!($op),)+)+ }
            }

            /// The service it belongs to.
            pub fn service(self) -> Service {
                match self { $($(Operation::$op => Service::$service,)+)+ }
            }
        }
    };
}

operations! {
    Iam: CreateUser, DeleteUser, GetUser, ListUsers,
        CreateAccessKey, DeleteAccessKey, ListAccessKeys,
        PutUserPolicy, GetUserPolicy, DeleteUserPolicy, ListUserPolicies,
        CreatePolicy, GetPolicy, DeletePolicy, ListPolicies,
        AttachUserPolicy, DetachUserPolicy, ListAttachedUserPolicies,
        CreateGroup, DeleteGroup, AddUserToGroup, RemoveUserFromGroup, PutGroupPolicy, AttachGroupPolicy,
        CreateRole, GetRole, DeleteRole, PutRolePolicy, AttachRolePolicy;
    Sts: GetCallerIdentity, AssumeRole;
}

impl Operation {
    /// The IAM action, e.g. `iam:CreateUser`.
    pub fn action(self) -> String {
        format!("{}:{}", self.service().signing_name(), self.name())
    }
}

/// What a handler gets: the state, the verified caller and its account.
pub struct QueryCtx {
    pub state: AppState,
    pub caller: Authenticated,
    /// The caller's account: IAM acts on it.
    pub account: String,
}

/// A handler's answer: the inside of `<OpResult>`, or `None` for no output.
type Reply = Result<Option<String>, QueryError>;

/// Entry point for query-protocol `POST /`.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut endpoint = "UnknownOperation";
    let mut service = Service::Iam;
    let result = handle(&state, req, &mut endpoint, &mut service).await;
    let (status, body, code) = match result {
        Ok(result) => (
            StatusCode::OK,
            xml::response(endpoint, service.namespace(), result, &request_id),
            None,
        ),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            xml::error(service.namespace(), e.sender, e.code, &e.message, &request_id),
            Some(e.code),
        ),
    };
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp.extensions_mut().insert(RequestInfo {
        endpoint,
        repository: None,
    });
    if let Some(code) = code {
        resp.extensions_mut().insert(ErrorCode(code));
    }
    resp
}

async fn handle(
    state: &AppState,
    req: Request,
    endpoint: &mut &'static str,
    service: &mut Service,
) -> Result<Option<String>, QueryError> {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
        QueryError::from(IamError::Validation(
            "request body is too large or could not be read".into(),
        ))
    })?;
    let params = Params::parse(&body);
    let scope = sigv4_auth::authorization(&parts)?;
    if scope.service == "sts" {
        *service = Service::Sts;
    }
    let action = params.get("Action").unwrap_or_default();
    let op = Operation::parse(action).ok_or_else(|| QueryError::invalid_action(action))?;
    *endpoint = op.name();
    *service = op.service();
    // IAM is global: the CLI signs it for whatever region it is configured with.
    // STS answers in the registry's region and at the global endpoint (us-east-1).
    let region = match op.service() {
        Service::Iam => scope.region.as_str(),
        Service::Sts if scope.region == "us-east-1" => "us-east-1",
        Service::Sts => state.config.region.as_str(),
    };
    let caller = sigv4_auth::authenticate(state, &parts, &body, op.service().signing_name(), region)
        .await
        .map_err(|e| match e {
            AuthnError::SigV4(e) => QueryError::from(e),
            AuthnError::Meta(e) => QueryError::from(e),
        })?;
    let account = caller.identity.account_id.clone();
    let ctx = QueryCtx {
        state: state.clone(),
        caller,
        account,
    };

    // GetCallerIdentity needs no permission; AssumeRole weighs the trust policy itself.
    if !matches!(op, Operation::GetCallerIdentity | Operation::AssumeRole) {
        let resource = resource_arn(&ctx, op, &params).await?;
        let facts = RequestFacts {
            request_tags: params.tags("Tags"),
            tag_keys: params.tags("Tags").into_iter().map(|(k, _)| k).collect(),
            ..RequestFacts::from_extensions(&parts.extensions)
        };
        authz::authorize(
            state,
            &Principal::Authenticated(ctx.caller.identity.clone()),
            &op.action(),
            auth::Resource {
                account_id: &ctx.account,
                arn: &resource,
                repository: None,
            },
            &facts,
        )
        .await?;
    }

    use Operation as O;
    match op {
        O::CreateUser => users::create_user(&ctx, &params).await,
        O::DeleteUser => users::delete_user(&ctx, &params).await,
        O::GetUser => users::get_user(&ctx, &params).await,
        O::ListUsers => users::list_users(&ctx, &params).await,
        O::PutUserPolicy => users::put_user_policy(&ctx, &params).await,
        O::GetUserPolicy => users::get_user_policy(&ctx, &params).await,
        O::DeleteUserPolicy => users::delete_user_policy(&ctx, &params).await,
        O::ListUserPolicies => users::list_user_policies(&ctx, &params).await,
        O::AttachUserPolicy => users::attach_user_policy(&ctx, &params).await,
        O::DetachUserPolicy => users::detach_user_policy(&ctx, &params).await,
        O::ListAttachedUserPolicies => users::list_attached_user_policies(&ctx, &params).await,
        O::CreateAccessKey => keys::create_access_key(&ctx, &params).await,
        O::DeleteAccessKey => keys::delete_access_key(&ctx, &params).await,
        O::ListAccessKeys => keys::list_access_keys(&ctx, &params).await,
        O::CreatePolicy => policies::create_policy(&ctx, &params).await,
        O::GetPolicy => policies::get_policy(&ctx, &params).await,
        O::DeletePolicy => policies::delete_policy(&ctx, &params).await,
        O::ListPolicies => policies::list_policies(&ctx, &params).await,
        O::CreateGroup => groups::create_group(&ctx, &params).await,
        O::DeleteGroup => groups::delete_group(&ctx, &params).await,
        O::AddUserToGroup => groups::add_user_to_group(&ctx, &params).await,
        O::RemoveUserFromGroup => groups::remove_user_from_group(&ctx, &params).await,
        O::PutGroupPolicy => groups::put_group_policy(&ctx, &params).await,
        O::AttachGroupPolicy => groups::attach_group_policy(&ctx, &params).await,
        O::CreateRole => roles::create_role(&ctx, &params).await,
        O::GetRole => roles::get_role(&ctx, &params).await,
        O::DeleteRole => roles::delete_role(&ctx, &params).await,
        O::PutRolePolicy => roles::put_role_policy(&ctx, &params).await,
        O::AttachRolePolicy => roles::attach_role_policy(&ctx, &params).await,
        O::GetCallerIdentity => sts::get_caller_identity(&ctx, &params).await,
        O::AssumeRole => sts::assume_role(&ctx, &params).await,
    }
}

/// The IAM ARN an operation acts on, for authorization (`*` for listings).
async fn resource_arn(ctx: &QueryCtx, op: Operation, p: &Params) -> Result<String, QueryError> {
    use Operation as O;
    let named = |kind: EntityKind, member: &'static str| async move {
        let name = p.required(member)?;
        Ok::<_, QueryError>(svc::resource_arn(&ctx.state, &ctx.account, kind, name).await?)
    };
    let created = |kind: EntityKind, member: &'static str| -> Result<String, QueryError> {
        Ok(svc::entity_arn(
            &ctx.account,
            kind,
            p.get("Path").unwrap_or("/"),
            p.required(member)?,
        ))
    };
    Ok(match op {
        O::ListUsers | O::ListPolicies => "*".to_string(),
        O::CreateUser => created(EntityKind::User, "UserName")?,
        O::CreateGroup => created(EntityKind::Group, "GroupName")?,
        O::CreateRole => created(EntityKind::Role, "RoleName")?,
        O::CreatePolicy => format!(
            "arn:aws:iam::{}:policy{}{}",
            ctx.account,
            p.get("Path").unwrap_or("/"),
            p.required("PolicyName")?
        ),
        O::GetPolicy | O::DeletePolicy => p.required("PolicyArn")?.to_string(),
        O::GetUser | O::CreateAccessKey | O::DeleteAccessKey | O::ListAccessKeys if p.get("UserName").is_none() => {
            ctx.caller.identity.principal_arn.clone()
        }
        O::DeleteUser
        | O::GetUser
        | O::CreateAccessKey
        | O::DeleteAccessKey
        | O::ListAccessKeys
        | O::PutUserPolicy
        | O::GetUserPolicy
        | O::DeleteUserPolicy
        | O::ListUserPolicies
        | O::AttachUserPolicy
        | O::DetachUserPolicy
        | O::ListAttachedUserPolicies => named(EntityKind::User, "UserName").await?,
        O::DeleteGroup | O::AddUserToGroup | O::RemoveUserFromGroup | O::PutGroupPolicy | O::AttachGroupPolicy => {
            named(EntityKind::Group, "GroupName").await?
        }
        O::GetRole | O::DeleteRole | O::PutRolePolicy | O::AttachRolePolicy => {
            named(EntityKind::Role, "RoleName").await?
        }
        O::GetCallerIdentity | O::AssumeRole => "*".to_string(),
    })
}

/// One page of a listing: IAM's `Marker` / `MaxItems` (default 100), with
/// `IsTruncated` and the next `Marker` when more remain.
fn page<'a, T>(items: &'a [T], p: &Params) -> Result<(&'a [T], Option<String>), QueryError> {
    let start = match p.get("Marker") {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| IamError::InvalidInput("Invalid Marker.".into()))?,
        None => 0,
    };
    let max = p.int("MaxItems")?.unwrap_or(100).clamp(1, 1000) as usize;
    let start = start.min(items.len());
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((&items[start..end], next))
}

/// Writes `IsTruncated` (and `Marker`) after a listing.
fn truncation(x: &mut xml::Xml, next: Option<String>) {
    x.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
    x.opt("Marker", next.as_deref());
}

/// A policy document as IAM returns it: URL-encoded (botocore decodes it).
fn encode_document(document: &str) -> String {
    let mut out = String::with_capacity(document.len() * 2);
    for b in document.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `<Tags>` of an entity (omitted when it has none).
fn tags(x: &mut xml::Xml, tags: &[(String, String)]) {
    if !tags.is_empty() {
        x.list("Tags", tags, |x, (k, v)| {
            x.leaf("Key", k).leaf("Value", v);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_form_posts_without_a_target() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert!(is_query_request(&h));
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonEC2ContainerRegistry_V20150921.ListImages"),
        );
        assert!(!is_query_request(&h));
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        assert!(!is_query_request(&json));
    }

    #[test]
    fn operations_know_their_service() {
        assert_eq!(
            Operation::parse("AssumeRole").map(Operation::service),
            Some(Service::Sts)
        );
        assert_eq!(
            Operation::parse("CreateUser").map(|o| o.action()).as_deref(),
            Some("iam:CreateUser")
        );
        assert_eq!(Operation::parse("CreateBucket"), None);
    }

    #[test]
    fn pages_with_markers() {
        let items: Vec<u32> = (0..5).collect();
        let p = Params::parse(b"MaxItems=2");
        assert_eq!(page(&items, &p).unwrap(), (&items[0..2], Some("2".into())));
        let p = Params::parse(b"MaxItems=2&Marker=4");
        assert_eq!(page(&items, &p).unwrap(), (&items[4..5], None));
    }

    #[test]
    fn documents_are_url_encoded() {
        assert_eq!(encode_document(r#"{"a": "*"}"#), "%7B%22a%22%3A%20%22%2A%22%7D");
    }
}
