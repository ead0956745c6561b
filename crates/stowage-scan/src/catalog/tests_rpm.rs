//! rpm cataloger tests, on a real rpm sqlite database made by rpm 4.18
//! (`testdata/layers/rpmdb/make-rpmdb.sh`) and checked against `rpm -qa` when
//! rpm is installed.

use std::collections::BTreeSet;
use std::process::Command;

use proptest::prelude::*;

use super::rpm::{Header, parse_rpmdb, parse_rpmdb_bounded};
use super::*;
use crate::layers::tests::{LayerBuilder, gzip, index};

const RPMDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/layers/rpmdb.sqlite");

fn rpmdb() -> Vec<u8> {
    std::fs::read(RPMDB).unwrap()
}

const ALMA_OS_RELEASE: &str = "NAME=\"AlmaLinux\"\nVERSION=\"9.4 (Seafoam Ocelot)\"\nID=\"almalinux\"\n\
ID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4 (Seafoam Ocelot)\"\n";

/// (name, EVR, arch, source rpm) per `rpm -qa` on the fixture, when rpm is
/// installed; gpg-pubkey left out as the cataloger leaves it out.
fn rpm_qa() -> Option<BTreeSet<(String, String, String, String)>> {
    let dir = tempfile::tempdir().ok()?;
    std::fs::copy(RPMDB, dir.path().join("rpmdb.sqlite")).ok()?;
    let out = Command::new("rpm")
        .args(["--define", "_db_backend sqlite", "--dbpath"])
        .arg(dir.path())
        .args(["-qa", "--qf", "%{NAME}\\t%{EVR}\\t%{ARCH}\\t%{SOURCERPM}\\n"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].into(), f[1].into(), f[2].into(), f[3].into())
            })
            .filter(|(n, ..)| n != "gpg-pubkey")
            .collect(),
    )
}

#[test]
fn real_rpmdb_records() {
    let mut records = parse_rpmdb(&rpmdb()).unwrap();
    // Read in install order (`hnum`); sorted here.
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.version.as_str(),
                r.arch.as_deref(),
                r.source.as_deref(),
                r.source_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "stowage-demo",
                "2:1.2.3-4.el9",
                Some("x86_64"),
                Some("stowage-demo"),
                Some("2:1.2.3-4.el9")
            ),
            (
                "stowage-demo-libs",
                "2:1.2.3-4.el9",
                Some("x86_64"),
                Some("stowage-demo"),
                Some("2:1.2.3-4.el9")
            ),
            (
                "tinytool",
                "0.9~rc1-1.el9",
                Some("noarch"),
                Some("tinytool"),
                Some("0.9~rc1-1.el9")
            ),
            (
                "zerotool",
                "0:3.0-2.el9",
                Some("x86_64"),
                Some("zerotool"),
                Some("0:3.0-2.el9")
            ),
        ]
    );
    // The files that are language metadata, from the header's file list.
    let demo = &records[0];
    assert_eq!(
        demo.files,
        vec![
            "usr/lib/python3.9/site-packages/stowage_demo-1.2.3.dist-info/METADATA",
            "usr/share/java/stowage-demo.jar",
        ]
    );
    assert!(records[1].files.is_empty());

    // What rpm itself says of the same database.
    if let Some(expected) = rpm_qa() {
        let ours: BTreeSet<_> = records
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.version.clone(),
                    r.arch.clone().unwrap(),
                    format!(
                        "{}-{}.src.rpm",
                        r.source.as_deref().unwrap(),
                        rpm::split_epoch(r.source_version.as_deref().unwrap()).1
                    ),
                )
            })
            .collect();
        assert_eq!(ours, expected);
    }
}

