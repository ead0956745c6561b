//! Which advisories concern an installed package: ecosystem and name matching,
//! and the version check through the ecosystem's [`Scheme`].

use std::borrow::Cow;

use super::model::{Advisory, Affected, RangeType};
use super::ranges::{self, Verdict};
use crate::version::{InvalidVersion, Scheme};

/// A package name as the ecosystem compares names: PyPI per PEP 503 (runs of
/// `-`, `_`, `.` become one `-`, lowercased); NuGet and Packagist names are
/// case-insensitive, so lowercased; every other ecosystem's as is. For
/// Debian, Ubuntu, Alpine and the other distributions, OSV names the *source*
/// package, so the caller passes an installed package's source name
/// (dpkg's `Source:`, apk's origin `o:`, the source RPM's name).
pub fn normalize_name<'a>(ecosystem: &str, name: &'a str) -> Cow<'a, str> {
    match base_ecosystem(ecosystem) {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut in_separator_run = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !in_separator_run {
                        out.push('-');
                    }
                    in_separator_run = true;
                } else {
                    out.push(c.to_ascii_lowercase());
                    in_separator_run = false;
                }
            }
            if out == name {
                Cow::Borrowed(name)
            } else {
                Cow::Owned(out)
            }
        }
        "NuGet" | "Packagist" if name.chars().any(|c| c.is_ascii_uppercase()) => Cow::Owned(name.to_ascii_lowercase()),
        _ => Cow::Borrowed(name),
    }
}

/// The ecosystem without its `:<release>` suffix (`Debian:12` → `Debian`).
pub fn base_ecosystem(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Whether an advisory's ecosystem covers the scanned one: equal strings, or
/// an advisory ecosystem with no release suffix (`Debian`) covering every
/// release of it (`Debian:12`). A scanned ecosystem without a release does
/// not match an advisory scoped to one.
pub fn ecosystem_covers(advisory_ecosystem: &str, ecosystem: &str) -> bool {
    advisory_ecosystem == ecosystem
        || (!advisory_ecosystem.contains(':') && advisory_ecosystem == base_ecosystem(ecosystem))
}

/// Whether `affected` is about the package `name` of `ecosystem`.
pub fn names_package(affected: &Affected, ecosystem: &str, name: &str) -> bool {
    affected.package.as_ref().is_some_and(|p| {
        ecosystem_covers(&p.ecosystem, ecosystem)
            && normalize_name(&p.ecosystem, &p.name) == normalize_name(ecosystem, name)
    })
}

/// Whether `affected` can say anything about versions: a SEMVER or ECOSYSTEM
/// range, or a `versions` list. An entry with only GIT ranges cannot.
pub fn has_version_data(affected: &Affected) -> bool {
    !affected.versions.is_empty() || affected.ranges.iter().any(|r| r.kind.is_version_range())
}

/// The scheme `affected`'s versions compare under: its ecosystem's, else
/// SemVer when all its version ranges are SEMVER (which the schema defines
/// as SemVer 2.0 whatever the ecosystem).
pub fn scheme_of(affected: &Affected) -> Option<Scheme> {
    let ecosystem = &affected.package.as_ref()?.ecosystem;
    Scheme::of_ecosystem(ecosystem).or_else(|| {
        let mut version_ranges = affected.ranges.iter().filter(|r| r.kind.is_version_range()).peekable();
        (version_ranges.peek().is_some() && version_ranges.all(|r| r.kind == RangeType::Semver))
            .then_some(Scheme::Semver)
    })
}

/// An advisory that affects a package version.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    pub advisory: &'a Advisory,
    /// The `affected[]` entry that matched.
    pub affected: &'a Affected,
    /// The version with the fix, if the advisory gives one.
    pub fixed_in: Option<String>,
}

/// Why an advisory could not be evaluated for a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Version(#[from] InvalidVersion),
    #[error("cannot compare versions of ecosystem {0:?}")]
    UnsupportedEcosystem(String),
}

