//! Which images are scanned when: the registry's scanning configuration
//! (`PutRegistryScanningConfiguration`: BASIC or ENHANCED, rules with wildcard
//! repository filters) and a repository's legacy `scanOnPush` flag, resolved
//! to one frequency per repository (spec §6.1).

use serde::{Deserialize, Serialize};
use stowage_meta::{MetaError, Repository};

use crate::AppState;

/// The account setting the registry configuration is stored under.
const SETTING: &str = "REGISTRY_SCANNING_CONFIGURATION";
/// Most rules a configuration may have [model].
const MAX_RULES: usize = 2;
/// Most filters a rule may have [model].
const MAX_FILTERS: usize = 100;

/// `scanType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScanType {
    #[default]
    Basic,
    Enhanced,
}

impl ScanType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Basic => "BASIC",
            ScanType::Enhanced => "ENHANCED",
        }
    }
}

/// `scanFrequency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Frequency {
    Manual,
    ScanOnPush,
    ContinuousScan,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Manual => "MANUAL",
            Frequency::ScanOnPush => "SCAN_ON_PUSH",
            Frequency::ContinuousScan => "CONTINUOUS_SCAN",
        }
    }
}

/// A repository filter (`filterType` is always `WILDCARD`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryFilter {
    pub filter: String,
    pub filter_type: String,
}

/// A rule: a frequency for the repositories its filters match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub scan_frequency: Frequency,
    pub repository_filters: Vec<RepositoryFilter>,
}

/// The registry's scanning configuration (default: BASIC, no rules).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryScanning {
    pub scan_type: ScanType,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// How one repository is scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub scan_type: ScanType,
    pub frequency: Frequency,
    /// The filters of the rule that applies (none for the legacy flag).
    pub applied_filters: Vec<RepositoryFilter>,
}

/// Why a configuration was refused; the text is the client's message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl RegistryScanning {
    /// Checks what ECR checks: frequencies allowed for the scan type, filter
    /// syntax and counts.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.rules.len() > MAX_RULES {
            return Err(InvalidConfig(format!(
                "Invalid parameter at 'rules' failed to satisfy constraint: 'Member must have length less than or equal to {MAX_RULES}'"
            )));
        }
        for rule in &self.rules {
            if self.scan_type == ScanType::Basic && rule.scan_frequency == Frequency::ContinuousScan {
                return Err(InvalidConfig(
                    "CONTINUOUS_SCAN is supported only with the ENHANCED scan type".into(),
                ));
            }
            if self.scan_type == ScanType::Enhanced && rule.scan_frequency == Frequency::Manual {
                return Err(InvalidConfig(
                    "MANUAL is not a supported frequency for the ENHANCED scan type".into(),
                ));
            }
            if rule.repository_filters.is_empty() || rule.repository_filters.len() > MAX_FILTERS {
                return Err(InvalidConfig(format!(
                    "Invalid parameter at 'repositoryFilters' failed to satisfy constraint: 'Member must have length between 1 and {MAX_FILTERS}'"
                )));
            }
            for f in &rule.repository_filters {
                if f.filter_type != "WILDCARD" {
                    return Err(InvalidConfig(format!(
                        "Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]' (got '{}')",
                        f.filter_type
                    )));
                }
                if !valid_filter(&f.filter) {
                    return Err(InvalidConfig(format!(
                        "Invalid parameter at 'filter' failed to satisfy constraint: 'Member must satisfy regular expression pattern: ^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$' (got '{}')",
                        f.filter
                    )));
                }
            }
        }
        Ok(())
    }

    /// The frequency for `repo`: the most frequent rule whose filter matches
    /// it, else its `scanOnPush` flag, else manual.
    pub fn effective(&self, repo: &Repository) -> Effective {
        let best = self
            .rules
            .iter()
            .filter(|r| {
                r.repository_filters
                    .iter()
                    .any(|f| wildcard_match(&f.filter, &repo.name))
            })
            .max_by_key(|r| r.scan_frequency);
        match best {
            Some(rule) => Effective {
                scan_type: self.scan_type,
                frequency: rule.scan_frequency,
                applied_filters: rule
                    .repository_filters
                    .iter()
                    .filter(|f| wildcard_match(&f.filter, &repo.name))
                    .cloned()
                    .collect(),
            },
            None => Effective {
                scan_type: self.scan_type,
                frequency: if repo.scan_on_push {
                    Frequency::ScanOnPush
                } else {
                    Frequency::Manual
                },
                applied_filters: Vec::new(),
            },
        }
    }
}

/// `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, 1–255 characters: runs of
/// `[a-z0-9*]` joined by at most one separator, never ending in one.
fn valid_filter(filter: &str) -> bool {
    let word = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'*';
    let sep = |c: u8| matches!(c, b'.' | b'_' | b'-' | b'/');
    let b = filter.as_bytes();
    if b.is_empty() || b.len() > 255 || !word(b[0]) || !word(b[b.len() - 1]) {
        return false;
    }
    b.windows(2)
        .all(|w| (word(w[0]) || sep(w[0])) && (word(w[1]) || (sep(w[1]) && word(w[0]))))
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The registry's configuration (the default when none was put).
pub async fn registry(state: &AppState, account_id: &str) -> Result<RegistryScanning, MetaError> {
    match state.meta.account_setting(account_id, SETTING).await? {
        None => Ok(RegistryScanning::default()),
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| MetaError::Corrupt(format!("scanning configuration: {e}")))
        }
    }
}

/// Validates and stores the registry's configuration.
pub async fn put_registry(state: &AppState, account_id: &str, config: &RegistryScanning) -> Result<(), PutError> {
    config.validate()?;
    let json = serde_json::to_string(config).expect("a configuration serializes");
    state.meta.put_account_setting(account_id, SETTING, &json).await?;
    Ok(())
}

/// Errors of [`put_registry`].
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Invalid(#[from] InvalidConfig),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_run() {
        assert!(wildcard_match("*", "app"));
        assert!(wildcard_match("prod-*", "prod-api"));
        assert!(!wildcard_match("prod-*", "dev-api"));
        assert!(wildcard_match("*/web", "team/web"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("app", "app"));
        assert!(!wildcard_match("app", "apps"));
    }

    #[test]
    fn filters_follow_ecr_pattern() {
        for ok in ["*", "prod", "prod-*", "team/web", "a.b_c-d/e", "**"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "Prod", "prod-", "-prod", "a--b", "a b", "/a"] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }
}
