//! Storage keys: a blob is named by its digest within the scope of the key that
//! encrypts it.

use std::fmt;

use stowage_core::Digest;

/// The key-encryption key a stored object belongs to: a key id (`registry`, or a
/// key-service UUID). Validated before it names a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyScope(String);

/// A scope that is not 1–64 characters of `[a-z0-9-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid key scope")]
pub struct InvalidScope(pub String);

impl KeyScope {
    /// Validates a key id as a scope.
    pub fn new(id: &str) -> Result<Self, InvalidScope> {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(KeyScope(id.to_string()))
        } else {
            Err(InvalidScope(id.to_string()))
        }
    }

    /// The key id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One stored object: a digest under a key scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    pub scope: KeyScope,
    pub digest: Digest,
}

impl BlobKey {
    /// The object for `digest` under `scope`.
    pub fn new(scope: KeyScope, digest: Digest) -> Self {
        BlobKey { scope, digest }
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {})", self.digest, self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_never_escape_a_directory() {
        for bad in ["", "..", "a/b", "A", "x".repeat(65).as_str(), "key id", "a\0"] {
            assert!(KeyScope::new(bad).is_err(), "{bad:?}");
        }
        for good in ["registry", "0b5c43c2-6f0e-4c8a-9d55-5b1c1f7f2d11"] {
            assert_eq!(KeyScope::new(good).unwrap().as_str(), good);
        }
    }
}
