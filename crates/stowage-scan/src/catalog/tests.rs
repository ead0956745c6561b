//! Image-level tests: layers built from this machine's real files, indexed,
//! stacked, and checked against the package managers' own tools (`dpkg-query`,
//! Python's `importlib.metadata`, `npm ls`) where they are installed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::*;
use crate::layers::tests::{LayerBuilder, gzip, index, real_debian_base, real_dpkg_status, real_site_packages};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/layers");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn packages_of(inv: &Inventory, kind: PackageKind) -> Vec<&Package> {
    inv.packages.iter().filter(|p| p.kind == kind).collect()
}

/// (name, version, source name, source version) of the installed packages,
/// as dpkg itself reports them.
fn dpkg_query() -> Option<BTreeSet<(String, String, String, String)>> {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0] == "installed").then(|| (f[1].into(), f[2].into(), f[3].into(), f[4].into()))
            })
            .collect(),
    )
}

/// (Name, Version) of the distributions in a directory, per Python's
/// `importlib.metadata`.
fn python_distributions(dir: &Path) -> Option<BTreeSet<(String, String)>> {
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| Command::new(p).arg("-V").output().is_ok())?;
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m, sys\n\
             for d in m.distributions(path=[sys.argv[1]]):\n    print(d.metadata['Name'] + '\\t' + d.version)",
        ])
        .arg(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// (path, name@version) of the packages of an npm tree, per `npm ls`.
fn npm_ls(dir: &str) -> Option<BTreeSet<(String, String)>> {
    let out = Command::new("npm")
        .args(["ls", "--all", "--parseable", "--long"])
        .current_dir(dir)
        .output()
        .ok()?;
    Some(
        String::from_utf8(out.stdout)
            .ok()?
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(p, nv)| (p.to_owned(), nv.to_owned()))
            .collect(),
    )
}

/// Of these absolute paths, the ones no dpkg package owns, per `dpkg-query -S`.
fn dpkg_unowned(paths: &[String]) -> Option<BTreeSet<String>> {
    let out = Command::new("dpkg-query").arg("-S").args(paths).output().ok()?;
    let owned: BTreeSet<&str> = std::str::from_utf8(&out.stdout)
        .ok()?
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(_, p)| p))
        .collect();
    Some(paths.iter().filter(|p| !owned.contains(p.as_str())).cloned().collect())
}

const DIST_PACKAGES: &str = "/usr/lib/python3/dist-packages";
const NPM: &str = "/usr/lib/node_modules/npm";

fn is_metadata_dir_file(p: &Path) -> bool {
    p.ancestors().any(|a| {
        a.file_name()
            .map(|n| n.to_string_lossy())
            .is_some_and(|n| n.ends_with(".dist-info") || n.ends_with(".egg-info"))
    })
}

/// Copies Debian's Python dist-packages metadata (dist-info / egg-info only).
fn add_dist_packages(layer: &mut LayerBuilder) -> usize {
    layer.real_tree(Path::new(DIST_PACKAGES), "usr/lib/python3/dist-packages", &|p| {
        is_metadata_dir_file(p) || p.extension().is_some_and(|e| e == "egg-info")
    })
}

