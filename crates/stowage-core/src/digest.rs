//! Content digests (`sha256:<64 lowercase hex>`), the only algorithm Stowage stores.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A validated `sha256:` content digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest we accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest must have the form <algorithm>:<hex>")]
    Malformed,
    #[error("unsupported digest algorithm '{0}'")]
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(sha2::Sha256::digest(bytes).into())
    }

    /// Builds a digest from a raw 32-byte SHA-256 value.
    pub fn from_sha256(raw: [u8; 32]) -> Self {
        Digest(raw)
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lowercase hex of the hash, without the algorithm prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, enc) = s.split_once(':').ok_or(DigestError::Malformed)?;
        // OCI grammar: algorithm [a-z0-9]+([+._-][a-z0-9]+)*, encoded [a-zA-Z0-9=_-]+
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        let enc_ok = !enc.is_empty() && enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
        if !alg_ok || !enc_ok {
            return Err(DigestError::Malformed);
        }
        if alg != "sha256" {
            return Err(DigestError::UnsupportedAlgorithm(alg.to_string()));
        }
        if enc.len() != 64 || !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Malformed);
        }
        let mut raw = [0u8; 32];
        hex::decode_to_slice(enc, &mut raw).map_err(|_| DigestError::Malformed)?;
        Ok(Digest(raw))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 whose state can be saved and restored, so an upload
/// interrupted between chunks resumes without re-reading what it already has.
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything fed so far (the hasher stays usable).
    pub fn digest(&self) -> Digest {
        Digest(self.0.clone().finalize().into())
    }

    /// The opaque saved state.
    pub fn save(&self) -> Vec<u8> {
        use sha2::digest::common::hazmat::SerializableState;
        self.0.serialize().to_vec()
    }

    /// Restores a state produced by [`Sha256Hasher::save`]; `None` if it is not one.
    pub fn restore(state: &[u8]) -> Option<Self> {
        use sha2::digest::common::hazmat::SerializableState;
        let arr = state.try_into().ok()?;
        sha2::Sha256::deserialize(arr).ok().map(Sha256Hasher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_round_trip() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d, Digest::of(b""));
    }

    #[test]
    fn rejects_bad_digests() {
        assert_eq!("sha256".parse::<Digest>(), Err(DigestError::Malformed));
        assert_eq!("sha256:abc".parse::<Digest>(), Err(DigestError::Malformed));
        assert_eq!(
            EMPTY.to_uppercase().replace("SHA256", "sha256").parse::<Digest>(),
            Err(DigestError::Malformed)
        );
        assert!(matches!(
            "sha512:abcd".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert_eq!("sha256:../../etc".parse::<Digest>(), Err(DigestError::Malformed));
    }

    #[test]
    fn hasher_state_survives_save_and_restore() {
        let mut h = Sha256Hasher::new();
        h.update(b"hello ");
        let saved = h.save();
        let mut resumed = Sha256Hasher::restore(&saved).unwrap();
        resumed.update(b"world");
        assert_eq!(resumed.digest(), Digest::of(b"hello world"));
        assert!(Sha256Hasher::restore(b"junk").is_none());
    }

    proptest::proptest! {
        #[test]
        fn chunked_hash_equals_whole(data: Vec<u8>, cut in 0usize..512) {
            let cut = cut.min(data.len());
            let mut h = Sha256Hasher::new();
            h.update(&data[..cut]);
            let mut h = Sha256Hasher::restore(&h.save()).unwrap();
            h.update(&data[cut..]);
            proptest::prop_assert_eq!(h.digest(), Digest::of(&data));
        }

        #[test]
        fn parse_never_panics(s: String) {
            let _ = s.parse::<Digest>();
        }
    }
}
