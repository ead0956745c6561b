//! The severity of an advisory for one affected package, on ECR's scale
//! (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`, `UNDEFINED`).
//!
//! The database's own rating comes first: `ecosystem_specific.severity` or
//! `database_specific.severity` of the `affected[]` entry, then the record's
//! `database_specific.severity` (GitHub's `LOW` / `MODERATE` / `HIGH` /
//! `CRITICAL`), then an `Ubuntu` priority in `severity[]`. Failing those, the
//! level follows the CVSS base score: 0.1–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–8.9
//! HIGH, 9.0–10.0 CRITICAL, 0 INFORMATIONAL. The vector scored is CVSS v3.x
//! if there is one (what ECR and most databases rank by), else v4.0, else
//! v2; the `affected[]` entry's own `severity[]` before the record's. A
//! RustSec informational advisory (`unmaintained`, `unsound`, `notice`) with
//! no CVSS is INFORMATIONAL. The score and vector are reported alongside a
//! vendor rating too, when the record has a vector.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::model::{Advisory, Affected, ScoreType, SeverityScore};

/// ECR's severity levels, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeverityLevel {
    Undefined,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityLevel::Undefined => "UNDEFINED",
            SeverityLevel::Informational => "INFORMATIONAL",
            SeverityLevel::Low => "LOW",
            SeverityLevel::Medium => "MEDIUM",
            SeverityLevel::High => "HIGH",
            SeverityLevel::Critical => "CRITICAL",
        }
    }

    /// The level of a CVSS base score (v3 and v4 share the scale).
    pub fn from_score(score: f64) -> SeverityLevel {
        match score {
            s if s.is_nan() => SeverityLevel::Undefined,
            s if s <= 0.0 => SeverityLevel::Informational,
            s if s < 4.0 => SeverityLevel::Low,
            s if s < 7.0 => SeverityLevel::Medium,
            s if s < 9.0 => SeverityLevel::High,
            _ => SeverityLevel::Critical,
        }
    }

    /// A database's rating word (any case): GitHub's `MODERATE` is MEDIUM,
    /// Red Hat's `important` HIGH, Ubuntu's `negligible` and Debian's
    /// `unimportant` INFORMATIONAL. `None` for words with no level
    /// (`unknown`, `untriaged`, …).
    pub fn from_vendor(word: &str) -> Option<SeverityLevel> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "critical" => SeverityLevel::Critical,
            "high" | "important" => SeverityLevel::High,
            "moderate" | "medium" => SeverityLevel::Medium,
            "low" => SeverityLevel::Low,
            "negligible" | "unimportant" | "informational" | "info" | "none" => SeverityLevel::Informational,
            _ => return None,
        })
    }
}

/// Where the level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeveritySource {
    /// The database's own rating.
    Vendor,
    /// Computed from a CVSS vector.
    Cvss,
}

/// The severity of an advisory for one affected package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    pub level: SeverityLevel,
    /// The CVSS base score of `vector`.
    pub score: Option<f64>,
    /// The CVSS vector scored.
    pub vector: Option<String>,
    /// Its CVSS version: `2.0`, `3.0`, `3.1`, `4.0`.
    pub version: Option<String>,
    /// `None` when the level is UNDEFINED for want of data.
    pub source: Option<SeveritySource>,
}

/// The severity of `advisory` for its entry `affected`.
pub fn severity(advisory: &Advisory, affected: &Affected) -> Severity {
    let cvss = best_cvss(affected.severity.iter().chain(&advisory.severity));
    let (score, vector, version) = match &cvss {
        Some(c) => (Some(c.score), Some(c.vector.clone()), Some(c.version.to_string())),
        None => (None, None, None),
    };
    if let Some(level) = vendor_level(advisory, affected) {
        return Severity {
            level,
            score,
            vector,
            version,
            source: Some(SeveritySource::Vendor),
        };
    }
    if let Some(c) = &cvss {
        return Severity {
            level: SeverityLevel::from_score(c.score),
            score,
            vector,
            version,
            source: Some(SeveritySource::Cvss),
        };
    }
    if rustsec_informational(affected).is_some() {
        return Severity {
            level: SeverityLevel::Informational,
            score,
            vector,
            version,
            source: Some(SeveritySource::Vendor),
        };
    }
    Severity {
        level: SeverityLevel::Undefined,
        score,
        vector,
        version,
        source: None,
    }
}

