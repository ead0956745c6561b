//! Tests on real advisories: the subset copied into `testdata/advisories/`
//! (always), and the whole shared set when it is on the machine.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::model::{Advisory, Affected, ScoreType};
use super::ranges::{affects, evaluate, fixed_in};
use super::severity::{SeverityLevel, SeveritySource, severity};
use super::source::{self, MAX_ADVISORY_BYTES, Origin, ReadError};
use super::{Format, matching};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/advisories")
}

/// The shared advisory set: `$STOWAGE_ADVISORIES`, else `shared/` beside the
/// repository (as on the developers' machines and in CI).
fn shared_advisories() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("STOWAGE_ADVISORIES").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/advisories")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

fn load(relative: &str) -> Advisory {
    let path = testdata().join(relative);
    source::read_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// SemVer-like ordering for the versions these tests use: dotted numbers, an
/// optional `-prerelease` (below the release; dotted identifiers, numbers
/// below words) and `+build` ignored. Stands in for the real schemes so the
/// range logic is tested on real records on its own.
fn loose(a: &str, b: &str) -> Result<Ordering, String> {
    fn split(v: &str) -> Result<(Vec<u64>, Option<&str>), String> {
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        let core = core
            .split('.')
            .map(|p| p.parse::<u64>().map_err(|_| format!("{v:?} is not a loose version")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((core, pre))
    }
    let ((mut ca, pa), (mut cb, pb)) = (split(a)?, split(b)?);
    let len = ca.len().max(cb.len());
    ca.resize(len, 0);
    cb.resize(len, 0);
    Ok(ca.cmp(&cb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => {
            let ident = |s: &str| {
                s.parse::<u64>()
                    .map_or_else(|_| (1, 0, s.to_string()), |n| (0, n, String::new()))
            };
            x.split('.').map(ident).cmp(y.split('.').map(ident))
        }
    }))
}

fn affected_for<'a>(advisory: &'a Advisory, ecosystem: &str, name: &str) -> &'a Affected {
    advisory
        .affected
        .iter()
        .find(|a| matching::names_package(a, ecosystem, name))
        .unwrap_or_else(|| panic!("{} has no entry for {ecosystem}/{name}", advisory.id))
}

/// Asserts which versions are affected, each with its fix (`None` = not affected).
fn assert_versions(affected: &Affected, cases: &[(&str, Option<Option<&str>>)]) {
    for (version, expected) in cases {
        let verdict = evaluate(affected, version, loose).unwrap_or_else(|e| panic!("{version}: {e}"));
        let got = match verdict {
            super::Verdict::NotAffected => None,
            super::Verdict::Affected { fixed_in } => Some(fixed_in),
        };
        assert_eq!(
            got.as_ref().map(|f| f.as_deref()),
            *expected,
            "version {version} of {:?}",
            affected.package
        );
    }
}

// ---------------------------------------------------------------- the copied subset

