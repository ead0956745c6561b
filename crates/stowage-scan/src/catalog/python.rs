//! Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info` in a `site-packages` or `dist-packages` directory.
//!
//! These are email-style headers (core metadata); we read `Name:` and
//! `Version:` from the header block and stop at the first blank line (the body
//! is the long description).

/// `Name:` and `Version:` from a core-metadata file.
pub(crate) fn parse_metadata(text: &str) -> (Option<String>, Option<String>) {
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if key.eq_ignore_ascii_case("name") && name.is_none() {
            name = Some(value.to_owned());
        } else if key.eq_ignore_ascii_case("version") && version.is_none() {
            version = Some(value.to_owned());
        }
    }
    (name, version)
}

/// A project name normalized as PEP 503 says (lowercase, runs of `-`, `_` and
/// `.` become one `-`): the form OSV's PyPI records use.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator {
                out.push('-');
                in_separator = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    if in_separator {
        out.push('-');
    }
    out
}

/// Whether a normalized path is a Python package metadata file we read.
pub(crate) fn is_metadata_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let (Some(file), Some(parent)) = (parts.next(), parts.next()) else {
        return false;
    };
    let in_packages_dir = |dir: Option<&str>| matches!(dir, Some("site-packages" | "dist-packages"));
    if file.ends_with(".egg-info") && in_packages_dir(Some(parent)) {
        return true; // single-file egg-info
    }
    let grandparent = parts.next();
    match file {
        "METADATA" => parent.ends_with(".dist-info") && in_packages_dir(grandparent),
        "PKG-INFO" => parent.ends_with(".egg-info") && in_packages_dir(grandparent),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(normalize_name("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize_name("FRIENDLY-BARD"), "friendly-bard");
        assert_eq!(normalize_name("friendly.bard"), "friendly-bard");
        assert_eq!(normalize_name("friendly_bard"), "friendly-bard");
        assert_eq!(normalize_name("friendly--bard"), "friendly-bard");
        assert_eq!(normalize_name("FrIeNdLy-._.-bArD"), "friendly-bard");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
    }

    #[test]
    fn metadata_header_only() {
        let text = "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\nSummary: x\n\nName: not-this\n";
        assert_eq!(parse_metadata(text), (Some("PyYAML".into()), Some("6.0".into())));
    }

    #[test]
    fn paths() {
        assert!(is_metadata_path(
            "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"
        ));
        assert!(is_metadata_path(
            "usr/local/lib/python3.12/site-packages/pip-23.2.1.dist-info/METADATA"
        ));
        assert!(is_metadata_path(
            "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO"
        ));
        assert!(is_metadata_path("usr/lib/python3/dist-packages/foo-1.0.egg-info"));
        assert!(!is_metadata_path("app/foo.dist-info/METADATA"));
        assert!(!is_metadata_path(
            "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD"
        ));
        assert!(!is_metadata_path("METADATA"));
    }
}
