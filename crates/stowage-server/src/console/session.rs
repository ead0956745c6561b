//! Console sign-in: an access key pair is checked (the secret compared in
//! constant time) and exchanged for a session cookie holding a MAC'd token
//! (12 hours; `HttpOnly`, `SameSite=Strict`, `Secure` over TLS) under a key of
//! its own, so it is not a registry password.
//! Every form carries a CSRF token derived from the session, checked in
//! constant time on every POST.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::auth::Identity;
use crate::services::{console_passwords, credentials, tokens};

/// The session cookie's name.
pub const COOKIE: &str = "stowage_console";
/// How long a console session lasts.
pub const LIFETIME_SECS: i64 = 12 * 3600;

/// A signed-in console user.
#[derive(Clone, Debug)]
pub struct Session {
    pub identity: Identity,
    /// The token forms must send back (`csrf` field).
    pub csrf: String,
}

impl Session {
    /// The user's name as the console shows it (the last part of the ARN).
    pub fn user(&self) -> &str {
        let arn = &self.identity.principal_arn;
        arn.rsplit(['/', ':']).next().unwrap_or(arn)
    }

    /// Whether a form's CSRF token is this session's.
    pub fn csrf_ok(&self, sent: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(sent.as_bytes()))
    }
}

/// The CSRF token of a session cookie: a hash of the (secret, HttpOnly)
/// cookie value, so another site can neither read nor make it.
fn csrf_of(cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"stowage console csrf\0");
    h.update(cookie.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// The session cookie's value in a request, if any.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The session of a request, if it carries a valid, unexpired cookie.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let value = cookie_value(headers)?;
    let now = stowage_meta::now_ms() / 1000;
    match tokens::verify_for(state, value, now, tokens::Purpose::Console).await {
        Ok(Ok(identity)) => Some(Session {
            identity,
            csrf: csrf_of(value),
        }),
        _ => None,
    }
}

/// Why a sign-in failed (one message for every cause, so it tells nothing).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The credentials are not correct.")]
    Wrong,
    #[error(transparent)]
    Meta(#[from] stowage_meta::MetaError),
}

/// Checks an access key pair; returns the `Set-Cookie` value of a new session.
pub async fn sign_in(
    state: &AppState,
    access_key_id: &str,
    secret: &str,
    secure: bool,
) -> Result<HeaderValue, SignInError> {
    let key = match credentials::key_secret(state, access_key_id.trim()).await? {
        Ok(key) => key,
        Err(_) => return Err(SignInError::Wrong),
    };
    if !bool::from(key.secret_access_key.as_bytes().ct_eq(secret.trim().as_bytes())) {
        return Err(SignInError::Wrong);
    }
    let identity = Identity {
        account_id: key.account_id,
        principal_arn: key.principal_arn,
        session_key: key.session_token.is_some().then(|| access_key_id.trim().to_string()),
    };
    start(state, &identity, secure).await
}

/// Checks an IAM user's console password; returns the `Set-Cookie` value of a new session.
pub async fn sign_in_with_password(
    state: &AppState,
    account_id: &str,
    user: &str,
    password: &str,
    secure: bool,
) -> Result<HeaderValue, SignInError> {
    match console_passwords::check(state, account_id, user.trim(), password).await? {
        Some(identity) => start(state, &identity, secure).await,
        None => Err(SignInError::Wrong),
    }
}

/// A new session's cookie for `identity`.
async fn start(state: &AppState, identity: &Identity, secure: bool) -> Result<HeaderValue, SignInError> {
    let now = stowage_meta::now_ms() / 1000;
    let token = tokens::issue_for(state, identity, now, LIFETIME_SECS, tokens::Purpose::Console).await?;
    Ok(set_cookie(&token.password, LIFETIME_SECS, secure))
}

/// A `Set-Cookie` that ends the session.
pub fn sign_out(secure: bool) -> HeaderValue {
    set_cookie("", 0, secure)
}

fn set_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie values are base64url and dots")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; stowage_console=abc.def; b=2"),
        );
        assert_eq!(cookie_value(&h), Some("abc.def"));
        h.insert(header::COOKIE, HeaderValue::from_static("stowage_consolex=1"));
        assert_eq!(cookie_value(&h), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let s = Session {
            identity: Identity {
                account_id: "1".into(),
                principal_arn: "arn:aws:iam::1:user/alice".into(),
                session_key: None,
            },
            csrf: csrf_of("one"),
        };
        assert_ne!(csrf_of("one"), csrf_of("two"));
        assert!(s.csrf_ok(&csrf_of("one")));
        assert!(!s.csrf_ok(&csrf_of("two")));
        assert!(!s.csrf_ok(""));
        assert_eq!(s.user(), "alice");
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let c = set_cookie("t", 60, true);
        let c = c.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console", "Max-Age=60"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!set_cookie("t", 60, false).to_str().unwrap().contains("Secure"));
    }
}