#[test]
fn the_copied_subset_parses() {
    let mut by_folder: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for (origin, result) in source::read(testdata()).unwrap() {
        let Origin::File(path) = &origin else {
            panic!("{origin}")
        };
        let folder = path
            .strip_prefix(testdata())
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        match result {
            Ok(a) => {
                assert!(!a.id.is_empty() && !a.modified.is_empty(), "{origin}");
                *by_folder.entry(folder).or_default() += 1;
            }
            Err(e) => errors.push(format!("{origin}: {e}")),
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        by_folder,
        BTreeMap::from([("Go".into(), 14), ("PyPI".into(), 12), ("crates.io".into(), 15)])
    );
}

#[test]
fn werkzeug_two_intervals_next_to_a_git_range() {
    // PYSEC-2023-221: ECOSYSTEM [0, 2.3.8) and [3.0.0, 3.0.1); a GIT range with commit fixes.
    let a = load("PyPI/werkzeug/PYSEC-2023-221.yaml");
    assert_eq!(a.aliases, ["CVE-2023-46136", "GHSA-hrfv-mqp8-q5rw"]);
    let w = affected_for(&a, "PyPI", "Werkzeug");
    assert_versions(
        w,
        &[
            ("0.1", Some(Some("2.3.8"))),
            ("2.3.7", Some(Some("2.3.8"))),
            ("2.3.8", None),
            ("2.9.9", None),
            ("3.0.0", Some(Some("3.0.1"))),
            ("3.0.1", None),
        ],
    );
    let s = severity(&a, w);
    assert_eq!(
        (s.level, s.score, s.source),
        (SeverityLevel::High, Some(7.5), Some(SeveritySource::Cvss))
    );
    assert_eq!(
        s.vector.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")
    );
}

#[test]
fn oslo_middleware_out_of_order_events() {
    // PYSEC-2018-104 lists [3.9.0, 3.19.1) before [0, 3.8.1), then [3.20.0, 3.23.1).
    let a = load("PyPI/oslo-middleware/PYSEC-2018-104.yaml");
    let o = affected_for(&a, "PyPI", "oslo.middleware");
    assert_versions(
        o,
        &[
            ("3.8.0", Some(Some("3.8.1"))),
            ("3.8.1", None),
            ("3.9.0", Some(Some("3.19.1"))),
            ("3.19.0", Some(Some("3.19.1"))),
            ("3.19.1", None),
            ("3.20.0", Some(Some("3.23.1"))),
            ("3.23.1", None),
            ("3.24.0", None),
        ],
    );
}

#[test]
fn py_last_affected_is_inclusive() {
    // PYSEC-2022-42969: introduced 0, last_affected 1.11.0; no fix exists.
    let a = load("PyPI/py/PYSEC-2022-42969.yaml");
    let p = affected_for(&a, "PyPI", "py");
    assert_versions(p, &[("1.4.34", Some(None)), ("1.11.0", Some(None)), ("1.11.1", None)]);
    assert_eq!(severity(&a, p).level, SeverityLevel::Undefined);
}

#[test]
fn skywalking_unfixed_with_a_versions_list() {
    // PYSEC-2020-342: introduced 0 and no fix, versions 0.1.0 … 1.0.1, CVSS 3.1 9.8.
    let a = load("PyPI/apache-skywalking/PYSEC-2020-342.yaml");
    let s = affected_for(&a, "PyPI", "Apache_Skywalking");
    assert_eq!(s.versions.len(), 10);
    assert_versions(
        s,
        &[("0.1.0", Some(None)), ("1.0.1", Some(None)), ("8.0.0", Some(None))],
    );
    let sev = severity(&a, s);
    assert_eq!(
        (sev.level, sev.score, sev.version.as_deref()),
        (SeverityLevel::Critical, Some(9.8), Some("3.1"))
    );
}

#[test]
fn lxml_and_jinja2_and_jw_util() {
    // PYSEC-2021-852: two GIT ranges and ECOSYSTEM [0, 4.6.5).
    let a = load("PyPI/lxml/PYSEC-2021-852.yaml");
    assert_versions(
        affected_for(&a, "PyPI", "lxml"),
        &[("4.6.4", Some(Some("4.6.5"))), ("4.6.5", None)],
    );
    // PYSEC-2019-217: Jinja before 2.10.1.
    let a = load("PyPI/jinja2/PYSEC-2019-217.yaml");
    assert_versions(
        affected_for(&a, "PyPI", "Jinja2"),
        &[("2.10", Some(Some("2.10.1"))), ("2.10.1", None)],
    );
    // PYSEC-2020-341: jw.util before 2.3; its versions list holds a string that is no version.
    let a = load("PyPI/jw.util/PYSEC-2020-341.yaml");
    let j = affected_for(&a, "PyPI", "JW_Util");
    assert_eq!(
        (j.versions.len(), j.versions[0].as_str()),
        (37, "-class.-jw.util.version.Version-")
    );
    assert_versions(j, &[("2.2", Some(Some("2.3"))), ("2.3", None)]);
}

#[test]
fn yaml_with_unquoted_timestamps() {
    let a = load("PyPI/cdo-local-uuid/PYSEC-2024-6.yaml");
    assert_eq!(a.modified, "2024-01-19T22:21:07.454006Z");
    assert_eq!(a.published.as_deref(), Some("2024-01-11T03:15:00Z"));
    let c = affected_for(&a, "PyPI", "cdo-local-uuid");
    assert_eq!(
        c.ranges.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        ["GIT", "GIT", "ECOSYSTEM"]
    );
    assert_eq!(severity(&a, c).level, SeverityLevel::Low); // CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N = 2.8
}

#[test]
fn withdrawn_records_never_match() {
    for (file, ecosystem, name, version) in [
        ("PyPI/redis/PYSEC-2023-73.yaml", "PyPI", "redis", "2.0.0"),
        ("crates.io/RUSTSEC-2020-0053.json", "crates.io", "dirs", "1.0.0"),
        ("crates.io/RUSTSEC-2025-0007.json", "crates.io", "ring", "0.17.0"),
        ("Go/GO-2024-2730.json", "Go", "github.com/gorilla/sessions", "1.2.1"),
        ("Go/GO-2022-0617.json", "Go", "k8s.io/kubernetes", "1.20.0"),
    ] {
        let a = load(file);
        assert!(a.is_withdrawn(), "{file}");
        // The entry itself covers the version…
        assert_eq!(
            affects(affected_for(&a, ecosystem, name), version, loose),
            Ok(true),
            "{file}"
        );
        // …but a withdrawn record is never a finding (decided before any comparison).
        assert_eq!(
            matching::match_package(&a, ecosystem, name, version),
            Ok(None),
            "{file}"
        );
    }
}

#[test]
fn wasmtime_three_intervals_cvss_v3() {
    // RUSTSEC-2023-0090: [0.0.0-0, 4.0.1), [5.0.0, 5.0.1), [6.0.0, 6.0.1); CVSS 3.1 9.9.
    let a = load("crates.io/RUSTSEC-2023-0090.json");
    let w = affected_for(&a, "crates.io", "wasmtime");
    assert_versions(
        w,
        &[
            ("0.1.0", Some(Some("4.0.1"))),
            ("4.0.0", Some(Some("4.0.1"))),
            ("4.0.1", None),
            ("5.0.0", Some(Some("5.0.1"))),
            ("5.0.1", None),
            ("6.0.0", Some(Some("6.0.1"))),
            ("6.0.1", None),
            ("7.0.0", None),
        ],
    );
    let s = severity(&a, w);
    assert_eq!((s.level, s.score), (SeverityLevel::Critical, Some(9.9)));
    // Names are compared as written outside PyPI.
    assert!(!matching::names_package(w, "crates.io", "Wasmtime"));
}

#[test]
fn rustsec_cvss_v4() {
    // Base scores checked against FIRST's CVSS 4.0 calculator (Python `cvss` 3.6 agrees).
    for (file, name, level, score) in [
        ("crates.io/RUSTSEC-2026-0223.json", "wasmtime", SeverityLevel::Low, 2.0),
        ("crates.io/RUSTSEC-2026-0009.json", "time", SeverityLevel::Medium, 6.8),
        (
            "crates.io/RUSTSEC-2026-0033.json",
            "pingora-core",
            SeverityLevel::Critical,
            9.3,
        ),
        ("crates.io/RUSTSEC-2026-0041.json", "lz4_flex", SeverityLevel::High, 8.2),
        // Scores 0.0: no impact on the vulnerable or subsequent system.
        (
            "crates.io/RUSTSEC-2026-0023.json",
            "libcrux-ecdh",
            SeverityLevel::Informational,
            0.0,
        ),
    ] {
        let a = load(file);
        let s = severity(&a, affected_for(&a, "crates.io", name));
        assert_eq!(
            (s.level, s.score, s.version.as_deref(), s.source),
            (level, Some(score), Some("4.0"), Some(SeveritySource::Cvss)),
            "{file}"
        );
    }
    let a = load("crates.io/RUSTSEC-2026-0009.json");
    assert_versions(
        affected_for(&a, "crates.io", "time"),
        &[("0.3.5", None), ("0.3.6", Some(Some("0.3.47"))), ("0.3.47", None)],
    );
    let a = load("crates.io/RUSTSEC-2026-0041.json");
    assert_versions(
        affected_for(&a, "crates.io", "lz4_flex"),
        &[
            ("0.11.5", Some(Some("0.11.6"))),
            ("0.11.6", None),
            ("0.12.0", Some(Some("0.12.1"))),
            ("0.12.1", None),
        ],
    );
}

#[test]
fn rustsec_prerelease_bounds() {
    // RUSTSEC-2026-0146: anchor-lang [1.0.0-rc.1, 1.0.0-rc.2).
    let a = load("crates.io/RUSTSEC-2026-0146.json");
    assert_versions(
        affected_for(&a, "crates.io", "anchor-lang"),
        &[
            ("0.31.0", None),
            ("1.0.0-rc.1", Some(Some("1.0.0-rc.2"))),
            ("1.0.0-rc.2", None),
            ("1.0.0", None),
        ],
    );
}

#[test]
fn rustsec_informational() {
    // RUSTSEC-2020-0070 (unsound, fixed in lock_api 0.4.2) and RUSTSEC-2022-0058 (notice): no CVSS.
    let a = load("crates.io/RUSTSEC-2020-0070.json");
    let l = affected_for(&a, "crates.io", "lock_api");
    assert_versions(l, &[("0.4.1", Some(Some("0.4.2"))), ("0.4.2", None)]);
    let s = severity(&a, l);
    assert_eq!(
        (s.level, s.source, s.score),
        (SeverityLevel::Informational, Some(SeveritySource::Vendor), None)
    );
    let a = load("crates.io/RUSTSEC-2022-0058.json");
    assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Informational);
    // RUSTSEC-2025-0156 (malicious crate removed from crates.io): not informational, no CVSS.
    let a = load("crates.io/RUSTSEC-2025-0156.json");
    assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Undefined);
}

