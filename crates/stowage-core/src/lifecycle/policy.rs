//! Parsing and validating `lifecyclePolicyText` (spec §4.1).
//!
//! AWS validates the text against a JSON schema (its messages are those of the
//! java json-schema-validator) and then checks the rules against each other. We
//! walk the JSON by hand so each failure gets that same wording, and report the
//! first failure only.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{Count, LifecyclePolicy, PolicyError, Rule, Selection, TagSelection};

/// Length bounds of `lifecyclePolicyText`, in characters [model].
const MIN_TEXT_CHARS: usize = 100;
const MAX_TEXT_CHARS: usize = 30_720;
/// Most `*` wildcards one `tagPatternList` entry may hold.
const MAX_WILDCARDS: usize = 4;

const TAG_STATUSES: &[&str] = &["tagged", "untagged", "any"];
const COUNT_TYPES: &[&str] = &["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"];
const COUNT_UNITS: &[&str] = &["days"];
const ACTION_TYPES: &[&str] = &["expire"];

impl LifecyclePolicy {
    /// Parses and validates `lifecyclePolicyText`.
    pub fn parse(text: &str) -> Result<LifecyclePolicy, PolicyError> {
        let chars = text.chars().count();
        if !(MIN_TEXT_CHARS..=MAX_TEXT_CHARS).contains(&chars) {
            return Err(fail(format!(
                "lifecyclePolicyText must be between {MIN_TEXT_CHARS} and {MAX_TEXT_CHARS} characters long (found: {chars})"
            )));
        }
        let Ok(Value::Object(root)) = serde_json::from_str::<Value>(text) else {
            return Err(fail("Could not map policyString into LifecyclePolicy."));
        };
        check_properties(&root, &["rules"], &["rules"])?;
        let rules = array(&root["rules"])?;
        if rules.is_empty() {
            return Err(fail(
                "array is too short: must have at least 1 elements but instance has 0 elements",
            ));
        }
        let mut rules = rules.iter().map(rule).collect::<Result<Vec<_>, _>>()?;
        rules.sort_by_key(|r| r.priority);
        check_rules(&rules)?;
        Ok(LifecyclePolicy { rules })
    }
}

/// The checks that relate rules to one another; `rules` is sorted by priority.
fn check_rules(rules: &[Rule]) -> Result<(), PolicyError> {
    if let Some(w) = rules.windows(2).find(|w| w[0].priority == w[1].priority) {
        return Err(fail(format!(
            "rulePriority {} is used by more than one rule; rule priorities must be unique",
            w[0].priority
        )));
    }
    let highest = rules.last().map_or(0, |r| r.priority);
    if let Some(any) = rules
        .iter()
        .find(|r| r.selection.tags == TagSelection::Any && r.priority != highest)
    {
        return Err(fail(format!(
            "the rule with tagStatus any must have the highest rulePriority (found: {}, highest: {highest})",
            any.priority
        )));
    }
    let untagged = rules
        .iter()
        .filter(|r| r.selection.tags == TagSelection::Untagged)
        .count();
    if untagged > 1 {
        return Err(fail("only one rule is allowed to select untagged images"));
    }
    // "Unique tag prefixes" is read as: no two rules carry the same set of
    // prefixes. Reading it per prefix would reject policies that overlap only
    // in part, which nothing in AWS's documentation says it rejects.
    let mut sets = HashSet::new();
    for r in rules {
        if let TagSelection::Tagged { prefixes, .. } = &r.selection.tags {
            if prefixes.is_empty() {
                continue;
            }
            let mut set: Vec<&str> = prefixes.iter().map(String::as_str).collect();
            set.sort_unstable();
            set.dedup();
            if !sets.insert(set) {
                return Err(fail(format!(
                    "the set of rules must contain a unique set of tag prefixes (duplicate: {}, in rulePriority {})",
                    json_list(prefixes.iter().map(String::as_str)),
                    r.priority
                )));
            }
        }
    }
    Ok(())
}

