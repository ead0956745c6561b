//! Findings: an image's [`Inventory`] matched against OSV advisories, in the
//! shape ECR's `DescribeImageScanFindings` reports (`findings[]` and
//! `findingSeverityCounts`).
//!
//! Matching is by ecosystem and name only, never fuzzy and never by CPE:
//!
//! * OS packages (dpkg, apk, rpm) match the distribution's advisories by their
//!   *source* package (`source_name`, compared at `source_version`), which is
//!   what OSV's Debian, Ubuntu and Alpine records name; a binary package whose
//!   own name happens to be an advisory's package does not match unless it is
//!   its own source;
//! * language packages match by their (normalized) name in their ecosystem.
//!
//! An advisory for `Debian` covers a package of `Debian:12`; one for
//! `Debian:11` does not ([`osv::matching::ecosystem_covers`]). Withdrawn
//! advisories never match. A version an advisory cannot be evaluated against
//! skips that (package, advisory) pair and is reported in
//! [`Matched::skipped`]; it does not stop the rest.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::catalog::{Inventory, Package, PackageKind};
use crate::osv::{self, Advisory, Severity, SeverityLevel};

#[cfg(test)]
mod tests;

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The name ECR shows: the advisory's first `CVE-` alias, else its id.
    pub vulnerability_id: String,
    /// The OSV record's id (`PYSEC-2019-217`, `DSA-5532-1`, `GHSA-…`).
    pub advisory_id: String,
    /// The record's aliases, as written.
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// The record's `details`.
    pub description: Option<String>,
    /// The record's first `ADVISORY` reference, else its first `WEB` one,
    /// else its page on osv.dev.
    pub uri: String,
    /// On ECR's scale, for the `affected[]` entry that matched.
    pub severity: Severity,
    /// The installed package (name, display name, version, source, ecosystem,
    /// purl, path, introducing layer).
    pub package: Package,
    /// The version with the fix, when the advisory gives one.
    pub fixed_in: Option<String>,
    pub fix_available: bool,
}

/// A (package, advisory) pair that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub package: Package,
    pub advisory_id: String,
    /// Why (an unparsable version, an ecosystem with no version ordering).
    pub reason: String,
}

/// What [`match_inventory`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Matched {
    /// Sorted as [`sort_findings`] does.
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
}

/// The ecosystem, name and version a package is matched under: the source
/// package's for OS packages, the package's own for language packages.
pub fn match_key(package: &Package) -> (&str, &str, &str) {
    let (name, version) = match package.kind {
        PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm => (
            package.source_name.as_deref().unwrap_or(&package.name),
            package.source_version.as_deref().unwrap_or(&package.version),
        ),
        PackageKind::Python | PackageKind::Npm | PackageKind::Maven | PackageKind::Cargo | PackageKind::Go => {
            (package.name.as_str(), package.version.as_str())
        }
    };
    (&package.ecosystem, name, version)
}

/// Every (ecosystem, name, version) a package is matched under: its
/// [`match_key`], and for rpm also its binary name and version, because the
/// RPM-based distributions' OSV records (AlmaLinux, Rocky, Red Hat) name the
/// binary packages an erratum ships rather than their source package.
pub fn match_keys(package: &Package) -> Vec<(&str, &str, &str)> {
    let key = match_key(package);
    let binary = (
        package.ecosystem.as_str(),
        package.name.as_str(),
        package.version.as_str(),
    );
    if package.kind == PackageKind::Rpm && binary != key {
        vec![key, binary]
    } else {
        vec![key]
    }
}

/// Matches every package of `inventory` against the advisories
/// `advisories_for(ecosystem, name)` returns for it: `ecosystem` is the
/// package's (`Debian:12`, `PyPI`), so the lookup must also return records of
/// the bare ecosystem (`Debian`); `name` is the source package for OS
/// packages (and the binary package for rpm, see [`match_keys`]), the
/// ecosystem-normalized name otherwise. The lookup may return
/// more than concerns the package: each record is checked here
/// ([`osv::match_package`]). One finding per advisory id and package (name,
/// version, path), however many times either comes back.
pub fn match_inventory<'a>(inventory: &Inventory, advisories_for: impl Fn(&str, &str) -> Vec<&'a Advisory>) -> Matched {
    let mut matched = Matched::default();
    let mut seen: HashSet<(&str, &str, &str, &str)> = HashSet::new();
    for package in &inventory.packages {
        for (ecosystem, name, version) in match_keys(package) {
            let lookup = osv::normalize_name(ecosystem, name);
            for advisory in advisories_for(ecosystem, &lookup) {
                let key = (
                    advisory.id.as_str(),
                    package.name.as_str(),
                    package.version.as_str(),
                    package.path.as_str(),
                );
                if seen.contains(&key) {
                    continue;
                }
                match osv::match_package(advisory, ecosystem, name, version) {
                    Ok(Some(m)) => {
                        seen.insert(key);
                        matched.findings.push(finding(&m, package));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        seen.insert(key);
                        matched.skipped.push(Skipped {
                            package: package.clone(),
                            advisory_id: advisory.id.clone(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
    }
    sort_findings(&mut matched.findings);
    matched
}

fn finding(m: &osv::Match<'_>, package: &Package) -> Finding {
    let advisory = m.advisory;
    let vulnerability_id = advisory
        .aliases
        .iter()
        .find(|a| a.starts_with("CVE-"))
        .unwrap_or(&advisory.id)
        .clone();
    let reference = |kind: &str| {
        advisory
            .references
            .iter()
            .find(|r| r.kind.eq_ignore_ascii_case(kind))
            .map(|r| r.url.clone())
    };
    let uri = reference("ADVISORY")
        .or_else(|| reference("WEB"))
        .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{}", advisory.id));
    Finding {
        vulnerability_id,
        advisory_id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        summary: advisory.summary.clone(),
        description: advisory.details.clone(),
        uri,
        severity: osv::severity(advisory, m.affected),
        package: package.clone(),
        fix_available: m.fixed_in.is_some(),
        fixed_in: m.fixed_in.clone(),
    }
}

/// The order findings are reported in: most severe first, then by
/// vulnerability id, advisory id, package name, version, path.
pub fn compare_findings(a: &Finding, b: &Finding) -> Ordering {
    sort_key(a).cmp(&sort_key(b))
}

fn sort_key(f: &Finding) -> (Reverse<SeverityLevel>, &str, &str, &str, &str, &str) {
    (
        Reverse(f.severity.level),
        &f.vulnerability_id,
        &f.advisory_id,
        &f.package.name,
        &f.package.version,
        &f.package.path,
    )
}

/// Sorts findings by [`compare_findings`].
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(compare_findings);
}

/// ECR's `findingSeverityCounts`: how many findings of each level
/// (`CRITICAL`, `HIGH`, …), levels with none left out.
pub fn severity_counts(findings: &[Finding]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity.level.as_str().to_owned()).or_insert(0) += 1;
    }
    counts
}