#[test]
fn go_module_and_v2_module() {
    // GO-2024-3228: every github.com/coder/coder; coder/v2 in [2.3.1, 2.14.4), [2.15.0, 2.15.3), [2.16.0, 2.16.1).
    let a = load("Go/GO-2024-3228.json");
    assert_versions(
        affected_for(&a, "Go", "github.com/coder/coder"),
        &[("0.1.0", Some(None)), ("99.0.0", Some(None))],
    );
    assert_versions(
        affected_for(&a, "Go", "github.com/coder/coder/v2"),
        &[
            ("2.3.0", None),
            ("2.3.1", Some(Some("2.14.4"))),
            ("2.14.4", None),
            ("2.15.2", Some(Some("2.15.3"))),
            ("2.16.0", Some(Some("2.16.1"))),
            ("2.16.1", None),
        ],
    );
    assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Undefined);
}

#[test]
fn go_stdlib_incompatible_and_pseudo_versions() {
    // GO-2021-0067: stdlib [1.16.0-0, 1.16.1).
    let a = load("Go/GO-2021-0067.json");
    assert_versions(
        affected_for(&a, "Go", "stdlib"),
        &[("1.15.8", None), ("1.16.0", Some(Some("1.16.1"))), ("1.16.1", None)],
    );
    // GO-2021-0069: stdlib [1.14.0-0, 1.14.12), [1.15.0-0, 1.15.5).
    let a = load("Go/GO-2021-0069.json");
    assert_versions(
        affected_for(&a, "Go", "stdlib"),
        &[
            ("1.13.9", None),
            ("1.14.11", Some(Some("1.14.12"))),
            ("1.14.12", None),
            ("1.15.4", Some(Some("1.15.5"))),
        ],
    );
    // GO-2024-2916: harbor's +incompatible versions.
    let a = load("Go/GO-2024-2916.json");
    assert_versions(
        affected_for(&a, "Go", "github.com/goharbor/harbor"),
        &[
            ("2.8.5+incompatible", Some(Some("2.8.6+incompatible"))),
            ("2.9.4+incompatible", None),
            ("2.10.1+incompatible", Some(Some("2.10.2+incompatible"))),
        ],
    );
    // GO-2020-0004: pseudo-versions on both ends.
    let a = load("Go/GO-2020-0004.json");
    assert_versions(
        affected_for(&a, "Go", "github.com/nanobox-io/golang-nanoauth"),
        &[
            ("0.0.0-20160101000000-aaaaaaaaaaaa", None),
            (
                "0.0.0-20180101000000-aaaaaaaaaaaa",
                Some(Some("0.0.0-20200131131040-063a3fb69896")),
            ),
            ("0.0.0-20200131131040-063a3fb69896", None),
        ],
    );
}

