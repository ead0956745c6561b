//! Which distribution an image is, and the OSV ecosystem its OS packages are
//! matched in.
//!
//! Sources, in order: `etc/os-release`, `usr/lib/os-release` (symlinks
//! resolved), then `etc/debian_version`, then `etc/alpine-release`.
//!
//! OSV ecosystem strings follow the OSV schema's ecosystem list
//! (`ecosystems.json` in ossf/osv-schema):
//!
//! | `ID`          | ecosystem            | release part                                       |
//! |---------------|----------------------|----------------------------------------------------|
//! | `debian`      | `Debian:12`          | major of `VERSION_ID`, else from the codename      |
//! | `ubuntu`      | `Ubuntu:22.04:LTS`   | `YY.MM`, `:LTS` suffix is mandatory on LTS releases |
//! | `alpine`      | `Alpine:v3.20`       | `v` + major.minor (the `v` is required)            |
//! | `almalinux`   | `AlmaLinux:9`        | major                                              |
//! | `rocky`       | `Rocky Linux:9`      | major                                              |
//! | `rhel`        | `Red Hat:enterprise_linux:9` | see below                                  |
//! | `wolfi`       | `Wolfi`              | none (rolling)                                     |
//! | `chainguard`  | `Chainguard`         | none (rolling)                                     |
//!
//! Red Hat's ecosystem is scoped by a CPE product stream
//! (`Red Hat:enterprise_linux:9::baseos`, `…::appstream`, …) that os-release
//! does not carry; we give the product prefix and the matcher must compare
//! advisories' ecosystems by that prefix. Other distributions (SUSE, openSUSE,
//! Photon, Mageia, …) are detected (`id`, `version_id`) but get no ecosystem
//! yet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The operating system of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// os-release `ID` (`debian`, `ubuntu`, `alpine`, …), lowercase.
    pub id: String,
    /// os-release `VERSION_ID` (`12`, `22.04`, `3.20.3`), or the version
    /// found in `etc/debian_version` / `etc/alpine-release`.
    pub version_id: Option<String>,
    /// os-release `VERSION_CODENAME` (`bookworm`, `jammy`).
    pub codename: Option<String>,
    /// os-release `PRETTY_NAME`, for display.
    pub pretty_name: Option<String>,
    /// The OSV ecosystem of this release's OS packages (`Debian:12`,
    /// `Ubuntu:22.04:LTS`, `Alpine:v3.20`), when we know how to name it.
    pub ecosystem: Option<String>,
    /// The file it was read from.
    pub source: String,
}

/// The os-release keys we keep in a layer's index.
const KEPT_KEYS: &[&str] = &[
    "ID",
    "ID_LIKE",
    "NAME",
    "PRETTY_NAME",
    "VERSION",
    "VERSION_ID",
    "VERSION_CODENAME",
];

/// Parses an os-release file (a shell-compatible `KEY=value` list), keeping the
/// keys that identify the distribution.
pub(crate) fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !KEPT_KEYS.contains(&key) {
            continue;
        }
        out.insert(key.to_owned(), unquote(value.trim()));
    }
    out
}

/// Undoes shell quoting of an os-release value: `"…"` with backslash escapes,
/// `'…'` literally, or a bare word.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if let Some(inner) = value.strip_prefix('\'') {
        inner.strip_suffix('\'').unwrap_or(inner).to_owned()
    } else {
        value.to_owned()
    }
}

/// The OS described by an os-release file, if it names an `ID`.
pub(crate) fn from_os_release(fields: &BTreeMap<String, String>, source: &str) -> Option<Os> {
    let id = fields.get("ID")?.trim().to_ascii_lowercase();
    if id.is_empty() {
        return None;
    }
    let non_empty = |key: &str| {
        fields
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let version_id = non_empty("VERSION_ID");
    let codename = non_empty("VERSION_CODENAME");
    let version = non_empty("VERSION");
    let ecosystem = osv_ecosystem(&id, version_id.as_deref(), version.as_deref(), codename.as_deref());
    Some(Os {
        id,
        version_id,
        codename,
        pretty_name: non_empty("PRETTY_NAME"),
        ecosystem,
        source: source.to_owned(),
    })
}

/// The OS from `etc/debian_version` (`12.11`, or `trixie/sid` on testing).
pub(crate) fn from_debian_version(content: &str, source: &str) -> Option<Os> {
    let content = content.trim();
    if content.is_empty() {
        return None;
    }
    let numeric = content.chars().next().is_some_and(|c| c.is_ascii_digit());
    let (version_id, codename) = if numeric {
        (Some(content.to_owned()), None)
    } else {
        // "trixie/sid": the release being prepared.
        let codename = content.split('/').next().unwrap_or(content).to_owned();
        (None, Some(codename))
    };
    Some(Os {
        id: "debian".into(),
        ecosystem: osv_ecosystem("debian", version_id.as_deref(), None, codename.as_deref()),
        version_id,
        codename,
        pretty_name: None,
        source: source.to_owned(),
    })
}

/// The OS from `etc/alpine-release` (`3.20.3`).
pub(crate) fn from_alpine_release(content: &str, source: &str) -> Option<Os> {
    let version = content.trim();
    if version.is_empty() {
        return None;
    }
    Some(Os {
        id: "alpine".into(),
        version_id: Some(version.to_owned()),
        codename: None,
        pretty_name: None,
        ecosystem: osv_ecosystem("alpine", Some(version), None, None),
        source: source.to_owned(),
    })
}

/// Debian's release numbers by codename, for images whose os-release has no
/// `VERSION_ID` (testing, or a release not yet out when the image was built).
const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

fn major(version: &str) -> Option<&str> {
    let major = version.split(['.', '_', '-', ' ']).next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then_some(major)
}

fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split(['.', '_', '-']);
    let major = parts.next().filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?;
    let minor = parts.next().filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?;
    (!major.is_empty() && !minor.is_empty()).then(|| format!("{major}.{minor}"))
}

