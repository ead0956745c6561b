//! An image built at test time (Debian 12 base with a dpkg status, an app
//! layer of Python distributions, a layer deleting one of them), matched
//! against the real PyPI advisories of `testdata/advisories/PyPI` and a few
//! Debian-style records written here. The expected findings come from
//! reading the advisory files' ranges, not from this code.

use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use crate::catalog::{Inventory, PackageKind, image_inventory};
use crate::layers::tests::{LayerBuilder, index};
use crate::osv::{Format, SeverityLevel, SeveritySource, parse};

const PYPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/advisories/PyPI");
const SITE: &str = "usr/local/lib/python3.11/site-packages";
const VENV: &str = "opt/venv/lib/python3.11/site-packages";

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// `libssl3` is built from `openssl`; the `openssl` binary package is its own source.
const DPKG_STATUS: &str = "\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit - shared libraries

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit - cryptographic utility
";

/// Debian-style records: OSV names the source package.
const DEBIAN: &[&str] = &[
    // openssl in Debian 12, fixed in deb12u2: matches both binaries by source.
    r#"{"id": "DEBIAN-TEST-1", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
        "summary": "openssl test flaw",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}],
        "references": [{"type": "WEB", "url": "https://security-tracker.debian.org/tracker/CVE-2099-0001"}]}"#,
    // Names the binary `libssl3` (in every Debian release): libssl3's source is
    // openssl, so it must not match.
    r#"{"id": "DEBIAN-TEST-2", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian", "name": "libssl3"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#,
    // openssl in Debian 11 only: not this image's release.
    r#"{"id": "DEBIAN-TEST-3", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:11", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#,
];

fn metadata(name: &str, version: &str) -> String {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n")
}

fn dist_info(layer: &mut LayerBuilder, dir: &str, name: &str, version: &str) {
    layer.file(
        &format!("{dir}/{name}-{version}.dist-info/METADATA"),
        metadata(name, version).as_bytes(),
    );
}

/// Base (os-release, dpkg status) and app (Python distributions) layers.
fn image_layers() -> Vec<Vec<u8>> {
    let mut base = LayerBuilder::new();
    base.file("etc/os-release", OS_RELEASE.as_bytes())
        .file("var/lib/dpkg/status", DPKG_STATUS.as_bytes());
    let mut app = LayerBuilder::new();
    for (name, version) in [
        ("Jinja2", "2.10"),
        ("lxml", "4.6.4"),
        ("Werkzeug", "2.3.7"),
        ("Django", "1.4.10"),
    ] {
        dist_info(&mut app, SITE, name, version);
    }
    for (name, version) in [("Werkzeug", "3.0.1"), ("Django", "1.5.6"), ("Jinja2", "not.a-version!")] {
        dist_info(&mut app, VENV, name, version);
    }
    vec![base.tar(), app.tar()]
}

fn advisories() -> Vec<Advisory> {
    let mut all: Vec<Advisory> = osv::read(PYPI)
        .unwrap()
        .map(|(origin, r)| r.unwrap_or_else(|e| panic!("{origin}: {e}")))
        .collect();
    assert_eq!(all.len(), 12, "the PyPI testdata set");
    all.extend(DEBIAN.iter().map(|j| parse(j.as_bytes(), Format::Json).unwrap()));
    all
}

/// An index by (ecosystem without release, normalized name), as a server's
/// lookup would be; it records what it was asked.
struct Index<'a> {
    by_name: HashMap<(String, String), Vec<&'a Advisory>>,
    asked: RefCell<Vec<(String, String)>>,
}

impl<'a> Index<'a> {
    fn new(all: &'a [Advisory]) -> Self {
        let mut by_name: HashMap<_, Vec<_>> = HashMap::new();
        for a in all {
            for p in a.affected.iter().filter_map(|x| x.package.as_ref()) {
                let base = p.ecosystem.split(':').next().unwrap().to_owned();
                let name = osv::normalize_name(&p.ecosystem, &p.name).into_owned();
                let list = by_name.entry((base, name)).or_default();
                if !list.iter().any(|x: &&Advisory| x.id == a.id) {
                    list.push(a);
                }
            }
        }
        Index {
            by_name,
            asked: RefCell::new(Vec::new()),
        }
    }

    fn lookup(&self, ecosystem: &str, name: &str) -> Vec<&'a Advisory> {
        self.asked.borrow_mut().push((ecosystem.to_owned(), name.to_owned()));
        let base = ecosystem.split(':').next().unwrap().to_owned();
        self.by_name.get(&(base, name.to_owned())).cloned().unwrap_or_default()
    }
}

/// (vulnerability id, advisory id, package name, version, path, fixed in, level)
type Row = (String, String, String, String, String, Option<String>, SeverityLevel);

