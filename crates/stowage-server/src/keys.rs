//! Server keys: the master key that seals secrets kept in metadata, and the
//! MAC key of registry authorization tokens (kept in metadata so every node
//! shares it, cached briefly so verifying a token costs no query).

use std::sync::RwLock;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use stowage_meta::{Meta, MetaError};

/// Setting that holds the token MAC key, sealed by the master key (hex). (The
/// earlier `token_key` setting held it in clear; it is no longer read, so
/// tokens issued before the upgrade stop verifying once.)
pub const TOKEN_KEY_SETTING: &str = "token_key_sealed";
/// How long a node keeps using the token key it read; a rotation reaches every
/// node within this time.
pub const TOKEN_KEY_REFRESH: Duration = Duration::from_secs(2);

/// A 256-bit key that seals small secrets with AES-256-GCM.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        MasterKey(k)
    }

    /// The raw key bytes (for writing the key file).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Seals `plaintext`: a random 96-bit nonce followed by the ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new((&self.0).into());
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(&Nonce::from(nonce), plaintext)
            .expect("AES-GCM encryption of a small buffer cannot fail");
        [nonce.as_slice(), &ct].concat()
    }

    /// Opens what [`MasterKey::seal`] produced; `None` if tampered or another key's.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = sealed.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        Aes256Gcm::new((&self.0).into()).decrypt(&Nonce::from(nonce), ct).ok()
    }
}

/// The token MAC key as last read from metadata.
#[derive(Default)]
pub struct TokenKeyCache {
    cached: RwLock<Option<(Instant, Vec<u8>)>>,
}

impl TokenKeyCache {
    /// The current token key, read again from metadata when the cached copy is stale.
    pub async fn current(&self, meta: &Meta, master: &MasterKey) -> Result<Vec<u8>, MetaError> {
        if let Some((at, key)) = self.cached.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < TOKEN_KEY_REFRESH
        {
            return Ok(key.clone());
        }
        let sealed = meta
            .setting_or_insert(TOKEN_KEY_SETTING, &sealed_random_key(master))
            .await?;
        let key = hex::decode(&sealed)
            .ok()
            .and_then(|s| master.open(&s))
            .ok_or_else(|| MetaError::Corrupt("the token key does not open with the master key".into()))?;
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), key.clone()));
        Ok(key)
    }
}

/// A new random 256-bit key, sealed by the master key, hex-encoded.
fn sealed_random_key(master: &MasterKey) -> String {
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    let sealed = master.seal(&k);
    k.fill(0);
    hex::encode(sealed)
}

/// Replaces the token key: every token issued before stops verifying.
pub async fn rotate_token_key(meta: &Meta, master: &MasterKey) -> Result<(), MetaError> {
    meta.set_setting(TOKEN_KEY_SETTING, &sealed_random_key(master)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let k = MasterKey::generate();
        let sealed = k.seal(b"secret");
        assert_eq!(k.open(&sealed).unwrap(), b"secret");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(k.open(&bad).is_none());
        assert!(MasterKey::generate().open(&sealed).is_none());
        assert!(k.open(b"short").is_none());
    }
}