/// The whole image as this machine has it: Debian base, dpkg file lists,
/// Debian's Python packages, npm (owned by the `nodejs` dpkg package); then a
/// second layer with a pip-installed site-packages and an app's node_modules.
#[test]
fn real_debian_image() {
    let mut base = real_debian_base();
    let lists = base.real_tree(Path::new("/var/lib/dpkg/info"), "var/lib/dpkg/info", &|p| {
        p.extension().is_some_and(|e| e == "list")
    });
    assert!(lists > 100, "{lists} dpkg file lists");
    assert!(add_dist_packages(&mut base) > 0);
    let npm_files = base.real_tree(Path::new(NPM), "usr/lib/node_modules/npm", &|p| {
        p.file_name().is_some_and(|n| n == "package.json")
    });
    let base = base.tar();

    let mut app = LayerBuilder::new();
    let site = real_site_packages();
    if let Some(site) = &site {
        app.real_tree(site, "usr/local/lib/python3.11/site-packages", &is_metadata_dir_file);
    }
    app.real_tree(Path::new(NPM), "app/node_modules/npm", &|p| {
        p.file_name().is_some_and(|n| n == "package.json")
    });
    let app = app.tar();

    let layers = [index(&base), index(&app)];
    let inv = image_inventory(&layers);

    // OS: through the etc/os-release → ../usr/lib/os-release symlink.
    let os = inv.os.as_ref().expect("an OS");
    assert_eq!(os.id, "debian");
    assert_eq!(os.version_id.as_deref(), Some("12"));
    assert_eq!(os.codename.as_deref(), Some("bookworm"));
    assert_eq!(os.ecosystem.as_deref(), Some("Debian:12"));
    assert_eq!(os.source, "etc/os-release");

    // dpkg: libc6 comes from glibc; all of it matches dpkg-query.
    let debs = packages_of(&inv, PackageKind::Deb);
    let libc6 = debs.iter().find(|p| p.name == "libc6").expect("libc6");
    assert_eq!(libc6.source_name.as_deref(), Some("glibc"));
    assert!(libc6.version.starts_with("2.36-"), "{}", libc6.version);
    assert_eq!(libc6.source_version.as_deref(), Some(libc6.version.as_str()));
    assert_eq!(libc6.ecosystem, "Debian:12");
    assert_eq!(libc6.path, "var/lib/dpkg/status");
    assert_eq!(libc6.layer, 0);
    assert!(
        libc6.purl.starts_with("pkg:deb/debian/libc6@2.36-")
            && libc6.purl.contains("arch=amd64")
            && libc6.purl.contains("distro=debian-12")
            && libc6.purl.ends_with("upstream=glibc"),
        "{}",
        libc6.purl
    );
    assert!(debs.iter().all(|p| p.layer == 0 && p.ecosystem == "Debian:12"));
    if let Some(expected) = dpkg_query() {
        let got: BTreeSet<_> = debs
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.source_name.clone().unwrap(),
                    p.source_version.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "dpkg-query disagrees");
        assert_eq!(debs.len(), expected.len());
    } else {
        eprintln!("dpkg-query not found: comparing with the status file only");
    }
    // A `Source: name (version)` package, if this machine has one.
    let text = String::from_utf8(real_dpkg_status()).unwrap();
    if let Some(stanza) = text
        .split("\n\n")
        .find(|s| s.lines().any(|l| l.starts_with("Source: ") && l.contains('(')))
    {
        let field = |k: &str| stanza.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap();
        let (source, version) = field("Source: ").split_once(" (").unwrap();
        let p = debs.iter().find(|p| p.name == field("Package: ")).unwrap();
        assert_eq!(p.source_name.as_deref(), Some(source));
        assert_eq!(p.source_version.as_deref(), version.strip_suffix(')'));
        assert_ne!(p.source_version.as_deref(), Some(p.version.as_str()), "{p:?}");
    }

    // Python: Debian's dist-packages are owned by dpkg packages (python3-yaml
    // owns PyYAML-6.0.dist-info …) so, of them, only what dpkg does not own
    // shows (nothing, on this machine); the pip-installed layer shows whole.
    let pythons = packages_of(&inv, PackageKind::Python);
    let system: BTreeSet<String> = pythons
        .iter()
        .filter(|p| !p.path.starts_with("usr/local/"))
        .map(|p| format!("/{}", p.path))
        .collect();
    let metadata_files: Vec<String> = layers[0]
        .files
        .keys()
        .filter(|p| p.starts_with("usr/lib/python3/dist-packages/"))
        .map(|p| format!("/{p}"))
        .collect();
    assert!(!metadata_files.is_empty());
    if let Some(unowned) = dpkg_unowned(&metadata_files) {
        assert_eq!(system, unowned, "dpkg-owned Python packages reported, or the reverse");
    } else {
        assert!(system.is_empty(), "{system:?}");
    }
    if let Some(site) = &site {
        assert!(!pythons.is_empty());
        assert!(pythons.iter().all(|p| p.layer == 1 && p.ecosystem == "PyPI"));
        for p in &pythons {
            assert_eq!(p.name, normalize_pypi_name(&p.display_name));
            assert_eq!(p.purl, format!("pkg:pypi/{}@{}", p.name, p.version.replace('+', "%2B")));
        }
        if let Some(expected) = python_distributions(site) {
            let got: BTreeSet<_> = pythons
                .iter()
                .map(|p| (p.display_name.clone(), p.version.clone()))
                .collect();
            assert_eq!(got, expected, "importlib.metadata disagrees");
        }
    }

    // npm: the tree under usr/lib is the nodejs package's, except what npm
    // installed there itself since (dpkg does not know those files); the app's
    // copy is nobody's.
    let npms = packages_of(&inv, PackageKind::Npm);
    assert!(npm_files > 0);
    assert!(npms.iter().all(|p| p.ecosystem == "npm"));
    assert!(
        npms.iter()
            .any(|p| p.name.starts_with("@npmcli/") && p.purl.starts_with("pkg:npm/%40npmcli/"))
    );
    let (app_npms, system_npms): (Vec<&&Package>, Vec<&&Package>) =
        npms.iter().partition(|p| p.path.starts_with("app/node_modules/npm"));
    assert!(app_npms.iter().all(|p| p.layer == 1));
    assert!(
        system_npms
            .iter()
            .all(|p| p.layer == 0 && p.path.starts_with("usr/lib/node_modules/npm"))
    );
    if let Some(expected) = npm_ls(NPM) {
        let as_listed = |ps: &[&&Package], prefix: &str| -> BTreeSet<(String, String)> {
            ps.iter()
                .map(|p| {
                    let dir = p.path.strip_suffix("/package.json").unwrap();
                    (dir.replacen(prefix, NPM, 1), format!("{}@{}", p.name, p.version))
                })
                .collect()
        };
        assert_eq!(
            as_listed(&app_npms, "app/node_modules/npm"),
            expected,
            "npm ls disagrees"
        );
        let manifests: Vec<String> = expected.iter().map(|(dir, _)| format!("{dir}/package.json")).collect();
        if let Some(unowned) = dpkg_unowned(&manifests) {
            let expected_system: BTreeSet<_> = expected
                .iter()
                .filter(|(dir, _)| unowned.contains(&format!("{dir}/package.json")))
                .cloned()
                .collect();
            assert_eq!(
                as_listed(&system_npms, "usr/lib/node_modules/npm"),
                expected_system,
                "reported system npm packages are not exactly those dpkg does not own"
            );
        }
    }

    // The inventory is the same from indexes that went through JSON.
    let stored: Vec<LayerIndex> = layers
        .iter()
        .map(|l| serde_json::from_str(&serde_json::to_string(l).unwrap()).unwrap())
        .collect();
    assert_eq!(image_inventory(&stored), inv);
}