/// Whether an Ubuntu release is LTS: os-release's `VERSION` says so
/// (`22.04.4 LTS (Jammy Jellyfish)`); otherwise, every `.04` of an even year
/// since 6.06 and 8.04 has been LTS.
fn ubuntu_is_lts(version_id: &str, version: Option<&str>) -> bool {
    if let Some(version) = version {
        return version.split_whitespace().any(|w| w == "LTS");
    }
    if version_id == "6.06" {
        return true;
    }
    match version_id.split_once('.') {
        Some((year, "04")) => year.parse::<u32>().is_ok_and(|y| y % 2 == 0),
        _ => false,
    }
}

/// Maps an os-release identity to an OSV ecosystem string.
pub(crate) fn osv_ecosystem(
    id: &str,
    version_id: Option<&str>,
    version: Option<&str>,
    codename: Option<&str>,
) -> Option<String> {
    match id {
        "debian" => {
            let number = version_id.and_then(major).or_else(|| {
                let codename = codename?;
                DEBIAN_CODENAMES
                    .iter()
                    .find(|(name, _)| *name == codename)
                    .map(|(_, n)| *n)
            });
            Some(match number {
                Some(n) => format!("Debian:{n}"),
                None => "Debian".into(),
            })
        }
        "ubuntu" => {
            let version_id = version_id?;
            let yy_mm = major_minor(version_id)?;
            Some(if ubuntu_is_lts(&yy_mm, version) {
                format!("Ubuntu:{yy_mm}:LTS")
            } else {
                format!("Ubuntu:{yy_mm}")
            })
        }
        "alpine" => Some(format!("Alpine:v{}", major_minor(version_id?)?)),
        "almalinux" => Some(format!("AlmaLinux:{}", major(version_id?)?)),
        "rocky" => Some(format!("Rocky Linux:{}", major(version_id?)?)),
        "rhel" => Some(format!("Red Hat:enterprise_linux:{}", major(version_id?)?)),
        "wolfi" => Some("Wolfi".into()),
        "chainguard" => Some("Chainguard".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(text: &str) -> Option<String> {
        from_os_release(&parse_os_release(text), "etc/os-release")?.ecosystem
    }

    #[test]
    fn ecosystems_from_os_release() {
        assert_eq!(
            eco("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n").as_deref(),
            Some("Debian:12")
        );
        // Debian testing: no VERSION_ID, the codename decides.
        assert_eq!(
            eco("ID=debian\nVERSION_CODENAME=trixie\n").as_deref(),
            Some("Debian:13")
        );
        assert_eq!(
            eco("ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\n").as_deref(),
            Some("Ubuntu:22.04:LTS")
        );
        assert_eq!(
            eco("ID=ubuntu\nVERSION_ID=\"23.10\"\nVERSION=\"23.10 (Mantic Minotaur)\"\n").as_deref(),
            Some("Ubuntu:23.10")
        );
        // No VERSION: the even-year .04 rule.
        assert_eq!(
            eco("ID=ubuntu\nVERSION_ID=24.04\n").as_deref(),
            Some("Ubuntu:24.04:LTS")
        );
        assert_eq!(eco("ID=alpine\nVERSION_ID=3.20.3\n").as_deref(), Some("Alpine:v3.20"));
        assert_eq!(
            eco("ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n").as_deref(),
            Some("AlmaLinux:9")
        );
        assert_eq!(
            eco("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n").as_deref(),
            Some("Rocky Linux:9")
        );
        assert_eq!(
            eco("ID=\"rhel\"\nVERSION_ID=\"9.4\"\n").as_deref(),
            Some("Red Hat:enterprise_linux:9")
        );
        assert_eq!(eco("ID=wolfi\n").as_deref(), Some("Wolfi"));
        assert_eq!(eco("ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n"), None);
    }

    #[test]
    fn os_release_quoting() {
        let f = parse_os_release(
            "# comment\nPRETTY_NAME=\"Debian \\\"x\\\" 12\"\nNAME='Debian GNU/Linux'\nID=debian\nJUNK\nHOME_URL=\"x\"\n",
        );
        assert_eq!(f["PRETTY_NAME"], "Debian \"x\" 12");
        assert_eq!(f["NAME"], "Debian GNU/Linux");
        assert!(!f.contains_key("HOME_URL"));
    }

    #[test]
    fn fallbacks() {
        let os = from_debian_version("12.11\n", "etc/debian_version").unwrap();
        assert_eq!(os.ecosystem.as_deref(), Some("Debian:12"));
        let os = from_debian_version("trixie/sid\n", "etc/debian_version").unwrap();
        assert_eq!(os.ecosystem.as_deref(), Some("Debian:13"));
        let os = from_alpine_release("3.19.1\n", "etc/alpine-release").unwrap();
        assert_eq!(os.ecosystem.as_deref(), Some("Alpine:v3.19"));
    }
}
