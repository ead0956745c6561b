//! Registry authorization tokens (spec §3.1): the password of `docker login`,
//! a MAC'd statement of principal and account with a 12-hour expiry, verified
//! without a lookup on any node and voided by rotating the token key. The public
//! registry's Bearer tokens (spec §3.3) are MAC'd the same way: {principal or
//! anonymous, granted scopes, expiry}.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AppState;
use crate::auth::Identity;

/// Token lifetime: 12 hours.
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

#[derive(Serialize, Deserialize)]
struct Claims {
    v: u8,
    account: String,
    arn: String,
    sid: String,
    exp: i64,
    /// The temporary access key the token was issued to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

/// An issued token.
pub struct IssuedToken {
    /// `base64("AWS:" + password)`, the `authorizationToken` of the API.
    pub authorization_token: String,
    /// The password alone (what `get-login-password` prints).
    pub password: String,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed or forged token")]
    Invalid,
    #[error("Your authorization token has expired. Reauthenticate and try again.")]
    Expired,
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(payload.as_bytes());
    m
}

/// What a token is for: a registry login password, or a console session.
/// Each is MAC'd under its own key (the console's derived from the
/// registry's), so a console cookie is never a registry password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Registry,
    Console,
}

/// The MAC key of a purpose.
fn purpose_key(key: &[u8], purpose: Purpose) -> Vec<u8> {
    match purpose {
        Purpose::Registry => key.to_vec(),
        Purpose::Console => mac(key, "stowage console session").finalize().into_bytes().to_vec(),
    }
}

/// Issues a token for `who`, valid for `lifetime_secs` (12 hours for
/// GetAuthorizationToken) from `now` (epoch seconds).
pub async fn issue(
    state: &AppState,
    who: &Identity,
    now: i64,
    lifetime_secs: i64,
) -> Result<IssuedToken, stowage_meta::MetaError> {
    issue_for(state, who, now, lifetime_secs, Purpose::Registry).await
}

