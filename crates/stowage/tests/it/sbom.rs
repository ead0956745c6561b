//! `stowage scan sbom`: a two-layer image pushed through the registry API (the
//! machine's os-release and a few stanzas of its dpkg status, then Python
//! dist-info metadata), written as CycloneDX, validated against the official
//! 1.5 JSON schema (cyclonedx-python-lib in the test venv) and checked
//! package by package against what the layers hold; unknown names, an index
//! and an unreadable layer fail with a message.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::clients::describe;
use crate::support::*;

const REPO: &str = "team/sbom-app";
/// Site-packages directory of the Python layer.
const SITE: &str = "usr/local/lib/python3.11/site-packages";
/// dpkg packages kept from the machine's status file, when installed.
const DPKG_KEEP: [&str; 5] = ["base-files", "bash", "libc6", "tar", "zlib1g"];

/// A dpkg package as the trimmed status file says it.
struct Deb {
    name: String,
    version: String,
    arch: String,
    source: Option<String>,
}

fn field<'a>(stanza: &'a str, key: &str) -> Option<&'a str> {
    stanza
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// The installed stanzas of [`DPKG_KEEP`] from `/var/lib/dpkg/status`.
fn trimmed_status() -> (String, Vec<Deb>) {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").expect("the machine's /var/lib/dpkg/status");
    let mut text = String::new();
    let mut debs = Vec::new();
    for stanza in status.split("\n\n") {
        let Some(name) = field(stanza, "Package") else { continue };
        if !DPKG_KEEP.contains(&name) || field(stanza, "Status") != Some("install ok installed") {
            continue;
        }
        text.push_str(stanza.trim_end());
        text.push_str("\n\n");
        // `Source: name` or `Source: name (version)`.
        let source = field(stanza, "Source").map(|s| s.split(' ').next().unwrap().to_string());
        debs.push(Deb {
            name: name.to_string(),
            version: field(stanza, "Version").unwrap().to_string(),
            arch: field(stanza, "Architecture").unwrap().to_string(),
            source: source.filter(|s| s != name),
        });
    }
    assert!(
        debs.len() >= 3 && debs.iter().any(|d| d.name == "libc6"),
        "expected libc6 and a few of {DPKG_KEEP:?} in this machine's dpkg status"
    );
    (text, debs)
}

/// The machine's os-release as key → unquoted value.
fn os_release() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string("/etc/os-release").expect("the machine's /etc/os-release");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Percent-encoding of a purl version: all but `A-Za-z0-9.-_~` and `:`.
fn purl_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The installed version and METADATA path of a distribution of the test venv.
fn venv_distribution(name: &str) -> (String, std::path::PathBuf) {
    let out = Command::new(require_env("STOWAGE_TEST_PYTHON"))
        .args([
            "-c",
            "import importlib.metadata as m, sys\n\
             d = m.distribution(sys.argv[1])\n\
             print(d.version)\n\
             [f] = [f for f in d.files if f.name == 'METADATA' and f.parent.name.endswith('.dist-info')]\n\
             print(d.locate_file(f))",
            name,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "venv distribution {name}: {}", describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    (lines.next().unwrap().to_string(), lines.next().unwrap().into())
}

/// A gzip'd tar of the directories `dirs` of `root`, made by GNU tar.
fn tar_gz(root: &Path, dirs: &[&str]) -> Vec<u8> {
    let out = Command::new("tar")
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-czf",
            "-",
            "-C",
        ])
        .arg(root)
        .args(dirs)
        .output()
        .expect("running tar");
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Pushes an OCI image of `layers` (gzip'd tars) under `tags`; returns the
/// manifest digest and the layer digests.
async fn push_layers(s: &TestServer, layers: &[Vec<u8>], tags: &[&str]) -> (String, Vec<String>) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = s.push_blob(REPO, config).await;
    let mut descriptors = Vec::new();
    let mut digests = Vec::new();
    for layer in layers {
        let d = s.push_blob(REPO, layer).await;
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d,
            "size": layer.len(),
        }));
        digests.push(d);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": descriptors,
    }))
    .unwrap();
    for tag in tags {
        let resp = s
            .put(&format!("/v2/{REPO}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "push manifest: {}", resp.text().await.unwrap());
    }
    (digest(&manifest), digests)
}

/// Validates a document with cyclonedx-python-lib's JSON schema validator
/// (CycloneDX 1.5); `Err` carries the validator's message.
fn validate(document: &[u8]) -> Result<(), String> {
    let mut child = Command::new(require_env("STOWAGE_TEST_PYTHON"))
        .args([
            "-c",
            "import sys\n\
             try:\n    from cyclonedx.schema import SchemaVersion\n    \
             from cyclonedx.validation.json import JsonStrictValidator\n\
             except ImportError as e:\n    \
             sys.exit(f'cyclonedx-python-lib is not in the test venv (scripts/test installs it): {e}')\n\
             error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())\n\
             if error is not None:\n    sys.exit(f'invalid: {error}')\n\
             print('valid')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), document).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not in the test venv"), "{stderr}");
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr.into_owned())
    }
}

