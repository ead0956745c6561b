//! Signed, expiring download URLs for `GetDownloadUrlForLayer`, served by this
//! registry at `/_blobs/<repo>/<digest>?exp=…&sig=…` (spec §2.13).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use stowage_core::Digest;
use stowage_meta::MetaError;

use crate::AppState;

/// How long a download URL stays valid.
pub const URL_LIFETIME_SECS: i64 = 3600;

fn mac(key: &[u8], repo: &str, digest: &Digest, exp: i64) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(format!("download\n{repo}\n{digest}\n{exp}").as_bytes());
    m
}

/// A URL that serves the blob without other credentials for an hour.
pub async fn signed_url(state: &AppState, repo: &str, digest: &Digest) -> Result<String, MetaError> {
    let key = state.token_keys.current(&state.meta, &state.master_key).await?;
    let exp = stowage_meta::now_ms() / 1000 + URL_LIFETIME_SECS;
    let sig = hex::encode(mac(&key, repo, digest, exp).finalize().into_bytes());
    Ok(format!(
        "{}/_blobs/{repo}/{digest}?exp={exp}&sig={sig}",
        state.config.public_url
    ))
}

/// Whether `sig` signs this repository, digest and expiry, and it has not expired.
pub async fn verify(state: &AppState, repo: &str, digest: &Digest, exp: i64, sig: &str) -> Result<bool, MetaError> {
    if exp <= stowage_meta::now_ms() / 1000 {
        return Ok(false);
    }
    let Ok(sig) = hex::decode(sig) else { return Ok(false) };
    let key = state.token_keys.current(&state.meta, &state.master_key).await?;
    Ok(mac(&key, repo, digest, exp).verify_slice(&sig).is_ok())
}
