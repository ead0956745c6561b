//! Console passwords of IAM users (`stowage iam set-console-password USER`):
//! stored as Argon2id PHC strings, checked in constant time, hashed on a
//! blocking thread.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use stowage_meta::{EntityKind, MetaError};

use crate::AppState;
use crate::auth::Identity;

/// Shortest and longest password accepted.
const MIN_LEN: usize = 8;
const MAX_LEN: usize = 128;

/// Why a password was not set.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("no IAM user '{0}' in account {1}")]
    NoSuchUser(String, String),
    #[error("a console password must be {MIN_LEN} to {MAX_LEN} characters")]
    BadLength,
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// Sets `user`'s console password in `account_id`.
pub async fn set(state: &AppState, account_id: &str, user: &str, password: &str) -> Result<(), SetError> {
    if !(MIN_LEN..=MAX_LEN).contains(&password.chars().count()) {
        return Err(SetError::BadLength);
    }
    let entity = state
        .meta
        .entity(account_id, EntityKind::User, user)
        .await?
        .ok_or_else(|| SetError::NoSuchUser(user.to_string(), account_id.to_string()))?;
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| MetaError::Corrupt(format!("hashing stopped: {e}")))?
    .map_err(|e| MetaError::Corrupt(format!("hashing failed: {e}")))?;
    state.meta.set_console_password(&entity.arn, &hash).await?;
    Ok(())
}

/// A hash that no password matches, verified when the user or their password
/// does not exist, so that a wrong user name takes as long as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3Rvd2FnZWRlY295c2FsdA$0gcEv0LPuuo8UubTjB5i8hKNrcAqeakVnqbWUFfzUiI";

/// The identity `user` of `account_id` signs in as, if `password` is theirs.
pub async fn check(
    state: &AppState,
    account_id: &str,
    user: &str,
    password: &str,
) -> Result<Option<Identity>, MetaError> {
    let entity = state.meta.entity(account_id, EntityKind::User, user).await?;
    let stored = match &entity {
        Some(e) => state.meta.console_password(&e.arn).await?,
        None => None,
    };
    let known = stored.is_some();
    let hash = stored.unwrap_or_else(|| DECOY.to_string());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    Ok(match entity {
        Some(e) if known && matches => Some(Identity {
            account_id: e.account_id,
            principal_arn: e.arn,
            session_key: None,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_is_a_valid_hash_no_short_password_matches() {
        let parsed = PasswordHash::new(DECOY).expect("a PHC string");
        for guess in ["", "password", "stowagedecoysalt"] {
            assert!(Argon2::default().verify_password(guess.as_bytes(), &parsed).is_err());
        }
    }
}
