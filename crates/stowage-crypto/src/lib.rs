//! Encryption at rest for Stowage.
//!
//! Every stored object has its own random [`DataKey`], kept only in wrapped form
//! ([`wrap`]) under a key-encryption key. Object bytes are sealed with
//! AES-256-GCM in [`SEGMENT`]-sized segments, each `nonce ‖ ciphertext ‖ tag`
//! with the segment's index as associated data: a range read opens only the
//! segments it touches, reordered or altered segments fail to open, and a
//! truncation is caught because the plaintext size is recorded elsewhere.
//! Nonces are random per segment, so re-sealing a segment (an upload's partial
//! last segment grows) never reuses one.

mod segments;

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::{Zeroize, Zeroizing};

pub use segments::{InPlaceOpener, Opener, Sealer, SegmentSpan, open_all, seal_all, sealed_len, segments_for};

/// Plaintext bytes per sealed segment.
pub const SEGMENT: usize = 64 * 1024;
/// Bytes a segment adds: a 96-bit nonce and a 128-bit tag.
pub const OVERHEAD: usize = NONCE + TAG;
const NONCE: usize = 12;
const TAG: usize = 16;

/// Stored bytes failed authentication: tampered, truncated or sealed under another key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored data failed its integrity check")]
pub struct IntegrityError;

/// A 256-bit AES key for one object (or a key-encryption key). Zeroed on drop,
/// never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// Takes ownership of raw key bytes (the caller's copy is zeroed).
    pub fn from_bytes(bytes: &mut [u8; 32]) -> Self {
        let k = Zeroizing::new(*bytes);
        bytes.zeroize();
        DataKey(k)
    }

    /// The raw key bytes, for wrapping under another key.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0[..]).expect("a 256-bit key"))
    }
}

/// Seals one message: `nonce ‖ ciphertext ‖ tag`, bound to `aad`.
pub fn seal(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    seal_into(&key.cipher(), aad, plaintext, &mut out);
    out
}

/// Opens what [`seal`] produced with the same key and `aad`.
pub fn open(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, IntegrityError> {
    let mut out = Vec::with_capacity(sealed.len().saturating_sub(OVERHEAD));
    open_into(&key.cipher(), aad, sealed, &mut out)?;
    Ok(out)
}

/// Wraps a data key under a key-encryption key; `context` (e.g. the key id and
/// version) is authenticated, so a wrapped key only opens where it belongs.
pub fn wrap(kek: &DataKey, context: &[u8], key: &DataKey) -> Vec<u8> {
    seal(kek, context, key.expose())
}

/// Unwraps what [`wrap`] produced.
pub fn unwrap(kek: &DataKey, context: &[u8], wrapped: &[u8]) -> Result<DataKey, IntegrityError> {
    let mut plain = Zeroizing::new(open(kek, context, wrapped)?);
    let mut bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| IntegrityError)?;
    plain.zeroize();
    Ok(DataKey::from_bytes(&mut bytes))
}

pub(crate) fn seal_into(cipher: &LessSafeKey, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    // Random 96-bit nonces under a key used for one object: collisions are negligible.
    let tag = cipher
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[start..])
        .expect("AES-GCM seals any message shorter than 64 GiB");
    out.extend_from_slice(tag.as_ref());
}

pub(crate) fn open_into(
    cipher: &LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), IntegrityError> {
    if sealed.len() < OVERHEAD {
        return Err(IntegrityError);
    }
    let (nonce, rest) = sealed.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().expect("split at NONCE");
    let start = out.len();
    out.extend_from_slice(rest);
    let opened = cipher
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[start..])
        .map(|plain| plain.len());
    match opened {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(_) => {
            out[start..].zeroize();
            out.truncate(start);
            Err(IntegrityError)
        }
    }
}

/// Opens one sealed message where it lies; returns the plaintext's range within `sealed`.
pub(crate) fn open_in_place(
    cipher: &LessSafeKey,
    aad: &[u8],
    sealed: &mut [u8],
) -> Result<std::ops::Range<usize>, IntegrityError> {
    if sealed.len() < OVERHEAD {
        return Err(IntegrityError);
    }
    let nonce: [u8; NONCE] = sealed[..NONCE].try_into().expect("checked length");
    let plain = cipher
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed[NONCE..],
        )
        .map_err(|_| IntegrityError)?;
    Ok(NONCE..NONCE + plain.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_keys_open_only_with_their_key_and_context() {
        let kek = DataKey::generate();
        let dek = DataKey::generate();
        let w = wrap(&kek, b"key-1/v1", &dek);
        assert_eq!(unwrap(&kek, b"key-1/v1", &w).unwrap().expose(), dek.expose());
        assert_eq!(unwrap(&kek, b"key-2/v1", &w).unwrap_err(), IntegrityError);
        assert_eq!(
            unwrap(&DataKey::generate(), b"key-1/v1", &w).unwrap_err(),
            IntegrityError
        );
        let mut bad = w.clone();
        bad[20] ^= 1;
        assert_eq!(unwrap(&kek, b"key-1/v1", &bad).unwrap_err(), IntegrityError);
    }

    #[test]
    fn a_key_never_prints() {
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(..)");
    }
}