fn rows(findings: &[Finding]) -> Vec<Row> {
    findings
        .iter()
        .map(|f| {
            (
                f.vulnerability_id.clone(),
                f.advisory_id.clone(),
                f.package.name.clone(),
                f.package.version.clone(),
                f.package.path.clone(),
                f.fixed_in.clone(),
                f.severity.level,
            )
        })
        .collect()
}

fn row(vuln: &str, id: &str, name: &str, version: &str, path: &str, fixed: &str, level: SeverityLevel) -> Row {
    (
        vuln.into(),
        id.into(),
        name.into(),
        version.into(),
        path.into(),
        Some(fixed.into()),
        level,
    )
}

fn site(name: &str, version: &str, dir: &str) -> String {
    format!("{dir}/{name}-{version}.dist-info/METADATA")
}

/// What the advisory files say, sorted most severe first, then by id:
/// - DEBIAN-TEST-1 (CVSS 9.8, CRITICAL): openssl < 3.0.11-1~deb12u2 in Debian:12,
///   so both binaries of source openssl 3.0.11-1~deb12u1;
/// - PYSEC-2023-221 (CVSS:3.1 …/A:H = 7.5, HIGH): werkzeug < 2.3.8 (and 3.0.0 ≤ v < 3.0.1),
///   so 2.3.7 (fixed 2.3.8), not 3.0.1;
/// - PYSEC-2014-1 (CVE-2014-0472): django < 1.4.11, 1.5 ≤ v < 1.5.6, 1.6 ≤ v < 1.6.3:
///   1.4.10 (fixed 1.4.11), not 1.5.6;
/// - PYSEC-2014-19 (CVE-2014-1418): django 1.4 ≤ v < 1.4.13, 1.5 ≤ v < 1.5.8, …:
///   1.4.10 (fixed 1.4.13) and 1.5.6 (fixed 1.5.8);
/// - PYSEC-2019-217 (CVE-2019-10906): jinja2 < 2.10.1: 2.10;
/// - PYSEC-2021-852 (CVE-2021-43818): lxml < 4.6.5 (its GIT ranges are not evaluated): 4.6.4.
///
/// The PyPI records have no severity: UNDEFINED.
fn expected(with_lxml: bool) -> Vec<Row> {
    use SeverityLevel::*;
    let status = "var/lib/dpkg/status";
    let deb = "3.0.11-1~deb12u1";
    let mut rows = vec![
        row(
            "CVE-2099-0001",
            "DEBIAN-TEST-1",
            "libssl3",
            deb,
            status,
            "3.0.11-1~deb12u2",
            Critical,
        ),
        row(
            "CVE-2099-0001",
            "DEBIAN-TEST-1",
            "openssl",
            deb,
            status,
            "3.0.11-1~deb12u2",
            Critical,
        ),
        row(
            "CVE-2023-46136",
            "PYSEC-2023-221",
            "werkzeug",
            "2.3.7",
            &site("Werkzeug", "2.3.7", SITE),
            "2.3.8",
            High,
        ),
        row(
            "CVE-2014-0472",
            "PYSEC-2014-1",
            "django",
            "1.4.10",
            &site("Django", "1.4.10", SITE),
            "1.4.11",
            Undefined,
        ),
        row(
            "CVE-2014-1418",
            "PYSEC-2014-19",
            "django",
            "1.4.10",
            &site("Django", "1.4.10", SITE),
            "1.4.13",
            Undefined,
        ),
        row(
            "CVE-2014-1418",
            "PYSEC-2014-19",
            "django",
            "1.5.6",
            &site("Django", "1.5.6", VENV),
            "1.5.8",
            Undefined,
        ),
        row(
            "CVE-2019-10906",
            "PYSEC-2019-217",
            "jinja2",
            "2.10",
            &site("Jinja2", "2.10", SITE),
            "2.10.1",
            Undefined,
        ),
        row(
            "CVE-2021-43818",
            "PYSEC-2021-852",
            "lxml",
            "4.6.4",
            &site("lxml", "4.6.4", SITE),
            "4.6.5",
            Undefined,
        ),
    ];
    if !with_lxml {
        rows.retain(|r| r.2 != "lxml");
    }
    rows
}

