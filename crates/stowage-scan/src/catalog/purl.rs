//! Package URLs (`pkg:type/namespace/name@version?qualifiers`).

use std::fmt::Write as _;

/// Percent-encodes a purl component: everything but `A–Z a–z 0–9 . - _ ~`
/// (and `:` in versions, where purl allows it and epochs use it).
fn encode(s: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') || (keep_colon && b == b':') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Builds a purl. `qualifiers` must be given sorted by key; empty values are
/// left out. A `/` in `namespace` separates its segments.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, Option<&str>)],
) -> String {
    let mut out = format!("pkg:{ty}/");
    if let Some(ns) = namespace {
        // Segments are encoded one by one: a Go module's `golang.org/x` stays.
        for segment in ns.split('/') {
            out.push_str(&encode(segment, false));
            out.push('/');
        }
    }
    out.push_str(&encode(name, false));
    out.push('@');
    out.push_str(&encode(version, true));
    let mut sep = '?';
    for (key, value) in qualifiers {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push(sep);
            out.push_str(key);
            out.push('=');
            out.push_str(&encode(value, false));
            sep = '&';
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u14",
                &[
                    ("arch", Some("amd64")),
                    ("distro", Some("debian-12")),
                    ("upstream", None)
                ]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl("npm", Some("@npmcli"), "arborist", "7.2.1", &[]),
            "pkg:npm/%40npmcli/arborist@7.2.1"
        );
        assert_eq!(
            purl("deb", Some("debian"), "busybox", "1:1.35.0-4", &[]),
            "pkg:deb/debian/busybox@1:1.35.0-4"
        );
    }
}
