//! `stowage vulndb import|status` with the real advisories kept in the scan
//! crate's test data: counts and update times per source, idempotent
//! re-imports, a changed record, and a bad file that does not stop the import.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::clients::describe;
use crate::support::*;

fn advisories() -> PathBuf {
    repo_root().join("crates/stowage-scan/testdata/advisories")
}

/// Every advisory file under `dir` with its source folder (`PyPI`, …).
fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for source in std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
    {
        let name = source.file_name().unwrap().to_str().unwrap().to_string();
        let mut stack = vec![source];
        while let Some(d) = stack.pop() {
            for p in std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()) {
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json" || x == "yaml") {
                    out.push((name.clone(), p));
                }
            }
        }
    }
    out
}

/// The `modified` time of an advisory file, read from its text, epoch ms.
fn modified_ms(path: &Path) -> i64 {
    let text = std::fs::read_to_string(path).unwrap();
    let value = if path.extension().is_some_and(|x| x == "json") {
        serde_json::from_str::<Value>(&text).unwrap()["modified"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        let line = text.lines().find(|l| l.starts_with("modified:")).unwrap();
        line["modified:".len()..].trim().trim_matches(['"', '\'']).to_string()
    };
    // Go's records carry `0001-01-01T00:00:00Z` when the time is unknown: before
    // the epoch, counted as 0.
    humantime::parse_rfc3339_weak(&value).map_or(0, |at| {
        at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
    })
}

fn import(s: &TestServer, path: &Path) -> (Value, String) {
    let out = s.admin(&["vulndb", "import", path.to_str().unwrap()]);
    assert!(out.status.success(), "vulndb import: {}", describe(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    (
        serde_json::from_str(line.trim()).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn status(s: &TestServer) -> Vec<Value> {
    let out = s.admin(&["vulndb", "status"]);
    assert!(out.status.success(), "vulndb status: {}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["sources"].as_array().unwrap().clone()
}

both_dbs!(
    async fn advisories_import_once_and_report_their_sources(s: TestServer) {
        let all = files(&advisories());
        let (report, _) = import(&s, &advisories());
        assert_eq!(report["read"], all.len() as u64, "{report}");
        assert_eq!(report["changed"], all.len() as u64);
        assert_eq!(report["failed"], 0);

        let sources = status(&s);
        let names: Vec<&str> = sources.iter().map(|v| v["source"].as_str().unwrap()).collect();
        assert_eq!(names, ["Go", "PyPI", "crates.io"]);
        for source in &sources {
            let name = source["source"].as_str().unwrap();
            let mine: Vec<&PathBuf> = all.iter().filter(|(n, _)| n == name).map(|(_, p)| p).collect();
            assert_eq!(source["advisories"], mine.len() as u64, "{name}");
            let newest = mine.iter().map(|p| modified_ms(p)).max().unwrap();
            let reported = (source["updatedAt"].as_f64().unwrap() * 1000.0).round() as i64;
            if newest > 0 {
                assert_eq!(
                    reported, newest,
                    "{name}: vulnerabilitySourceUpdatedAt is its newest advisory"
                );
            } else {
                // Go's records carry no time (0001-01-01): the import dates them.
                assert_eq!(source["updatedAt"], source["importedAt"], "{name}");
            }
        }

        // Importing the same records again changes nothing.
        let (again, _) = import(&s, &advisories());
        assert_eq!(
            (again["read"].as_u64(), again["changed"].as_u64()),
            (Some(all.len() as u64), Some(0))
        );

        // A copy where one record was updated, and a file that is not an advisory.
        let copy = tempfile::tempdir().unwrap();
        let (_, updated) = all.iter().find(|(n, _)| n == "crates.io").unwrap();
        let text = std::fs::read_to_string(updated).unwrap();
        let mut record: Value = serde_json::from_str(&text).unwrap();
        record["modified"] = Value::from("2030-01-02T03:04:05Z");
        std::fs::write(copy.path().join("updated.json"), record.to_string()).unwrap();
        std::fs::write(copy.path().join("broken.json"), "{ not json").unwrap();
        let (report, stderr) = import(&s, copy.path());
        assert_eq!(
            (report["read"].as_u64(), report["changed"].as_u64()),
            (Some(1), Some(1)),
            "{report}"
        );
        assert_eq!(report["failed"], 1);
        assert!(stderr.contains("broken.json"), "{stderr}");
        let crates = status(&s).into_iter().find(|v| v["source"] == "crates.io").unwrap();
        assert_eq!(
            crates["advisories"],
            all.iter().filter(|(n, _)| n == "crates.io").count() as u64
        );
        assert_eq!(
            crates["updatedAt"].as_f64(),
            Some(1_893_553_445.0),
            "2030-01-02T03:04:05Z"
        );
    }
);

#[tokio::test]
async fn a_missing_path_is_a_clear_error() {
    let s = TestServer::start().await;
    let out = s.admin(&["vulndb", "import", "/nonexistent/advisories"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/advisories"),
        "{}",
        describe(&out)
    );
}