#[test]
fn fixed_in_matches_evaluate() {
    let a = load("crates.io/RUSTSEC-2023-0090.json");
    assert_eq!(fixed_in(&a.affected[0], "5.0.0", loose).as_deref(), Some("5.0.1"));
    assert_eq!(fixed_in(&a.affected[0], "5.0.1", loose), None);
}

// ---------------------------------------------------------------- through the real schemes

/// `match_package` on a copied record: `Some(fix)` when affected.
fn found(file: &str, ecosystem: &str, name: &str, version: &str) -> Option<Option<String>> {
    let a = load(file);
    matching::match_package(&a, ecosystem, name, version)
        .unwrap_or_else(|e| panic!("{file} {version}: {e}"))
        .map(|m| m.fixed_in)
}

fn fix(v: &str) -> Option<Option<String>> {
    Some(Some(v.to_string()))
}

#[test]
fn pypi_records_through_pep440() {
    let w = "PyPI/werkzeug/PYSEC-2023-221.yaml";
    assert_eq!(found(w, "PyPI", "Werkzeug", "2.3.7"), fix("2.3.8"));
    assert_eq!(found(w, "PyPI", "werkzeug", "2.3.8"), None);
    assert_eq!(found(w, "PyPI", "werkzeug", "2.3.8.post1"), None);
    // A 3.0.0 pre-release sorts below 3.0.0, so between the two intervals.
    assert_eq!(found(w, "PyPI", "werkzeug", "3.0.0rc1"), None);
    assert_eq!(found(w, "PyPI", "werkzeug", "3.0.0"), fix("3.0.1"));
    assert_eq!(found(w, "PyPI", "werkzeug", "3.0.1"), None);
    // 0.9.0 is PEP 440's spelling of the listed 0.9, and in [0, 2.3.8).
    assert_eq!(found(w, "PyPI", "werkzeug", "0.9.0"), fix("2.3.8"));

    // PYSEC-2014-19: [1.4, 1.4.13), [1.5, 1.5.8), [1.6, 1.6.5), [1.7a0, 1.7b4).
    let d = "PyPI/django/PYSEC-2014-19.yaml";
    assert_eq!(found(d, "PyPI", "Django", "1.3.7"), None);
    assert_eq!(found(d, "PyPI", "Django", "1.4"), fix("1.4.13"));
    assert_eq!(found(d, "PyPI", "Django", "1.6.4"), fix("1.6.5"));
    assert_eq!(found(d, "PyPI", "Django", "1.6.5"), None);
    assert_eq!(found(d, "PyPI", "Django", "1.7b3"), fix("1.7b4"));
    assert_eq!(found(d, "PyPI", "Django", "1.7b4"), None);
    assert_eq!(found(d, "PyPI", "Django", "1.7"), None);

    let p = "PyPI/py/PYSEC-2022-42969.yaml";
    assert_eq!(found(p, "PyPI", "py", "1.11.0"), Some(None));
    assert_eq!(found(p, "PyPI", "py", "1.11.0.post1"), None);

    let o = "PyPI/oslo-middleware/PYSEC-2018-104.yaml";
    assert_eq!(found(o, "PyPI", "oslo.middleware", "3.8.0"), fix("3.8.1"));
    assert_eq!(found(o, "PyPI", "oslo_middleware", "3.8.1"), None);
    assert_eq!(found(o, "PyPI", "Oslo.Middleware", "3.22.0"), fix("3.23.1"));

    assert_eq!(found("PyPI/redis/PYSEC-2023-73.yaml", "PyPI", "redis", "2.0.0"), None);
    assert_eq!(found("PyPI/jinja2/PYSEC-2019-217.yaml", "npm", "jinja2", "2.10"), None);
}

