//! Tag mutability (spec §7.1): which tags of a repository may be moved.

use std::fmt;
use std::str::FromStr;

/// A repository's `imageTagMutability` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TagMutability {
    #[default]
    Mutable,
    Immutable,
    /// Immutable, except tags matching an exclusion filter.
    ImmutableWithExclusion,
    /// Mutable, except tags matching an exclusion filter.
    MutableWithExclusion,
}

impl TagMutability {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
            Self::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            Self::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }

    /// Whether exclusion filters may be given with this mode.
    pub fn takes_filters(self) -> bool {
        matches!(self, Self::ImmutableWithExclusion | Self::MutableWithExclusion)
    }

    /// Whether `tag` may not be moved once set, given the exclusion `filters`.
    pub fn is_immutable(self, tag: &str, filters: &[String]) -> bool {
        let excluded = || filters.iter().any(|f| wildcard_match(f, tag));
        match self {
            Self::Mutable => false,
            Self::Immutable => true,
            Self::ImmutableWithExclusion => !excluded(),
            Self::MutableWithExclusion => excluded(),
        }
    }
}

impl FromStr for TagMutability {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Self::Mutable,
            Self::Immutable,
            Self::ImmutableWithExclusion,
            Self::MutableWithExclusion,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or(())
    }
}

impl fmt::Display for TagMutability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Anchored wildcard match where `*` stands for any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("release-*", "release-1.0"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b", "a-c"));
        assert!(!wildcard_match("latest", "latest2"));
    }

    #[test]
    fn modes() {
        let f = vec!["dev-*".to_string()];
        assert!(!TagMutability::Mutable.is_immutable("x", &f));
        assert!(TagMutability::Immutable.is_immutable("dev-1", &f));
        assert!(!TagMutability::ImmutableWithExclusion.is_immutable("dev-1", &f));
        assert!(TagMutability::ImmutableWithExclusion.is_immutable("v1", &f));
        assert!(TagMutability::MutableWithExclusion.is_immutable("dev-1", &f));
        assert!(!TagMutability::MutableWithExclusion.is_immutable("v1", &f));
        assert_eq!("IMMUTABLE".parse(), Ok(TagMutability::Immutable));
    }
}
