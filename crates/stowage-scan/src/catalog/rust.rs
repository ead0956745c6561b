//! Rust: crates from `Cargo.lock` files and from the dependency list that
//! `cargo auditable` embeds in binaries.
//!
//! * `Cargo.lock` (formats v1 to v4 share `[[package]]` tables of `name`,
//!   `version`, `source`): crates whose source is the crates.io registry
//!   (`registry+https://github.com/rust-lang/crates.io-index`, or the sparse
//!   `sparse+https://index.crates.io/`). Workspace members and path
//!   dependencies (no `source`), git dependencies and other registries are
//!   not crates.io packages and are not reported. Lockfiles inside Cargo's
//!   own caches (`…/.cargo/registry/src/`, `…/cargo/git/checkouts/`: the
//!   sources of downloaded crates) describe how those crates were developed,
//!   not what is installed, and are not read.
//! * `.dep-v0` (an ELF section, written by cargo-auditable): zlib-compressed
//!   JSON `{"packages":[{"name","version","source","kind","dependencies",
//!   "root"}]}`; packages whose `source` is `crates.io`, the root (the binary's
//!   own crate) and `local`/`git`/other registries left out.

use std::io::Read;

use serde::Deserialize;

use super::{Found, LangRecord, PackageKind, purl};

/// The sources Cargo writes for crates.io in a lockfile.
const CRATES_IO_SOURCES: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Inflated `.dep-v0` JSON larger than this is refused (real ones are a few
/// KiB: about 100 bytes a crate).
const MAX_DEP_INFO_BYTES: u64 = 8 << 20;

/// Whether a normalized path is a `Cargo.lock` the cataloger reads.
pub(crate) fn is_cargo_lock_path(path: &str) -> bool {
    if path != "Cargo.lock" && !path.ends_with("/Cargo.lock") {
        return false;
    }
    // Cargo's caches, in `$CARGO_HOME` (`~/.cargo`, `/usr/local/cargo` in the
    // official images): `registry/src/…`, `git/checkouts/…`.
    let parts: Vec<&str> = path.split('/').collect();
    !parts.windows(3).any(|w| {
        matches!(w[0], ".cargo" | "cargo") && matches!((w[1], w[2]), ("registry", "src") | ("git", "checkouts"))
    })
}

#[derive(Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    source: Option<String>,
}

/// The crates.io packages of a `Cargo.lock`.
pub(crate) fn parse_cargo_lock(text: &str) -> Result<Vec<LangRecord>, String> {
    let lock: Lockfile = toml::from_str(text).map_err(|e| format!("Cargo.lock: {e}"))?;
    Ok(lock
        .package
        .into_iter()
        .filter(|p| p.source.as_deref().is_some_and(|s| CRATES_IO_SOURCES.contains(&s)))
        .map(|p| LangRecord {
            name: p.name,
            version: p.version,
        })
        .collect())
}

#[derive(Deserialize)]
struct DepInfo {
    packages: Vec<DepPackage>,
}

#[derive(Deserialize)]
struct DepPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    root: bool,
}

/// The crates.io packages of a cargo-auditable `.dep-v0` section's bytes.
pub(crate) fn parse_dep_v0(compressed: &[u8]) -> Result<Vec<LangRecord>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_DEP_INFO_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("cargo-auditable .dep-v0: {e}"))?;
    if json.len() as u64 > MAX_DEP_INFO_BYTES {
        return Err(format!(
            "cargo-auditable .dep-v0 inflates to over {MAX_DEP_INFO_BYTES} bytes"
        ));
    }
    let info: DepInfo = serde_json::from_slice(&json).map_err(|e| format!("cargo-auditable .dep-v0: {e}"))?;
    Ok(info
        .packages
        .into_iter()
        .filter(|p| !p.root && p.source.as_deref() == Some("crates.io"))
        .map(|p| LangRecord {
            name: p.name,
            version: p.version,
        })
        .collect())
}

/// The packages of a list of crates.
pub(super) fn found<'a>(path: &'a str, crates: &'a [LangRecord]) -> impl Iterator<Item = Found<'a>> {
    crates.iter().map(move |r| Found {
        kind: PackageKind::Cargo,
        path,
        name: &r.name,
        version: &r.version,
        source: None,
        source_version: None,
        arch: None,
    })
}

/// `pkg:cargo/<name>@<version>`.
pub(super) fn purl(name: &str, version: &str) -> String {
    purl::purl("cargo", None, name, version, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_paths() {
        for yes in ["Cargo.lock", "app/Cargo.lock", "usr/src/app/Cargo.lock"] {
            assert!(is_cargo_lock_path(yes), "{yes}");
        }
        for no in [
            "Cargo.lock.orig",
            "app/NotCargo.lock",
            "root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/slab-0.4.12/Cargo.lock",
            ".cargo/registry/src/x/Cargo.lock",
            "usr/local/cargo/git/checkouts/x/Cargo.lock",
            "home/u/.cargo/git/checkouts/x/abc/Cargo.lock",
        ] {
            assert!(!is_cargo_lock_path(no), "{no}");
        }
    }

    #[test]
    fn sources_other_than_crates_io_are_left_out() {
        let text = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["a", "b", "c", "d"]

[[package]]
name = "a"
version = "1.0.0"
source = "sparse+https://index.crates.io/"

[[package]]
name = "b"
version = "2.0.0"
source = "git+https://github.com/o/b?branch=main#0123456789abcdef"

[[package]]
name = "c"
version = "3.0.0"
source = "registry+https://example.com/other-index"

[[package]]
name = "d"
version = "4.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
        let got = parse_cargo_lock(text).unwrap();
        let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "d"]);
        assert!(parse_cargo_lock("[[package]]\nname = 1\n").is_err());
        assert!(parse_cargo_lock("not toml = = =").is_err());
        assert_eq!(parse_cargo_lock("").unwrap(), []);
    }

    #[test]
    fn dep_v0_bad_input_is_an_error() {
        assert!(parse_dep_v0(b"not zlib").is_err());
        let json = |text: &str| {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
            enc.finish().unwrap()
        };
        assert!(parse_dep_v0(&json("{}")).is_err());
        let got = parse_dep_v0(&json(
            r#"{"packages":[{"name":"a","version":"1.0.0","source":"crates.io","kind":"build"},
                {"name":"g","version":"1.0.0","source":"git"},
                {"name":"r","version":"1.0.0","source":"crates.io","root":true}],"format":1}"#,
        ))
        .unwrap();
        assert_eq!(
            got,
            [LangRecord {
                name: "a".into(),
                version: "1.0.0".into()
            }]
        );
        // A bomb: a few KiB that inflate past the limit.
        let big = format!(r#"{{"packages":[],"pad":"{}"}}"#, " ".repeat(9 << 20));
        assert!(parse_dep_v0(&json(&big)).unwrap_err().contains("over"));
    }
}
