//! SigV4 authentication of a buffered request against Stowage's access keys,
//! shared by the JSON control plane and the IAM/STS query plane: the key's
//! secret (and session token) from `services::credentials`, expiry of
//! temporary keys, then `stowage_core::sigv4::verify`.

use http::header;
use stowage_core::sigv4::{self, Secret, SigV4Error, SignedRequest};
use stowage_meta::MetaError;

use crate::AppState;
use crate::auth::Identity;
use crate::services::credentials::{self, KeyProblem};

/// A verified caller.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub identity: Identity,
    /// The access key the request was signed with.
    pub access_key_id: String,
}

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error(transparent)]
    SigV4(#[from] SigV4Error),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The parsed `Authorization` header (`MissingAuthenticationToken` without one).
pub fn authorization(parts: &http::request::Parts) -> Result<sigv4::Authorization, SigV4Error> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(SigV4Error::MissingAuthenticationToken)?;
    sigv4::parse_authorization(header)
}

/// Verifies the request's SigV4 signature for signing name `service` scoped to
/// `region`, and returns who signed it.
pub async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
    region: &str,
) -> Result<Authenticated, AuthnError> {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    let akid = authorization(parts)?.access_key_id;
    let key = match credentials::key_secret(state, &akid).await? {
        Ok(k) => Some(k),
        Err(KeyProblem::Expired) => return Err(SigV4Error::ExpiredToken.into()),
        Err(KeyProblem::Unrecognized) => None,
    };
    let now = stowage_meta::now_ms() / 1000;
    let secret = key.as_ref().map(|k| Secret {
        secret_access_key: k.secret_access_key.clone(),
        session_token: k.session_token.clone(),
    });
    sigv4::verify(&signed, service, region, now, |_| secret)?;
    let key = key.expect("verify succeeds only with a known key");
    Ok(Authenticated {
        identity: Identity {
            account_id: key.account_id,
            principal_arn: key.principal_arn,
            session_key: key.session_token.is_some().then(|| akid.clone()),
        },
        access_key_id: akid,
    })
}
