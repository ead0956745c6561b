//! Authentication on `/v2/` (spec §3.2): `Basic AWS:<password>` where the
//! password is a token from GetAuthorizationToken; anything else gets ECR's
//! exact Basic challenge.

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, StatusCode, header};
use stowage_core::OciErrorCode;

use super::OciError;
use crate::AppState;
use crate::auth::Principal;
use crate::services::tokens::{self, TokenError};

/// The caller, or the response that refuses it (a 401 challenge).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Result<Principal, Response>, OciError> {
    let Some(password) = basic_password(headers) else {
        return Ok(Err(challenge(headers)));
    };
    let now = stowage_meta::now_ms() / 1000;
    match tokens::verify(state, &password, now).await? {
        Ok(identity) => Ok(Ok(Principal::Authenticated(identity))),
        Err(TokenError::Expired) => Err(OciError::new(OciErrorCode::Denied, TokenError::Expired.to_string())),
        Err(TokenError::Invalid) => Ok(Err(challenge(headers))),
    }
}

/// The password of `Authorization: Basic base64("AWS:" + password)`.
pub(super) fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, creds) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(creds.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    (user == "AWS").then(|| password.to_string())
}

/// `401` with `Www-Authenticate: Basic realm="<scheme>://<host>/",service="ecr.amazonaws.com"`.
pub fn challenge(headers: &HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            header::WWW_AUTHENTICATE,
            format!("Basic realm=\"http://{host}/\",service=\"ecr.amazonaws.com\""),
        )
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from("Not Authorized\n"))
        .expect("valid response")
}
