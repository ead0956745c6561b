//! Package catalogers: what is installed in an image, from its layers'
//! indexes ([`crate::layers::LayerIndex`]), without reading the layers again.
//!
//! Two halves:
//!
//! * at indexing time, [`crate::layers::index_layer`] asks the catalogers which
//!   files matter and has them parsed into small [`Facts`] right away, so an
//!   index holds package facts, not file contents;
//! * at image time, [`image_inventory`] stacks the layers' indexes (whiteouts,
//!   opaque directories, last writer wins per file), detects the OS ([`Os`]),
//!   and turns the visible facts into [`Package`]s with the OSV ecosystem they
//!   are matched in and the layer that introduced them.
//!
//! Catalogers:
//!
//! | what | files |
//! |------|-------|
//! | OS | `etc/os-release`, `usr/lib/os-release`, `etc/debian_version`, `etc/alpine-release` ([`os`]) |
//! | dpkg | `var/lib/dpkg/status`, `var/lib/dpkg/status.d/*` (distroless) |
//! | apk | `lib/apk/db/installed` |
//! | Python | `…/{site,dist}-packages/*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, file `*.egg-info` |
//! | npm | `…/node_modules/[@scope/]name/package.json` |
//! | rpm | `var/lib/rpm/rpmdb.sqlite`, `usr/lib/sysimage/rpm/rpmdb.sqlite` (`rpm.rs`) |
//! | Java | `*.jar`, `*.war`, `*.ear`: `pom.properties`, `MANIFEST.MF`, nested jars (`java.rs`) |
//! | Rust | `…/Cargo.lock`; executables with cargo-auditable's `.dep-v0` section ([`rust`]) |
//! | Go | executables with Go build info ([`golang`]) |
//!
//! Executables are found by content, not by path ([`binary`]): a regular file
//! with an execute bit that starts with the ELF magic is read (whole up to
//! [`crate::layers::Limits::max_binary_bytes`], streamed past it).
//!
//! Language packages whose metadata file belongs to a dpkg package (listed in
//! `var/lib/dpkg/info/*.list`) or an rpm package (its header's file list) are
//! the OS package's business and are not reported a second time: Debian's
//! `python3-yaml` is a dpkg package, its `PyYAML-6.0.dist-info` is not a
//! separate PyPI install.
//!
//! TODO, next catalogers (not read yet; images that rely on them are reported
//! without those packages):
//! - rpm: the older BerkeleyDB/NDB `Packages` (RHEL 8, SUSE); the Red Hat
//!   ecosystem's CPE stream from `root/buildinfo/content_manifests/*.json`;
//! - also: Ruby gemspecs, PHP `installed.json`, .NET `deps.json`;
//! - dpkg and rpm ownership of Go and Rust binaries: the file lists keep only
//!   language metadata paths, and a binary is found by content, not path, so
//!   one a dpkg or rpm package installed (Debian's `dockerd`) is reported too;
//! - Go and Rust binaries that are not ELF (Mach-O, PE), and a binary that a
//!   later layer replaces with a file yielding nothing (a non-Go executable, a
//!   script): the lower layer's binary is still reported.

mod apk;
pub(crate) mod binary;
mod dpkg;
mod elf;
mod golang;
mod java;
mod npm;
pub mod os;
mod purl;
mod python;
mod rpm;
mod rust;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_binaries;
#[cfg(test)]
mod tests_java;
#[cfg(test)]
mod tests_rpm;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use apk::ApkRecord;
pub use dpkg::DpkgRecord;
pub use golang::GoBuildInfo;
pub use os::Os;
pub use python::normalize_name as normalize_pypi_name;
pub use rpm::RpmRecord;

use crate::layers::{FileRecord, FsView, LayerIndex, path};

/// The kinds of file a cataloger reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    OsRelease,
    DebianVersion,
    AlpineRelease,
    DpkgStatus,
    DpkgList,
    ApkInstalled,
    PythonMetadata,
    NpmPackageJson,
    RpmSqlite,
    JavaArchive,
    CargoLock,
}

impl FileKind {
    /// Files large by nature (Java archives, rpm's database: a big one is
    /// 100 MiB) are read under [`crate::layers::Limits::max_archive_bytes`]
    /// and skipped, not fatal, past it.
    pub(crate) fn is_large(self) -> bool {
        matches!(self, FileKind::JavaArchive | FileKind::RpmSqlite)
    }
}

