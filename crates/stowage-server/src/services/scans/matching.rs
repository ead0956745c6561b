//! Matching an inventory against the advisory database, and the findings as
//! stored: each with when it was first and last observed, so that a re-match
//! (continuous scanning) keeps a finding's history.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use stowage_meta::MetaError;
use stowage_scan::catalog::Inventory;
use stowage_scan::findings::{self, Finding, match_keys};
use stowage_scan::osv::{self, Advisory, base_ecosystem};

use crate::AppState;

/// A finding as stored with its image's scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// The advisory's `published` and `modified` (RFC 3339).
    pub published: Option<String>,
    pub modified: Option<String>,
    /// The advisory's reference URLs.
    #[serde(default)]
    pub references: Vec<String>,
    pub first_observed_at: i64,
    pub last_observed_at: i64,
    /// When the finding last changed (severity, fix, text).
    pub updated_at: i64,
}

impl StoredFinding {
    /// What identifies a finding across re-matches: the advisory and the
    /// installed package (name, version, where).
    fn key(&self) -> (String, String, String, String) {
        let p = &self.finding.package;
        (
            self.finding.advisory_id.clone(),
            p.name.clone(),
            p.version.clone(),
            p.path.clone(),
        )
    }
}

/// What matching found.
pub struct Matched {
    pub findings: Vec<StoredFinding>,
    /// The newest update time of the sources the image's ecosystems come from.
    pub source_updated_at: Option<i64>,
    /// (ecosystem without release, name as matched) of every package.
    pub packages: BTreeSet<(String, String)>,
}

/// The keys under which the advisory database lists a package.
fn lookup_keys(package: &stowage_scan::catalog::Package) -> impl Iterator<Item = (String, String)> + '_ {
    match_keys(package).into_iter().map(|(ecosystem, name, _)| {
        let base = base_ecosystem(ecosystem);
        (base.to_string(), osv::normalize_name(base, name).into_owned())
    })
}

/// Matches `inventory` against the stored advisories; `previous` findings
/// keep their first-observed times.
pub async fn match_inventory(
    state: &AppState,
    inventory: Inventory,
    previous: &[StoredFinding],
    now: i64,
) -> Result<Matched, MetaError> {
    let packages: BTreeSet<(String, String)> = inventory.packages.iter().flat_map(lookup_keys).collect();
    let keys: Vec<(String, String)> = packages.iter().cloned().collect();
    let rows = state.meta.advisories_for_packages(&keys).await?;
    // Each record is parsed once, however many packages it names.
    let mut parsed: HashMap<String, std::sync::Arc<Advisory>> = HashMap::new();
    let mut advisories: HashMap<(String, String), Vec<std::sync::Arc<Advisory>>> = HashMap::new();
    for (ecosystem, name, id, body) in rows {
        let advisory = match parsed.get(&id) {
            Some(a) => a.clone(),
            None => match serde_json::from_str::<Advisory>(&body) {
                Ok(a) => parsed.entry(id).or_insert(std::sync::Arc::new(a)).clone(),
                Err(_) => continue,
            },
        };
        advisories.entry((ecosystem, name)).or_default().push(advisory);
    }
    let sources = state.meta.vuln_sources().await?;
    let ecosystems: BTreeSet<&str> = packages.iter().map(|(e, _)| e.as_str()).collect();
    let source_updated_at = sources
        .iter()
        .filter(|s| ecosystems.contains(s.name.as_str()))
        .map(|s| s.updated_at)
        .max()
        .or_else(|| sources.iter().map(|s| s.updated_at).max());
    let previous: HashMap<_, _> = previous.iter().map(|f| (f.key(), f)).collect();
    let findings = tokio::task::spawn_blocking(move || {
        let matched = findings::match_inventory(&inventory, |ecosystem, name| {
            let base = base_ecosystem(ecosystem);
            advisories
                .get(&(base.to_string(), name.to_string()))
                .map(|v| v.iter().map(|a| &**a).collect())
                .unwrap_or_default()
        });
        let by_id: HashMap<&str, &Advisory> = parsed.values().map(|a| (a.id.as_str(), &**a)).collect();
        matched
            .findings
            .into_iter()
            .map(|finding| {
                let advisory = by_id.get(finding.advisory_id.as_str());
                StoredFinding {
                    published: advisory.and_then(|a| a.published.clone()),
                    modified: advisory.map(|a| a.modified.clone()),
                    references: advisory
                        .map(|a| a.references.iter().map(|r| r.url.clone()).collect())
                        .unwrap_or_default(),
                    finding,
                    first_observed_at: now,
                    last_observed_at: now,
                    updated_at: now,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| MetaError::Corrupt(format!("matching stopped: {e}")))?;
    let findings = findings
        .into_iter()
        .map(|mut f| {
            if let Some(old) = previous.get(&f.key()) {
                f.first_observed_at = old.first_observed_at;
                let same = old.finding == f.finding && old.modified == f.modified;
                if same {
                    f.updated_at = old.updated_at;
                }
            }
            f
        })
        .collect();
    Ok(Matched {
        findings,
        source_updated_at,
        packages,
    })
}

/// Findings by severity, zero counts left out (ECR's `findingSeverityCounts`).
pub fn severity_counts(findings: &[StoredFinding]) -> serde_json::Value {
    let mut counts = std::collections::BTreeMap::new();
    for f in findings {
        *counts.entry(f.finding.severity.level.as_str()).or_insert(0u64) += 1;
    }
    serde_json::to_value(counts).expect("counts serialize")
}