/// A later layer that removes a dpkg file list (the files stay) makes the
/// language package visible again, attributed to the layer that brought it.
#[test]
fn ownership_follows_the_file_lists() {
    let mut base = LayerBuilder::new();
    base.real_file(
        "/var/lib/dpkg/info/python3-yaml.list",
        "var/lib/dpkg/info/python3-yaml.list",
    );
    add_dist_packages(&mut base);
    let base = index(&base.tar());
    let inv = image_inventory(std::slice::from_ref(&base));
    assert!(!inv.packages.iter().any(|p| p.name == "pyyaml"));
    assert!(inv.packages.iter().any(|p| p.name == "cryptography"));

    let mut upper = LayerBuilder::new();
    upper.whiteout("var/lib/dpkg/info/python3-yaml.list");
    let inv = image_inventory(&[base, index(&upper.tar())]);
    let pyyaml = inv.packages.iter().find(|p| p.name == "pyyaml").unwrap();
    assert_eq!(pyyaml.display_name, "PyYAML");
    assert_eq!(pyyaml.version, "6.0");
    assert_eq!(pyyaml.layer, 0);
}

/// Whiteouts and opaque directories delete packages; a package deleted and
/// installed again is attributed to the layer that brought it back.
#[test]
fn whiteouts_and_opaque_dirs_remove_packages() {
    const DP: &str = "usr/lib/python3/dist-packages";
    let mut l0 = LayerBuilder::new();
    let copied = add_dist_packages(&mut l0);
    assert!(copied > 0);
    let l0 = index(&l0.tar());
    let names = |inv: &Inventory| -> BTreeSet<String> { inv.packages.iter().map(|p| p.name.clone()).collect() };
    let all = names(&image_inventory(std::slice::from_ref(&l0)));
    assert!(all.contains("pyyaml") && all.contains("cryptography") && all.contains("six"));

    // Layer 1: `rm -rf PyYAML-6.0.dist-info`.
    let mut l1 = LayerBuilder::new();
    l1.whiteout(&format!("{DP}/PyYAML-6.0.dist-info"));
    let l1 = index(&l1.tar());
    let inv = image_inventory(&[l0.clone(), l1.clone()]);
    let mut expected = all.clone();
    expected.remove("pyyaml");
    assert_eq!(names(&inv), expected);

    // Layer 2: the directory replaced wholesale (opaque), keeping six, adding pip.
    let mut l2 = LayerBuilder::new();
    l2.opaque(DP);
    let six = std::fs::read_dir(DIST_PACKAGES)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("six-") && n.ends_with("-info"))
        .unwrap();
    l2.real_tree(&Path::new(DIST_PACKAGES).join(&six), &format!("{DP}/{six}"), &|_| true);
    l2.file(
        &format!("{DP}/pip-99.0.dist-info/METADATA"),
        b"Metadata-Version: 2.1\nName: pip\nVersion: 99.0\n",
    );
    let l2 = index(&l2.tar());
    let inv = image_inventory(&[l0.clone(), l1.clone(), l2.clone()]);
    assert_eq!(names(&inv), BTreeSet::from(["six".into(), "pip".into()]));
    let layer_of = |inv: &Inventory, n: &str| inv.packages.iter().find(|p| p.name == n).unwrap().layer;
    // six was visible in every layer so far: still layer 0's.
    assert_eq!(layer_of(&inv, "six"), 0);
    assert_eq!(layer_of(&inv, "pip"), 2);

    // Layer 3 removes six, layer 4 installs it again.
    let mut l3 = LayerBuilder::new();
    l3.whiteout(&format!("{DP}/{six}"));
    let mut l4 = LayerBuilder::new();
    l4.real_tree(&Path::new(DIST_PACKAGES).join(&six), &format!("{DP}/{six}"), &|_| true);
    let layers = [l0, l1, l2, index(&l3.tar()), index(&l4.tar())];
    assert!(!names(&image_inventory(&layers[..4])).contains("six"));
    let inv = image_inventory(&layers);
    assert_eq!(layer_of(&inv, "six"), 4);
    assert_eq!(layer_of(&inv, "pip"), 2);

    // A whiteout of a parent directory removes everything below it.
    let mut l5 = LayerBuilder::new();
    l5.whiteout("usr/lib/python3");
    let mut layers = layers.to_vec();
    layers.push(index(&l5.tar()));
    assert!(image_inventory(&layers).packages.is_empty());
}