/// Whether a cataloger reads the file at this normalized path, and as what.
pub(crate) fn classify(path: &str) -> Option<FileKind> {
    match path {
        "etc/os-release" | "usr/lib/os-release" => return Some(FileKind::OsRelease),
        "etc/debian_version" => return Some(FileKind::DebianVersion),
        "etc/alpine-release" => return Some(FileKind::AlpineRelease),
        "var/lib/dpkg/status" => return Some(FileKind::DpkgStatus),
        "lib/apk/db/installed" | "usr/lib/apk/db/installed" => {
            return Some(FileKind::ApkInstalled);
        }
        "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite" => return Some(FileKind::RpmSqlite),
        _ => {}
    }
    if let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/") {
        return (!name.contains('/') && !name.ends_with(".md5sums")).then_some(FileKind::DpkgStatus);
    }
    if let Some(name) = path.strip_prefix("var/lib/dpkg/info/") {
        return (!name.contains('/') && name.ends_with(".list")).then_some(FileKind::DpkgList);
    }
    if python::is_metadata_path(path) {
        return Some(FileKind::PythonMetadata);
    }
    if npm::is_package_json_path(path) {
        return Some(FileKind::NpmPackageJson);
    }
    if java::is_archive_path(path) {
        return Some(FileKind::JavaArchive);
    }
    if rust::is_cargo_lock_path(path) {
        return Some(FileKind::CargoLock);
    }
    None
}

/// Whether a path is a language package's metadata file (what dpkg file lists
/// are filtered down to).
pub(crate) fn is_language_metadata(path: &str) -> bool {
    python::is_metadata_path(path)
        || npm::is_package_json_path(path)
        || java::is_archive_path(path)
        || rust::is_cargo_lock_path(path)
}

/// What a cataloged file says, as kept in a layer's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Facts {
    /// os-release keys that identify the distribution (`ID`, `VERSION_ID`, …).
    OsRelease(BTreeMap<String, String>),
    /// The content of `etc/debian_version`, trimmed.
    DebianVersion(String),
    /// The content of `etc/alpine-release`, trimmed.
    AlpineRelease(String),
    /// The installed packages of a dpkg status file.
    Dpkg(Vec<DpkgRecord>),
    /// From a dpkg `.list` file: the language-package metadata files that the
    /// dpkg package owns (everything else in the list is dropped).
    DpkgOwned(Vec<String>),
    /// The installed packages of an apk database.
    Apk(Vec<ApkRecord>),
    /// A Python distribution (name as written in its metadata).
    Python(LangRecord),
    /// An npm package.
    Npm(LangRecord),
    /// The installed packages of an rpm database.
    Rpm(Vec<RpmRecord>),
    /// The Maven packages of a Java archive (`groupId:artifactId`, or a
    /// manifest's name) and of the archives nested in it.
    Java(Vec<LangRecord>),
    /// The crates.io packages of a `Cargo.lock`.
    CargoLock(Vec<LangRecord>),
    /// The crates.io packages of a binary built with `cargo auditable`.
    RustBinary(Vec<LangRecord>),
    /// A Go binary's build info.
    GoBinary(GoBuildInfo),
}

/// A language package's name and version as its metadata file says them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LangRecord {
    /// The name, as written.
    pub name: String,
    /// The version, as written.
    pub version: String,
}

