//! Version comparison, one comparator per versioning scheme, each agreeing
//! with the ecosystem's own tool: `dpkg --compare-versions` (Debian, Ubuntu),
//! rpm's `vercmp` (Red Hat family), apk (Alpine), PEP 440 (PyPI), SemVer 2.0
//! (npm, crates.io, Go), and Maven's `ComparableVersion`.

mod apk;
mod dpkg;
mod maven;
mod pep440;
mod rpm;
mod semver;

use std::cmp::Ordering;

/// A versioning scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Dpkg,
    Rpm,
    Apk,
    Pep440,
    Semver,
    Maven,
}

/// A version string the scheme cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{version}' is not a valid {scheme:?} version")]
pub struct InvalidVersion {
    pub scheme: Scheme,
    pub version: String,
}

impl InvalidVersion {
    pub(crate) fn new(scheme: Scheme, version: &str) -> Self {
        InvalidVersion {
            scheme,
            version: version.to_string(),
        }
    }
}

impl Scheme {
    /// The scheme an OSV ecosystem versions its packages with (`Debian:12`,
    /// `Alpine:v3.20`, `PyPI`, `npm`, `crates.io`, `Go`, `Maven`, `AlmaLinux:9`,
    /// …), or `None` for one Stowage does not compare.
    pub fn of_ecosystem(ecosystem: &str) -> Option<Scheme> {
        Some(match crate::osv::base_ecosystem(ecosystem) {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia" | "Photon OS" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" | "crates.io" | "Go" | "Hex" | "Pub" | "NuGet" => Scheme::Semver,
            "Maven" => Scheme::Maven,
            _ => return None,
        })
    }

    /// Compares two versions under this scheme.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
        match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Semver => semver::compare(a, b),
            Scheme::Maven => maven::compare(a, b),
        }
    }
}

/// Test support: the ordered version lists of `shared/data/version-vectors`,
/// one comparison per line (`A < B`, `A = B`, `A > B`; `#` and `//` comments).
#[cfg(test)]
pub(crate) mod vectors {
    use std::cmp::Ordering;
    use std::path::PathBuf;

    /// The folder with the vector files.
    pub fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/version-vectors")
    }

    /// Every comparison line of `file`: (left, expected order, right).
    pub fn load(file: &str) -> Vec<(String, Ordering, String)> {
        let path = dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
            .map(|l| {
                let parts: Vec<&str> = l.split(' ').collect();
                assert_eq!(parts.len(), 3, "{file}: line {l:?} is not `A op B`");
                let op = match parts[1] {
                    "<" => Ordering::Less,
                    "=" => Ordering::Equal,
                    ">" => Ordering::Greater,
                    other => panic!("{file}: unknown operator {other:?}"),
                };
                (parts[0].to_string(), op, parts[2].to_string())
            })
            .collect()
    }

    /// Checks that `cmp` orders three versions transitively, taken in every
    /// order: `x ≤ y ≤ z` gives `x ≤ z`, `x = y = z` gives `x = z`, and with
    /// `strict` also `x < y ≤ z` gives `x < z`.
    pub fn transitive(
        cmp: impl Fn(&str, &str) -> Ordering,
        v: &[String],
        strict: bool,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        use Ordering::{Equal, Greater, Less};
        use proptest::{prop_assert_eq, prop_assert_ne};
        for (x, y, z) in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)] {
            let (xy, yz, xz) = (cmp(&v[x], &v[y]), cmp(&v[y], &v[z]), cmp(&v[x], &v[z]));
            if xy != Greater && yz != Greater {
                prop_assert_ne!(xz, Greater, "{:?}", v);
            }
            if xy == Equal && yz == Equal {
                prop_assert_eq!(xz, Equal, "{:?}", v);
            }
            if strict && xy == Less && yz != Greater {
                prop_assert_eq!(xz, Less, "{:?}", v);
            }
        }
        Ok(())
    }

    /// Checks `compare` against every line of `file`, both ways round; returns
    /// how many lines were checked.
    pub fn check(file: &str, compare: impl Fn(&str, &str) -> Ordering) -> usize {
        let lines = load(file);
        let mut wrong = Vec::new();
        for (a, op, b) in &lines {
            if compare(a, b) != *op || compare(b, a) != op.reverse() {
                wrong.push(format!("{a} {op:?} {b}: got {:?}", compare(a, b)));
            }
        }
        assert!(
            wrong.is_empty(),
            "{file}: {} of {} wrong:\n{}",
            wrong.len(),
            lines.len(),
            wrong.join("\n")
        );
        lines.len()
    }
}
