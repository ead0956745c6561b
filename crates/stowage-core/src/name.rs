//! Repository names, validated against ECR's grammar before they reach a path or a query.

use std::fmt;
use std::str::FromStr;

/// A repository name matching ECR's regex (spec §2.13), 2–256 characters:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

/// Why a string is not a repository name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("repository name must be between 2 and 256 characters")]
    Length,
    #[error("repository name must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*")]
    Grammar,
}

impl RepositoryName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_component(seg: &str) -> bool {
    let b = seg.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        let c = b[i];
        while i < b.len() && b[i] == c {
            i += 1;
        }
        let run = i - start;
        let ok = match c {
            b'.' => run == 1,
            b'_' => run <= 2,
            b'-' => true,
            _ => false,
        };
        // A separator is always followed by an alphanumeric.
        if !ok || !b.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

impl FromStr for RepositoryName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() < 2 || s.len() > 256 {
            return Err(NameError::Length);
        }
        if !s.split('/').all(valid_component) {
            return Err(NameError::Grammar);
        }
        Ok(RepositoryName(s.to_string()))
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl serde::Serialize for RepositoryName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        s.parse::<RepositoryName>().is_ok()
    }

    #[test]
    fn accepts_ecr_names() {
        for n in [
            "ab",
            "my-repo",
            "team/app",
            "a.b/c__d/e---f",
            "a_b",
            "ubuntu",
            "x1/y2/z3",
        ] {
            assert!(ok(n), "{n}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for n in [
            "a", "", "..", "a/..", "../etc", "A", "my_repo_", "-a", "a/", "/a", "a//b", "a...b", "a___b", "a.-b",
            "a b", "a%2fb", "a\\b",
        ] {
            assert!(!ok(n), "{n}");
        }
        assert_eq!("a".repeat(257).parse::<RepositoryName>(), Err(NameError::Length));
    }

    proptest::proptest! {
        #[test]
        fn matches_the_ecr_regex(s in "[a-z0-9._/-]{2,40}") {
            let re = regex_lite(&s);
            proptest::prop_assert_eq!(ok(&s), re, "{}", s);
        }
    }

    /// A direct transcription of the ECR regex as an oracle.
    fn regex_lite(s: &str) -> bool {
        // component := alnum+ (sep alnum+)* ; sep := "." | "_" | "__" | "-"+
        fn comp(s: &str) -> bool {
            let mut chars = s.chars().peekable();
            let mut need_alnum = true;
            while let Some(c) = chars.next() {
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    need_alnum = false;
                    continue;
                }
                if need_alnum {
                    return false;
                }
                match c {
                    '.' => {}
                    '_' => {
                        if chars.peek() == Some(&'_') {
                            chars.next();
                        }
                    }
                    '-' => {
                        while chars.peek() == Some(&'-') {
                            chars.next();
                        }
                    }
                    _ => return false,
                }
                need_alnum = true;
            }
            !need_alnum
        }
        (2..=256).contains(&s.len()) && s.split('/').all(comp)
    }
}