/// Parses a cataloged file's content into facts. `Err` carries why it could
/// not be (the file still hides lower layers' copies, and yields nothing).
pub(crate) fn parse_file(kind: FileKind, bytes: &[u8]) -> Result<Facts, String> {
    let text = || String::from_utf8_lossy(bytes);
    Ok(match kind {
        FileKind::OsRelease => Facts::OsRelease(os::parse_os_release(&text())),
        FileKind::DebianVersion => Facts::DebianVersion(text().trim().to_owned()),
        FileKind::AlpineRelease => Facts::AlpineRelease(text().trim().to_owned()),
        FileKind::DpkgStatus => Facts::Dpkg(dpkg::parse_status(&text())),
        FileKind::DpkgList => Facts::DpkgOwned(dpkg::owned_language_files(&text())),
        FileKind::ApkInstalled => Facts::Apk(apk::parse_installed(&text())),
        FileKind::PythonMetadata => match python::parse_metadata(&text()) {
            (Some(name), Some(version)) => Facts::Python(LangRecord { name, version }),
            _ => return Err("Python metadata without Name and Version".into()),
        },
        FileKind::NpmPackageJson => match npm::parse_package_json(bytes)? {
            Some((name, version)) => Facts::Npm(LangRecord { name, version }),
            None => return Err("package.json without name and version".into()),
        },
        FileKind::RpmSqlite => Facts::Rpm(rpm::parse_rpmdb(bytes)?),
        FileKind::JavaArchive => Facts::Java(java::parse_archive(bytes)?),
        FileKind::CargoLock => Facts::CargoLock(rust::parse_cargo_lock(&text())?),
    })
}

/// Which package manager a package comes from (and so which version ordering
/// applies to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// A dpkg (Debian, Ubuntu) binary package.
    Deb,
    /// An apk (Alpine, Wolfi, Chainguard) package.
    Apk,
    /// A Python distribution.
    Python,
    /// An npm package.
    Npm,
    /// An rpm (Red Hat family) package.
    Rpm,
    /// A Maven package, from a Java archive.
    Maven,
    /// A Rust crate from crates.io.
    Cargo,
    /// A Go module, or the Go standard library (`stdlib`).
    Go,
}

/// A package installed in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Which package manager.
    pub kind: PackageKind,
    /// The name matched against advisories: the binary package for dpkg,
    /// apk and rpm, the PEP 503-normalized name for Python, the name for npm
    /// and crates.io, `groupId:artifactId` for Maven, the module path (or
    /// `stdlib`) for Go.
    pub name: String,
    /// The name as the package writes it, for display (`PyYAML`).
    pub display_name: String,
    /// The installed version.
    pub version: String,
    /// For OS packages, the source package (dpkg `Source:`, apk `o:`, rpm
    /// `SOURCERPM`), which is the name OSV's Debian, Ubuntu and Alpine records
    /// use; the binary name when the package has no separate source. `None`
    /// for language packages.
    pub source_name: Option<String>,
    /// For OS packages, the source version (`Source: name (version)`),
    /// otherwise the package's own version. `None` for language packages.
    pub source_version: Option<String>,
    /// The OSV ecosystem (`Debian:12`, `Alpine:v3.20`, `PyPI`, `npm`).
    pub ecosystem: String,
    /// The package URL.
    pub purl: String,
    /// The database or metadata file it was read from.
    pub path: String,
    /// Index (0-based, in the manifest's order) of the layer that introduced
    /// it: the lowest layer from which this name and version has been present
    /// without interruption.
    pub layer: usize,
}

/// What an image contains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The distribution, when one is recognized.
    pub os: Option<Os>,
    /// The packages, sorted by ecosystem, name, version, path.
    pub packages: Vec<Package>,
}

/// A package as read from one visible file, before the OS is known.
struct Found<'a> {
    kind: PackageKind,
    path: &'a str,
    name: &'a str,
    version: &'a str,
    source: Option<&'a str>,
    source_version: Option<&'a str>,
    arch: Option<&'a str>,
}

/// What identifies "the same package" from one layer to the next.
type Key = (PackageKind, String, String, String, Option<String>);

impl Found<'_> {
    fn key(&self) -> Key {
        (
            self.kind,
            self.path.to_owned(),
            self.name.to_owned(),
            self.version.to_owned(),
            self.arch.map(str::to_owned),
        )
    }
}