#[test]
fn alma_image_inventory() {
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/os-release", ALMA_OS_RELEASE.as_bytes())
        .file("var/lib/rpm/rpmdb.sqlite", &rpmdb())
        // Owned by the stowage-demo rpm: not a separate PyPI package.
        .file(
            "usr/lib/python3.9/site-packages/stowage_demo-1.2.3.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: stowage-demo\nVersion: 1.2.3\n",
        )
        // Not owned by any rpm: a pip install.
        .file(
            "usr/local/lib/python3.9/site-packages/six-1.16.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n",
        );
    let inv = image_inventory(&[index(&gzip(&layer.tar()))]);
    assert_eq!(inv.os.as_ref().unwrap().ecosystem.as_deref(), Some("AlmaLinux:9"));
    let rpms: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Rpm).collect();
    assert_eq!(rpms.len(), 4);
    assert!(
        rpms.iter()
            .all(|p| p.ecosystem == "AlmaLinux:9" && p.path == "var/lib/rpm/rpmdb.sqlite" && p.layer == 0)
    );
    let libs = rpms.iter().find(|p| p.name == "stowage-demo-libs").unwrap();
    assert_eq!(libs.source_name.as_deref(), Some("stowage-demo"));
    assert_eq!(libs.source_version.as_deref(), Some("2:1.2.3-4.el9"));
    assert_eq!(
        libs.purl,
        "pkg:rpm/almalinux/stowage-demo-libs@1.2.3-4.el9?arch=x86_64&distro=almalinux-9.4&epoch=2&upstream=stowage-demo"
    );
    let tiny = rpms.iter().find(|p| p.name == "tinytool").unwrap();
    assert_eq!(
        tiny.purl,
        "pkg:rpm/almalinux/tinytool@0.9~rc1-1.el9?arch=noarch&distro=almalinux-9.4"
    );
    // Matched by source package, at the source version.
    assert_eq!(
        crate::findings::match_key(libs),
        ("AlmaLinux:9", "stowage-demo", "2:1.2.3-4.el9")
    );
    let pypi: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Python).collect();
    assert_eq!(pypi.len(), 1, "{pypi:?}");
    assert_eq!(pypi[0].name, "six");
}

#[test]
fn fedora_layout_and_other_distros() {
    // Fedora keeps the database under usr/lib/sysimage (var/lib/rpm is a
    // symlink to it); Rocky and RHEL name their ecosystems.
    for (os_release, ecosystem, namespace) in [
        ("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n", "Rocky Linux:9", "rocky"),
        (
            "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n",
            "Red Hat:enterprise_linux:9",
            "rhel",
        ),
        ("ID=fedora\nVERSION_ID=40\n", "Red Hat", "fedora"),
    ] {
        let mut layer = LayerBuilder::new();
        layer
            .file("usr/lib/os-release", os_release.as_bytes())
            .symlink("etc/os-release", "../usr/lib/os-release")
            .file("usr/lib/sysimage/rpm/rpmdb.sqlite", &rpmdb())
            .symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm");
        let inv = image_inventory(&[index(&layer.tar())]);
        let rpms: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Rpm).collect();
        assert_eq!(rpms.len(), 4);
        for p in rpms {
            assert_eq!(p.ecosystem, ecosystem);
            assert!(p.purl.starts_with(&format!("pkg:rpm/{namespace}/")), "{}", p.purl);
        }
    }
    // No OS at all: the database still counts.
    let mut layer = LayerBuilder::new();
    layer.file("var/lib/rpm/rpmdb.sqlite", &rpmdb());
    let inv = image_inventory(&[index(&layer.tar())]);
    assert_eq!(inv.packages.len(), 4);
    assert!(inv.packages[0].purl.starts_with("pkg:rpm/redhat/"));
}

#[test]
fn not_an_rpmdb_is_unparsed() {
    let mut layer = LayerBuilder::new();
    layer
        .file("var/lib/rpm/rpmdb.sqlite", b"not sqlite at all")
        .file("usr/lib/sysimage/rpm/rpmdb.sqlite", b"");
    let idx = index(&layer.tar());
    for path in ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"] {
        assert!(
            matches!(&idx.files[path], FileRecord::Unparsed { reason } if reason.contains("SQLite")),
            "{:?}",
            idx.files[path]
        );
    }

    // A real SQLite database without rpm's table.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let err = parse_rpmdb(&std::fs::read(&path).unwrap()).unwrap_err();
    assert!(err.contains("without a Packages table"), "{err}");

    // `Packages` as a view: views are off for untrusted databases.
    let path = dir.path().join("view.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(blob); CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS blob FROM c;",
    )
    .unwrap();
    drop(conn);
    assert!(parse_rpmdb(&std::fs::read(&path).unwrap()).is_err());

    // A plain table whose blobs are not headers: refused, with a count.
    let path = dir.path().join("junk.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);\
         INSERT INTO Packages (blob) VALUES (x'00000001'), ('text'), (NULL);",
    )
    .unwrap();
    drop(conn);
    let err = parse_rpmdb(&std::fs::read(&path).unwrap()).unwrap_err();
    assert!(err.contains("3 unreadable package headers"), "{err}");
}