#[test]
fn crates_and_go_records_through_semver() {
    let w = "crates.io/RUSTSEC-2023-0090.json";
    assert_eq!(found(w, "crates.io", "wasmtime", "0.40.0"), fix("4.0.1"));
    assert_eq!(found(w, "crates.io", "wasmtime", "5.0.0"), fix("5.0.1"));
    assert_eq!(found(w, "crates.io", "wasmtime", "5.0.1"), None);
    assert_eq!(found(w, "crates.io", "wasmtime", "6.0.1"), None);

    let r = "crates.io/RUSTSEC-2026-0146.json";
    assert_eq!(found(r, "crates.io", "anchor-lang", "1.0.0-rc.1"), fix("1.0.0-rc.2"));
    // SemVer compares numeric identifiers as numbers: rc.10 is after rc.2.
    assert_eq!(found(r, "crates.io", "anchor-lang", "1.0.0-rc.10"), None);
    assert_eq!(found(r, "crates.io", "anchor-lang", "1.0.0"), None);

    assert_eq!(
        found("crates.io/RUSTSEC-2020-0053.json", "crates.io", "dirs", "1.0.0"),
        None
    );

    let g = "Go/GO-2021-0067.json";
    assert_eq!(found(g, "Go", "stdlib", "1.16.0-rc1"), fix("1.16.1"));
    assert_eq!(found(g, "Go", "stdlib", "1.16.1"), None);
    assert_eq!(found(g, "Go", "stdlib", "1.15.8"), None);
    let h = "Go/GO-2024-2916.json";
    assert_eq!(
        found(h, "Go", "github.com/goharbor/harbor", "2.9.3+incompatible"),
        fix("2.9.4+incompatible")
    );
    assert_eq!(
        found(h, "Go", "github.com/goharbor/harbor", "2.10.2+incompatible"),
        None
    );
    let n = "Go/GO-2020-0004.json";
    assert_eq!(
        found(
            n,
            "Go",
            "github.com/nanobox-io/golang-nanoauth",
            "0.0.0-20190101000000-abcdefabcdef"
        ),
        fix("0.0.0-20200131131040-063a3fb69896")
    );
    assert_eq!(
        found(
            n,
            "Go",
            "github.com/nanobox-io/golang-nanoauth",
            "0.0.0-20200131131040-063a3fb69896"
        ),
        None
    );
    let c = "Go/GO-2024-3228.json";
    assert_eq!(found(c, "Go", "github.com/coder/coder/v2", "2.15.2"), fix("2.15.3"));
    assert_eq!(found(c, "Go", "github.com/coder/coder", "0.27.0"), Some(None));
}