#[test]
fn image_against_real_advisories() {
    let all = advisories();
    let index_ = Index::new(&all);
    let layers: Vec<_> = image_layers().iter().map(|b| index(b)).collect();
    let inventory = image_inventory(&layers);
    assert_eq!(inventory.os.as_ref().unwrap().ecosystem.as_deref(), Some("Debian:12"));

    let matched = match_inventory(&inventory, |e, n| index_.lookup(e, n));
    assert_eq!(rows(&matched.findings), expected(true));

    // OS packages were looked up by source name, in their release's ecosystem;
    // Python ones by normalized name.
    let asked = index_.asked.borrow();
    assert!(asked.contains(&("Debian:12".into(), "openssl".into())));
    assert!(!asked.iter().any(|(_, n)| n == "libssl3"));
    assert!(asked.contains(&("PyPI".into(), "jinja2".into())));

    // The fixed Werkzeug 3.0.1 has no finding.
    assert!(!matched.findings.iter().any(|f| f.package.version == "3.0.1"));

    // The unparsable Jinja2 version is skipped, not fatal.
    assert_eq!(matched.skipped.len(), 1, "{:?}", matched.skipped);
    let s = &matched.skipped[0];
    assert_eq!(
        (
            s.package.name.as_str(),
            s.package.version.as_str(),
            s.advisory_id.as_str()
        ),
        ("jinja2", "not.a-version!", "PYSEC-2019-217")
    );
    assert!(!s.reason.is_empty());

    // The details of two findings.
    let libssl3 = &matched.findings[0];
    assert_eq!(libssl3.package.display_name, "libssl3");
    assert_eq!(libssl3.package.source_name.as_deref(), Some("openssl"));
    assert_eq!(libssl3.package.layer, 0);
    assert_eq!(libssl3.aliases, ["CVE-2099-0001"]);
    assert_eq!(libssl3.summary.as_deref(), Some("openssl test flaw"));
    assert_eq!(libssl3.uri, "https://security-tracker.debian.org/tracker/CVE-2099-0001");
    assert_eq!(
        (libssl3.severity.score, libssl3.severity.source),
        (Some(9.8), Some(SeveritySource::Cvss))
    );
    assert!(libssl3.fix_available);
    assert!(
        libssl3
            .package
            .purl
            .starts_with("pkg:deb/debian/libssl3@3.0.11-1~deb12u1")
    );

    let werkzeug = &matched.findings[2];
    assert_eq!(werkzeug.package.display_name, "Werkzeug");
    assert_eq!(werkzeug.package.purl, "pkg:pypi/werkzeug@2.3.7");
    assert_eq!(werkzeug.package.layer, 1);
    assert_eq!(werkzeug.aliases, ["CVE-2023-46136", "GHSA-hrfv-mqp8-q5rw"]);
    assert_eq!(
        werkzeug.uri,
        "https://github.com/pallets/werkzeug/security/advisories/GHSA-hrfv-mqp8-q5rw"
    );
    assert_eq!(werkzeug.severity.score, Some(7.5));
    assert_eq!(
        werkzeug.severity.vector.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")
    );
    assert!(
        werkzeug
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("Werkzeug is a comprehensive WSGI"))
    );
    // Jinja2: the first ADVISORY reference, though ARTICLE and WEB ones come before it.
    let jinja2 = matched.findings.iter().find(|f| f.package.name == "jinja2").unwrap();
    assert_eq!(jinja2.uri, "https://access.redhat.com/errata/RHSA-2019:1152");

    let counts = severity_counts(&matched.findings);
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("CRITICAL".to_owned(), 2),
            ("HIGH".to_owned(), 1),
            ("UNDEFINED".to_owned(), 5)
        ]
    );

    // Stored as JSON and read back unchanged.
    let json = serde_json::to_string(&matched).unwrap();
    assert_eq!(serde_json::from_str::<Matched>(&json).unwrap(), matched);
}

#[test]
fn whiteout_removes_the_findings() {
    let all = advisories();
    let index_ = Index::new(&all);
    let mut layers: Vec<_> = image_layers().iter().map(|b| index(b)).collect();
    let mut rm = LayerBuilder::new();
    rm.whiteout(&format!("{SITE}/lxml-4.6.4.dist-info"));
    layers.push(index(&rm.tar()));
    let inventory = image_inventory(&layers);
    assert!(!inventory.packages.iter().any(|p| p.name == "lxml"));
    let matched = match_inventory(&inventory, |e, n| index_.lookup(e, n));
    assert_eq!(rows(&matched.findings), expected(false));
    assert_eq!(severity_counts(&matched.findings).get("UNDEFINED"), Some(&4));
}