/// A dpkg status in a later layer replaces the earlier one entirely.
#[test]
fn later_dpkg_status_replaces_the_earlier() {
    let status = String::from_utf8(real_dpkg_status()).unwrap();
    let stanzas: Vec<&str> = status.split("\n\n").filter(|s| !s.trim().is_empty()).collect();
    let field = |s: &str, k: &str| s.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_owned());
    let names: Vec<String> = stanzas
        .iter()
        .filter(|s| field(s, "Status: ").is_some_and(|v| v.ends_with(" installed")))
        .filter_map(|s| field(s, "Package: "))
        .collect();
    let dropped = names.iter().find(|n| *n != "libc6").unwrap().clone();

    // Layer 1's status: `dropped` removed, libc6 upgraded, one package added.
    let mut upgraded_version = String::new();
    let mut new_status: Vec<String> = stanzas
        .iter()
        .filter(|s| field(s, "Package: ").as_deref() != Some(dropped.as_str()))
        .map(|s| {
            if field(s, "Package: ").as_deref() == Some("libc6") {
                let old = field(s, "Version: ").unwrap();
                upgraded_version = format!("{old}.1");
                s.replace(&format!("Version: {old}"), &format!("Version: {upgraded_version}"))
            } else {
                (*s).to_owned()
            }
        })
        .collect();
    new_status.push(
        "Package: stowage-test\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0-1\nSource: stowage (1.0)"
            .into(),
    );
    let new_status = new_status.join("\n\n") + "\n";

    let l0 = index(&real_debian_base().tar());
    let mut l1 = LayerBuilder::new();
    l1.file("var/lib/dpkg/status", new_status.as_bytes());
    let l1 = index(&l1.tar());
    let before = image_inventory(std::slice::from_ref(&l0));
    let inv = image_inventory(&[l0.clone(), l1]);
    let debs = packages_of(&inv, PackageKind::Deb);
    assert_eq!(debs.len(), packages_of(&before, PackageKind::Deb).len());
    assert!(!debs.iter().any(|p| p.name == dropped));
    let libc6: Vec<_> = debs.iter().filter(|p| p.name == "libc6").collect();
    assert_eq!(libc6.len(), 1);
    assert_eq!(libc6[0].version, upgraded_version);
    assert_eq!(libc6[0].layer, 1);
    let added = debs.iter().find(|p| p.name == "stowage-test").unwrap();
    assert_eq!(added.layer, 1);
    assert_eq!(added.source_name.as_deref(), Some("stowage"));
    assert_eq!(added.source_version.as_deref(), Some("1.0"));
    assert!(
        debs.iter()
            .filter(|p| p.name != "libc6" && p.name != "stowage-test")
            .all(|p| p.layer == 0)
    );

    // A tiny status on top: only what it lists remains.
    let mut l2 = LayerBuilder::new();
    l2.file(
        "var/lib/dpkg/status",
        b"Package: only\nStatus: install ok installed\nVersion: 1\n",
    );
    let inv = image_inventory(&[l0, index(&l2.tar())]);
    assert_eq!(
        packages_of(&inv, PackageKind::Deb)
            .iter()
            .map(|p| &p.name)
            .collect::<Vec<_>>(),
        vec!["only"]
    );
}