// ---------------------------------------------------------------- sources

fn copy_into(dir: &Path, relative: &str) {
    let to = dir.join(relative);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(testdata().join(relative), to).unwrap();
}

#[test]
fn directory_walk_reports_bad_files_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), "PyPI/werkzeug/PYSEC-2023-221.yaml");
    copy_into(dir.path(), "Go/GO-2021-0067.json");
    std::fs::write(dir.path().join("Go/broken.json"), b"{\"id\": ").unwrap();
    std::fs::write(dir.path().join("Go/notes.txt"), b"not an advisory").unwrap();
    std::fs::write(dir.path().join("Go/wrong.yml"), b"id: X\n").unwrap(); // no `modified`
    let items: Vec<_> = source::read(dir.path()).unwrap().collect();
    let names: Vec<String> = items
        .iter()
        .map(|(o, _)| o.to_string().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["GO-2021-0067.json", "broken.json", "wrong.yml", "PYSEC-2023-221.yaml"]
    );
    assert_eq!(items[0].1.as_ref().unwrap().id, "GO-2021-0067");
    assert!(matches!(items[1].1, Err(ReadError::Parse(_))));
    let wrong = items[2].1.as_ref().unwrap_err().to_string();
    assert!(wrong.contains("modified"), "{wrong}");
    assert_eq!(items[3].1.as_ref().unwrap().id, "PYSEC-2023-221");
    // A single file.
    let one: Vec<_> = source::read(dir.path().join("Go/GO-2021-0067.json")).unwrap().collect();
    assert_eq!(one.len(), 1);
    assert!(source::read(dir.path().join("missing")).is_err());
}