#[test]
fn os_packages_match_by_source_name_only() {
    let all: Vec<Advisory> = DEBIAN
        .iter()
        .map(|j| parse(j.as_bytes(), Format::Json).unwrap())
        .collect();
    let layers = [index(&image_layers()[0])];
    let inventory = image_inventory(&layers);
    // Hand every record to every package: matching itself must sort them out.
    let matched = match_inventory(&inventory, |_, _| all.iter().collect());
    let got: Vec<_> = matched
        .findings
        .iter()
        .map(|f| (f.advisory_id.as_str(), f.package.name.as_str()))
        .collect();
    // DEBIAN-TEST-2 names the binary libssl3 (source openssl): no match;
    // DEBIAN-TEST-3 is for Debian:11: no match.
    assert_eq!(got, [("DEBIAN-TEST-1", "libssl3"), ("DEBIAN-TEST-1", "openssl")]);
    assert!(matched.skipped.is_empty());

    // Lookups that return a record twice still give one finding per package.
    let twice = match_inventory(&inventory, |_, _| vec![&all[0], &all[0]]);
    assert_eq!(twice.findings, matched.findings);

    // The source version is what is compared, not the binary's: a record
    // fixed at `1.0-1+b1` matches the binNMU `libfoo1 1.0-1+b1` of source
    // `foo (1.0-1)`, where the binary's own version would be the fixed one.
    let status =
        "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.0-1)\nVersion: 1.0-1+b1\n";
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/os-release", OS_RELEASE.as_bytes())
        .file("var/lib/dpkg/status", status.as_bytes());
    let inventory = image_inventory(&[index(&layer.tar())]);
    let foo = parse(
        br#"{"id": "DEBIAN-TEST-4", "modified": "2024-01-01T00:00:00Z",
             "affected": [{"package": {"ecosystem": "Debian", "name": "foo"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-1+b1"}]}]}]}"#,
        Format::Json,
    )
    .unwrap();
    let matched = match_inventory(&inventory, |_, n| if n == "foo" { vec![&foo] } else { vec![] });
    assert_eq!(rows(&matched.findings).len(), 1);
    let f = &matched.findings[0];
    assert_eq!(
        (f.package.name.as_str(), f.package.version.as_str()),
        ("libfoo1", "1.0-1+b1")
    );
    assert_eq!(f.package.source_version.as_deref(), Some("1.0-1"));
    assert_eq!(f.uri, "https://osv.dev/vulnerability/DEBIAN-TEST-4");
    assert_eq!(f.vulnerability_id, "DEBIAN-TEST-4");
    assert_eq!(f.severity.level, SeverityLevel::Undefined);
}

#[test]
fn rpm_packages_match_by_source_or_binary_name() {
    let rpm = |name: &str| crate::catalog::Package {
        kind: PackageKind::Rpm,
        name: name.to_string(),
        display_name: name.to_string(),
        version: "1:3.0.7-24.el9".to_string(),
        source_name: Some("openssl".to_string()),
        source_version: Some("1:3.0.7-24.el9".to_string()),
        ecosystem: "AlmaLinux:9".to_string(),
        purl: format!("pkg:rpm/almalinux/{name}@3.0.7-24.el9?epoch=1"),
        path: "var/lib/rpm/rpmdb.sqlite".to_string(),
        layer: 0,
    };
    let inventory = Inventory {
        os: None,
        packages: vec![rpm("openssl-libs"), rpm("openssl")],
    };
    // AlmaLinux's records list the binary packages an erratum ships.
    let alsa = parse(
        br#"{"id": "ALSA-TEST-1", "modified": "2024-01-01T00:00:00Z",
             "affected": [{"package": {"ecosystem": "AlmaLinux:9", "name": "openssl-libs"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9"}]}]}]}"#,
        Format::Json,
    )
    .unwrap();
    let matched = match_inventory(
        &inventory,
        |_, n| if n == "openssl-libs" { vec![&alsa] } else { vec![] },
    );
    let got: Vec<_> = matched.findings.iter().map(|f| f.package.name.as_str()).collect();
    assert_eq!(
        got,
        ["openssl-libs"],
        "matched by the binary name only where the record names it"
    );
    assert_eq!(matched.findings[0].fixed_in.as_deref(), Some("1:3.0.7-25.el9"));
    // A record naming the source package matches every binary built from it, once each.
    let source = parse(
        br#"{"id": "ALSA-TEST-2", "modified": "2024-01-01T00:00:00Z",
             "affected": [{"package": {"ecosystem": "AlmaLinux:9", "name": "openssl"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9"}]}]}]}"#,
        Format::Json,
    )
    .unwrap();
    let by_source = match_inventory(&inventory, |_, n| if n == "openssl" { vec![&source] } else { vec![] });
    let got: Vec<_> = by_source.findings.iter().map(|f| f.package.name.as_str()).collect();
    assert_eq!(got, ["openssl", "openssl-libs"]);
}

#[test]
fn sort_and_counts() {
    let all = advisories();
    let index_ = Index::new(&all);
    let layers: Vec<_> = image_layers().iter().map(|b| index(b)).collect();
    let mut findings = match_inventory(&image_inventory(&layers), |e, n| index_.lookup(e, n)).findings;
    let sorted = findings.clone();
    findings.reverse();
    sort_findings(&mut findings);
    assert_eq!(findings, sorted);
    assert!(severity_counts(&[]).is_empty());
    assert!(!severity_counts(&sorted).contains_key("LOW"));
}