/// The database's rating, in the order the module doc gives.
fn vendor_level(advisory: &Advisory, affected: &Affected) -> Option<SeverityLevel> {
    let word = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.get("severity"))
            .and_then(|s| s.as_str())
            .and_then(SeverityLevel::from_vendor)
    };
    word(&affected.ecosystem_specific)
        .or_else(|| word(&affected.database_specific))
        .or_else(|| word(&advisory.database_specific))
        .or_else(|| {
            affected
                .severity
                .iter()
                .chain(&advisory.severity)
                .filter(|s| s.kind == ScoreType::Ubuntu)
                .find_map(|s| SeverityLevel::from_vendor(&s.score))
        })
}

/// RustSec's `database_specific.informational` (`unmaintained`, `unsound`, `notice`).
fn rustsec_informational(affected: &Affected) -> Option<&str> {
    affected.database_specific.as_ref()?.get("informational")?.as_str()
}

/// A CVSS vector's base score.
#[derive(Debug, Clone, PartialEq)]
pub struct CvssScore {
    pub score: f64,
    pub vector: String,
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: &'static str,
}

/// The first parseable vector of the preferred CVSS version.
fn best_cvss<'a>(entries: impl Iterator<Item = &'a SeverityScore> + Clone) -> Option<CvssScore> {
    [ScoreType::CvssV3, ScoreType::CvssV4, ScoreType::CvssV2]
        .iter()
        .find_map(|kind| {
            entries
                .clone()
                .filter(|e| &e.kind == kind)
                .find_map(|e| score_vector(&e.score))
        })
}