#[test]
fn oversized_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let file = File::create(&path).unwrap();
    file.set_len(MAX_ADVISORY_BYTES + 1).unwrap();
    let items: Vec<_> = source::read(dir.path()).unwrap().collect();
    assert!(
        matches!(items[0].1, Err(ReadError::TooLarge { .. })),
        "{:?}",
        items[0].1
    );
}

/// A zip laid out like osv.dev's `<ecosystem>/all.zip` (one JSON per record at
/// the top), made from the copied records, plus entries to skip or refuse.
#[test]
fn zip_dump_is_read_entry_by_entry() {
    use zip::write::SimpleFileOptions;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.zip");
    let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let files = [
        "crates.io/RUSTSEC-2023-0090.json",
        "crates.io/RUSTSEC-2026-0009.json",
        "Go/GO-2024-3228.json",
    ];
    for f in files {
        zip.start_file(f.rsplit('/').next().unwrap(), deflated).unwrap();
        zip.write_all(&std::fs::read(testdata().join(f)).unwrap()).unwrap();
    }
    zip.add_directory("nested/", deflated).unwrap();
    zip.start_file("nested/PYSEC-2019-217.yaml", deflated).unwrap();
    zip.write_all(&std::fs::read(testdata().join("PyPI/jinja2/PYSEC-2019-217.yaml")).unwrap())
        .unwrap();
    zip.start_file("README.txt", deflated).unwrap();
    zip.write_all(b"skipped").unwrap();
    zip.start_file("BAD-1.json", deflated).unwrap();
    zip.write_all(b"[1, 2").unwrap();
    // Over the limit once inflated, though tiny in the archive.
    zip.start_file("HUGE-1.json", deflated.large_file(true)).unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..=MAX_ADVISORY_BYTES >> 20 {
        zip.write_all(&zeros).unwrap();
    }
    zip.start_file("LAST-1.json", deflated).unwrap();
    zip.write_all(br#"{"id":"LAST-1","modified":"2024-01-01T00:00:00Z"}"#)
        .unwrap();
    zip.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);

    let items: Vec<_> = source::read(&path).unwrap().collect();
    let summary: Vec<(String, Result<String, String>)> = items
        .iter()
        .map(|(o, r)| {
            let Origin::ZipEntry { entry, archive } = o else {
                panic!("{o}")
            };
            assert_eq!(archive, &path.display().to_string());
            (
                entry.clone(),
                r.as_ref().map(|a| a.id.clone()).map_err(|e| e.to_string()),
            )
        })
        .collect();
    assert_eq!(summary.len(), 7, "{summary:#?}");
    assert_eq!(
        summary[0],
        ("RUSTSEC-2023-0090.json".into(), Ok("RUSTSEC-2023-0090".into()))
    );
    assert_eq!(summary[1].1, Ok("RUSTSEC-2026-0009".into()));
    assert_eq!(summary[2].1, Ok("GO-2024-3228".into()));
    assert_eq!(
        summary[3],
        ("nested/PYSEC-2019-217.yaml".into(), Ok("PYSEC-2019-217".into()))
    );
    assert!(
        summary[4].1.as_ref().is_err_and(|e| e.contains("JSON")),
        "{:?}",
        summary[4]
    );
    assert!(
        matches!(items[5].1, Err(ReadError::TooLarge { .. })),
        "{:?}",
        summary[5]
    );
    assert_eq!(summary[6].1, Ok("LAST-1".into()));

    // Not a zip at all.
    let fake = dir.path().join("fake.zip");
    std::fs::write(&fake, b"PK not really").unwrap();
    assert!(matches!(source::read(&fake), Err(ReadError::Zip(_))));
}

