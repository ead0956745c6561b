//! Image scanning end to end, as a user sees it: images built at test time by
//! the Docker engine from real packages (old releases installed with pip and
//! npm, the machine's dpkg status and os-release), pushed with `docker push`,
//! scanned against real PyPI advisories imported with `stowage vulndb import`,
//! and read back with the AWS CLI. The expected findings come from
//! `scripts/scan-expected.py`, which reads the image's final filesystem as
//! `docker export` gives it (so Docker applies the whiteouts) and evaluates
//! the same advisory files on its own (PEP 440 with `packaging`, CVSS with the
//! `cvss` package), not from Stowage's code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::aws_cli::{Cli, Keys};
use crate::clients::*;
use crate::support::*;

/// Where pip installs system-wide packages in the images (one layer).
const SITE: &str = "usr/local/lib/python3.11/site-packages";
/// A second site-packages, in a layer of its own.
const VENV_SITE: &str = "opt/venv/lib/python3.11/site-packages";
/// Old releases with several PyPI advisories each, installed into [`SITE`].
const PIP_SITE: &[&str] = &[
    "urllib3==1.24.1",
    "requests==2.19.1",
    "Werkzeug==0.14.1",
    "Flask==0.12.2",
];
/// Installed into [`VENV_SITE`].
const PIP_VENV: &[&str] = &["Jinja2==2.10"];
/// npm packages in `/app/node_modules` (the advisory set has no npm records:
/// they are in the inventory only).
const NPM: &[&str] = &["lodash@4.17.4", "minimist@0.0.8"];
/// What the whiteout image deletes: Werkzeug's code and metadata.
const DELETED: [&str; 2] = ["Werkzeug-0.14.1.dist-info", "werkzeug"];
/// The advisory folder of the package whose records the re-match test
/// imports late.
const LATE: &str = "jinja2";
/// Top-level directories of the prepared content, each a layer (in this order).
const LAYERS: [&str; 5] = ["etc", "var", "usr", "opt", "app"];
/// How long a scan or a re-match may take to show up.
const SCAN_DEADLINE: Duration = Duration::from_secs(30);
const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];

/// The advisories the tests import (PyPI folders of the packages above).
pub(crate) fn advisories() -> PathBuf {
    repo_root().join("crates/stowage/tests/data/scan-advisories")
}

/// A finding as the tests compare them: (name, package name, package version).
type Key = (String, String, String);

// ---------------------------------------------------------------------------
// Image content, images, and the oracle
// ---------------------------------------------------------------------------

/// The files the images are built from, made once per `scripts/test` run and
/// shared by the tests (pip and npm download once): `etc/os-release`,
/// `var/lib/dpkg/status` (the machine's own, Debian 12), [`SITE`] and
/// [`VENV_SITE`] (pip), `app/node_modules` (npm). Prepared in a temp dir and
/// renamed into place, so a directory that exists is complete.
pub(crate) async fn content() -> PathBuf {
    let scratch = PathBuf::from(require_env("STOWAGE_TEST_TMPDIR"));
    let done = scratch.join("scanning-content-v1");
    if done.is_dir() {
        return done;
    }
    let tmp = tempfile::tempdir_in(&scratch).unwrap();
    let root = tmp.path().join("content");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    // `/etc/os-release` is a symlink on Debian: copy follows it.
    std::fs::copy("/etc/os-release", root.join("etc/os-release")).expect("the machine's /etc/os-release");
    std::fs::copy("/var/lib/dpkg/status", root.join("var/lib/dpkg/status")).expect("the machine's dpkg status");
    let python = require_env("STOWAGE_TEST_PYTHON");
    for (target, requirements) in [(SITE, PIP_SITE), (VENV_SITE, PIP_VENV)] {
        run_ok(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(["--no-deps", "--no-compile", "--only-binary", ":all:", "--target"])
                .arg(root.join(target))
                .args(requirements),
        )
        .await;
    }
    let npm_prefix = tmp.path().join("npm");
    let npm = run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-package-lock",
            "--ignore-scripts",
            "--prefix",
        ])
        .arg(&npm_prefix)
        .args(NPM))
    .await;
    assert!(
        npm.status.success(),
        "npm install {NPM:?} failed (scripts/test installs npm): {}",
        describe(&npm)
    );
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::rename(npm_prefix.join("node_modules"), root.join("app/node_modules")).unwrap();
    // Another test may have finished first: then its copy is used.
    if std::fs::rename(&root, &done).is_err() {
        assert!(done.is_dir(), "could not move the scan content into {}", done.display());
    }
    done
}

/// Copies `from` (a directory) to `to` with `cp -a`.
fn copy_tree(from: &Path, to: &Path) {
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp -a {from:?} {to:?}: {}", describe(&out));
}

/// Builds a busybox image with `tops` of the content (each a layer, after
/// busybox and a message file); returns its local reference.
pub(crate) async fn build_image(docker: &Docker, content: &Path, tops: &[&str]) -> String {
    let tops: Vec<String> = tops.iter().map(|t| t.to_string()).collect();
    let (reference, _) = docker
        .build_busybox_with("scanned", |dir| {
            for top in &tops {
                copy_tree(&content.join(top), &dir.join(top));
            }
            tops.clone()
        })
        .await;
    reference
}

/// Builds, on top of `base`, an image whose one `RUN` layer deletes
/// [`DELETED`] from [`SITE`] (so the layer holds whiteouts); returns its
/// local reference.
async fn build_whiteout_image(docker: &Docker, base: &str) -> String {
    // Tagging first makes `docker` track (and remove on drop) the name the
    // build then moves to the new image.
    let reference = format!("stowage-e2e/{}:whiteout", unique("image"));
    docker.tag(base, &reference).await;
    let context = tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).unwrap();
    let mut run = vec!["/busybox".to_string(), "rm".into(), "-rf".into()];
    run.extend(DELETED.iter().map(|d| format!("/{SITE}/{d}")));
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nRUN {}\n", serde_json::to_string(&run).unwrap()),
    )
    .unwrap();
    docker
        .ok(&[
            "build",
            "--quiet",
            "--no-cache",
            "--network",
            "none",
            "--tag",
            &reference,
            context.path().to_str().unwrap(),
        ])
        .await;
    reference
}

