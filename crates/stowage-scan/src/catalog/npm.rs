//! npm: `package.json` of each package directory under a `node_modules`
//! directory (`…/node_modules/<name>/package.json` and
//! `…/node_modules/@<scope>/<name>/package.json`). Other `package.json` files
//! inside a package (`lib/package.json` markers, test fixtures) are not
//! packages and are not read.

use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    name: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// `name` and `version` of a `package.json`, when both are non-empty strings.
pub(crate) fn parse_package_json(bytes: &[u8]) -> Result<Option<(String, String)>, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("package.json: {e}"))?;
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    Ok(text(manifest.name).zip(text(manifest.version)))
}

/// Whether a normalized path is the manifest of an installed npm package.
pub(crate) fn is_package_json_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    if parts.next() != Some("package.json") {
        return false;
    }
    let (Some(dir), Some(up)) = (parts.next(), parts.next()) else {
        return false;
    };
    if dir.starts_with('.') || dir.starts_with('@') {
        return false;
    }
    if up == "node_modules" {
        return true;
    }
    up.starts_with('@') && up.len() > 1 && parts.next() == Some("node_modules")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(is_package_json_path(
            "usr/lib/node_modules/npm/node_modules/abbrev/package.json"
        ));
        assert!(is_package_json_path("app/node_modules/@npmcli/arborist/package.json"));
        assert!(is_package_json_path("node_modules/x/package.json"));
        assert!(!is_package_json_path("app/node_modules/abbrev/lib/package.json"));
        assert!(!is_package_json_path("app/node_modules/@npmcli/package.json"));
        assert!(!is_package_json_path("app/package.json"));
        assert!(!is_package_json_path("app/node_modules/.bin/package.json"));
    }

    #[test]
    fn manifest() {
        assert_eq!(
            parse_package_json(br#"{"name":"@a/b","version":"1.2.3","deps":{"x":[1,2]}}"#),
            Ok(Some(("@a/b".into(), "1.2.3".into())))
        );
        assert_eq!(parse_package_json(br#"{"type":"module"}"#), Ok(None));
        assert_eq!(parse_package_json(br#"{"name":"a","version":7}"#), Ok(None));
        assert!(parse_package_json(b"{not json").is_err());
    }
}
