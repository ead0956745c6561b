//! dpkg: `var/lib/dpkg/status`, distroless `var/lib/dpkg/status.d/*`, and the
//! file lists `var/lib/dpkg/info/*.list` (only to know which language
//! packages' metadata files belong to an OS package).

use serde::{Deserialize, Serialize};

/// One installed package from a dpkg status file, as kept in a layer's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpkgRecord {
    /// `Package:` (the binary package).
    pub name: String,
    /// `Version:`.
    pub version: String,
    /// The name in `Source:`, when the field is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The version in `Source: name (version)`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// `Architecture:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// Parses a dpkg status file (or a distroless `status.d` file) and keeps the
/// installed packages.
///
/// "Installed" is dpkg's third status word being `installed`: `install ok
/// installed`, and also `hold ok installed` (pinned) and `deinstall ok
/// installed` (marked for removal, files still on disk), which are on disk as
/// much as the first. `config-files`, `half-installed`, `not-installed` … are
/// skipped. A stanza without `Status:` (distroless `status.d` files have none)
/// counts as installed.
pub(crate) fn parse_status(text: &str) -> Vec<DpkgRecord> {
    let mut out = Vec::new();
    let mut stanza = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            stanza.finish(&mut out);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a multi-line field (Description, Conffiles)
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Package" => stanza.package = Some(value.to_owned()),
            "Version" => stanza.version = Some(value.to_owned()),
            "Source" => stanza.source = Some(value.to_owned()),
            "Architecture" => stanza.arch = Some(value.to_owned()),
            "Status" => stanza.status = Some(value.to_owned()),
            _ => {}
        }
    }
    stanza.finish(&mut out);
    out
}

#[derive(Default)]
struct Stanza {
    package: Option<String>,
    version: Option<String>,
    source: Option<String>,
    arch: Option<String>,
    status: Option<String>,
}

impl Stanza {
    fn finish(&mut self, out: &mut Vec<DpkgRecord>) {
        let stanza = std::mem::take(self);
        let installed = stanza
            .status
            .as_deref()
            .is_none_or(|s| s.split_whitespace().nth(2) == Some("installed"));
        let (Some(name), Some(version)) = (stanza.package, stanza.version) else {
            return;
        };
        if !installed || name.is_empty() || version.is_empty() {
            return;
        }
        let (source, source_version) = match stanza.source.as_deref() {
            Some(s) => parse_source(s),
            None => (None, None),
        };
        out.push(DpkgRecord {
            name,
            version,
            source,
            source_version,
            arch: stanza.arch.filter(|a| !a.is_empty()),
        });
    }
}

/// `Source: glibc` or `Source: bash (5.2.15-2)`.
fn parse_source(field: &str) -> (Option<String>, Option<String>) {
    let field = field.trim();
    let (name, version) = match field.split_once('(') {
        Some((name, rest)) => {
            let version = rest.split(')').next().unwrap_or(rest).trim();
            (name.trim(), (!version.is_empty()).then(|| version.to_owned()))
        }
        None => (field, None),
    };
    ((!name.is_empty()).then(|| name.to_owned()), version)
}

/// From a `var/lib/dpkg/info/<package>.list` file, the paths (normalized) of
/// the language-package metadata files that a cataloger would read: only those
/// are kept, so that such packages are not reported twice.
pub(crate) fn owned_language_files(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .map(|line| line.trim_start_matches('/').trim_end_matches('/'))
        .filter(|path| super::is_language_metadata(path))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stanzas() {
        let text = "\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u14
Description: GNU C Library
 continuation: not a field

Package: bash
Status: hold ok installed
Source: bash (5.2.15-2)
Version: 5.2.15-2+b7

Package: removed
Status: deinstall ok config-files
Version: 1.0

Package: noversion
Status: install ok installed
";
        let got = parse_status(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].name, "libc6");
        assert_eq!(got[0].source.as_deref(), Some("glibc"));
        assert_eq!(got[0].source_version, None);
        assert_eq!(got[0].arch.as_deref(), Some("amd64"));
        assert_eq!(got[1].source.as_deref(), Some("bash"));
        assert_eq!(got[1].source_version.as_deref(), Some("5.2.15-2"));
        assert_eq!(got[1].version, "5.2.15-2+b7");
    }

    #[test]
    fn list_keeps_only_language_metadata() {
        let text = "/.\n/usr\n/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info\n\
/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA\n\
/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD\n\
/usr/lib/python3/dist-packages/yaml/__init__.py\n";
        assert_eq!(
            owned_language_files(text),
            vec!["usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA".to_owned()]
        );
    }
}