/// Issues a token for one purpose.
pub async fn issue_for(
    state: &AppState,
    who: &Identity,
    now: i64,
    lifetime_secs: i64,
    purpose: Purpose,
) -> Result<IssuedToken, stowage_meta::MetaError> {
    let key = purpose_key(
        &state.token_keys.current(&state.meta, &state.master_key).await?,
        purpose,
    );
    let claims = Claims {
        v: 1,
        account: who.account_id.clone(),
        arn: who.principal_arn.clone(),
        sid: uuid::Uuid::new_v4().simple().to_string(),
        exp: now + lifetime_secs,
        key: who.session_key.clone(),
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialize"));
    let tag = URL_SAFE_NO_PAD.encode(mac(&key, &payload).finalize().into_bytes());
    let password = format!("{payload}.{tag}");
    Ok(IssuedToken {
        authorization_token: STANDARD.encode(format!("AWS:{password}")),
        password,
        expires_at: claims.exp,
    })
}

/// Verifies a password at `now` (epoch seconds) and returns who it speaks for.
pub async fn verify(
    state: &AppState,
    password: &str,
    now: i64,
) -> Result<Result<Identity, TokenError>, stowage_meta::MetaError> {
    verify_for(state, password, now, Purpose::Registry).await
}

/// Verifies a token of one purpose.
pub async fn verify_for(
    state: &AppState,
    password: &str,
    now: i64,
    purpose: Purpose,
) -> Result<Result<Identity, TokenError>, stowage_meta::MetaError> {
    let key = purpose_key(
        &state.token_keys.current(&state.meta, &state.master_key).await?,
        purpose,
    );
    Ok(verify_with_key(&key, password, now))
}

fn verify_with_key(key: &[u8], password: &str, now: i64) -> Result<Identity, TokenError> {
    let (payload, tag) = password.split_once('.').ok_or(TokenError::Invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
    // verify_slice compares in constant time.
    mac(key, payload).verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?)
        .map_err(|_| TokenError::Invalid)?;
    if claims.v != 1 {
        return Err(TokenError::Invalid);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(Identity {
        account_id: claims.account,
        principal_arn: claims.arn,
        session_key: claims.key,
    })
}

/// Lifetime of a public-registry Bearer token.
pub const BEARER_LIFETIME_SECS: i64 = 900;

/// What a public-registry Bearer token grants: `repository:<name>:<actions>` scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerClaims {
    /// The caller; `None` for an anonymous token.
    pub identity: Option<(String, String)>,
    /// Granted (repository name, actions such as `pull`, `push`).
    pub scopes: Vec<(String, Vec<String>)>,
    /// Epoch seconds.
    pub exp: i64,
}

impl BearerClaims {
    /// The caller, when the token was issued for credentials.
    pub fn principal(&self) -> crate::auth::Principal {
        match &self.identity {
            None => crate::auth::Principal::Anonymous,
            Some((account_id, principal_arn)) => crate::auth::Principal::Authenticated(Identity {
                account_id: account_id.clone(),
                principal_arn: principal_arn.clone(),
                session_key: None,
            }),
        }
    }

    /// Whether the token grants `action` (`pull`, `push`, `delete`) on `repository`.
    pub fn allows(&self, repository: &str, action: &str) -> bool {
        self.scopes
            .iter()
            .any(|(name, actions)| name == repository && actions.iter().any(|a| a == action || a == "*"))
    }
}

#[derive(Serialize, Deserialize)]
struct BearerEnvelope {
    v: u8,
    #[serde(flatten)]
    claims: BearerClaims,
}

/// Issues a Bearer token for `claims`.
pub async fn issue_bearer(state: &AppState, claims: BearerClaims) -> Result<String, stowage_meta::MetaError> {
    let key = state.token_keys.current(&state.meta, &state.master_key).await?;
    Ok(sign_bearer(&key, claims))
}

fn sign_bearer(key: &[u8], claims: BearerClaims) -> String {
    let envelope = BearerEnvelope { v: 2, claims };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).expect("claims serialize"));
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// Verifies a Bearer token at `now` (epoch seconds).
pub async fn verify_bearer(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Result<BearerClaims, TokenError>, stowage_meta::MetaError> {
    let key = state.token_keys.current(&state.meta, &state.master_key).await?;
    Ok(verify_bearer_with_key(&key, token, now))
}

fn verify_bearer_with_key(key: &[u8], token: &str, now: i64) -> Result<BearerClaims, TokenError> {
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
    mac(key, payload).verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
    let raw = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
    let envelope: BearerEnvelope = serde_json::from_slice(&raw).map_err(|_| TokenError::Invalid)?;
    if envelope.v != 2 {
        return Err(TokenError::Invalid);
    }
    if now >= envelope.claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(envelope.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_and_passwords_do_not_mix() {
        let key = b"k1";
        let claims = BearerClaims {
            identity: None,
            scopes: vec![("a/b".into(), vec!["pull".into()])],
            exp: 1000,
        };
        let t = sign_bearer(key, claims.clone());
        assert_eq!(verify_bearer_with_key(key, &t, 999), Ok(claims.clone()));
        assert!(claims.allows("a/b", "pull") && !claims.allows("a/b", "push") && !claims.allows("a", "pull"));
        assert_eq!(verify_bearer_with_key(key, &t, 1000), Err(TokenError::Expired));
        assert_eq!(verify_bearer_with_key(b"k2", &t, 1), Err(TokenError::Invalid));
        // A registry password is not a Bearer token, nor the other way round.
        assert_eq!(verify_with_key(key, &t, 1), Err(TokenError::Invalid));
        assert_eq!(
            verify_bearer_with_key(key, &token(key, 1000), 1),
            Err(TokenError::Invalid)
        );
    }

    fn token(key: &[u8], exp: i64) -> String {
        let claims = Claims {
            v: 1,
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/a".into(),
            sid: "s".into(),
            exp,
            key: None,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let tag = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    #[test]
    fn valid_expired_forged() {
        let key = b"k1";
        let t = token(key, 1000);
        assert!(!t.contains(':'));
        assert_eq!(verify_with_key(key, &t, 999).unwrap().account_id, "123456789012");
        assert_eq!(verify_with_key(key, &t, 1000), Err(TokenError::Expired));
        assert_eq!(verify_with_key(b"k2", &t, 1), Err(TokenError::Invalid));
        let (p, tag) = t.split_once('.').unwrap();
        let forged = format!("{}A.{tag}", p);
        assert_eq!(verify_with_key(key, &forged, 1), Err(TokenError::Invalid));
        for junk in ["", ".", "abc", "a.b", "!!.??"] {
            assert_eq!(verify_with_key(key, junk, 1), Err(TokenError::Invalid));
        }
    }
}
