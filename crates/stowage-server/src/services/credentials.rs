//! Access keys: the administrator key made at first start, temporary
//! credentials, and resolving a key id to its secret for SigV4.

use rand::Rng;
use stowage_meta::{EntityKind, MetaError};

use crate::AppState;
use crate::services::iam;

/// A plain access key, shown once to its owner.
#[derive(Clone)]
pub struct NewKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub principal_arn: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A key's secret as SigV4 needs it.
pub struct KeySecret {
    pub account_id: String,
    pub principal_arn: String,
    pub secret_access_key: String,
    /// The session token, for temporary keys.
    pub session_token: Option<String>,
}

const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// `arn:aws:iam::<account>:user/<name>`.
pub fn user_arn(account_id: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:user/{name}")
}

/// Creates an access key for a user of the account (`stowage admin
/// create-access-key`). A user that does not exist yet is created with
/// AdministratorAccess, as every user could do everything before IAM.
/// A `lifetime_secs` makes it temporary: an `ASIA…` key with a session token.
pub async fn create_key(
    state: &AppState,
    account_id: &str,
    user: &str,
    lifetime_secs: Option<i64>,
) -> Result<NewKey, MetaError> {
    let arn = match state.meta.entity(account_id, EntityKind::User, user).await? {
        Some(u) => u.arn,
        None => {
            let arn = user_arn(account_id, user);
            state.meta.ensure_principal(account_id, &arn, "user", user).await?;
            state.meta.attach_policy(&arn, iam::ADMINISTRATOR_ACCESS).await?;
            state.policies.forget_principal(&arn);
            arn
        }
    };
    issue_key(state, &arn, lifetime_secs).await
}

fn new_key(principal_arn: &str, temporary: bool) -> NewKey {
    let prefix = if temporary { "ASIA" } else { "AKIA" };
    NewKey {
        access_key_id: format!("{prefix}{}", random_from(ALNUM_UPPER, 16)),
        secret_access_key: random_from(SECRET_CHARS, 40),
        session_token: temporary.then(|| random_from(SECRET_CHARS, 120)),
        principal_arn: principal_arn.to_string(),
    }
}

/// Issues an access key for an existing principal; temporary when `lifetime_secs` is set.
pub async fn issue_key(state: &AppState, principal_arn: &str, lifetime_secs: Option<i64>) -> Result<NewKey, MetaError> {
    let key = new_key(principal_arn, lifetime_secs.is_some());
    let sealed = state.master_key.seal(key.secret_access_key.as_bytes());
    let expires_at = lifetime_secs.map(|s| stowage_meta::now_ms() + s * 1000);
    state
        .meta
        .insert_access_key(
            &key.access_key_id,
            &key.principal_arn,
            &sealed,
            key.session_token
                .as_deref()
                .map(|t| state.master_key.seal(t.as_bytes()))
                .as_deref(),
            expires_at,
        )
        .await?;
    Ok(key)
}

/// Issues the temporary key of an AssumeRole session: it belongs to the role,
/// acts as `session_arn`, and expires after `lifetime_secs`.
pub async fn issue_session_key(
    state: &AppState,
    role_arn: &str,
    session_arn: &str,
    lifetime_secs: i64,
    session_policy: Option<&str>,
) -> Result<NewKey, MetaError> {
    let key = new_key(session_arn, true);
    let token = key.session_token.as_deref().unwrap_or_default();
    state
        .meta
        .insert_session_key(
            &key.access_key_id,
            role_arn,
            session_arn,
            &state.master_key.seal(key.secret_access_key.as_bytes()),
            &state.master_key.seal(token.as_bytes()),
            stowage_meta::now_ms() + lifetime_secs * 1000,
            session_policy,
        )
        .await?;
    Ok(key)
}

/// Why a key cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Unknown, inactive, or its secret cannot be opened.
    Unrecognized,
    /// A temporary key past its expiry.
    Expired,
}

/// The secret of an active access key.
pub async fn key_secret(state: &AppState, access_key_id: &str) -> Result<Result<KeySecret, KeyProblem>, MetaError> {
    let Some(key) = state.meta.access_key(access_key_id).await? else {
        return Ok(Err(KeyProblem::Unrecognized));
    };
    if !key.active {
        return Ok(Err(KeyProblem::Unrecognized));
    }
    if key.expires_at.is_some_and(|e| e <= stowage_meta::now_ms()) {
        return Ok(Err(KeyProblem::Expired));
    }
    let open = |sealed: &[u8]| state.master_key.open(sealed).and_then(|s| String::from_utf8(s).ok());
    let secret = open(&key.secret_sealed);
    let token = key.session_token_sealed.as_deref().map(open);
    let (Some(secret), None | Some(Some(_))) = (secret, &token) else {
        tracing::error!(access_key_id, "access key secret does not open with this master key");
        return Ok(Err(KeyProblem::Unrecognized));
    };
    Ok(Ok(KeySecret {
        account_id: key.account_id,
        principal_arn: key.principal_arn,
        secret_access_key: secret,
        session_token: token.flatten(),
    }))
}