#[test]
fn database_size_limit_skips_without_failing_the_layer() {
    let db = rpmdb();
    let mut layer = LayerBuilder::new();
    layer.file("var/lib/rpm/rpmdb.sqlite", &db);
    let tar = layer.tar();
    // Under the archive cap, over the cap for other files: read.
    let limits = crate::layers::Limits {
        max_file_bytes: 1_000,
        max_archive_bytes: db.len() as u64,
        ..Default::default()
    };
    let idx = crate::layers::index_layer(&tar[..], &limits).unwrap();
    assert!(matches!(&idx.files["var/lib/rpm/rpmdb.sqlite"], FileRecord::Facts(Facts::Rpm(r)) if r.len() == 4));
    // Over it: recorded as unread, the layer still indexes.
    let limits = crate::layers::Limits {
        max_archive_bytes: db.len() as u64 - 1,
        ..limits
    };
    let idx = crate::layers::index_layer(&tar[..], &limits).unwrap();
    assert!(
        matches!(&idx.files["var/lib/rpm/rpmdb.sqlite"], FileRecord::Unparsed { reason } if reason.contains("limit")),
        "{:?}",
        idx.files["var/lib/rpm/rpmdb.sqlite"]
    );
}

#[test]
fn sqlite_work_is_bounded() {
    // 20 000 rows of junk: the scan needs some 10⁵ VM steps; a budget of
    // 10 000 interrupts it, the default does not.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)\
         INSERT INTO Packages (blob) SELECT x'00' FROM c;",
    )
    .unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    let err = parse_rpmdb_bounded(&bytes, 10).unwrap_err();
    assert!(err.contains("interrupted"), "{err}");
    let err = parse_rpmdb(&bytes).unwrap_err();
    assert!(err.contains("20000 unreadable package headers"), "{err}");
}

/// The headers of the real database, as blobs.
fn real_blobs() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::copy(RPMDB, &path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn.prepare("SELECT blob FROM Packages ORDER BY hnum").unwrap();
    stmt.query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn truncated_and_corrupt_headers_never_panic() {
    let blobs = real_blobs();
    assert_eq!(blobs.len(), 5);
    for blob in &blobs {
        assert!(Header::parse(blob).is_ok());
        // Every truncation is refused (the length no longer adds up).
        for cut in 0..blob.len() {
            assert!(Header::parse(&blob[..cut]).is_err(), "cut at {cut}");
        }
        // Every single-byte corruption is survived.
        for at in 0..blob.len() {
            for value in [0x00, 0xff, 0x7f, blob[at] ^ 0x80] {
                let mut bad = blob.clone();
                bad[at] = value;
                if let Ok(h) = Header::parse(&bad) {
                    let _ = h.string(1000);
                    let _ = h.int32(1003);
                }
            }
        }
    }
}

#[test]
fn truncated_and_corrupt_databases_never_panic() {
    let db = rpmdb();
    // Truncated at page boundaries and in between.
    for cut in (0..db.len()).step_by(509) {
        let _ = parse_rpmdb(&db[..cut]);
    }
    // Corrupted bytes across the whole file.
    for at in (0..db.len()).step_by(97) {
        let mut bad = db.clone();
        bad[at] ^= 0xa5;
        let _ = parse_rpmdb(&bad);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_header_mutations_never_panic(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        static BLOBS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        let blobs = BLOBS.get_or_init(real_blobs);
        let mut blob = blobs[which].clone();
        for (at, value) in edits {
            let i = at.index(blob.len());
            blob[i] = value;
        }
        if let Ok(h) = Header::parse(&blob) {
            for tag in [1000, 1001, 1002, 1003, 1022, 1044, 1116, 1117, 1118] {
                let _ = h.string(tag);
                let _ = h.int32(tag);
            }
        }
    }

    #[test]
    fn random_bytes_are_not_a_database(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut with_magic = b"SQLite format 3\0".to_vec();
        with_magic.extend(&bytes);
        prop_assert!(parse_rpmdb(&bytes).is_err() || bytes.starts_with(b"SQLite"));
        let _ = parse_rpmdb(&with_magic);
    }
}
