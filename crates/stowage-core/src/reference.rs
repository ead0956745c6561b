//! Tags and manifest references (`<tag>` or `<digest>`).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// An image tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the OCI grammar).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// Why a string is not a tag.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("tag must match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}")]
pub struct TagError;

impl Tag {
    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let first_ok = b.first().is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let rest_ok = b
            .iter()
            .skip(1)
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c));
        if first_ok && rest_ok && b.len() <= 128 {
            Ok(Tag(s.to_string()))
        } else {
            Err(TagError)
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// What a manifest URL names: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        for t in ["latest", "v1.2.3", "_x", "A-b_c.d"] {
            assert!(t.parse::<Tag>().is_ok(), "{t}");
        }
        for t in ["", ".x", "-x", "a:b", "a/b", &"a".repeat(129)] {
            assert!(t.parse::<Tag>().is_err(), "{t}");
        }
    }
}
