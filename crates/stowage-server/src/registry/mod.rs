//! The OCI distribution API on `/v2/`: parse → authorize → resolve the
//! repository → call the handler for the endpoint.

mod authn;
mod blobs;
pub mod download;
pub mod endpoint;
pub mod error;
mod listing;
mod manifests;
pub mod public;
mod uploads;

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use stowage_meta::Repository;

pub use endpoint::Endpoint;
pub use error::OciError;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::services::authz::{self, RequestFacts};
use crate::services::repositories::Namespace;

use crate::ops::RequestInfo;

/// The header every registry response carries.
pub const API_VERSION_HEADER: &str = "docker-distribution-api-version";

/// What a handler gets besides the body: the state, the caller, the resolved
/// repository and the request's query and headers.
pub struct Ctx {
    pub state: AppState,
    pub principal: Principal,
    /// What the request tells the policy evaluator (source IP, …).
    pub facts: RequestFacts,
    /// The registry the request reached: private, or public (ECR Public).
    pub namespace: Namespace,
    pub repo: Repository,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
}

impl Ctx {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }
}

/// Entry point for every `/v2/…` request to the private registry.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    dispatch_in(state, Namespace::Private, req).await
}

/// Entry point for every `/v2/…` request to the public registry (its own listener).
pub async fn dispatch_public(State(state): State<AppState>, req: Request) -> Response {
    dispatch_in(state, Namespace::Public, req).await
}

async fn dispatch_in(state: AppState, ns: Namespace, req: Request) -> Response {
    let path = req.uri().path();
    let rest = path.strip_prefix("/v2").unwrap_or(path);
    let rest = rest.strip_prefix('/').unwrap_or(rest).to_string();
    let (info, result) = match Endpoint::parse(req.method(), &rest) {
        Ok(endpoint) => {
            let info = RequestInfo {
                endpoint: endpoint.name(),
                repository: endpoint.repository().map(|r| r.to_string()),
            };
            (info, serve(state, ns, endpoint, req).await)
        }
        Err(e) => (
            RequestInfo {
                endpoint: "Unrouted",
                repository: None,
            },
            Err(e),
        ),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
    resp.extensions_mut().insert(info);
    resp
}

/// Who called: a registry password's principal (private) or a Bearer token (public).
enum Caller {
    Password(Principal),
    Bearer(crate::services::tokens::BearerClaims),
}

async fn serve(state: AppState, ns: Namespace, endpoint: Endpoint, req: Request) -> Result<Response, OciError> {
    let caller = match ns {
        Namespace::Private => match authn::authenticate(&state, req.headers()).await? {
            Ok(p) => Caller::Password(p),
            Err(rejection) => return Ok(rejection),
        },
        Namespace::Public => Caller::Bearer(public::authenticate(&state, req.headers(), &endpoint).await?),
    };
    let account = state.config.account_id.clone();
    let arn = ns.repository_arn(
        &state.config.region,
        &account,
        endpoint.repository().map_or("*", |n| n.as_str()),
    );
    // Resolved before the decision, since its policy and tags take part; a
    // missing repository is reported only to a caller allowed to know.
    let repo = match endpoint.repository() {
        None => None,
        Some(name) => crate::services::repositories::lookup_in(&state, ns, &account, name.as_str()).await?,
    };
    let facts = RequestFacts::from_extensions(req.extensions());
    let resource = auth::Resource {
        account_id: &account,
        arn: &arn,
        repository: repo.as_ref(),
    };
    let principal = match caller {
        Caller::Password(principal) => {
            authz::authorize(&state, &principal, endpoint.action().as_str(), resource, &facts).await?;
            principal
        }
        Caller::Bearer(claims) => {
            public::authorize(&state, &claims, &endpoint, resource, &facts, req.headers()).await?
        }
    };
    let (parts, body) = req.into_parts();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let repo = match endpoint.repository() {
        None => None,
        Some(name) => Some(repo.ok_or_else(|| OciError::name_unknown(name.as_str(), &account))?),
    };
    match endpoint {
        Endpoint::Base => Ok(axum::Json(serde_json::json!({})).into_response()),
        Endpoint::Catalog => listing::catalog(&state, ns, &query).await,
        endpoint => {
            let repo = repo.expect("named endpoints resolved their repository");
            let ctx = Ctx {
                state: state.clone(),
                principal,
                facts,
                namespace: ns,
                repo,
                query,
                headers: parts.headers,
            };
            match endpoint {
                Endpoint::ListTags { .. } => listing::list_tags(ctx).await,
                Endpoint::GetReferrers { digest, .. } => listing::get_referrers(ctx, digest).await,
                Endpoint::GetManifest { reference, head, .. } => manifests::get_manifest(ctx, &reference, head).await,
                Endpoint::PutManifest { reference, .. } => manifests::put_manifest(ctx, body, &reference).await,
                Endpoint::DeleteManifest { reference, .. } => manifests::delete_manifest(ctx, &reference).await,
                Endpoint::GetBlob { digest, head, .. } => blobs::get_blob(ctx, &digest, head).await,
                Endpoint::DeleteBlob { digest, .. } => blobs::delete_blob(ctx, &digest).await,
                Endpoint::StartUpload { .. } => uploads::start_upload(ctx, body).await,
                Endpoint::GetUpload { id, .. } => uploads::get_upload(ctx, &id).await,
                Endpoint::PatchUpload { id, .. } => uploads::patch_upload(ctx, body, &id).await,
                Endpoint::PutUpload { id, .. } => uploads::put_upload(ctx, body, &id).await,
                Endpoint::CancelUpload { id, .. } => uploads::cancel_upload(ctx, &id).await,
                Endpoint::Base | Endpoint::Catalog => unreachable!("handled above"),
            }
        }
    }
}

/// Parses a digest from a path or query, as `DIGEST_INVALID` when malformed.
fn parse_digest(s: &str) -> Result<stowage_core::Digest, OciError> {
    s.parse()
        .map_err(|e: stowage_core::DigestError| OciError::digest_invalid(&format!("invalid digest '{s}': {e}")))
}