/// The base score of a CVSS v2, v3.0, v3.1 or v4.0 vector, with its version.
pub fn score_vector(vector: &str) -> Option<CvssScore> {
    let vector = vector.trim();
    let parsed = cvss::Cvss::from_str(vector).ok()?;
    let version = match parsed {
        cvss::Cvss::CvssV20(_) => "2.0",
        cvss::Cvss::CvssV30(_) => "3.0",
        cvss::Cvss::CvssV31(_) => "3.1",
        cvss::Cvss::CvssV40(_) => "4.0",
        _ => return None,
    };
    Some(CvssScore {
        score: parsed.score(),
        vector: vector.to_string(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::model::{Format, parse};

    #[test]
    fn levels_from_scores() {
        assert_eq!(SeverityLevel::from_score(0.0), SeverityLevel::Informational);
        assert_eq!(SeverityLevel::from_score(0.1), SeverityLevel::Low);
        assert_eq!(SeverityLevel::from_score(3.9), SeverityLevel::Low);
        assert_eq!(SeverityLevel::from_score(4.0), SeverityLevel::Medium);
        assert_eq!(SeverityLevel::from_score(6.9), SeverityLevel::Medium);
        assert_eq!(SeverityLevel::from_score(7.0), SeverityLevel::High);
        assert_eq!(SeverityLevel::from_score(8.9), SeverityLevel::High);
        assert_eq!(SeverityLevel::from_score(9.0), SeverityLevel::Critical);
        assert_eq!(SeverityLevel::from_score(10.0), SeverityLevel::Critical);
        assert_eq!(SeverityLevel::from_score(f64::NAN), SeverityLevel::Undefined);
        assert!(
            SeverityLevel::Critical > SeverityLevel::High && SeverityLevel::Informational > SeverityLevel::Undefined
        );
    }

    #[test]
    fn vendor_words() {
        assert_eq!(SeverityLevel::from_vendor("MODERATE"), Some(SeverityLevel::Medium));
        assert_eq!(SeverityLevel::from_vendor("Critical"), Some(SeverityLevel::Critical));
        assert_eq!(
            SeverityLevel::from_vendor("negligible"),
            Some(SeverityLevel::Informational)
        );
        assert_eq!(SeverityLevel::from_vendor("unknown"), None);
    }

    #[test]
    fn vector_scores() {
        // Reference scores from FIRST's calculators (cross-checked with the Python `cvss` package).
        let s = score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s.score, s.version), (9.8, "3.1"));
        let s = score_vector("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N").unwrap();
        assert_eq!((s.score, s.version), (6.8, "3.0"));
        let s = score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N").unwrap();
        assert_eq!(s.score, 0.0);
        let s = score_vector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!((s.score, s.version), (9.3, "4.0"));
        let s = score_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap();
        assert_eq!((s.score, s.version), (7.5, "2.0"));
        assert!(score_vector("CVSS:3.1/garbage").is_none());
        assert!(score_vector("").is_none());
    }

    /// A GitHub-style record, written for this test (the shared data has no
    /// GHSA records): `database_specific.severity` and a CVSS v3 vector.
    const GHSA_LIKE: &str = r#"{
        "id": "GHSA-test-test-test", "modified": "2024-01-01T00:00:00Z",
        "severity": [
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}
        ],
        "affected": [{"package": {"ecosystem": "npm", "name": "x"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}],
        "database_specific": {"severity": "MODERATE", "github_reviewed": true}
    }"#;

    #[test]
    fn vendor_rating_first_with_the_cvss_alongside() {
        let a = parse(GHSA_LIKE.as_bytes(), Format::Json).unwrap();
        let s = severity(&a, &a.affected[0]);
        assert_eq!(s.level, SeverityLevel::Medium);
        assert_eq!(s.source, Some(SeveritySource::Vendor));
        // v3 preferred over v4 for the score.
        assert_eq!(s.score, Some(5.9));
        assert_eq!(s.version.as_deref(), Some("3.1"));
        assert_eq!(
            s.vector.as_deref(),
            Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N")
        );
    }

    #[test]
    fn affected_level_rating_wins() {
        let mut a = parse(GHSA_LIKE.as_bytes(), Format::Json).unwrap();
        a.affected[0].ecosystem_specific = Some(serde_json::json!({"severity": "critical"}));
        assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Critical);
        a.affected[0].ecosystem_specific = None;
        a.affected[0].database_specific = Some(serde_json::json!({"severity": "LOW"}));
        assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Low);
        // An unusable word falls through to the record's.
        a.affected[0].database_specific = Some(serde_json::json!({"severity": {"nested": 1}}));
        assert_eq!(severity(&a, &a.affected[0]).level, SeverityLevel::Medium);
    }

    #[test]
    fn cvss_when_no_rating() {
        let mut a = parse(GHSA_LIKE.as_bytes(), Format::Json).unwrap();
        a.database_specific = None;
        let s = severity(&a, &a.affected[0]);
        assert_eq!(
            (s.level, s.source, s.score),
            (SeverityLevel::Medium, Some(SeveritySource::Cvss), Some(5.9))
        );
        // Only v4: scored from v4.
        a.severity.retain(|s| s.kind == ScoreType::CvssV4);
        let s = severity(&a, &a.affected[0]);
        assert_eq!(
            (s.level, s.score, s.version.as_deref()),
            (SeverityLevel::Critical, Some(9.3), Some("4.0"))
        );
        // Nothing at all.
        a.severity.clear();
        let s = severity(&a, &a.affected[0]);
        assert_eq!((s.level, s.source, s.score), (SeverityLevel::Undefined, None, None));
    }

    #[test]
    fn ubuntu_priority() {
        let mut a = parse(GHSA_LIKE.as_bytes(), Format::Json).unwrap();
        a.database_specific = None;
        a.severity = vec![SeverityScore {
            kind: ScoreType::Ubuntu,
            score: "negligible".into(),
        }];
        let s = severity(&a, &a.affected[0]);
        assert_eq!(
            (s.level, s.source),
            (SeverityLevel::Informational, Some(SeveritySource::Vendor))
        );
    }

    #[test]
    fn serializes_as_ecr_words() {
        assert_eq!(
            serde_json::to_string(&SeverityLevel::Informational).unwrap(),
            "\"INFORMATIONAL\""
        );
        assert_eq!(serde_json::to_string(&SeveritySource::Cvss).unwrap(), "\"CVSS\"");
    }
}