// ---------------------------------------------------------------- the whole shared set

/// Parses every record of the shared set (PyPI YAML, crates.io and Go JSON)
/// and scores every CVSS vector in it. Skips, saying so, when the set is not
/// on this machine. Run with `--release -- --nocapture` for the timing.
#[test]
fn every_shared_advisory_parses() {
    let Some(root) = shared_advisories() else {
        println!(
            "every_shared_advisory_parses: skipped, no shared advisory set (set STOWAGE_ADVISORIES to its folder)"
        );
        return;
    };
    let started = Instant::now();
    let mut total = 0;
    let mut failures = Vec::new();
    for folder in ["PyPI", "crates.io", "Go"] {
        let dir = root.join(folder);
        let on_disk = count_files(&dir);
        let (mut ok, mut withdrawn, mut affected, mut ranges, mut events, mut scored, mut unscored) =
            (0, 0, 0, 0, 0, 0, 0);
        let folder_started = Instant::now();
        for (origin, result) in source::read(&dir).unwrap() {
            match result {
                Ok(a) => {
                    ok += 1;
                    withdrawn += usize::from(a.is_withdrawn());
                    for aff in &a.affected {
                        affected += 1;
                        ranges += aff.ranges.len();
                        events += aff.ranges.iter().map(|r| r.events.len()).sum::<usize>();
                        let s = severity(&a, aff);
                        if s.score.is_some() {
                            scored += 1;
                        }
                    }
                    let vectors = a.severity.iter().chain(a.affected.iter().flat_map(|x| &x.severity));
                    unscored += vectors
                        .filter(|v| matches!(v.kind, ScoreType::CvssV2 | ScoreType::CvssV3 | ScoreType::CvssV4))
                        .filter(|v| super::severity::score_vector(&v.score).is_none())
                        .count();
                }
                Err(e) => failures.push(format!("{origin}: {e}")),
            }
        }
        println!(
            "{folder}: {ok} of {on_disk} files parsed in {:.2?} ({withdrawn} withdrawn; {affected} affected entries, \
             {ranges} ranges, {events} events; {scored} entries with a CVSS score, {unscored} vectors unscored)",
            folder_started.elapsed()
        );
        assert_eq!(ok + failures.len(), on_disk, "{folder}: every file visited");
        assert_eq!(unscored, 0, "{folder}: every CVSS vector scores");
        total += ok;
    }
    println!("all: {total} advisories in {:.2?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total > 8000, "{total}");
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                count_files(&p)
            } else {
                usize::from(Format::from_path(&p).is_some())
            }
        })
        .sum()
}