/// The final filesystem of an image: `docker create` + `docker export`,
/// untarred into a temp dir.
async fn export_rootfs(docker: &Docker, reference: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let tar = dir.path().join("rootfs.tar");
    let id = docker.ok(&["create", reference]).await.trim().to_string();
    docker.ok(&["export", "--output", tar.to_str().unwrap(), &id]).await;
    docker.ok(&["rm", &id]).await;
    run_ok(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&rootfs)).await;
    std::fs::remove_file(&tar).unwrap();
    dir
}

/// `scripts/scan-expected.py` on an exported image (the temp dir of
/// [`export_rootfs`]) and advisory paths.
async fn expected(exported: &tempfile::TempDir, advisory_paths: &[&Path]) -> Vec<Value> {
    let out = run_ok(
        Command::new(require_env("STOWAGE_TEST_PYTHON"))
            .arg(repo_root().join("scripts/scan-expected.py"))
            .arg(exported.path().join("rootfs"))
            .args(advisory_paths),
    )
    .await;
    let v: Value = serde_json::from_str(&out).expect("scan-expected.py prints JSON");
    v.as_array().expect("an array").clone()
}

fn expected_key(e: &Value) -> Key {
    (
        str_of(&e["name"]),
        str_of(&e["package_name"]),
        str_of(&e["package_version"]),
    )
}

fn keys_of_expected(expected: &[Value]) -> Vec<Key> {
    let mut keys: Vec<Key> = expected.iter().map(expected_key).collect();
    keys.sort();
    keys
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

/// The value of a basic finding's attribute.
fn attribute<'a>(finding: &'a Value, key: &str) -> Option<&'a str> {
    finding["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| a["value"].as_str().expect("attribute value"))
}

fn basic_key(f: &Value) -> Key {
    (
        str_of(&f["name"]),
        attribute(f, "package_name").expect("package_name").to_string(),
        attribute(f, "package_version").expect("package_version").to_string(),
    )
}

fn enhanced_key(f: &Value) -> Key {
    let details = &f["packageVulnerabilityDetails"];
    let package = &details["vulnerablePackages"][0];
    (
        str_of(&details["vulnerabilityId"]),
        str_of(&package["name"]),
        str_of(&package["version"]),
    )
}

fn sorted_keys(findings: &[Value], key: fn(&Value) -> Key) -> Vec<Key> {
    let mut keys: Vec<Key> = findings.iter().map(key).collect();
    keys.sort();
    keys
}

/// What differs between two sorted key lists, for failure messages.
fn diff(got: &[Key], want: &[Key]) -> String {
    let (g, w): (BTreeSet<&Key>, BTreeSet<&Key>) = (got.iter().collect(), want.iter().collect());
    format!(
        "missing {:?}\nunexpected {:?}\n(got {} findings, expected {})",
        w.difference(&g).collect::<Vec<_>>(),
        g.difference(&w).collect::<Vec<_>>(),
        got.len(),
        want.len()
    )
}

/// Epoch seconds of an API timestamp (the CLI prints the wire's number).
fn epoch(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => humantime::parse_rfc3339_weak(s)
            .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64(),
        other => panic!("not a timestamp: {other}"),
    }
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The newest `modified` of the advisory files under `dir`, epoch seconds.
fn newest_modified(dir: &Path) -> f64 {
    let mut newest = 0.0f64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()) {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let line = text.lines().find(|l| l.starts_with("modified:")).unwrap();
                let value = line["modified:".len()..].trim().trim_matches(['"', '\'']);
                newest = newest.max(epoch(&Value::from(value)));
            }
        }
    }
    newest
}

// ---------------------------------------------------------------------------
// Server-side helpers
// ---------------------------------------------------------------------------