fn found<'a>(view: &FsView<'a>) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    for (path, _, record) in view.iter() {
        let FileRecord::Facts(facts) = record else {
            continue;
        };
        match facts {
            Facts::Dpkg(records) => out.extend(records.iter().map(|r| Found {
                kind: PackageKind::Deb,
                path,
                name: &r.name,
                version: &r.version,
                source: r.source.as_deref(),
                source_version: r.source_version.as_deref(),
                arch: r.arch.as_deref(),
            })),
            Facts::Apk(records) => out.extend(records.iter().map(|r| Found {
                kind: PackageKind::Apk,
                path,
                name: &r.name,
                version: &r.version,
                source: r.origin.as_deref(),
                source_version: None,
                arch: r.arch.as_deref(),
            })),
            Facts::Rpm(records) => out.extend(records.iter().map(|r| Found {
                kind: PackageKind::Rpm,
                path,
                name: &r.name,
                version: &r.version,
                source: r.source.as_deref(),
                source_version: r.source_version.as_deref(),
                arch: r.arch.as_deref(),
            })),
            Facts::Java(records) => out.extend(records.iter().map(|r| Found {
                kind: PackageKind::Maven,
                path,
                name: &r.name,
                version: &r.version,
                source: None,
                source_version: None,
                arch: None,
            })),
            Facts::CargoLock(crates) | Facts::RustBinary(crates) => out.extend(rust::found(path, crates)),
            Facts::GoBinary(info) => out.extend(golang::found(path, info)),
            Facts::Python(r) | Facts::Npm(r) => out.push(Found {
                kind: if matches!(facts, Facts::Python(_)) {
                    PackageKind::Python
                } else {
                    PackageKind::Npm
                },
                path,
                name: &r.name,
                version: &r.version,
                source: None,
                source_version: None,
                arch: None,
            }),
            _ => {}
        }
    }
    out
}

/// Follows symlinks (recorded for os-release and friends) to the facts.
fn resolve<'a>(view: &FsView<'a>, start: &str) -> Option<&'a Facts> {
    let mut current = start.to_owned();
    for _ in 0..16 {
        match view.get(&current)? {
            FileRecord::Facts(facts) => return Some(facts),
            FileRecord::Symlink { target } => current = path::resolve_link(&current, target),
            FileRecord::Unparsed { .. } => return None,
        }
    }
    None
}

fn detect_os(view: &FsView<'_>) -> Option<Os> {
    for source in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(Facts::OsRelease(fields)) = resolve(view, source)
            && let Some(os) = os::from_os_release(fields, source)
        {
            return Some(os);
        }
    }
    if let Some(Facts::DebianVersion(v)) = resolve(view, "etc/debian_version")
        && let Some(os) = os::from_debian_version(v, "etc/debian_version")
    {
        return Some(os);
    }
    if let Some(Facts::AlpineRelease(v)) = resolve(view, "etc/alpine-release")
        && let Some(os) = os::from_alpine_release(v, "etc/alpine-release")
    {
        return Some(os);
    }
    None
}