fn rule(value: &Value) -> Result<Rule, PolicyError> {
    let obj = object(value)?;
    check_properties(
        obj,
        &["rulePriority", "selection", "action"],
        &["rulePriority", "description", "selection", "action"],
    )?;
    let priority = positive_integer(&obj["rulePriority"])?;
    let description = match obj.get("description") {
        Some(v) => Some(string(v)?.to_owned()),
        None => None,
    };
    let selection = selection(&obj["selection"], priority)?;
    let action = object(&obj["action"])?;
    check_properties(action, &["type"], &["type"])?;
    one_of(&action["type"], ACTION_TYPES)?;
    Ok(Rule {
        priority,
        description,
        selection,
    })
}

fn selection(value: &Value, priority: u32) -> Result<Selection, PolicyError> {
    let obj = object(value)?;
    check_properties(
        obj,
        &["tagStatus", "countType", "countNumber"],
        &[
            "tagStatus",
            "tagPrefixList",
            "tagPatternList",
            "countType",
            "countUnit",
            "countNumber",
        ],
    )?;
    let status = one_of(&obj["tagStatus"], TAG_STATUSES)?;
    let prefixes = obj.get("tagPrefixList").map(string_list).transpose()?;
    let patterns = obj.get("tagPatternList").map(string_list).transpose()?;
    let count_type = one_of(&obj["countType"], COUNT_TYPES)?;
    let unit = obj.get("countUnit").map(|v| one_of(v, COUNT_UNITS)).transpose()?;
    let number = positive_integer(&obj["countNumber"])?;

    for p in patterns.iter().flatten() {
        let wildcards = p.matches('*').count();
        if wildcards > MAX_WILDCARDS {
            return Err(fail(format!(
                "tagPatternList entry {} has {wildcards} wildcards; at most {MAX_WILDCARDS} are allowed (rulePriority {priority})",
                json_string(p)
            )));
        }
    }
    let tags = match (status, prefixes, patterns) {
        ("tagged", Some(prefixes), None) => TagSelection::Tagged {
            prefixes,
            patterns: Vec::new(),
        },
        ("tagged", None, Some(patterns)) => TagSelection::Tagged {
            prefixes: Vec::new(),
            patterns,
        },
        ("tagged", None, None) => {
            return Err(fail(format!(
                "tagPrefixList or tagPatternList is required when tagStatus is tagged (rulePriority {priority})"
            )));
        }
        ("tagged", Some(_), Some(_)) => {
            return Err(fail(format!(
                "tagPrefixList and tagPatternList cannot both be specified (rulePriority {priority})"
            )));
        }
        (_, Some(_), _) | (_, _, Some(_)) => {
            return Err(fail(format!(
                "tagPrefixList and tagPatternList are only allowed when tagStatus is tagged (rulePriority {priority})"
            )));
        }
        ("untagged", None, None) => TagSelection::Untagged,
        _ => TagSelection::Any,
    };
    let count = match (count_type, unit) {
        ("imageCountMoreThan", None) => Count::MoreThan(number),
        ("sinceImagePushed", Some(_)) => Count::SincePushedDays(number),
        ("sinceImagePulled", Some(_)) => Count::SincePulledDays(number),
        // What AWS answers when countUnit is present with imageCountMoreThan
        // or missing with sinceImagePushed: the selection schema is a oneOf.
        _ => {
            return Err(fail("instance failed to match exactly one schema (matched 0 out of 2)"));
        }
    };
    Ok(Selection { tags, count })
}

/// Rejects missing required properties, then properties outside `allowed`.
fn check_properties(obj: &Map<String, Value>, required: &[&str], allowed: &[&str]) -> Result<(), PolicyError> {
    let mut missing: Vec<&str> = required.iter().copied().filter(|k| !obj.contains_key(*k)).collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(fail(format!(
            "object has missing required properties ({})",
            json_list(missing)
        )));
    }
    let mut unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(fail(format!(
            "object instance has properties which are not allowed by the schema: ({})",
            json_list(unknown)
        )));
    }
    Ok(())
}

