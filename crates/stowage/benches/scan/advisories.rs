//! The advisory set: importing it with the `stowage vulndb import` CLI into a
//! running server's data dir, and the changed copies of a few advisories
//! that make a continuous-scan re-match happen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::servers::Server;

/// What one `stowage vulndb import` printed, and how long it took.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    pub elapsed: Duration,
    pub read: u64,
    pub changed: u64,
    pub failed: u64,
    pub images_to_rematch: u64,
}

impl Imported {
    pub fn per_sec(&self) -> f64 {
        self.read as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `stowage vulndb import PATH --data-dir …` against the server's data
/// dir (while it serves), timed from spawning the CLI to its exit.
pub fn import(server: &Server, path: &Path) -> anyhow::Result<Imported> {
    let path_text = path.to_str().context("advisory path is not UTF-8")?;
    let start = Instant::now();
    let out = server.stowage_admin(&["vulndb", "import", path_text])?;
    let elapsed = start.elapsed();
    let line: Value = serde_json::from_str(out.lines().next().unwrap_or_default())
        .with_context(|| format!("vulndb import printed {out:?}"))?;
    let field = |k: &str| line[k].as_u64().with_context(|| format!("no {k} in {line}"));
    Ok(Imported {
        elapsed,
        read: field("read")?,
        changed: field("changed")?,
        failed: field("failed")?,
        images_to_rematch: field("imagesToRematch")?,
    })
}

/// Time of a CLI run that opens the database and does next to nothing
/// (`stowage vulndb status`): the fixed cost inside every import's time.
pub fn cli_floor(server: &Server) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        server.stowage_admin(&["vulndb", "status"])?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// Bytes and files of the advisory set.
pub fn size_of(path: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    walk(path, &mut files);
    let bytes = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    (bytes, files.len() as u64)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else { return };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

/// Advisory files of the set by id (their file stem): JSON and YAML ones.
pub fn files_by_id(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = Vec::new();
    walk(root, &mut files);
    files
        .into_iter()
        .filter(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")))
        .filter_map(|f| Some((f.file_stem()?.to_str()?.to_string(), f.clone())))
        .collect()
}

/// Copies the advisories `ids` (as found in `files`) into `dir`, each
/// changed: `modified` set to now and, where the file allows, one more
/// reference (`url`); returns the ids copied. JSON files are edited as JSON;
/// YAML ones as text (`modified:` replaced; the reference added only to a
/// `references:` list written with unindented `- ` items).
pub fn write_changed(
    files: &BTreeMap<String, PathBuf>,
    ids: &[String],
    dir: &Path,
    url: &str,
) -> anyhow::Result<Vec<String>> {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut done = Vec::new();
    for id in ids {
        let Some(path) = files.get(id) else { continue };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.file_name().context("advisory file name")?;
        let changed = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let mut v: Value =
                    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
                v["modified"] = now.clone().into();
                match v["references"].as_array_mut() {
                    Some(refs) => refs.push(serde_json::json!({ "type": "WEB", "url": url })),
                    None => v["references"] = serde_json::json!([{ "type": "WEB", "url": url }]),
                }
                serde_json::to_string_pretty(&v)?
            }
            _ => change_yaml(&text, &now, url)?,
        };
        std::fs::write(dir.join(name), changed)?;
        done.push(id.clone());
    }
    Ok(done)
}

fn change_yaml(text: &str, now: &str, url: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() + 128);
    let mut bumped = false;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("modified:") {
            out.push_str(&format!("modified: \"{now}\"\n"));
            bumped = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line == "references:" && lines.peek().is_some_and(|l| l.starts_with("- ")) {
            out.push_str(&format!("- type: WEB\n  url: {url}\n"));
        }
    }
    if !bumped {
        bail!("no top-level `modified:` line");
    }
    Ok(out)
}

/// The advisory ids a finding names: its vulnerability id and related ones.
pub fn finding_ids(finding: &Value) -> BTreeSet<String> {
    let details = &finding["packageVulnerabilityDetails"];
    let mut ids: BTreeSet<String> = details["relatedVulnerabilities"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(id) = details["vulnerabilityId"].as_str() {
        ids.insert(id.to_string());
    }
    ids
}
