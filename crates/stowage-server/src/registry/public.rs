//! The public registry's Bearer flow (spec §3.3), on its own listener: `/v2/`
//! answers `401 Bearer realm="<url>/token/"`; `GET /token/` hands out a MAC'd
//! token — pull-only for anyone, also push for `Basic AWS:<password>`. Pulls of
//! public repositories need only the token; pushes and deletes are authorized as
//! `ecr-public:<Op>` for the token's principal.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, header};
use stowage_core::OciErrorCode;

use super::{Endpoint, OciError, authn};
use crate::AppState;
use crate::auth::{self, Principal};
use crate::ops::RequestInfo;
use crate::services::authz::{self, RequestFacts};
use crate::services::repositories::Namespace;
use crate::services::tokens::{self, BearerClaims, TokenError};

/// What an endpoint needs of a token's scope: `pull`, `push` or `delete`.
fn needed_action(endpoint: &Endpoint) -> Option<&'static str> {
    match endpoint {
        Endpoint::Base | Endpoint::Catalog => None,
        Endpoint::GetManifest { .. }
        | Endpoint::GetBlob { .. }
        | Endpoint::ListTags { .. }
        | Endpoint::GetReferrers { .. } => Some("pull"),
        Endpoint::DeleteManifest { .. } | Endpoint::DeleteBlob { .. } => Some("delete"),
        Endpoint::PutManifest { .. }
        | Endpoint::StartUpload { .. }
        | Endpoint::GetUpload { .. }
        | Endpoint::PatchUpload { .. }
        | Endpoint::PutUpload { .. }
        | Endpoint::CancelUpload { .. } => Some("push"),
    }
}

/// `host[:port]` the request reached, and the URL scheme of the public registry.
fn origin<'a>(state: &'a AppState, headers: &'a HeaderMap) -> (&'a str, &'a str) {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_else(|| state.config.public_registry_host());
    let scheme = match &state.config.public_registry_url {
        Some(url) if url.starts_with("https://") => "https",
        _ => "http",
    };
    (host, scheme)
}

/// `401` with `Www-Authenticate: Bearer realm=…,service=…,scope=…`.
fn challenge(state: &AppState, headers: &HeaderMap, endpoint: &Endpoint, insufficient: bool) -> OciError {
    let (host, scheme) = origin(state, headers);
    let scope = match (endpoint.repository(), needed_action(endpoint)) {
        (Some(name), Some("pull")) => format!("repository:{name}:pull"),
        (Some(name), Some(action)) => format!("repository:{name}:pull,{action}"),
        _ => "aws".to_string(),
    };
    let mut value = format!("Bearer realm=\"{scheme}://{host}/token/\",service=\"{host}\",scope=\"{scope}\"");
    if insufficient {
        value.push_str(",error=\"insufficient_scope\"");
    }
    OciError::new(OciErrorCode::Unauthorized, "authentication required").with_header(header::WWW_AUTHENTICATE, value)
}

/// The request's Bearer token, or the challenge that asks for one.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    endpoint: &Endpoint,
) -> Result<BearerClaims, OciError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return Err(challenge(state, headers, endpoint, false));
    };
    match tokens::verify_bearer(state, token, stowage_meta::now_ms() / 1000).await? {
        Ok(claims) => Ok(claims),
        Err(TokenError::Expired | TokenError::Invalid) => Err(challenge(state, headers, endpoint, false)),
    }
}

/// Checks the token's scope for the endpoint and, for a push or delete, the
/// principal's `ecr-public:` permission; returns the caller.
pub async fn authorize(
    state: &AppState,
    claims: &BearerClaims,
    endpoint: &Endpoint,
    resource: auth::Resource<'_>,
    facts: &RequestFacts,
    headers: &HeaderMap,
) -> Result<Principal, OciError> {
    let principal = claims.principal();
    let (Some(name), Some(need)) = (endpoint.repository(), needed_action(endpoint)) else {
        return Ok(principal);
    };
    let granted = claims.allows(name.as_str(), need) || (need == "delete" && claims.allows(name.as_str(), "push"));
    if !granted {
        return Err(challenge(state, headers, endpoint, true));
    }
    if need != "pull" {
        let action = Namespace::Public.action(endpoint.action());
        authz::authorize(state, &principal, &action, resource, facts).await?;
    }
    Ok(principal)
}

/// `GET /token/?service=…&scope=repository:<name>:<actions>…`: a Bearer token,
/// pull-only without credentials, as requested with `Basic AWS:<password>`.
pub async fn token(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let mut resp = issue(&state, &parts.headers, parts.uri.query())
        .await
        .unwrap_or_else(IntoResponse::into_response);
    resp.extensions_mut().insert(RequestInfo {
        endpoint: "GetToken",
        repository: None,
    });
    resp
}

async fn issue(state: &AppState, headers: &HeaderMap, query: Option<&str>) -> Result<Response, OciError> {
    let now = stowage_meta::now_ms() / 1000;
    let identity = match authn::basic_password(headers) {
        None if headers.contains_key(header::AUTHORIZATION) => return Err(unauthorized()),
        None => None,
        Some(password) => match tokens::verify(state, &password, now).await? {
            Ok(identity) => Some(identity),
            Err(TokenError::Expired) => {
                return Err(OciError::new(
                    OciErrorCode::Unauthorized,
                    TokenError::Expired.to_string(),
                ));
            }
            Err(TokenError::Invalid) => return Err(unauthorized()),
        },
    };
    let scopes = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|scope| grant(&scope, identity.is_some()))
        .collect();
    let claims = BearerClaims {
        identity: identity.map(|id| (id.account_id, id.principal_arn)),
        scopes,
        exp: now + tokens::BEARER_LIFETIME_SECS,
    };
    let token = tokens::issue_bearer(state, claims).await?;
    Ok(Json(serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": tokens::BEARER_LIFETIME_SECS,
    }))
    .into_response())
}

fn unauthorized() -> OciError {
    OciError::new(OciErrorCode::Unauthorized, "invalid username or password")
}

/// What a token grants for one `repository:<name>:<actions>` scope: anonymous
/// callers get `pull` at most.
fn grant(scope: &str, authenticated: bool) -> Option<(String, Vec<String>)> {
    let rest = scope.strip_prefix("repository:")?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<String> = actions
        .split(',')
        .filter(|a| ["pull", "push", "delete", "*"].contains(a))
        .filter(|a| authenticated || *a == "pull")
        .map(str::to_string)
        .collect();
    (!name.is_empty() && !actions.is_empty()).then(|| (name.to_string(), actions))
}

#[cfg(test)]
mod tests {
    use super::grant;

    #[test]
    fn scopes() {
        assert_eq!(
            grant("repository:a/b:pull,push", true),
            Some(("a/b".into(), vec!["pull".into(), "push".into()]))
        );
        assert_eq!(
            grant("repository:a/b:pull,push", false),
            Some(("a/b".into(), vec!["pull".into()]))
        );
        assert_eq!(grant("repository:a:push", false), None);
        assert_eq!(grant("registry:catalog:*", true), None);
        assert_eq!(grant("aws", true), None);
    }
}