fn object(value: &Value) -> Result<&Map<String, Value>, PolicyError> {
    value.as_object().ok_or_else(|| wrong_type(value, "object"))
}

fn array(value: &Value) -> Result<&Vec<Value>, PolicyError> {
    value.as_array().ok_or_else(|| wrong_type(value, "array"))
}

fn string(value: &Value) -> Result<&str, PolicyError> {
    value.as_str().ok_or_else(|| wrong_type(value, "string"))
}

/// A non-empty array of strings.
fn string_list(value: &Value) -> Result<Vec<String>, PolicyError> {
    let items = array(value)?;
    if items.is_empty() {
        return Err(fail(
            "array is too short: must have at least 1 elements but instance has 0 elements",
        ));
    }
    items.iter().map(|v| string(v).map(str::to_owned)).collect()
}

/// A string that must be one of `values`; returns the matching constant.
fn one_of(value: &Value, values: &[&'static str]) -> Result<&'static str, PolicyError> {
    let s = string(value)?;
    values.iter().copied().find(|v| *v == s).ok_or_else(|| {
        fail(format!(
            "instance value ({s}) not found in enum (possible values: {})",
            json_list(values.iter().copied())
        ))
    })
}

/// An integer in 1..=u32::MAX (`rulePriority`, `countNumber`).
fn positive_integer(value: &Value) -> Result<u32, PolicyError> {
    let Value::Number(n) = value else {
        return Err(wrong_type(value, "integer"));
    };
    let too_low = |found: &dyn std::fmt::Display| {
        fail(format!(
            "numeric instance is lower than the required minimum (minimum: 1, found: {found})"
        ))
    };
    if let Some(u) = n.as_u64() {
        if u == 0 {
            return Err(too_low(&u));
        }
        u32::try_from(u).map_err(|_| {
            fail(format!(
                "numeric instance is greater than the required maximum (maximum: {}, found: {u})",
                u32::MAX
            ))
        })
    } else if let Some(i) = n.as_i64() {
        Err(too_low(&i))
    } else {
        Err(wrong_type(value, "integer"))
    }
}

fn wrong_type(value: &Value, allowed: &str) -> PolicyError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    fail(format!(
        "instance type ({found}) does not match any allowed primitive type (allowed: [\"{allowed}\"])"
    ))
}

fn fail(reason: impl Into<String>) -> PolicyError {
    PolicyError(reason.into())
}

fn json_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// `["a","b"]`, as the schema validator prints property names.
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    Value::from(items.into_iter().collect::<Vec<_>>()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

    /// A policy document around `rules`, padded to the minimum length.
    fn doc(rules: &str) -> String {
        format!("{{\"rules\": [{rules}]}}{:100}", "")
    }

    /// A rule with priority `priority` and the given selection members.
    fn rule(priority: u32, selection: &str) -> String {
        format!(r#"{{"rulePriority": {priority}, "selection": {{{selection}}}, "action": {{"type": "expire"}}}}"#)
    }

    /// The reason `text` is rejected for (the part after the prefix).
    fn reason(text: &str) -> String {
        let err = LifecyclePolicy::parse(text).expect_err("policy should be rejected");
        let full = err.to_string();
        assert!(full.starts_with(PREFIX), "{full}");
        assert!(full.ends_with('\''), "{full}");
        assert_eq!(full, format!("{PREFIX}{}'", err.0));
        err.0
    }

    fn rejects_selection(selection: &str) -> String {
        reason(&doc(&rule(1, selection)))
    }

    const KEEP_ONE: &str = r#""countType": "imageCountMoreThan", "countNumber": 1"#;

    #[test]
    fn display_is_the_full_ecr_message() {
        let e = PolicyError("object has missing required properties ([\"rules\"])".into());
        assert_eq!(
            e.to_string(),
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: object has missing required properties ([\"rules\"])'"
        );
    }

    #[test]
    fn not_json_or_not_an_object() {
        let msg = "Could not map policyString into LifecyclePolicy.";
        assert_eq!(reason(&format!("{{\"rules\": [{:100}", "")), msg);
        assert_eq!(reason(&format!("[{:100}]", "")), msg);
        assert_eq!(reason(&format!("\"{:100}\"", "")), msg);
        assert_eq!(reason(&format!("{:100}", "not json at all")), msg);
    }

    #[test]
    fn text_length_bounds() {
        assert!(reason(r#"{"rules": []}"#).contains("between 100 and 30720 characters"));
        let valid = doc(&rule(1, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)));
        let long = format!("{valid}{:30720}", "");
        assert!(reason(&long).contains(&format!("(found: {})", long.len())));
        // Counted in characters, not bytes.
        let text = doc(&rule(1, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)));
        let desc = "é".repeat(30_720 - text.chars().count() - 20);
        let text = text.replacen(
            "\"rulePriority\"",
            &format!("\"description\": \"{desc}\", \"rulePriority\""),
            1,
        );
        assert!(text.len() > MAX_TEXT_CHARS && text.chars().count() <= MAX_TEXT_CHARS);
        LifecyclePolicy::parse(&text).unwrap();
    }

    #[test]
    fn missing_rules() {
        assert_eq!(
            reason(&format!("{{\"ruless\": []}}{:100}", "")),
            r#"object has missing required properties (["rules"])"#
        );
    }

    #[test]
    fn missing_nested_properties() {
        assert_eq!(
            reason(&doc(r#"{"rulePriority": 1}"#)),
            r#"object has missing required properties (["action","selection"])"#
        );
        assert_eq!(
            rejects_selection(r#""tagStatus": "any""#),
            r#"object has missing required properties (["countNumber","countType"])"#
        );
        assert_eq!(
            reason(&doc(&format!(
                r#"{{"rulePriority": 1, "selection": {{"tagStatus": "any", {KEEP_ONE}}}, "action": {{}}}}"#
            ))),
            r#"object has missing required properties (["type"])"#
        );
    }

    #[test]
    fn unknown_properties_at_every_level() {
        let unknown =
            |x: &str| format!(r#"object instance has properties which are not allowed by the schema: (["{x}"])"#);
        assert_eq!(
            reason(&format!(
                "{{\"rules\": [{}], \"x\": 1}}",
                rule(1, &format!(r#""tagStatus": "any", {KEEP_ONE}"#))
            )),
            unknown("x")
        );
        assert_eq!(
            reason(&doc(&format!(
                r#"{{"rulePriority": 1, "x": 1, "selection": {{"tagStatus": "any", {KEEP_ONE}}}, "action": {{"type": "expire"}}}}"#
            ))),
            unknown("x")
        );
        // Newer AWS fields (§4.5) are unknown properties here.
        assert_eq!(
            rejects_selection(&format!(
                r#""tagStatus": "any", "storageClass": "standard", {KEEP_ONE}"#
            )),
            unknown("storageClass")
        );
        assert_eq!(
            reason(&doc(&format!(
                r#"{{"rulePriority": 1, "selection": {{"tagStatus": "any", {KEEP_ONE}}}, "action": {{"type": "expire", "targetStorageClass": "archive"}}}}"#
            ))),
            unknown("targetStorageClass")
        );
        // Several at once are all named, sorted.
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "any", "z": 1, "b": 2, {KEEP_ONE}"#)),
            r#"object instance has properties which are not allowed by the schema: (["b","z"])"#
        );
    }

    #[test]
    fn bad_enum_values() {
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "all", {KEEP_ONE}"#)),
            r#"instance value (all) not found in enum (possible values: ["tagged","untagged","any"])"#
        );
        assert!(
            rejects_selection(
                r#""tagStatus": "any", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 1"#
            )
            .starts_with("instance value (sinceImageTransitioned) not found in enum")
        );
        assert!(
            rejects_selection(
                r#""tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "hours", "countNumber": 1"#
            )
            .starts_with("instance value (hours) not found in enum")
        );
        assert_eq!(
            reason(&doc(&format!(
                r#"{{"rulePriority": 1, "selection": {{"tagStatus": "any", {KEEP_ONE}}}, "action": {{"type": "transition"}}}}"#
            ))),
            r#"instance value (transition) not found in enum (possible values: ["expire"])"#
        );
    }

    #[test]
    fn numbers_below_minimum_or_of_wrong_type() {
        assert_eq!(
            rejects_selection(r#""tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 0"#),
            "numeric instance is lower than the required minimum (minimum: 1, found: 0)"
        );
        assert_eq!(
            rejects_selection(r#""tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": -3"#),
            "numeric instance is lower than the required minimum (minimum: 1, found: -3)"
        );
        assert_eq!(
            reason(&doc(&rule(0, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)))),
            "numeric instance is lower than the required minimum (minimum: 1, found: 0)"
        );
        assert_eq!(
            rejects_selection(r#""tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 4294967296"#),
            "numeric instance is greater than the required maximum (maximum: 4294967295, found: 4294967296)"
        );
        assert_eq!(
            rejects_selection(r#""tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": "5""#),
            r#"instance type (string) does not match any allowed primitive type (allowed: ["integer"])"#
        );
        assert_eq!(
            rejects_selection(r#""tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1.5"#),
            r#"instance type (number) does not match any allowed primitive type (allowed: ["integer"])"#
        );
    }

    #[test]
    fn wrong_json_types() {
        assert_eq!(
            reason(&format!("{{\"rules\": {{}}}}{:100}", "")),
            r#"instance type (object) does not match any allowed primitive type (allowed: ["array"])"#
        );
        assert_eq!(
            reason(&doc("1")),
            r#"instance type (integer) does not match any allowed primitive type (allowed: ["object"])"#
        );
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "tagged", "tagPrefixList": null, {KEEP_ONE}"#)),
            r#"instance type (null) does not match any allowed primitive type (allowed: ["array"])"#
        );
        assert_eq!(
            rejects_selection(&format!(
                r#""tagStatus": "tagged", "tagPrefixList": ["a", 1], {KEEP_ONE}"#
            )),
            r#"instance type (integer) does not match any allowed primitive type (allowed: ["string"])"#
        );
        assert_eq!(
            reason(&doc(&format!(
                r#"{{"rulePriority": 1, "description": false, "selection": {{"tagStatus": "any", {KEEP_ONE}}}, "action": {{"type": "expire"}}}}"#
            ))),
            r#"instance type (boolean) does not match any allowed primitive type (allowed: ["string"])"#
        );
    }

    #[test]
    fn empty_rules_or_lists() {
        let too_short = "array is too short: must have at least 1 elements but instance has 0 elements";
        assert_eq!(reason(&doc("")), too_short);
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "tagged", "tagPrefixList": [], {KEEP_ONE}"#)),
            too_short
        );
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "tagged", "tagPatternList": [], {KEEP_ONE}"#)),
            too_short
        );
    }

    /// L10, first case: `tagged` with neither list; also with both.
    #[test]
    fn l10_tagged_needs_exactly_one_list() {
        assert_eq!(
            rejects_selection(&format!(r#""tagStatus": "tagged", {KEEP_ONE}"#)),
            "tagPrefixList or tagPatternList is required when tagStatus is tagged (rulePriority 1)"
        );
        assert_eq!(
            rejects_selection(&format!(
                r#""tagStatus": "tagged", "tagPrefixList": ["a"], "tagPatternList": ["a*"], {KEEP_ONE}"#
            )),
            "tagPrefixList and tagPatternList cannot both be specified (rulePriority 1)"
        );
    }

    /// L10: `untagged` (and `any`) with a list.
    #[test]
    fn l10_untagged_or_any_with_a_list() {
        for (status, list) in [
            ("untagged", "tagPrefixList"),
            ("untagged", "tagPatternList"),
            ("any", "tagPrefixList"),
        ] {
            assert_eq!(
                rejects_selection(&format!(r#""tagStatus": "{status}", "{list}": ["a"], {KEEP_ONE}"#)),
                "tagPrefixList and tagPatternList are only allowed when tagStatus is tagged (rulePriority 1)"
            );
        }
    }

    /// L10: `countUnit` with `imageCountMoreThan`, and none with a since* type.
    #[test]
    fn l10_count_unit_iff_since() {
        let one_of = "instance failed to match exactly one schema (matched 0 out of 2)";
        assert_eq!(
            rejects_selection(
                r#""tagStatus": "any", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1"#
            ),
            one_of
        );
        for since in ["sinceImagePushed", "sinceImagePulled"] {
            assert_eq!(
                rejects_selection(&format!(
                    r#""tagStatus": "any", "countType": "{since}", "countNumber": 1"#
                )),
                one_of
            );
        }
    }

    /// L10: `countNumber: 0`.
    #[test]
    fn l10_count_number_zero() {
        assert_eq!(
            rejects_selection(
                r#""tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 0"#
            ),
            "numeric instance is lower than the required minimum (minimum: 1, found: 0)"
        );
    }

    /// L10: a pattern with five wildcards; four are fine.
    #[test]
    fn l10_at_most_four_wildcards() {
        assert_eq!(
            rejects_selection(&format!(
                r#""tagStatus": "tagged", "tagPatternList": ["ok", "a*b*c*d*e*f"], {KEEP_ONE}"#
            )),
            r#"tagPatternList entry "a*b*c*d*e*f" has 5 wildcards; at most 4 are allowed (rulePriority 1)"#
        );
        // The AWS documentation's own examples of valid patterns.
        LifecyclePolicy::parse(&doc(&rule(
            1,
            &format!(r#""tagStatus": "tagged", "tagPatternList": ["*test*1*2*3", "test*1*2*3*"], {KEEP_ONE}"#),
        )))
        .unwrap();
    }

    /// L10: duplicate priorities.
    #[test]
    fn l10_duplicate_priorities() {
        // Distinct prefix sets, so only the priority clashes.
        let tagged = |prefix: &str| {
            rule(
                3,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["{prefix}"], {KEEP_ONE}"#),
            )
        };
        let text = doc(&format!("{}, {}", tagged("a"), tagged("b")));
        assert_eq!(
            reason(&text),
            "rulePriority 3 is used by more than one rule; rule priorities must be unique"
        );
    }

    /// L9: an `any` rule must have the highest priority.
    #[test]
    fn l9_any_must_have_the_highest_priority() {
        let text = doc(&format!(
            "{}, {}",
            rule(1, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)),
            rule(
                2,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["v"], {KEEP_ONE}"#)
            )
        ));
        assert_eq!(
            reason(&text),
            "the rule with tagStatus any must have the highest rulePriority (found: 1, highest: 2)"
        );
        // Two `any` rules: the lower one is not the highest.
        let text = doc(&format!(
            "{}, {}",
            rule(1, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)),
            rule(2, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)),
        ));
        assert!(reason(&text).starts_with("the rule with tagStatus any"));
    }

    #[test]
    fn one_untagged_rule_at_most() {
        let text = doc(&format!(
            "{}, {}",
            rule(1, &format!(r#""tagStatus": "untagged", {KEEP_ONE}"#)),
            rule(2, &format!(r#""tagStatus": "untagged", {KEEP_ONE}"#)),
        ));
        assert_eq!(reason(&text), "only one rule is allowed to select untagged images");
    }

    #[test]
    fn tag_prefix_sets_are_unique_across_rules() {
        let text = doc(&format!(
            "{}, {}",
            rule(
                1,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["prod", "v"], {KEEP_ONE}"#)
            ),
            rule(
                2,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["v", "prod"], {KEEP_ONE}"#)
            ),
        ));
        assert_eq!(
            reason(&text),
            r#"the set of rules must contain a unique set of tag prefixes (duplicate: ["v","prod"], in rulePriority 2)"#
        );
        // Overlapping but different sets are fine.
        let text = doc(&format!(
            "{}, {}",
            rule(
                1,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["prod"], {KEEP_ONE}"#)
            ),
            rule(
                2,
                &format!(r#""tagStatus": "tagged", "tagPrefixList": ["prod", "v"], {KEEP_ONE}"#)
            ),
        ));
        LifecyclePolicy::parse(&text).unwrap();
    }

    #[test]
    fn since_image_pulled_is_accepted() {
        let p = LifecyclePolicy::parse(&doc(&rule(
            1,
            r#""tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90"#,
        )))
        .unwrap();
        assert_eq!(p.rules[0].selection.count, Count::SincePulledDays(90));
    }

    #[test]
    fn rules_are_sorted_by_priority() {
        let text = doc(&format!(
            "{}, {}, {}",
            rule(30, &format!(r#""tagStatus": "any", {KEEP_ONE}"#)),
            rule(10, &format!(r#""tagStatus": "untagged", {KEEP_ONE}"#)),
            rule(
                20,
                &format!(r#""tagStatus": "tagged", "tagPatternList": ["*"], {KEEP_ONE}"#)
            ),
        ));
        let p = LifecyclePolicy::parse(&text).unwrap();
        let priorities: Vec<u32> = p.rules.iter().map(|r| r.priority).collect();
        assert_eq!(priorities, [10, 20, 30]);
    }

    /// The policies of the AWS documentation's examples, as spec §4.3 restates
    /// them, parse to what they say.
    #[test]
    fn aws_documentation_examples_parse() {
        let untagged_14_days = r#"{
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire images older than 14 days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 14
                    },
                    "action": {
                        "type": "expire"
                    }
                }
            ]
        }"#;
        assert_eq!(
            LifecyclePolicy::parse(untagged_14_days).unwrap(),
            LifecyclePolicy {
                rules: vec![Rule {
                    priority: 1,
                    description: Some("Expire images older than 14 days".into()),
                    selection: Selection {
                        tags: TagSelection::Untagged,
                        count: Count::SincePushedDays(14),
                    },
                }],
            }
        );

        let prod_pattern = r#"{
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Rule 1",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["prod*"],
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 14
                    },
                    "action": {"type": "expire"}
                }
            ]
        }"#;
        let p = LifecyclePolicy::parse(prod_pattern).unwrap();
        assert_eq!(
            p.rules[0].selection.tags,
            TagSelection::Tagged {
                prefixes: vec![],
                patterns: vec!["prod*".into()]
            }
        );

        let multiple_rules = r#"{
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Rule 1",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["prod"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1
                    },
                    "action": {"type": "expire"}
                },
                {
                    "rulePriority": 2,
                    "description": "Rule 2",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["beta"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1
                    },
                    "action": {"type": "expire"}
                }
            ]
        }"#;
        let p = LifecyclePolicy::parse(multiple_rules).unwrap();
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[1].selection.count, Count::MoreThan(1));

        let multiple_tags = r#"{
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Rule 1",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["alpha", "beta"],
                        "countType": "sinceImagePushed",
                        "countNumber": 5,
                        "countUnit": "days"
                    },
                    "action": {"type": "expire"}
                }
            ]
        }"#;
        let p = LifecyclePolicy::parse(multiple_tags).unwrap();
        assert_eq!(
            p.rules[0].selection,
            Selection {
                tags: TagSelection::Tagged {
                    prefixes: vec!["alpha".into(), "beta".into()],
                    patterns: vec![]
                },
                count: Count::SincePushedDays(5),
            }
        );

        let keep_latest_then_any = r#"{
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Only keep untagged images for 1 day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1
                    },
                    "action": {"type": "expire"}
                },
                {
                    "rulePriority": 2,
                    "description": "Keep the last 500 images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": 500
                    },
                    "action": {"type": "expire"}
                }
            ]
        }"#;
        let p = LifecyclePolicy::parse(keep_latest_then_any).unwrap();
        assert_eq!(p.rules[1].selection.tags, TagSelection::Any);
        assert_eq!(p.rules[1].selection.count, Count::MoreThan(500));
    }
}