/// `stowage vulndb import PATH`; returns its report.
pub(crate) fn import(s: &TestServer, path: &Path) -> Value {
    let out = s.admin(&["vulndb", "import", path.to_str().unwrap()]);
    assert!(out.status.success(), "vulndb import: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("vulndb import prints a JSON report")
}

/// Tags a local image into the server's repository and pushes it; returns
/// the manifest digest docker reports.
async fn push(docker: &Docker, s: &TestServer, local: &str, repo: &str, tag: &str) -> String {
    let remote = format!("{}/{repo}:{tag}", s.host());
    docker.tag(local, &remote).await;
    docker.push(&remote).await
}

fn image_id(tag: &str) -> String {
    format!("imageTag={tag}")
}

/// `aws ecr wait image-scan-complete`.
async fn wait_scan(cli: &Cli, keys: &Keys, repo: &str, tag: &str) {
    let started = Instant::now();
    cli.ok(
        keys,
        &[
            "ecr",
            "wait",
            "image-scan-complete",
            "--repository-name",
            repo,
            "--image-id",
            &image_id(tag),
        ],
    )
    .await;
    eprintln!("scan of {repo}:{tag} complete after {:?}", started.elapsed());
}

fn describe_findings_args<'a>(repo: &'a str, image: &'a str) -> Vec<&'a str> {
    vec![
        "ecr",
        "describe-image-scan-findings",
        "--repository-name",
        repo,
        "--image-id",
        image,
    ]
}

/// All findings of an image through the CLI, `page` at a time: `--max-items`
/// pages (the CLI's NextToken wraps the server's `nextToken`) followed with
/// `--starting-token` until none is left. Basic findings only: the CLI counts
/// `--max-items` on its first result key (`findings`), so it does not stop
/// an enhanced listing early. Returns the first response and every finding.
async fn findings_cli_paged(cli: &Cli, keys: &Keys, repo: &str, tag: &str, page: usize) -> (Value, Vec<Value>) {
    let image = image_id(tag);
    let size = page.to_string();
    let mut token: Option<String> = None;
    let mut first = None;
    let mut all = Vec::new();
    for round in 0.. {
        assert!(round < 100, "paging does not end");
        let mut args = describe_findings_args(repo, &image);
        args.extend(["--max-items", size.as_str(), "--page-size", size.as_str()]);
        if let Some(t) = &token {
            args.extend(["--starting-token", t.as_str()]);
        }
        let v = cli.ok(keys, &args).await;
        let items = v["imageScanFindings"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(items.len() <= page, "a page of {page} has {} findings", items.len());
        all.extend(items.iter().cloned());
        let next = v["NextToken"].as_str().map(str::to_string);
        if next.is_some() {
            assert_eq!(items.len(), page, "a page before the last one is full");
        }
        first.get_or_insert(v);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    (first.unwrap(), all)
}

/// All findings of an image through the wire API, `maxResults` = `page`,
/// following `nextToken`: every page but the last is full and has a
/// `nextToken`, the last has none. `list` is `findings` or
/// `enhancedFindings`. Returns the first response and every finding.
async fn findings_paged(s: &TestServer, repo: &str, tag: &str, list: &str, page: usize) -> (Value, Vec<Value>) {
    let mut token: Option<String> = None;
    let mut first = None;
    let mut all = Vec::new();
    for round in 0.. {
        assert!(round < 100, "paging does not end");
        let mut input = json!({ "repositoryName": repo, "imageId": { "imageTag": tag }, "maxResults": page });
        if let Some(t) = &token {
            input["nextToken"] = t.clone().into();
        }
        let (status, v) = s.ecr("DescribeImageScanFindings", input).await;
        assert_eq!(status, 200, "DescribeImageScanFindings: {v}");
        let items = v["imageScanFindings"][list].as_array().cloned().unwrap_or_default();
        let next = v["nextToken"].as_str().map(str::to_string);
        match &next {
            Some(_) => assert_eq!(items.len(), page, "a page with a nextToken is full: {v}"),
            None => assert!(items.len() <= page, "a page of {page} has {} findings", items.len()),
        }
        all.extend(items);
        first.get_or_insert(v);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    (first.unwrap(), all)
}

/// All findings through the CLI's own pagination (`--page-size`: it follows
/// `nextToken` and merges the pages).
async fn findings_cli_merged(cli: &Cli, keys: &Keys, repo: &str, tag: &str, list: &str) -> Vec<Value> {
    let image = image_id(tag);
    let mut args = describe_findings_args(repo, &image);
    args.extend(["--page-size", "5"]);
    let v = cli.ok(keys, &args).await;
    v["imageScanFindings"][list].as_array().cloned().unwrap_or_default()
}

/// `describe-images` of one tag: its `imageDetails` entry.
async fn image_detail(cli: &Cli, keys: &Keys, repo: &str, tag: &str) -> Value {
    let v = cli
        .ok(
            keys,
            &[
                "ecr",
                "describe-images",
                "--repository-name",
                repo,
                "--image-ids",
                &image_id(tag),
            ],
        )
        .await;
    v["imageDetails"][0].clone()
}

/// Checks `findingSeverityCounts` against the findings: one count per
/// severity present (zero keys omitted), summing to their number.
fn assert_counts(counts: &Value, findings: &[Value], severity: fn(&Value) -> String) {
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for f in findings {
        let s = severity(f);
        assert!(SEVERITIES.contains(&s.as_str()), "severity {s}");
        *tally.entry(s).or_default() += 1;
    }
    let counts: BTreeMap<String, u64> = counts
        .as_object()
        .unwrap_or_else(|| panic!("findingSeverityCounts is not an object: {counts}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("a count")))
        .collect();
    assert_eq!(
        counts.values().sum::<u64>(),
        findings.len() as u64,
        "the counts {counts:?} do not sum to the number of findings"
    );
    assert_eq!(counts, tally, "findingSeverityCounts vs the findings' severities");
}

/// Checks each basic finding against the oracle's entry: severity, CVSS
/// attributes, and that it names an advisory.
fn assert_basic_details(findings: &[Value], expected: &[Value]) {
    for f in findings {
        let key = basic_key(f);
        let e = expected
            .iter()
            .find(|e| expected_key(e) == key)
            .unwrap_or_else(|| panic!("no expected finding {key:?}"));
        assert_eq!(f["severity"], e["severity"], "severity of {key:?}: {f}");
        assert_eq!(
            attribute(f, "CVSS3_SCORE"),
            e["cvss_score"].as_str().filter(|_| e["cvss_version"] == "3"),
            "CVSS3_SCORE of {key:?}: {f}"
        );
        assert_eq!(
            attribute(f, "CVSS3_VECTOR"),
            e["cvss_vector"].as_str().filter(|_| e["cvss_version"] == "3"),
            "CVSS3_VECTOR of {key:?}: {f}"
        );
        let uri = f["uri"].as_str().unwrap_or_default();
        assert!(uri.starts_with("https://"), "uri of {key:?}: {f}");
        assert!(
            f["description"].as_str().is_some_and(|d| !d.is_empty()),
            "description of {key:?}: {f}"
        );
    }
}

/// The layers of a pushed image, in manifest order, each with the paths its
/// tar holds (read with `tar -tz` from the blob the registry serves).
async fn layer_files(s: &TestServer, repo: &str, tag: &str) -> Vec<(String, BTreeSet<String>)> {
    let r = s
        .get(&format!("/v2/{repo}/manifests/{tag}"))
        .header("accept", [OCI_MANIFEST, DOCKER_MANIFEST].join(", "))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let manifest: Value = r.json().await.unwrap();
    let dir = tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).unwrap();
    let mut out = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let digest = str_of(&layer["digest"]);
        let r = s.get(&format!("/v2/{repo}/blobs/{digest}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET blob {digest}");
        let path = dir.path().join(digest.replace(':', "-"));
        std::fs::write(&path, r.bytes().await.unwrap()).unwrap();
        let list = run_ok(Command::new("tar").arg("-tzf").arg(&path)).await;
        let files = list
            .lines()
            .map(|l| l.trim_start_matches("./").trim_start_matches('/').to_string())
            .collect();
        out.push((digest, files));
    }
    out
}

/// The digest of the last layer that writes `path`.
fn layer_of(layers: &[(String, BTreeSet<String>)], path: &str) -> String {
    layers
        .iter()
        .rev()
        .find(|(_, files)| files.contains(path))
        .map(|(d, _)| d.clone())
        .unwrap_or_else(|| panic!("no layer holds {path}"))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// A repository created with `scanOnPush=true`: `docker push` starts a basic
/// scan; `aws ecr wait image-scan-complete` returns; the findings, read a few
/// at a time, are exactly the oracle's (names, packages, versions, severities,
/// CVSS attributes); the severity counts add up; `describe-images` shows the
/// same status and summary.
#[tokio::test]
async fn scan_on_push_finds_the_expected_vulnerabilities() {
    let started = Instant::now();
    let s = TestServer::start().await;
    let (cli, keys) = (Cli::new(&s), Keys::admin(&s));
    let docker = Docker::new();
    docker.login(&s).await;
    let content = content().await;
    let report = import(&s, &advisories());
    assert_eq!(report["failed"], 0, "{report}");

    let repo = unique("scan-push");
    let created = cli
        .ok(
            &keys,
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                &repo,
                "--image-scanning-configuration",
                "scanOnPush=true",
            ],
        )
        .await;
    assert_eq!(created["repository"]["imageScanningConfiguration"]["scanOnPush"], true);

    let local = build_image(&docker, &content, &LAYERS).await;
    let exported = export_rootfs(&docker, &local).await;
    let want_all = expected(&exported, &[&advisories()]).await;
    let want = keys_of_expected(&want_all);
    // The oracle sees every package: a test image that lost one would pass
    // with fewer findings.
    let packages: BTreeSet<&str> = want.iter().map(|k| k.1.as_str()).collect();
    assert_eq!(
        packages,
        BTreeSet::from(["Flask", "Jinja2", "Werkzeug", "requests", "urllib3"]),
        "{want_all:?}"
    );

    let pushed_at = now_epoch();
    let digest = push(&docker, &s, &local, &repo, "v1").await;
    wait_scan(&cli, &keys, &repo, "v1").await;

    // What the CLI shows, 4 at a time.
    let (first, findings) = findings_cli_paged(&cli, &keys, &repo, "v1", 4).await;
    let got = sorted_keys(&findings, basic_key);
    assert_eq!(got, want, "{}", diff(&got, &want));
    assert_basic_details(&findings, &want_all);

    assert_eq!(first["imageScanStatus"]["status"], "COMPLETE", "{first}");
    assert_eq!(first["imageId"]["imageDigest"], digest.as_str(), "{first}");
    let scan = &first["imageScanFindings"];
    assert!(
        scan.get("enhancedFindings").is_none(),
        "a basic scan has no enhancedFindings: {scan}"
    );
    let completed = epoch(&scan["imageScanCompletedAt"]);
    assert!(
        completed >= pushed_at - 1.0 && completed <= now_epoch() + 1.0,
        "imageScanCompletedAt {completed} (pushed at {pushed_at})"
    );
    assert!(
        (epoch(&scan["vulnerabilitySourceUpdatedAt"]) - newest_modified(&advisories())).abs() < 0.01,
        "vulnerabilitySourceUpdatedAt is the newest advisory's `modified`: {scan}"
    );
    assert_counts(&scan["findingSeverityCounts"], &findings, |f| str_of(&f["severity"]));

    // The CLI's own pagination, and the wire's pages of 3, agree.
    let merged = findings_cli_merged(&cli, &keys, &repo, "v1", "findings").await;
    assert_eq!(sorted_keys(&merged, basic_key), want);
    let (_, wire) = findings_paged(&s, &repo, "v1", "findings", 3).await;
    assert_eq!(sorted_keys(&wire, basic_key), want);

    let detail = image_detail(&cli, &keys, &repo, "v1").await;
    assert_eq!(detail["imageScanStatus"]["status"], "COMPLETE", "{detail}");
    let summary = &detail["imageScanFindingsSummary"];
    assert_eq!(
        summary["findingSeverityCounts"], scan["findingSeverityCounts"],
        "{detail}"
    );
    assert_eq!(
        summary["imageScanCompletedAt"], scan["imageScanCompletedAt"],
        "{detail}"
    );
    assert_eq!(
        summary["vulnerabilitySourceUpdatedAt"], scan["vulnerabilitySourceUpdatedAt"],
        "{detail}"
    );
    eprintln!("scan_on_push: {} findings in {:?}", findings.len(), started.elapsed());
}

/// An image built FROM the scanned one whose `RUN rm -rf` deletes Werkzeug:
/// its scan has exactly the oracle's findings for its own final filesystem,
/// none of them Werkzeug's, while the base image (same lower layers) keeps them.
#[tokio::test]
async fn a_whiteout_removes_a_packages_findings() {
    let started = Instant::now();
    let s = TestServer::start().await;
    let (cli, keys) = (Cli::new(&s), Keys::admin(&s));
    let docker = Docker::new();
    docker.login(&s).await;
    let content = content().await;
    import(&s, &advisories());
    let repo = unique("scan-whiteout");
    cli.ok(
        &keys,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            &repo,
            "--image-scanning-configuration",
            "scanOnPush=true",
        ],
    )
    .await;

    let base = build_image(&docker, &content, &LAYERS).await;
    let derived = build_whiteout_image(&docker, &base).await;
    let (base_fs, derived_fs) = (
        export_rootfs(&docker, &base).await,
        export_rootfs(&docker, &derived).await,
    );
    assert!(
        !derived_fs.path().join("rootfs").join(SITE).join(DELETED[0]).exists(),
        "docker export still has {}",
        DELETED[0]
    );
    let want_base = keys_of_expected(&expected(&base_fs, &[&advisories()]).await);
    let want_derived_all = expected(&derived_fs, &[&advisories()]).await;
    let want_derived = keys_of_expected(&want_derived_all);
    assert!(
        want_base.iter().any(|k| k.1 == "Werkzeug"),
        "the base image has Werkzeug findings"
    );
    assert!(want_derived.iter().all(|k| k.1 != "Werkzeug"), "{want_derived:?}");

    push(&docker, &s, &base, &repo, "base").await;
    push(&docker, &s, &derived, &repo, "derived").await;
    // The whiteout layer is the derived image's last one.
    let layers = layer_files(&s, &repo, "derived").await;
    let last = &layers.last().unwrap().1;
    assert!(
        last.contains(&format!("{SITE}/.wh.{}", DELETED[0])),
        "the RUN layer has no whiteout: {last:?}"
    );

    wait_scan(&cli, &keys, &repo, "derived").await;
    wait_scan(&cli, &keys, &repo, "base").await;
    let (_, derived_findings) = findings_paged(&s, &repo, "derived", "findings", 100).await;
    let got = sorted_keys(&derived_findings, basic_key);
    assert_eq!(got, want_derived, "{}", diff(&got, &want_derived));
    assert_basic_details(&derived_findings, &want_derived_all);
    let (_, base_findings) = findings_paged(&s, &repo, "base", "findings", 100).await;
    let got = sorted_keys(&base_findings, basic_key);
    assert_eq!(got, want_base, "{}", diff(&got, &want_base));
    eprintln!(
        "whiteout: base {} findings, derived {} findings, in {:?}",
        want_base.len(),
        want_derived.len(),
        started.elapsed()
    );
}

both_dbs!(
    /// Manual scans: never scanned → ScanNotFoundException; `start-image-scan`
    /// answers IN_PROGRESS and the scan completes with the oracle's findings; a
    /// second one within 24 hours (by tag or digest) → LimitExceededException;
    /// unknown tags, digests and repositories → ImageNotFound /
    /// RepositoryNotFound; an OCI artifact → UnsupportedImageTypeException, and
    /// pushed to a scan-on-push repository it is recorded as UNSUPPORTED_IMAGE.
    async fn start_image_scan_limits_and_errors(s: TestServer) {
        let started = Instant::now();
        let (cli, keys) = (Cli::new(&s), Keys::admin(&s));
        let docker = Docker::new();
        docker.login(&s).await;
        let content = content().await;
        import(&s, &advisories());
        let repo = unique("scan-manual");
        cli.ok(&keys, &["ecr", "create-repository", "--repository-name", &repo])
            .await;

        // A small image: os-release, the dpkg status and Jinja2.
        let local = build_image(&docker, &content, &["etc", "var", "opt"]).await;
        let exported = export_rootfs(&docker, &local).await;
        let want_all = expected(&exported, &[&advisories()]).await;
        let want = keys_of_expected(&want_all);
        assert!(!want.is_empty(), "Jinja2 2.10 has advisories");
        let digest = push(&docker, &s, &local, &repo, "v1").await;

        let describe_v1 = describe_findings_args(&repo, "imageTag=v1");
        let e = cli.fails(&keys, &describe_v1, "ScanNotFoundException").await;
        assert_eq!(e.operation, "DescribeImageScanFindings");
        let detail = image_detail(&cli, &keys, &repo, "v1").await;
        assert!(
            detail.get("imageScanStatus").is_none() && detail.get("imageScanFindingsSummary").is_none(),
            "an image never scanned has no scan status: {detail}"
        );

        let start = |id: String| {
            let repo = repo.clone();
            let (cli, keys) = (&cli, &keys);
            async move {
                cli.call(
                    keys,
                    &["ecr", "start-image-scan", "--repository-name", &repo, "--image-id", &id],
                )
                .await
            }
        };
        let v = start(image_id("v1")).await.expect("start-image-scan");
        assert_eq!(v["imageScanStatus"]["status"], "IN_PROGRESS", "{v}");
        assert_eq!(v["imageId"]["imageDigest"], digest.as_str(), "{v}");
        assert_eq!(v["imageId"]["imageTag"], "v1", "{v}");
        assert_eq!(v["repositoryName"], repo.as_str(), "{v}");
        wait_scan(&cli, &keys, &repo, "v1").await;
        let (first, findings) = findings_paged(&s, &repo, "v1", "findings", 100).await;
        assert_eq!(first["imageScanStatus"]["status"], "COMPLETE", "{first}");
        let got = sorted_keys(&findings, basic_key);
        assert_eq!(got, want, "{}", diff(&got, &want));
        assert_basic_details(&findings, &want_all);
        assert_counts(&first["imageScanFindings"]["findingSeverityCounts"], &findings, |f| {
            str_of(&f["severity"])
        });
        let detail = image_detail(&cli, &keys, &repo, "v1").await;
        assert_eq!(detail["imageScanStatus"]["status"], "COMPLETE", "{detail}");

        // Once per image per 24 hours, whichever way the image is named.
        for id in [image_id("v1"), format!("imageDigest={digest}")] {
            let e = start(id.clone()).await.expect_err("a second scan within 24 hours");
            assert_eq!(e.code, "LimitExceededException", "{id}: {e:?}");
        }
        // Unknown images and repositories.
        for id in [
            image_id("no-such-tag"),
            format!("imageDigest=sha256:{}", "0".repeat(64)),
        ] {
            let e = start(id.clone()).await.expect_err("an unknown image");
            assert_eq!(e.code, "ImageNotFoundException", "{id}: {e:?}");
        }
        cli.fails(
            &keys,
            &describe_findings_args(&repo, "imageTag=no-such-tag"),
            "ImageNotFoundException",
        )
        .await;
        cli.fails(
            &keys,
            &[
                "ecr",
                "start-image-scan",
                "--repository-name",
                "no-such-repo",
                "--image-id",
                "imageTag=v1",
            ],
            "RepositoryNotFoundException",
        )
        .await;

        // An OCI artifact: a config that is not an image config, a non-tar layer.
        let push_artifact = |tag: &'static str| {
            let s = &s;
            let repo = repo.clone();
            async move {
                let config = br#"{"kind":"test-artifact"}"#;
                let layer = format!("not a tar {tag}").into_bytes();
                let c = s.push_blob(&repo, config).await;
                let l = s.push_blob(&repo, &layer).await;
                let manifest = json!({
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "artifactType": "application/vnd.example.thing.v1",
                    "config": { "mediaType": "application/vnd.example.thing.config.v1+json", "digest": c, "size": config.len() },
                    "layers": [{ "mediaType": "application/vnd.example.thing.layer.v1", "digest": l, "size": layer.len() }],
                })
                .to_string();
                let r = s
                    .put(&format!("/v2/{repo}/manifests/{tag}"))
                    .header("content-type", OCI_MANIFEST)
                    .body(manifest)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "push artifact: {}", r.text().await.unwrap());
            }
        };
        push_artifact("artifact").await;
        let e = start(image_id("artifact")).await.expect_err("scanning an artifact");
        assert_eq!(e.code, "UnsupportedImageTypeException", "{e:?}");
        cli.fails(
            &keys,
            &describe_findings_args(&repo, "imageTag=artifact"),
            "ScanNotFoundException",
        )
        .await;

        cli.ok(
            &keys,
            &[
                "ecr",
                "put-image-scanning-configuration",
                "--repository-name",
                &repo,
                "--image-scanning-configuration",
                "scanOnPush=true",
            ],
        )
        .await;
        push_artifact("artifact-on-push").await;
        let v = cli
            .ok(&keys, &describe_findings_args(&repo, "imageTag=artifact-on-push"))
            .await;
        assert_eq!(v["imageScanStatus"]["status"], "UNSUPPORTED_IMAGE", "{v}");
        let detail = image_detail(&cli, &keys, &repo, "artifact-on-push").await;
        assert_eq!(detail["imageScanStatus"]["status"], "UNSUPPORTED_IMAGE", "{detail}");
        eprintln!(
            "start_image_scan: {} findings, in {:?}",
            findings.len(),
            started.elapsed()
        );
    }
);

both_dbs!(
    /// ENHANCED with CONTINUOUS_SCAN: an image pushed while only part of the
    /// advisories is imported has that part's findings; a later import
    /// (Jinja2's records added, one urllib3 record withdrawn) re-matches the
    /// stored inventory without reading the layers again: the new findings
    /// appear, the withdrawn one goes, the others keep their firstObservedAt
    /// and advance their lastObservedAt. The same image in a repository that
    /// is only scanned on push keeps its findings. Enhanced findings name the
    /// package, its version, fix, metadata file and the layer that added it.
    async fn enhanced_continuous_scan_rematches_after_an_import(s: TestServer) {
        let started = Instant::now();
        let (cli, keys) = (Cli::new(&s), Keys::admin(&s));
        let docker = Docker::new();
        docker.login(&s).await;
        let content = content().await;

        let rules = r#"[
            {"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"scan-continuous-*","filterType":"WILDCARD"}]},
            {"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"scan-onpush-*","filterType":"WILDCARD"}]}
        ]"#;
        let put = cli
            .ok(
                &keys,
                &[
                    "ecr",
                    "put-registry-scanning-configuration",
                    "--scan-type",
                    "ENHANCED",
                    "--rules",
                    rules,
                ],
            )
            .await;
        assert_eq!(put["registryScanningConfiguration"]["scanType"], "ENHANCED", "{put}");

        // First every folder but Jinja2's; later all of them, with one urllib3
        // record withdrawn.
        let sets = tempfile::tempdir_in(require_env("STOWAGE_TEST_TMPDIR")).unwrap();
        let (early, late) = (sets.path().join("early"), sets.path().join("late"));
        for dir in [&early, &late] {
            std::fs::create_dir_all(dir.join("PyPI")).unwrap();
        }
        for entry in std::fs::read_dir(advisories().join("PyPI")).unwrap() {
            let folder = entry.unwrap().path();
            if folder.file_name().unwrap() != LATE {
                copy_tree(&folder, &early.join("PyPI").join(folder.file_name().unwrap()));
            }
            copy_tree(&folder, &late.join("PyPI").join(folder.file_name().unwrap()));
        }
        let withdrawn_file = late.join("PyPI/urllib3/PYSEC-2019-132.yaml");
        let text = std::fs::read_to_string(&withdrawn_file).unwrap();
        let text = text
            .lines()
            .map(|l| {
                if l.starts_with("modified:") {
                    "modified: '2024-09-01T00:00:00Z'\nwithdrawn: '2024-09-01T00:00:00Z'".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&withdrawn_file, text + "\n").unwrap();
        let report = import(&s, &early);
        assert_eq!(report["failed"], 0, "{report}");

        let repo = unique("scan-continuous");
        let on_push = unique("scan-onpush");
        for name in [&repo, &on_push] {
            cli.ok(&keys, &["ecr", "create-repository", "--repository-name", name])
                .await;
        }
        let local = build_image(&docker, &content, &LAYERS).await;
        let exported = export_rootfs(&docker, &local).await;
        let want_early_all = expected(&exported, &[&early]).await;
        let want_early = keys_of_expected(&want_early_all);
        let want_late_all = expected(&exported, &[&late]).await;
        let want_late = keys_of_expected(&want_late_all);
        assert!(want_early.iter().all(|k| k.1 != "Jinja2"));
        assert!(want_late.iter().any(|k| k.1 == "Jinja2"));
        assert!(want_early.iter().any(|k| k.0 == "CVE-2019-11236"));
        assert!(want_late.iter().all(|k| k.0 != "CVE-2019-11236"));

        push(&docker, &s, &local, &repo, "v1").await;
        push(&docker, &s, &local, &on_push, "v1").await;
        let layers = layer_files(&s, &repo, "v1").await;
        wait_scan(&cli, &keys, &repo, "v1").await;
        wait_scan(&cli, &keys, &on_push, "v1").await;
        let (_, on_push_before) = findings_paged(&s, &on_push, "v1", "enhancedFindings", 100).await;
        assert_eq!(sorted_keys(&on_push_before, enhanced_key), want_early);
        let (first, before) = findings_paged(&s, &repo, "v1", "enhancedFindings", 7).await;
        let got = sorted_keys(&before, enhanced_key);
        assert_eq!(got, want_early, "{}", diff(&got, &want_early));
        let merged = findings_cli_merged(&cli, &keys, &repo, "v1", "enhancedFindings").await;
        assert_eq!(sorted_keys(&merged, enhanced_key), want_early, "the CLI's pages");
        let scan = &first["imageScanFindings"];
        assert!(
            scan.get("findings").is_none(),
            "an enhanced scan has no basic findings: {scan}"
        );
        assert_counts(&scan["findingSeverityCounts"], &before, |f| str_of(&f["severity"]));

        // Each finding names the vulnerable package as the image has it.
        for f in &before {
            let key = enhanced_key(f);
            let e = want_early_all.iter().find(|e| expected_key(e) == key).unwrap();
            let package = &f["packageVulnerabilityDetails"]["vulnerablePackages"][0];
            let path = str_of(&e["file_path"]);
            assert_eq!(package["filePath"], path.as_str(), "{key:?}: {package}");
            assert_eq!(
                package["sourceLayerHash"],
                layer_of(&layers, &path).as_str(),
                "{key:?}: {package}"
            );
            assert_eq!(package["packageManager"], "PYTHONPKG", "{key:?}: {package}");
            assert_eq!(package["fixedInVersion"], e["fixed_in"], "{key:?}: {package}");
            assert_eq!(f["severity"], e["severity"], "{key:?}: {f}");
            assert_eq!(f["type"], "PACKAGE_VULNERABILITY");
            assert_eq!(f["status"], "ACTIVE");
            assert_eq!(
                f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"],
                repo.as_str()
            );
        }
        let observed: BTreeMap<Key, (f64, f64)> = before
            .iter()
            .map(|f| {
                (
                    enhanced_key(f),
                    (epoch(&f["firstObservedAt"]), epoch(&f["lastObservedAt"])),
                )
            })
            .collect();
        assert_eq!(s.metric("stowage_job_runs_total{job=\"scan\"}").await, Some(2.0));

        // Timestamps are in milliseconds: make the re-match's clearly later.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let imported_at = now_epoch();
        let report = import(&s, &late);
        assert_eq!(report["failed"], 0, "{report}");
        let deadline = Instant::now() + SCAN_DEADLINE;
        let after = loop {
            let (_, findings) = findings_paged(&s, &repo, "v1", "enhancedFindings", 100).await;
            let got = sorted_keys(&findings, enhanced_key);
            if got == want_late {
                break findings;
            }
            assert!(
                Instant::now() < deadline,
                "the findings did not follow the import within {SCAN_DEADLINE:?}: {}",
                diff(&got, &want_late)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        eprintln!(
            "re-matched {:?} after the import",
            Duration::from_secs_f64(now_epoch() - imported_at)
        );
        for f in &after {
            let key = enhanced_key(f);
            let (first_seen, last_seen) = (epoch(&f["firstObservedAt"]), epoch(&f["lastObservedAt"]));
            match observed.get(&key) {
                Some(&(was_first, was_last)) => {
                    assert_eq!(first_seen, was_first, "{key:?}: firstObservedAt changed");
                    assert!(
                        last_seen > was_last && last_seen >= imported_at - 0.5,
                        "{key:?}: lastObservedAt {last_seen} did not advance (was {was_last}, import at {imported_at})"
                    );
                }
                None => assert!(
                    first_seen >= imported_at - 0.5 && last_seen >= first_seen,
                    "{key:?}: new finding first observed at {first_seen}, before the import at {imported_at}"
                ),
            }
        }
        let v = cli.ok(&keys, &describe_findings_args(&repo, "imageTag=v1")).await;
        assert_counts(&v["imageScanFindings"]["findingSeverityCounts"], &after, |f| {
            str_of(&f["severity"])
        });
        let detail = image_detail(&cli, &keys, &repo, "v1").await;
        assert_eq!(
            detail["imageScanFindingsSummary"]["findingSeverityCounts"],
            v["imageScanFindings"]["findingSeverityCounts"],
            "{detail}"
        );

        // The re-match ran from the stored inventory: the pushes' scan jobs,
        // and one or more re-matches.
        assert_eq!(
            s.metric("stowage_job_runs_total{job=\"scan\"}").await,
            Some(2.0),
            "the import made a full scan"
        );

        // The repository scanned on push only was left alone (given the
        // worker, which polls every second, time to get it wrong).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, on_push_after) = findings_paged(&s, &on_push, "v1", "enhancedFindings", 100).await;
        let got = sorted_keys(&on_push_after, enhanced_key);
        assert_eq!(
            got,
            want_early,
            "a SCAN_ON_PUSH repository was re-matched: {}",
            diff(&got, &want_early)
        );
        let last_seen = |fs: &[Value]| -> BTreeMap<Key, Value> {
            fs.iter()
                .map(|f| (enhanced_key(f), f["lastObservedAt"].clone()))
                .collect()
        };
        assert_eq!(last_seen(&on_push_after), last_seen(&on_push_before));
        let rematches = s.metric("stowage_job_runs_total{job=\"rematch\"}").await;
        assert!(rematches.is_some_and(|n| n >= 1.0), "rematch runs: {rematches:?}");
        eprintln!(
            "continuous: {} findings before, {} after, in {:?}",
            before.len(),
            after.len(),
            started.elapsed()
        );
    }
);

/// Registry rules with wildcard filters decide each repository's frequency:
/// CONTINUOUS_SCAN wins over SCAN_ON_PUSH, then the repository's own
/// scanOnPush flag, else MANUAL; `scanOnPush` is true unless MANUAL;
/// `appliedScanFilters` are the winning rule's filters that match the
/// repository; unknown repositories are failures; a filter outside ECR's
/// pattern is refused and leaves the configuration as it was. A push is scanned in
/// the repositories that scan on push or continuously and not in a MANUAL one.
#[tokio::test]
async fn batch_get_repository_scanning_configuration_reports_frequencies() {
    let started = Instant::now();
    let s = TestServer::start().await;
    let (cli, keys) = (Cli::new(&s), Keys::admin(&s));
    let id = unique("x");
    let prod = format!("prod-{id}");
    let prod_web = format!("prod-{id}-web");
    let stage = format!("stage-{id}");
    let stage_web = format!("stage-{id}-web");
    let dev = format!("dev-{id}");
    let dev_on_push = format!("dev-{id}-push");
    for repo in [&prod, &prod_web, &stage, &stage_web, &dev] {
        cli.ok(&keys, &["ecr", "create-repository", "--repository-name", repo])
            .await;
    }
    cli.ok(
        &keys,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            &dev_on_push,
            "--image-scanning-configuration",
            "scanOnPush=true",
        ],
    )
    .await;

    let get = || cli.ok(&keys, &["ecr", "get-registry-scanning-configuration"]);
    let default = get().await;
    assert_eq!(
        default["scanningConfiguration"],
        json!({ "scanType": "BASIC", "rules": [] }),
        "{default}"
    );

    let rules = json!([
        { "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{ "filter": "prod-*", "filterType": "WILDCARD" }] },
        { "scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [
            { "filter": "stage-*", "filterType": "WILDCARD" },
            { "filter": "*-web", "filterType": "WILDCARD" },
        ] },
    ]);
    let put = cli
        .ok(
            &keys,
            &[
                "ecr",
                "put-registry-scanning-configuration",
                "--scan-type",
                "ENHANCED",
                "--rules",
                &rules.to_string(),
            ],
        )
        .await;
    let configured = json!({ "scanType": "ENHANCED", "rules": rules });
    assert_eq!(put["registryScanningConfiguration"], configured, "{put}");
    let got = get().await;
    assert_eq!(got["scanningConfiguration"], configured, "{got}");
    assert!(got["registryId"].is_string(), "{got}");

    let names = [
        &prod,
        &prod_web,
        &stage,
        &stage_web,
        &dev,
        &dev_on_push,
        &"no-such-repo".to_string(),
    ];
    let mut args = vec![
        "ecr",
        "batch-get-repository-scanning-configuration",
        "--repository-names",
    ];
    args.extend(names.iter().map(|n| n.as_str()));
    let batch = cli.ok(&keys, &args).await;
    let configs: BTreeMap<String, Value> = batch["scanningConfigurations"]
        .as_array()
        .expect("scanningConfigurations")
        .iter()
        .map(|c| (str_of(&c["repositoryName"]), c.clone()))
        .collect();
    assert_eq!(configs.len(), 6, "{batch}");
    let filters = |f: &[&str]| -> Value {
        f.iter()
            .map(|f| json!({ "filter": f, "filterType": "WILDCARD" }))
            .collect()
    };
    // `scanOnPush` says whether a push is scanned: with a SCAN_ON_PUSH or a
    // CONTINUOUS_SCAN rule (continuous scanning starts at the push), or the
    // repository's own flag — as in AWS's example, where a `*` SCAN_ON_PUSH
    // rule gives `"scanOnPush": true`.
    let check = |repo: &str, frequency: &str, applied: Value| {
        let c = &configs[repo];
        assert_eq!(c["scanFrequency"], frequency, "{repo}: {c}");
        assert_eq!(c["scanOnPush"], frequency != "MANUAL", "{repo}: {c}");
        let got = c.get("appliedScanFilters").cloned().unwrap_or(json!([]));
        assert_eq!(got, applied, "{repo}: appliedScanFilters {c}");
        assert!(
            c["repositoryArn"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!(":repository/{repo}"))),
            "{repo}: {c}"
        );
    };
    // prod-…-web matches both rules: CONTINUOUS_SCAN wins.
    check(&prod, "CONTINUOUS_SCAN", filters(&["prod-*"]));
    check(&prod_web, "CONTINUOUS_SCAN", filters(&["prod-*"]));
    check(&stage, "SCAN_ON_PUSH", filters(&["stage-*"]));
    check(&stage_web, "SCAN_ON_PUSH", filters(&["stage-*", "*-web"]));
    // No rule matches: the repository's own flag, else MANUAL.
    check(&dev_on_push, "SCAN_ON_PUSH", json!([]));
    check(&dev, "MANUAL", json!([]));
    assert_eq!(
        batch["failures"],
        json!([{
            "repositoryName": "no-such-repo",
            "failureCode": "REPOSITORY_NOT_FOUND",
            "failureReason": batch["failures"][0]["failureReason"],
        }]),
        "{batch}"
    );
    assert!(
        batch["failures"][0]["failureReason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );

    // Filters must match ECR's pattern (lowercase): refused, nothing changes.
    for bad in ["Prod-*", "prod-**-"] {
        let rules = json!([{ "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{ "filter": bad, "filterType": "WILDCARD" }] }]);
        let e = cli
            .call(
                &keys,
                &[
                    "ecr",
                    "put-registry-scanning-configuration",
                    "--scan-type",
                    "ENHANCED",
                    "--rules",
                    &rules.to_string(),
                ],
            )
            .await
            .expect_err(&format!("filter {bad:?} accepted"));
        assert!(
            ["InvalidParameterException", "ValidationException"].contains(&e.code.as_str()),
            "filter {bad:?}: {e:?}"
        );
        if bad == "Prod-*" {
            assert_eq!(e.code, "InvalidParameterException", "{e:?}");
        }
    }
    // BASIC scanning is on push or manual, never continuous.
    let continuous =
        r#"[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]"#;
    let e = cli
        .call(
            &keys,
            &[
                "ecr",
                "put-registry-scanning-configuration",
                "--scan-type",
                "BASIC",
                "--rules",
                continuous,
            ],
        )
        .await
        .expect_err("BASIC with CONTINUOUS_SCAN accepted");
    assert!(
        ["InvalidParameterException", "ValidationException"].contains(&e.code.as_str()),
        "{e:?}"
    );
    let got = get().await;
    assert_eq!(
        got["scanningConfiguration"], configured,
        "a refused put changed it: {got}"
    );

    // The frequencies decide what a push does.
    let layer = bytes(7, 64);
    for repo in [&prod, &stage, &dev_on_push, &dev] {
        s.push_image(repo, "v1", &layer).await;
    }
    for repo in [&prod, &stage, &dev_on_push] {
        let detail = image_detail(&cli, &keys, repo, "v1").await;
        assert!(
            detail["imageScanStatus"]["status"].is_string(),
            "{repo}: no scan after a push: {detail}"
        );
    }
    let detail = image_detail(&cli, &keys, &dev, "v1").await;
    assert!(detail.get("imageScanStatus").is_none(), "{dev} is MANUAL: {detail}");
    cli.fails(
        &keys,
        &describe_findings_args(&dev, "imageTag=v1"),
        "ScanNotFoundException",
    )
    .await;
    eprintln!("batch_get: in {:?}", started.elapsed());
}