/// Distroless: one file per package in `status.d`, no `Status:` lines.
#[test]
fn distroless_status_d() {
    let status = String::from_utf8(real_dpkg_status()).unwrap();
    let mut layer = LayerBuilder::new();
    layer.real_file("/usr/lib/os-release", "etc/os-release");
    let mut expected = BTreeSet::new();
    for stanza in status
        .split("\n\n")
        .filter(|s| s.contains("Status: install ok installed"))
        .take(25)
    {
        let body: String = stanza
            .lines()
            .filter(|l| !l.starts_with("Status:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let name = stanza.lines().find_map(|l| l.strip_prefix("Package: ")).unwrap();
        let version = stanza.lines().find_map(|l| l.strip_prefix("Version: ")).unwrap();
        expected.insert((name.to_owned(), version.to_owned()));
        layer.file(&format!("var/lib/dpkg/status.d/{name}"), body.as_bytes());
        layer.file(
            &format!("var/lib/dpkg/status.d/{name}.md5sums"),
            b"d41d8cd98f00b204e9800998ecf8427e  usr/x\n",
        );
    }
    let inv = image_inventory(&[index(&layer.tar())]);
    let got: BTreeSet<_> = inv
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        inv.packages
            .iter()
            .all(|p| p.ecosystem == "Debian:12" && p.path == format!("var/lib/dpkg/status.d/{}", p.name))
    );
}

#[test]
fn alpine_image() {
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/alpine-release", b"3.20.3\n")
        .file("etc/os-release", &fixture("alpine-3.20-os-release"))
        .file("lib/apk/db/installed", &fixture("alpine-3.20-apk-installed"));
    let inv = image_inventory(&[index(&gzip(&layer.tar()))]);
    let os = inv.os.unwrap();
    assert_eq!(os.ecosystem.as_deref(), Some("Alpine:v3.20"));
    let got: Vec<_> = inv
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.source_name.as_deref().unwrap(),
                p.ecosystem.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("busybox", "1.36.1-r29", "busybox", "Alpine:v3.20"),
            ("libcrypto3", "3.3.2-r0", "openssl", "Alpine:v3.20"),
            ("musl", "1.2.5-r0", "musl", "Alpine:v3.20"),
            ("ssl_client", "1.36.1-r29", "busybox", "Alpine:v3.20"),
        ]
    );
    let libcrypto = &inv.packages[1];
    assert_eq!(
        libcrypto.purl,
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    );
    assert_eq!(libcrypto.kind, PackageKind::Apk);
}

#[test]
fn ubuntu_image_names_the_lts_ecosystem() {
    let mut layer = LayerBuilder::new();
    layer
        .file("usr/lib/os-release", &fixture("ubuntu-22.04-os-release"))
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file(
            "var/lib/dpkg/status",
            b"Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.35-0ubuntu3.8\nArchitecture: amd64\n",
        );
    let inv = image_inventory(&[index(&layer.tar())]);
    assert_eq!(inv.os.as_ref().unwrap().ecosystem.as_deref(), Some("Ubuntu:22.04:LTS"));
    let p = &inv.packages[0];
    assert_eq!(p.ecosystem, "Ubuntu:22.04:LTS");
    assert_eq!(
        p.purl,
        "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=ubuntu-22.04&upstream=glibc"
    );
}

#[test]
fn os_detection_follows_the_layers() {
    let l0 = index(&real_debian_base().tar());
    // Layer 1 deletes the file the os-release symlink points to: the symlink
    // dangles, etc/debian_version decides.
    let mut l1 = LayerBuilder::new();
    l1.whiteout("usr/lib/os-release");
    let l1 = index(&l1.tar());
    let os = image_inventory(&[l0.clone(), l1.clone()]).os.unwrap();
    assert_eq!(os.source, "etc/debian_version");
    assert_eq!(os.ecosystem.as_deref(), Some("Debian:12"));
    // Layer 2 replaces etc/os-release with a regular file.
    let mut l2 = LayerBuilder::new();
    l2.file("etc/os-release", &fixture("ubuntu-22.04-os-release"));
    let inv = image_inventory(&[l0.clone(), l1.clone(), index(&l2.tar())]);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Ubuntu:22.04:LTS"));
    // An opaque root hides everything below.
    let mut l3 = LayerBuilder::new();
    l3.opaque("");
    let inv = image_inventory(&[l0, l1, index(&l3.tar())]);
    assert_eq!(inv, Inventory::default());
    assert_eq!(image_inventory(&[]), Inventory::default());
}