fn props<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["name"] == name)
                .map(|p| p["value"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn component<'a>(bom: &'a Value, purl: &str) -> &'a Value {
    let found: Vec<&Value> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purl"] == purl)
        .collect();
    assert_eq!(found.len(), 1, "one component with purl {purl} in {bom:#}");
    found[0]
}

#[tokio::test]
async fn sbom_of_a_pushed_image_is_valid_cyclonedx_with_its_packages() {
    let s = TestServer::start().await;
    s.create_repo(REPO);

    // Layer 0: os-release and the trimmed dpkg status; layer 1: Python metadata.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::copy("/etc/os-release", root.join("etc/os-release")).unwrap();
    let (status, debs) = trimmed_status();
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    let cors = root.join(SITE).join("Flask_Cors-4.0.1.dist-info");
    std::fs::create_dir_all(&cors).unwrap();
    std::fs::write(
        cors.join("METADATA"),
        "Metadata-Version: 2.1\nName: Flask-Cors\nVersion: 4.0.1\nSummary: \"quoted\" & <odd>\n",
    )
    .unwrap();
    let (packaging_version, packaging_metadata) = venv_distribution("packaging");
    let packaging = root.join(SITE).join(format!("packaging-{packaging_version}.dist-info"));
    std::fs::create_dir_all(&packaging).unwrap();
    std::fs::copy(&packaging_metadata, packaging.join("METADATA")).unwrap();
    let layers = [tar_gz(root, &["etc", "var"]), tar_gz(root, &["usr"])];
    let (image, layer_digests) = push_layers(&s, &layers, &["v1", "stable"]).await;

    let host = s.host();
    let public_url = format!("http://{host}");
    let sbom = |by: &str, value: &str| {
        s.admin(&[
            "scan",
            "sbom",
            "--repository",
            REPO,
            by,
            value,
            "--public-url",
            &public_url,
        ])
    };
    let out = sbom("--image-tag", "v1");
    assert!(out.status.success(), "scan sbom: {}", describe(&out));
    validate(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out.stdout)));
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["version"], 1);
    assert!(bom["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "Stowage");

    // The image itself.
    let subject = &bom["metadata"]["component"];
    let hex = image.strip_prefix("sha256:").unwrap();
    assert_eq!(subject["type"], "container");
    assert_eq!(subject["name"], REPO);
    assert_eq!(subject["version"], image.as_str());
    assert_eq!(
        subject["purl"],
        format!("pkg:oci/sbom-app@sha256%3A{hex}?repository_url={host}/{REPO}").as_str()
    );
    assert_eq!(props(subject, "stowage:tag"), ["stable", "v1"]);
    assert_eq!(props(subject, "stowage:layer_digest"), layer_digests);

    // The OS, from the machine's os-release.
    let release = os_release();
    let os = &bom["components"][0];
    assert_eq!(os["type"], "operating-system");
    assert_eq!(os["name"], release["ID"].as_str());
    assert_eq!(os["version"], release["VERSION_ID"].as_str());

    // Every dpkg package of the trimmed status, with its purl, version and source.
    let distro = format!("{}-{}", release["ID"], release["VERSION_ID"]);
    for d in &debs {
        let mut purl = format!(
            "pkg:deb/{}/{}@{}?arch={}&distro={distro}",
            release["ID"],
            d.name,
            purl_encode(&d.version),
            d.arch
        );
        if let Some(source) = &d.source {
            purl.push_str(&format!("&upstream={source}"));
        }
        let c = component(&bom, &purl);
        assert_eq!(c["type"], "library");
        assert_eq!(c["name"], d.name.as_str());
        assert_eq!(c["version"], d.version.as_str());
        assert_eq!(
            props(c, "stowage:source_name"),
            [d.source.as_deref().unwrap_or(&d.name)]
        );
        assert_eq!(props(c, "stowage:path"), ["var/lib/dpkg/status"]);
        assert_eq!(props(c, "stowage:layer_digest"), [layer_digests[0].as_str()]);
    }
    let libc = debs.iter().find(|d| d.name == "libc6").unwrap();
    assert_eq!(libc.source.as_deref(), Some("glibc"));

    // The Python packages, by their normalized purl names, in the second layer.
    for (purl, name, version) in [
        ("pkg:pypi/flask-cors@4.0.1".to_string(), "Flask-Cors", "4.0.1"),
        (
            format!("pkg:pypi/packaging@{packaging_version}"),
            "packaging",
            packaging_version.as_str(),
        ),
    ] {
        let c = component(&bom, &purl);
        assert_eq!((c["name"].as_str(), c["version"].as_str()), (Some(name), Some(version)));
        assert_eq!(props(c, "stowage:ecosystem"), ["PyPI"]);
        assert_eq!(props(c, "stowage:layer_digest"), [layer_digests[1].as_str()]);
    }
    assert_eq!(bom["components"].as_array().unwrap().len(), 1 + debs.len() + 2);

    // By digest: the same document, byte for byte.
    let by_digest = sbom("--image-digest", &image);
    assert!(
        by_digest.status.success(),
        "scan sbom by digest: {}",
        describe(&by_digest)
    );
    assert_eq!(by_digest.stdout, out.stdout);

    // The validator does reject what is not CycloneDX.
    let mut broken = bom.clone();
    broken["components"][1]["type"] = "not-a-type".into();
    assert!(validate(&serde_json::to_vec(&broken).unwrap()).is_err());
}

#[tokio::test]
async fn sbom_of_an_unknown_or_unreadable_image_fails_with_a_message() {
    let s = TestServer::start().await;
    s.create_repo(REPO);
    // An image whose layer is not a tar, and an index of it.
    let (manifest, image) = s.push_image(REPO, "v1", b"not really a layer").await;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image, "size": manifest.len()}],
    }))
    .unwrap();
    let resp = s
        .put(&format!("/v2/{REPO}/manifests/multi"))
        .header("content-type", OCI_INDEX)
        .body(index)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "push index: {}", resp.text().await.unwrap());
    let absent = digest(b"no such manifest");
    for (args, message) in [
        (
            vec!["--repository", REPO, "--image-tag", "v1"],
            format!("reading the packages of image '{image}'"),
        ),
        (
            vec!["--repository", REPO, "--image-tag", "multi"],
            format!("is an index: ask for one of its images ({image})"),
        ),
        (
            vec!["--repository", REPO, "--image-tag", "nope"],
            format!("image tag 'nope' not found in repository '{REPO}'"),
        ),
        (
            vec!["--repository", REPO, "--image-digest", &absent],
            format!("image '{absent}' not found in repository '{REPO}'"),
        ),
        (
            vec!["--repository", REPO, "--image-digest", "sha256:nothex"],
            "invalid image digest 'sha256:nothex'".to_string(),
        ),
        (
            vec!["--repository", "team/none", "--image-tag", "v1"],
            "repository 'team/none' does not exist".to_string(),
        ),
    ] {
        let out = s.admin(&[&["scan", "sbom"], args.as_slice()].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        assert!(
            stderr.contains(&message),
            "{args:?}: expected '{message}' in {}",
            describe(&out)
        );
        assert!(!stderr.contains("panicked"), "{}", describe(&out));
    }
    // Neither a tag nor a digest, or both: refused by the argument parser.
    for args in [
        vec!["--repository", REPO],
        vec!["--repository", REPO, "--image-tag", "v1", "--image-digest", &absent],
    ] {
        let out = s.admin(&[&["scan", "sbom"], args.as_slice()].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
    }
}
