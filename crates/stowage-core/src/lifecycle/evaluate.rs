//! Evaluating a policy against a repository's images (spec §4.2).

use super::{Count, Expiry, ImageFacts, LifecyclePolicy};

/// One day in milliseconds; "more than N days" means more than N exact 24 h periods.
const DAY_MS: i64 = 86_400_000;

/// Which images `policy` expires at `now_ms`, oldest (by push time) first.
///
/// Every rule sees the full image set. An image is expired by at most one rule:
/// the first (by priority) whose tag requirement it meets, and only if that rule
/// marks it; later rules still count it when keeping their newest N. Equal push
/// times order by index, the later index being the newer image.
pub fn evaluate(policy: &LifecyclePolicy, images: &[ImageFacts<'_>], now_ms: i64) -> Vec<Expiry> {
    // Indices oldest first. Callers usually pass images in push order, which
    // the sort detects, so this is close to linear then.
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.sort_unstable_by_key(|&i| (images[i].pushed_at_ms, i));

    let mut seen = vec![false; images.len()];
    let mut expired_by: Vec<Option<u32>> = vec![None; images.len()];
    for rule in &policy.rules {
        let selection = &rule.selection;
        let mut kept = 0u32;
        // Newest first, so `kept` counts the candidates newer than this one.
        for &i in order.iter().rev() {
            let image = &images[i];
            if !selection.tags.matches(image.tags) {
                continue;
            }
            let marked = match selection.count {
                Count::MoreThan(n) => {
                    if kept < n {
                        kept += 1;
                        false
                    } else {
                        true
                    }
                }
                Count::SincePushedDays(days) => older_than(now_ms, image.pushed_at_ms, days),
                Count::SincePulledDays(days) => {
                    older_than(now_ms, image.last_pulled_at_ms.unwrap_or(image.pushed_at_ms), days)
                }
            };
            // An image expired by an earlier rule was seen by it too.
            if marked && !seen[i] {
                expired_by[i] = Some(rule.priority);
            }
            seen[i] = true;
        }
    }

    order
        .into_iter()
        .filter_map(|index| expired_by[index].map(|rule_priority| Expiry { index, rule_priority }))
        .collect()
}

/// Whether `at_ms` lies more than `days` days before `now_ms`.
fn older_than(now_ms: i64, at_ms: i64, days: u32) -> bool {
    now_ms.saturating_sub(at_ms) > i64::from(days) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Rule, Selection, TagSelection};
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    /// An image for a table test: its name, tags and age in days.
    struct Img {
        name: &'static str,
        tags: Vec<String>,
        age_days: i64,
    }

    fn img(name: &'static str, tags: &[&str], age_days: i64) -> Img {
        Img {
            name,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            age_days,
        }
    }

    /// Evaluates the policy text on `images` (given oldest first) and names
    /// what it expires, in result order.
    fn expired(policy: &str, images: &[Img]) -> Vec<&'static str> {
        let policy = LifecyclePolicy::parse(policy).unwrap();
        let facts: Vec<ImageFacts<'_>> = images
            .iter()
            .map(|i| ImageFacts {
                tags: &i.tags,
                pushed_at_ms: NOW - i.age_days * DAY_MS,
                last_pulled_at_ms: None,
            })
            .collect();
        evaluate(&policy, &facts, NOW)
            .into_iter()
            .map(|e| images[e.index].name)
            .collect()
    }

    /// A policy document from `(priority, selection members)` pairs.
    fn policy(rules: &[(u32, &str)]) -> String {
        let rules: Vec<String> = rules
            .iter()
            .map(|(p, sel)| {
                format!(r#"{{"rulePriority": {p}, "selection": {{{sel}}}, "action": {{"type": "expire"}}}}"#)
            })
            .collect();
        format!(r#"{{"rules": [{}]}}{:100}"#, rules.join(", "), "")
    }

    fn since(days: u32) -> String {
        format!(r#""countType": "sinceImagePushed", "countUnit": "days", "countNumber": {days}"#)
    }

    fn more_than(n: u32) -> String {
        format!(r#""countType": "imageCountMoreThan", "countNumber": {n}"#)
    }

    #[test]
    fn l1_untagged_since_pushed() {
        let images = [img("T1", &["v1"], 30), img("U1", &[], 20), img("U2", &[], 10)];
        let p = policy(&[(1, &format!(r#""tagStatus": "untagged", {}"#, since(14)))]);
        assert_eq!(expired(&p, &images), ["U1"]);
    }

    #[test]
    fn l2_untagged_count() {
        let images = [
            img("T1", &["v1"], 5),
            img("U1", &[], 3),
            img("U2", &[], 2),
            img("U3", &[], 1),
        ];
        let p = policy(&[(1, &format!(r#""tagStatus": "untagged", {}"#, more_than(1)))]);
        assert_eq!(expired(&p, &images), ["U1", "U2"]);
    }

    #[test]
    fn l3_tagged_pattern_since_pushed() {
        let images = [
            img("D1", &["dev"], 30),
            img("P1", &["prod-a"], 20),
            img("P2", &["prod-b"], 10),
        ];
        let p = policy(&[(
            1,
            &format!(r#""tagStatus": "tagged", "tagPatternList": ["prod*"], {}"#, since(14)),
        )]);
        assert_eq!(expired(&p, &images), ["P1"]);
    }

    fn l4_l5_images() -> [Img; 3] {
        [
            img("A", &["beta-1", "prod-1"], 10),
            img("B", &["beta-2", "prod-2"], 9),
            img("C", &["beta-3"], 8),
        ]
    }

    fn tagged(list: &str, entries: &str, count: &str) -> String {
        format!(r#""tagStatus": "tagged", "{list}": [{entries}], {count}"#)
    }

    #[test]
    fn l4_multiple_rules_prod_first_prefix() {
        let p = policy(&[
            (1, &tagged("tagPrefixList", r#""prod""#, &more_than(1))),
            (2, &tagged("tagPrefixList", r#""beta""#, &more_than(1))),
        ]);
        assert_eq!(expired(&p, &l4_l5_images()), ["A"]);
    }

    #[test]
    fn l4_multiple_rules_prod_first_pattern() {
        let p = policy(&[
            (1, &tagged("tagPatternList", r#""prod*""#, &more_than(1))),
            (2, &tagged("tagPatternList", r#""beta*""#, &more_than(1))),
        ]);
        assert_eq!(expired(&p, &l4_l5_images()), ["A"]);
    }

    #[test]
    fn l5_multiple_rules_beta_first_prefix() {
        let p = policy(&[
            (1, &tagged("tagPrefixList", r#""beta""#, &more_than(1))),
            (2, &tagged("tagPrefixList", r#""prod""#, &more_than(1))),
        ]);
        assert_eq!(expired(&p, &l4_l5_images()), ["A", "B"]);
    }

    #[test]
    fn l5_multiple_rules_beta_first_pattern() {
        let p = policy(&[
            (1, &tagged("tagPatternList", r#""beta*""#, &more_than(1))),
            (2, &tagged("tagPatternList", r#""prod*""#, &more_than(1))),
        ]);
        assert_eq!(expired(&p, &l4_l5_images()), ["A", "B"]);
    }

    fn l6_images() -> [Img; 6] {
        [
            img("A", &["alpha-1"], 12),
            img("B", &["beta-1"], 11),
            img("C", &["alpha-2", "beta-2"], 10),
            img("D", &["alpha-3"], 4),
            img("E", &["beta-3"], 3),
            img("F", &["alpha-4", "beta-4"], 2),
        ]
    }

    #[test]
    fn l6_multiple_tags_since_pushed_prefix() {
        let p = policy(&[(1, &tagged("tagPrefixList", r#""alpha", "beta""#, &since(5)))]);
        assert_eq!(expired(&p, &l6_images()), ["C"]);
    }

    #[test]
    fn l6_multiple_tags_since_pushed_pattern() {
        let p = policy(&[(1, &tagged("tagPatternList", r#""alpha*", "beta*""#, &since(5)))]);
        assert_eq!(expired(&p, &l6_images()), ["C"]);
    }

    #[test]
    fn l7_multiple_tags_count() {
        let images = [
            img("A", &["alpha-1", "beta-1", "gamma-1"], 10),
            img("B", &["alpha-2", "beta-2"], 9),
            img("C", &["alpha-3", "beta-3", "gamma-2"], 8),
        ];
        let p = policy(&[(1, &tagged("tagPrefixList", r#""alpha", "beta""#, &more_than(1)))]);
        assert_eq!(expired(&p, &images), ["A", "B"]);
    }

    #[test]
    fn l8_seen_images_are_safe_from_later_rules() {
        let images = [
            img("T1", &["latest"], 40),
            img("T2", &["v1"], 40),
            img("U1", &[], 40),
            img("U2", &[], 1),
        ];
        let p = policy(&[
            (1, &tagged("tagPrefixList", r#""latest""#, &more_than(1))),
            (2, &format!(r#""tagStatus": "any", {}"#, since(30))),
        ]);
        assert_eq!(expired(&p, &images), ["T2", "U1"]);
    }

    #[test]
    fn results_carry_the_expiring_rule() {
        let images = [img("U1", &[], 40), img("T1", &["v1"], 40), img("T2", &["v2"], 1)];
        let p = LifecyclePolicy::parse(&policy(&[
            (3, &format!(r#""tagStatus": "untagged", {}"#, since(30))),
            (7, &format!(r#""tagStatus": "any", {}"#, more_than(1))),
        ]))
        .unwrap();
        let facts: Vec<_> = images
            .iter()
            .map(|i| ImageFacts {
                tags: &i.tags,
                pushed_at_ms: NOW - i.age_days * DAY_MS,
                last_pulled_at_ms: None,
            })
            .collect();
        assert_eq!(
            evaluate(&p, &facts, NOW),
            [
                Expiry {
                    index: 0,
                    rule_priority: 3
                },
                Expiry {
                    index: 1,
                    rule_priority: 7
                },
            ]
        );
    }

    #[test]
    fn equal_push_times_the_later_index_is_newer() {
        let images = [img("X", &[], 5), img("Y", &[], 5), img("Z", &[], 5)];
        let p = policy(&[(1, &format!(r#""tagStatus": "any", {}"#, more_than(1)))]);
        assert_eq!(expired(&p, &images), ["X", "Y"]);
    }

    #[test]
    fn days_are_exact_24_hour_periods() {
        let p = LifecyclePolicy::parse(&policy(&[(1, &format!(r#""tagStatus": "any", {}"#, since(2)))])).unwrap();
        let tags: Vec<String> = vec![];
        let at = |pushed_at_ms| ImageFacts {
            tags: &tags,
            pushed_at_ms,
            last_pulled_at_ms: None,
        };
        let images = [at(NOW - 2 * DAY_MS - 1), at(NOW - 2 * DAY_MS), at(NOW)];
        let got: Vec<usize> = evaluate(&p, &images, NOW).iter().map(|e| e.index).collect();
        assert_eq!(got, [0]);
    }

    #[test]
    fn since_image_pulled_uses_last_pull_or_push() {
        let p = LifecyclePolicy::parse(&policy(&[(
            1,
            r#""tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30"#,
        )]))
        .unwrap();
        let tags: Vec<String> = vec!["v1".into()];
        let image = |pushed_days: i64, pulled_days: Option<i64>| ImageFacts {
            tags: &tags,
            pushed_at_ms: NOW - pushed_days * DAY_MS,
            last_pulled_at_ms: pulled_days.map(|d| NOW - d * DAY_MS),
        };
        let images = [
            image(100, Some(40)), // pulled long ago: expired
            image(100, Some(5)),  // old but pulled recently: kept
            image(100, None),     // never pulled, pushed long ago: expired
            image(10, None),      // never pulled, pushed recently: kept
            image(100, Some(30)), // exactly 30 days: not more than 30
        ];
        let got: Vec<usize> = evaluate(&p, &images, NOW).iter().map(|e| e.index).collect();
        assert_eq!(got, [0, 2]);
    }

    #[test]
    fn glob_edge_cases() {
        let pattern = |p: &str| TagSelection::Tagged {
            prefixes: vec![],
            patterns: vec![p.to_string()],
        };
        let m = |p: &str, tag: &str| pattern(p).matches(&[tag.to_string()]);
        assert!(m("prod*", "prod"));
        assert!(m("prod*", "prod1"));
        assert!(!m("prod*", "pro"));
        assert!(!m("prod*", "xprod"));
        assert!(m("*", "anything"));
        assert!(m("*", "a"));
        assert!(!pattern("*").matches(&[]), "a tagged rule needs a tag");
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a*b*c", "abcbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("a*b*c", "abcd"));
        assert!(m("*-1", "beta-1"));
        assert!(!m("*-1", "beta-10"));
        // Everything but '*' is literal, anchored at both ends.
        assert!(m("v1.0", "v1.0"));
        assert!(!m("v1.0", "v1x0"));
        assert!(m("x?y", "x?y"));
        assert!(!m("x?y", "xay"));
        assert!(!m("latest", "latest2"));
        assert!(!m("latest", "my-latest"));
        // The list is an AND over entries, each matched by any tag.
        let both = TagSelection::Tagged {
            prefixes: vec![],
            patterns: vec!["alpha*".into(), "*beta*".into()],
        };
        assert!(both.matches(&["alpha-1".into(), "x-beta".into()]));
        assert!(both.matches(&["alphabetas".into()]));
        assert!(!both.matches(&["alpha-1".into()]));
        let prefixes = TagSelection::Tagged {
            prefixes: vec!["prod".into(), "v".into()],
            patterns: vec![],
        };
        assert!(prefixes.matches(&["prod-1".into(), "v2".into()]));
        assert!(!prefixes.matches(&["prod-1".into(), "x".into()]));
    }

    // Property test: random images and random valid policies.

    const TAGS: &[&str] = &[
        "prod", "prod-1", "prod-2", "beta", "beta-2", "dev", "v1", "v10", "latest", "a.b", "x?y",
    ];
    const PREFIXES: &[&str] = &["prod", "prod-", "beta", "v", "v1", "latest", "x?", "a."];
    const PATTERNS: &[&str] = &[
        "prod*", "*", "*-1", "beta*", "v1*", "*.*", "x?y", "p*o*d", "latest", "*2", "*-*-*",
    ];
    /// Push times are whole days before `NOW`, so ties and exact boundaries are common.
    const MAX_AGE_DAYS: i64 = 40;

    #[derive(Clone, Debug)]
    struct TestImage {
        tags: Vec<String>,
        pushed_at_ms: i64,
        last_pulled_at_ms: Option<i64>,
    }

    fn arb_image() -> impl Strategy<Value = TestImage> {
        (
            prop::collection::vec(prop::sample::select(TAGS), 0..=6),
            0..=MAX_AGE_DAYS,
            prop::option::of(0..=MAX_AGE_DAYS),
        )
            .prop_map(|(mut tags, pushed, pulled)| {
                tags.sort_unstable();
                tags.dedup();
                TestImage {
                    tags: tags.into_iter().map(str::to_string).collect(),
                    pushed_at_ms: NOW - pushed * DAY_MS,
                    // A pull is never before the push.
                    last_pulled_at_ms: pulled.map(|d| NOW - d.min(pushed) * DAY_MS),
                }
            })
    }

    fn arb_selection() -> impl Strategy<Value = Selection> {
        let entries = |from: &'static [&'static str]| {
            prop::collection::vec(prop::sample::select(from), 1..=2)
                .prop_map(|v| v.into_iter().map(str::to_string).collect::<Vec<_>>())
        };
        let tags = prop_oneof![
            entries(PREFIXES).prop_map(|prefixes| TagSelection::Tagged {
                prefixes,
                patterns: vec![]
            }),
            entries(PATTERNS).prop_map(|patterns| TagSelection::Tagged {
                prefixes: vec![],
                patterns
            }),
            Just(TagSelection::Untagged),
            Just(TagSelection::Any),
        ];
        let count = prop_oneof![
            (1..6u32).prop_map(Count::MoreThan),
            (1..(MAX_AGE_DAYS as u32)).prop_map(Count::SincePushedDays),
            (1..(MAX_AGE_DAYS as u32)).prop_map(Count::SincePulledDays),
        ];
        (tags, count).prop_map(|(tags, count)| Selection { tags, count })
    }

    /// A valid policy: at most one untagged rule, an `any` rule only last,
    /// distinct prefix sets, increasing priorities with gaps.
    fn arb_policy() -> impl Strategy<Value = LifecyclePolicy> {
        (
            prop::collection::vec(arb_selection(), 1..=5),
            prop::collection::vec(1..4u32, 6),
            any::<bool>(),
            arb_selection(),
        )
            .prop_map(|(selections, gaps, end_with_any, last)| {
                let mut kept: Vec<Selection> = Vec::new();
                let mut prefix_sets: Vec<Vec<String>> = Vec::new();
                let mut untagged = false;
                for s in selections {
                    match &s.tags {
                        TagSelection::Any => continue,
                        TagSelection::Untagged if untagged => continue,
                        TagSelection::Untagged => untagged = true,
                        TagSelection::Tagged { prefixes, .. } if !prefixes.is_empty() => {
                            let mut set = prefixes.clone();
                            set.sort();
                            set.dedup();
                            if prefix_sets.contains(&set) {
                                continue;
                            }
                            prefix_sets.push(set);
                        }
                        TagSelection::Tagged { .. } => {}
                    }
                    kept.push(s);
                }
                if end_with_any || kept.is_empty() {
                    kept.push(Selection {
                        tags: TagSelection::Any,
                        count: last.count,
                    });
                }
                let mut priority = 0;
                let rules = kept
                    .into_iter()
                    .zip(gaps)
                    .map(|(selection, gap)| {
                        priority += gap;
                        Rule {
                            priority,
                            description: None,
                            selection,
                        }
                    })
                    .collect();
                LifecyclePolicy { rules }
            })
    }

    /// The policy as JSON, rules in reverse order (parse must sort them).
    fn to_json(policy: &LifecyclePolicy) -> String {
        let rules: Vec<serde_json::Value> = policy
            .rules
            .iter()
            .rev()
            .map(|r| {
                let mut sel = serde_json::Map::new();
                let status = match &r.selection.tags {
                    TagSelection::Tagged { prefixes, patterns } => {
                        if prefixes.is_empty() {
                            sel.insert("tagPatternList".into(), patterns.clone().into());
                        } else {
                            sel.insert("tagPrefixList".into(), prefixes.clone().into());
                        }
                        "tagged"
                    }
                    TagSelection::Untagged => "untagged",
                    TagSelection::Any => "any",
                };
                sel.insert("tagStatus".into(), status.into());
                let (count_type, n) = match r.selection.count {
                    Count::MoreThan(n) => ("imageCountMoreThan", n),
                    Count::SincePushedDays(n) => ("sinceImagePushed", n),
                    Count::SincePulledDays(n) => ("sinceImagePulled", n),
                };
                if count_type != "imageCountMoreThan" {
                    sel.insert("countUnit".into(), "days".into());
                }
                sel.insert("countType".into(), count_type.into());
                sel.insert("countNumber".into(), n.into());
                serde_json::json!({
                    "rulePriority": r.priority,
                    "selection": sel,
                    "action": {"type": "expire"},
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "rules": rules })).unwrap()
    }

    /// An independent glob: recursive, '*' matches any run, all else literal.
    fn glob(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|k| glob(rest, &t[k..])),
            Some((c, rest)) => t.first() == Some(c) && glob(rest, &t[1..]),
        }
    }

    /// §4.2.1 written out plainly, independent of `TagSelection::matches`.
    fn oracle_matches(tags: &TagSelection, image: &TestImage) -> bool {
        match tags {
            TagSelection::Tagged { prefixes, patterns } => {
                !image.tags.is_empty()
                    && prefixes
                        .iter()
                        .all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && patterns
                        .iter()
                        .all(|p| image.tags.iter().any(|t| glob(p.as_bytes(), t.as_bytes())))
            }
            TagSelection::Untagged => image.tags.is_empty(),
            TagSelection::Any => true,
        }
    }

    /// Whether `image` is newer than `other`: later push, or same push and later index.
    fn newer(images: &[TestImage], a: usize, b: usize) -> bool {
        (images[a].pushed_at_ms, a) > (images[b].pushed_at_ms, b)
    }

    /// Whether `rule` marks image `i`, computed from its definition.
    fn oracle_marks(rule: &Rule, images: &[TestImage], i: usize) -> bool {
        let image = &images[i];
        match rule.selection.count {
            Count::MoreThan(n) => {
                let newer_candidates = (0..images.len())
                    .filter(|&j| oracle_matches(&rule.selection.tags, &images[j]) && newer(images, j, i))
                    .count();
                newer_candidates >= n as usize
            }
            Count::SincePushedDays(d) => NOW - image.pushed_at_ms > i64::from(d) * DAY_MS,
            Count::SincePulledDays(d) => {
                NOW - image.last_pulled_at_ms.unwrap_or(image.pushed_at_ms) > i64::from(d) * DAY_MS
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn evaluation_invariants(
            images in prop::collection::vec(arb_image(), 0..40),
            policy in arb_policy(),
        ) {
            // The generated policy is valid and survives a trip through JSON.
            let text = to_json(&policy);
            prop_assert_eq!(&LifecyclePolicy::parse(&text).unwrap(), &policy);

            let facts: Vec<ImageFacts<'_>> = images
                .iter()
                .map(|i| ImageFacts {
                    tags: &i.tags,
                    pushed_at_ms: i.pushed_at_ms,
                    last_pulled_at_ms: i.last_pulled_at_ms,
                })
                .collect();
            let result = evaluate(&policy, &facts, NOW);

            // Deterministic.
            prop_assert_eq!(&evaluate(&policy, &facts, NOW), &result);

            // (1) No image is expired twice.
            let mut by_image: Vec<Option<u32>> = vec![None; images.len()];
            for e in &result {
                prop_assert!(by_image[e.index].is_none(), "image {} expired twice", e.index);
                by_image[e.index] = Some(e.rule_priority);
            }

            // (5) Oldest first, ties by index.
            for w in result.windows(2) {
                prop_assert!(newer(&images, w[1].index, w[0].index));
            }

            let rule_of = |p: u32| policy.rules.iter().find(|r| r.priority == p).unwrap();
            for (i, image) in images.iter().enumerate() {
                let first = policy
                    .rules
                    .iter()
                    .find(|r| oracle_matches(&r.selection.tags, image));
                // (3) Only the first rule whose tag requirement the image meets
                // (the rule that sees it) may expire it.
                if let Some(p) = by_image[i] {
                    prop_assert_eq!(Some(p), first.map(|r| r.priority));
                }
                // And that rule expires it exactly when it marks it.
                let expected = first
                    .filter(|r| oracle_marks(r, &images, i))
                    .map(|r| r.priority);
                prop_assert_eq!(by_image[i], expected, "image {}", i);
            }

            for e in &result {
                let rule = rule_of(e.rule_priority);
                let image = &images[e.index];
                prop_assert!(oracle_matches(&rule.selection.tags, image));
                match rule.selection.count {
                    // (2) A keep-N rule never expires one of its N newest candidates.
                    Count::MoreThan(n) => {
                        let newer_candidates = (0..images.len())
                            .filter(|&j| {
                                oracle_matches(&rule.selection.tags, &images[j])
                                    && newer(&images, j, e.index)
                            })
                            .count();
                        prop_assert!(newer_candidates >= n as usize);
                    }
                    // (4) A since rule expires only images older than its cutoff.
                    Count::SincePushedDays(d) => {
                        prop_assert!(NOW - image.pushed_at_ms > i64::from(d) * DAY_MS);
                    }
                    Count::SincePulledDays(d) => {
                        let t = image.last_pulled_at_ms.unwrap_or(image.pushed_at_ms);
                        prop_assert!(NOW - t > i64::from(d) * DAY_MS);
                    }
                }
            }
        }

        /// The result does not depend on the order images are passed in, except
        /// through the index tie-break: with distinct push times, permuting the
        /// input permutes the output.
        #[test]
        fn input_order_only_breaks_ties(
            images in prop::collection::vec(arb_image(), 0..30),
            policy in arb_policy(),
            seed in any::<u64>(),
        ) {
            // Make push times distinct (keeping their relative order).
            let mut images = images;
            let mut order: Vec<usize> = (0..images.len()).collect();
            order.sort_by_key(|&i| (images[i].pushed_at_ms, i));
            for (rank, &i) in order.iter().enumerate() {
                images[i].pushed_at_ms = images[i].pushed_at_ms * 64 + rank as i64;
                images[i].last_pulled_at_ms = images[i].last_pulled_at_ms.map(|t| t * 64);
            }
            let now = NOW * 64;
            // A permutation from the seed.
            let mut perm: Vec<usize> = (0..images.len()).collect();
            perm.sort_by_key(|&i| (i as u64).wrapping_mul(seed | 1).rotate_left(17) ^ seed);
            let facts = |idx: &[usize]| -> Vec<ImageFacts<'_>> {
                idx.iter()
                    .map(|&i| ImageFacts {
                        tags: &images[i].tags,
                        pushed_at_ms: images[i].pushed_at_ms,
                        last_pulled_at_ms: images[i].last_pulled_at_ms,
                    })
                    .collect()
            };
            let identity: Vec<usize> = (0..images.len()).collect();
            let plain = evaluate(&policy, &facts(&identity), now);
            let permuted: Vec<Expiry> = evaluate(&policy, &facts(&perm), now)
                .into_iter()
                .map(|e| Expiry { index: perm[e.index], ..e })
                .collect();
            prop_assert_eq!(plain, permuted);
        }
    }

    /// Timing for a large repository; run with
    /// `cargo test -p stowage-core --release lifecycle -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check"]
    fn timing_100k_images() {
        let n = 100_000;
        let tag_sets: Vec<Vec<String>> = (0..n)
            .map(|i| match i % 5 {
                0 => vec![],
                1 => vec![format!("prod-{i}")],
                2 => vec![format!("beta-{i}"), format!("sha-{i:x}")],
                3 => vec![format!("v1.{i}"), "latest-candidate".to_string()],
                _ => vec![format!("dev-{i}"), format!("feature-{}", i % 97), format!("build-{i}")],
            })
            .collect();
        let images: Vec<ImageFacts<'_>> = tag_sets
            .iter()
            .enumerate()
            .map(|(i, tags)| ImageFacts {
                tags,
                pushed_at_ms: NOW - (n - i) as i64 * 60_000,
                last_pulled_at_ms: (i % 3 == 0).then(|| NOW - (i % 50) as i64 * DAY_MS),
            })
            .collect();
        let policy = LifecyclePolicy::parse(&policy(&[
            (1, &tagged("tagPrefixList", r#""prod""#, &more_than(1000))),
            (2, &tagged("tagPatternList", r#""v1.*", "latest*""#, &more_than(50))),
            (3, &tagged("tagPatternList", r#""*-*""#, &since(30))),
            (4, &format!(r#""tagStatus": "untagged", {}"#, since(7))),
            (
                5,
                r#""tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30"#,
            ),
        ]))
        .unwrap();
        let runs = 10;
        let start = std::time::Instant::now();
        let mut expired = 0;
        for _ in 0..runs {
            expired = std::hint::black_box(evaluate(&policy, &images, NOW)).len();
        }
        let each = start.elapsed() / runs;
        eprintln!("evaluate: {n} images, 5 rules, {expired} expired: {each:?} per run");
    }
}