/// The inventory of an image, from its layers' indexes in manifest order
/// (base layer first).
///
/// Layers are stacked as an overlay filesystem does: a layer's whiteouts and
/// opaque directories hide what the layers below it had, then its files
/// replace the ones at the same path (a later dpkg status replaces the earlier
/// one entirely). Each package is attributed to the lowest layer from which it
/// (same file, name, version and architecture) has been present in every
/// layer up to the top.
pub fn image_inventory(layers: &[LayerIndex]) -> Inventory {
    let mut view = FsView::default();
    let mut introduced: HashMap<Key, usize> = HashMap::new();
    for (i, layer) in layers.iter().enumerate() {
        view.apply(i, layer);
        let present: HashSet<Key> = found(&view).iter().map(Found::key).collect();
        introduced.retain(|key, _| present.contains(key));
        for key in present {
            introduced.entry(key).or_insert(i);
        }
    }

    let os = detect_os(&view);
    let mut owned: HashSet<&str> = view
        .iter()
        .filter_map(|(_, _, record)| match record {
            FileRecord::Facts(Facts::DpkgOwned(paths)) => Some(paths),
            _ => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    owned.extend(
        view.iter()
            .filter_map(|(_, _, record)| match record {
                FileRecord::Facts(Facts::Rpm(records)) => Some(records),
                _ => None,
            })
            .flatten()
            .flat_map(|r| r.files.iter().map(String::as_str)),
    );
    let is_owned = |p: &str| {
        // Merged /usr: a package lists /lib/… but the file is at usr/lib/….
        owned.contains(p) || p.strip_prefix("usr/").is_some_and(|rest| owned.contains(rest))
    };

    let mut packages = Vec::new();
    let mut seen_os_purls = HashSet::new();
    for f in found(&view) {
        let layer = introduced
            .get(&f.key())
            .copied()
            .unwrap_or(layers.len().saturating_sub(1));
        let package = match f.kind {
            PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm => {
                let package = os_package(&f, os.as_ref(), layer);
                // Listed twice (status and status.d): one package.
                if !seen_os_purls.insert(package.purl.clone()) {
                    continue;
                }
                package
            }
            PackageKind::Python | PackageKind::Npm | PackageKind::Maven | PackageKind::Cargo | PackageKind::Go => {
                if is_owned(f.path) {
                    continue;
                }
                language_package(&f, layer)
            }
        };
        packages.push(package);
    }
    packages.sort_by(|a, b| {
        (&a.ecosystem, &a.name, &a.version, &a.path, &a.purl).cmp(&(
            &b.ecosystem,
            &b.name,
            &b.version,
            &b.path,
            &b.purl,
        ))
    });
    Inventory { os, packages }
}

fn os_package(f: &Found<'_>, os: Option<&Os>, layer: usize) -> Package {
    let (purl_type, family, default_namespace): (_, &[&str], _) = match f.kind {
        PackageKind::Deb => ("deb", &["debian", "ubuntu"], "debian"),
        PackageKind::Rpm => ("rpm", rpm::FAMILY, "redhat"),
        _ => ("apk", &["alpine", "wolfi", "chainguard"], "alpine"),
    };
    let os = os.filter(|os| family.contains(&os.id.as_str()));
    let ecosystem = os.and_then(|os| os.ecosystem.clone()).unwrap_or_else(|| {
        let bare = match f.kind {
            PackageKind::Deb => "Debian",
            PackageKind::Rpm => "Red Hat",
            _ => "Alpine",
        };
        bare.to_owned()
    });
    let namespace = os.map_or(default_namespace, |os| os.id.as_str());
    let distro = os.and_then(|os| os.version_id.as_ref().map(|v| format!("{}-{v}", os.id)));
    let source_name = f.source.unwrap_or(f.name);
    let upstream = (source_name != f.name).then_some(source_name);
    // rpm purls carry the epoch as a qualifier, not in the version.
    let (epoch, purl_version) = match f.kind {
        PackageKind::Rpm => rpm::split_epoch(f.version),
        _ => (None, f.version),
    };
    let purl = purl::purl(
        purl_type,
        Some(namespace),
        f.name,
        purl_version,
        &[
            ("arch", f.arch),
            ("distro", distro.as_deref()),
            ("epoch", epoch),
            ("upstream", upstream),
        ],
    );
    Package {
        kind: f.kind,
        name: f.name.to_owned(),
        display_name: f.name.to_owned(),
        version: f.version.to_owned(),
        source_name: Some(source_name.to_owned()),
        source_version: Some(f.source_version.unwrap_or(f.version).to_owned()),
        ecosystem,
        purl,
        path: f.path.to_owned(),
        layer,
    }
}

fn language_package(f: &Found<'_>, layer: usize) -> Package {
    let (name, ecosystem, purl) = match f.kind {
        PackageKind::Python => {
            let name = python::normalize_name(f.name);
            let purl = purl::purl("pypi", None, &name, f.version, &[]);
            (name, "PyPI", purl)
        }
        PackageKind::Maven => {
            let purl = match f.name.split_once(':') {
                Some((group, artifact)) => purl::purl("maven", Some(group), artifact, f.version, &[]),
                None => purl::purl("maven", None, f.name, f.version, &[]),
            };
            (f.name.to_owned(), "Maven", purl)
        }
        PackageKind::Cargo => (f.name.to_owned(), "crates.io", rust::purl(f.name, f.version)),
        PackageKind::Go => (f.name.to_owned(), "Go", golang::purl(f.name, f.version)),
        _ => {
            let purl = match f.name.split_once('/') {
                Some((scope, bare)) if scope.starts_with('@') => purl::purl("npm", Some(scope), bare, f.version, &[]),
                _ => purl::purl("npm", None, f.name, f.version, &[]),
            };
            (f.name.to_owned(), "npm", purl)
        }
    };
    Package {
        kind: f.kind,
        name,
        display_name: f.name.to_owned(),
        version: f.version.to_owned(),
        source_name: None,
        source_version: None,
        ecosystem: ecosystem.to_owned(),
        purl,
        path: f.path.to_owned(),
        layer,
    }
}