/// Whether `advisory` affects version `version` of package `name` in
/// `ecosystem`. Withdrawn advisories never match, nor entries with only GIT
/// ranges. For an ecosystem with no [`Scheme`], only an exact `versions`
/// entry matches. An error comes back only when no entry matched and one
/// could not be evaluated.
pub fn match_package<'a>(
    advisory: &'a Advisory,
    ecosystem: &str,
    name: &str,
    version: &str,
) -> Result<Option<Match<'a>>, MatchError> {
    if advisory.is_withdrawn() {
        return Ok(None);
    }
    let mut first_error = None;
    for affected in advisory
        .affected
        .iter()
        .filter(|a| names_package(a, ecosystem, name) && has_version_data(a))
    {
        let verdict = match scheme_of(affected) {
            Some(scheme) => ranges::evaluate(affected, version, |a, b| scheme.compare(a, b)).map_err(MatchError::from),
            None if affected.versions.iter().any(|v| v == version) => Ok(Verdict::Affected { fixed_in: None }),
            None if affected.ranges.iter().any(|r| r.kind.is_version_range()) => {
                let ecosystem = affected
                    .package
                    .as_ref()
                    .map(|p| p.ecosystem.clone())
                    .unwrap_or_default();
                Err(MatchError::UnsupportedEcosystem(ecosystem))
            }
            None => Ok(Verdict::NotAffected),
        };
        match verdict {
            Ok(Verdict::Affected { fixed_in }) => {
                return Ok(Some(Match {
                    advisory,
                    affected,
                    fixed_in,
                }));
            }
            Ok(Verdict::NotAffected) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::model::{Event, Package, Range};

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(normalize_name("PyPI", "oslo.middleware"), "oslo-middleware");
        assert_eq!(normalize_name("PyPI", "Foo__Bar-.-baz"), "foo-bar-baz");
        assert_eq!(normalize_name("PyPI", "jw.util"), normalize_name("PyPI", "JW_Util"));
        assert!(matches!(normalize_name("PyPI", "requests"), Cow::Borrowed(_)));
        assert_eq!(normalize_name("crates.io", "Serde_JSON"), "Serde_JSON");
        assert_eq!(
            normalize_name("Go", "github.com/BurntSushi/toml"),
            "github.com/BurntSushi/toml"
        );
        assert_eq!(normalize_name("NuGet", "Newtonsoft.Json"), "newtonsoft.json");
        assert_eq!(normalize_name("Debian:12", "openssl"), "openssl");
    }

    #[test]
    fn ecosystems() {
        assert!(ecosystem_covers("PyPI", "PyPI"));
        assert!(ecosystem_covers("Debian", "Debian:12"));
        assert!(ecosystem_covers("Debian:12", "Debian:12"));
        assert!(!ecosystem_covers("Debian:11", "Debian:12"));
        assert!(!ecosystem_covers("Debian:12", "Debian"));
        assert!(!ecosystem_covers("PyPI", "npm"));
    }

    fn advisory(ecosystem: &str, name: &str, ranges: Vec<Range>, versions: &[&str]) -> Advisory {
        Advisory {
            schema_version: None,
            id: "T-1".into(),
            modified: "m".into(),
            published: None,
            withdrawn: None,
            aliases: vec![],
            upstream: vec![],
            related: vec![],
            summary: None,
            details: None,
            severity: vec![],
            affected: vec![Affected {
                package: Some(Package {
                    ecosystem: ecosystem.into(),
                    name: name.into(),
                    purl: None,
                }),
                ranges,
                versions: versions.iter().map(|s| s.to_string()).collect(),
                ..Affected::default()
            }],
            references: vec![],
            database_specific: None,
        }
    }

    fn git_range() -> Range {
        Range {
            kind: RangeType::Git,
            repo: Some("https://example.org/r".into()),
            events: vec![Event::Introduced("0".into()), Event::Fixed("abcdef".into())],
            database_specific: None,
        }
    }

    #[test]
    fn git_only_and_withdrawn_never_match() {
        // No scheme is consulted: these never reach a comparator.
        let a = advisory("PyPI", "x", vec![git_range()], &[]);
        assert_eq!(match_package(&a, "PyPI", "x", "1.0"), Ok(None));
        let mut b = advisory("PyPI", "x", vec![], &["1.0"]);
        assert!(match_package(&b, "PyPI", "x", "1.0").unwrap().is_some());
        b.withdrawn = Some("2024-01-01T00:00:00Z".into());
        assert_eq!(match_package(&b, "PyPI", "x", "1.0"), Ok(None));
    }

    #[test]
    fn unknown_ecosystem_uses_exact_versions_only() {
        let ranges = vec![Range {
            kind: RangeType::Ecosystem,
            repo: None,
            events: vec![Event::Introduced("0".into()), Event::Fixed("2".into())],
            database_specific: None,
        }];
        let a = advisory("Hackage", "aeson", ranges, &["1.0"]);
        let m = match_package(&a, "Hackage", "aeson", "1.0").unwrap().unwrap();
        assert_eq!(m.fixed_in, None);
        assert_eq!(
            match_package(&a, "Hackage", "aeson", "1.5"),
            Err(MatchError::UnsupportedEcosystem("Hackage".into()))
        );
        assert_eq!(match_package(&a, "Hackage", "other", "1.5"), Ok(None));
    }
}
