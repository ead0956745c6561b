//! Lifecycle policies (spec §4): the `lifecyclePolicyText` grammar with ECR's
//! validation messages, and the evaluator that decides which images a policy
//! expires. Pure: callers bring the image facts and the clock.
//!
//! Beyond §4.1 we accept `countType: "sinceImagePulled"` (§4.5 lists it as
//! later); the other §4.5 additions stay rejected.

mod evaluate;
mod policy;

pub use evaluate::evaluate;

use crate::mutability::wildcard_match;

/// A parsed, validated lifecycle policy; rules sorted by ascending priority.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecyclePolicy {
    pub rules: Vec<Rule>,
}

/// One rule of a policy. Its action is always `expire`, so it is not stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub priority: u32,
    pub description: Option<String>,
    pub selection: Selection,
}

/// Which images a rule looks at, and which of those it marks.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub tags: TagSelection,
    pub count: Count,
}

/// A rule's tagging requirement (`tagStatus` with its prefix or pattern list).
#[derive(Clone, Debug, PartialEq)]
pub enum TagSelection {
    /// `tagged`: exactly one of the two lists is non-empty, the other is empty.
    Tagged {
        prefixes: Vec<String>,
        patterns: Vec<String>,
    },
    Untagged,
    Any,
}

/// A rule's `countType` with its `countNumber`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// `imageCountMoreThan`: keep the N newest candidates.
    MoreThan(u32),
    /// `sinceImagePushed`: candidates pushed more than N days ago.
    SincePushedDays(u32),
    /// `sinceImagePulled`: candidates last pulled (or, never pulled, pushed) more than N days ago.
    SincePulledDays(u32),
}

/// Why a policy text was rejected; Display is the full message ECR sends in an
/// `InvalidParameterException`. The field holds only the part after the prefix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {0}'"
)]
pub struct PolicyError(pub String);

/// What the evaluator knows of one image.
#[derive(Clone, Copy, Debug)]
pub struct ImageFacts<'a> {
    pub tags: &'a [String],
    pub pushed_at_ms: i64,
    pub last_pulled_at_ms: Option<i64>,
}

/// An image the policy expires: its index in the input and the rule that expires it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub index: usize,
    pub rule_priority: u32,
}

impl TagSelection {
    /// Whether an image carrying `tags` meets this requirement (spec §4.2.1):
    /// every list entry must match some tag, and a tagged rule needs a tag.
    pub fn matches(&self, tags: &[String]) -> bool {
        match self {
            Self::Tagged { prefixes, patterns } => {
                !tags.is_empty()
                    && prefixes.iter().all(|p| tags.iter().any(|t| t.starts_with(p.as_str())))
                    && patterns.iter().all(|p| tags.iter().any(|t| wildcard_match(p, t)))
            }
            Self::Untagged => tags.is_empty(),
            Self::Any => true,
        }
    }
}
