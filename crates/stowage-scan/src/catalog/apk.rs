//! apk: `lib/apk/db/installed` (Alpine, Wolfi, Chainguard).
//!
//! The database is stanzas of `X:value` lines separated by blank lines; we read
//! `P:` (name), `V:` (version), `o:` (origin, the source package: the name OSV
//! advisories use) and `A:` (architecture).

use serde::{Deserialize, Serialize};

/// One installed package from an apk database, as kept in a layer's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApkRecord {
    /// `P:`.
    pub name: String,
    /// `V:`.
    pub version: String,
    /// `o:`, the origin (source) package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `A:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// Parses an apk `installed` database.
pub(crate) fn parse_installed(text: &str) -> Vec<ApkRecord> {
    let mut out = Vec::new();
    let (mut name, mut version, mut origin, mut arch) = (None, None, None, None);
    let mut finish = |name: &mut Option<String>,
                      version: &mut Option<String>,
                      origin: &mut Option<String>,
                      arch: &mut Option<String>| {
        if let (Some(n), Some(v)) = (name.take(), version.take())
            && !n.is_empty()
            && !v.is_empty()
        {
            out.push(ApkRecord {
                name: n,
                version: v,
                origin: origin.take().filter(|o| !o.is_empty()),
                arch: arch.take().filter(|a| !a.is_empty()),
            });
        }
        *origin = None;
        *arch = None;
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            finish(&mut name, &mut version, &mut origin, &mut arch);
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key {
            "P" => name = Some(value),
            "V" => version = Some(value),
            "o" => origin = Some(value),
            "A" => arch = Some(value),
            _ => {}
        }
    }
    finish(&mut name, &mut version, &mut origin, &mut arch);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\n\
P:libcrypto3\nV:3.3.2-r0\no:openssl\n\nP:broken\n";
        let got = parse_installed(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "musl");
        assert_eq!(got[0].arch.as_deref(), Some("x86_64"));
        assert_eq!(got[1].origin.as_deref(), Some("openssl"));
        assert_eq!(got[1].arch, None);
    }
}
