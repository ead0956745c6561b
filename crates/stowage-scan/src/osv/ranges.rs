//! Whether a version lies in an `affected[]` entry, by the OSV evaluation
//! algorithm (<https://ossf.github.io/osv-schema/#evaluation>), generic over the
//! version comparator.
//!
//! For each SEMVER or ECOSYSTEM range, the spec sorts the events by version
//! (`introduced: "0"` before everything) and sweeps them: an `introduced` at
//! or below the version turns "vulnerable" on, a `fixed` at or below it turns
//! it off, a `last_affected` below it turns it off. The outcome is therefore
//! set by the *last* event, in that order, that the version has reached: the
//! version is affected if that event is an `introduced`. That is what is
//! computed here, as a maximum over the events rather than a sort, so that a
//! comparator that is not a total order on odd inputs can give a wrong answer
//! but never a panic (std's sort may panic on such a comparator). Events the
//! comparator ranks equal keep their order in the record (the schema asks for
//! sorted events, so the record's order is the author's intent).
//!
//! A range is also bounded by its `limit` events, if any: the version must be
//! below one of them (`"*"` is no bound). GIT ranges, and types the schema
//! does not define, are not evaluated. The `versions` list matches too, by
//! equal string or by the comparator saying `Equal`.

use std::cmp::Ordering;

use super::model::{Affected, Event, Range};

/// The outcome of evaluating one `affected[]` entry for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    NotAffected,
    Affected {
        /// The version that fixes it, from the range(s) the version fell in;
        /// `None` when there is no fix, or the version only matched through
        /// the `versions` list.
        fixed_in: Option<String>,
    },
}

impl Verdict {
    pub fn is_affected(&self) -> bool {
        matches!(self, Verdict::Affected { .. })
    }
}

/// Whether `version` is affected per `affected`'s SEMVER/ECOSYSTEM ranges and
/// `versions` list. `compare(a, b)` orders two versions of the package's
/// scheme. An error comes back only when nothing matched and some comparison
/// failed (an invalid version in the query or in the record), since then the
/// answer is unknown.
pub fn affects<E>(
    affected: &Affected,
    version: &str,
    compare: impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<bool, E> {
    evaluate(affected, version, compare).map(|v| v.is_affected())
}

/// The version that fixes `version`, for the range it fell in (`fixedInVersion`);
/// `None` when it is not affected, when no fix is recorded, or when a comparison failed.
pub fn fixed_in<E>(
    affected: &Affected,
    version: &str,
    compare: impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Option<String> {
    match evaluate(affected, version, compare) {
        Ok(Verdict::Affected { fixed_in }) => fixed_in,
        _ => None,
    }
}

/// [`affects`] and [`fixed_in`] in one pass.
///
/// When the version falls in several ranges, the fix is the highest of their
/// fixes, and `None` if one of them has none: an upgrade has to leave all of them.
pub fn evaluate<E>(
    affected: &Affected,
    version: &str,
    compare: impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<Verdict, E> {
    let mut first_error = None;
    let mut fixes: Vec<Option<&str>> = Vec::new();
    for range in affected.ranges.iter().filter(|r| r.kind.is_version_range()) {
        match evaluate_range(range, version, &compare) {
            Ok(Some(fix)) => fixes.push(fix),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let listed = affected.versions.iter().any(|v| v == version)
        || affected
            .versions
            .iter()
            .any(|v| matches!(compare(version, v), Ok(Ordering::Equal)));
    if fixes.is_empty() && !listed {
        return match first_error {
            Some(e) => Err(e),
            None => Ok(Verdict::NotAffected),
        };
    }
    let fixed_in = if fixes.is_empty() || fixes.iter().any(Option::is_none) {
        None
    } else {
        fixes.into_iter().flatten().reduce(|a, b| {
            if matches!(compare(b, a), Ok(Ordering::Greater)) {
                b
            } else {
                a
            }
        })
    };
    Ok(Verdict::Affected {
        fixed_in: fixed_in.map(str::to_string),
    })
}

/// Whether `version` is in one range, whatever its type (GIT and unknown
/// types are never matched).
pub fn included_in_range<E>(
    range: &Range,
    version: &str,
    compare: impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<bool, E> {
    if !range.kind.is_version_range() {
        return Ok(false);
    }
    evaluate_range(range, version, &compare).map(|m| m.is_some())
}

/// `None` if `version` is outside the range, else `Some(fix)`.
fn evaluate_range<'r, E>(
    range: &'r Range,
    version: &str,
    compare: &impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<Option<Option<&'r str>>, E> {
    if !before_limits(range, version, compare)? {
        return Ok(None);
    }
    let events: Vec<(usize, &Event)> = range
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Event::Limit(_)))
        .collect();

    // The last event, in sorted order, that `version` has reached.
    let mut deciding: Option<(usize, &Event)> = None;
    for &(i, event) in &events {
        if reached(event, version, compare)? {
            deciding = match deciding {
                Some(d) if event_order(d, (i, event), compare)? == Ordering::Greater => Some(d),
                _ => Some((i, event)),
            };
        }
    }
    let Some(deciding) = deciding else { return Ok(None) };
    if !matches!(deciding.1, Event::Introduced(_)) {
        return Ok(None);
    }

    // The first closing event after it: its fix, if it is a `fixed`.
    let mut closing: Option<(usize, &Event)> = None;
    for &(i, event) in &events {
        if !matches!(event, Event::Fixed(_) | Event::LastAffected(_))
            || event_order((i, event), deciding, compare)? != Ordering::Greater
        {
            continue;
        }
        closing = match closing {
            Some(c) if event_order(c, (i, event), compare)? == Ordering::Less => Some(c),
            _ => Some((i, event)),
        };
    }
    Ok(Some(match closing {
        Some((_, Event::Fixed(v))) => Some(v.as_str()),
        _ => None,
    }))
}

fn is_zero(event: &Event) -> bool {
    matches!(event, Event::Introduced(v) if v == "0")
}

/// Whether the sweep, at `version`, would act on `event`.
fn reached<E>(event: &Event, version: &str, compare: &impl Fn(&str, &str) -> Result<Ordering, E>) -> Result<bool, E> {
    Ok(match event {
        e if is_zero(e) => true,
        Event::Introduced(v) | Event::Fixed(v) => compare(version, v)? != Ordering::Less,
        Event::LastAffected(v) => compare(version, v)? == Ordering::Greater,
        Event::Limit(_) => false,
    })
}

/// The sort order of events: by version, `introduced: "0"` first, ties by
/// position in the record.
fn event_order<E>(
    (ia, a): (usize, &Event),
    (ib, b): (usize, &Event),
    compare: &impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<Ordering, E> {
    let by_version = match (is_zero(a), is_zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare(a.version(), b.version())?,
    };
    Ok(by_version.then(ia.cmp(&ib)))
}

/// The spec's `BeforeLimits`: no limit, or below at least one (`*` is infinity).
fn before_limits<E>(
    range: &Range,
    version: &str,
    compare: &impl Fn(&str, &str) -> Result<Ordering, E>,
) -> Result<bool, E> {
    let mut any = false;
    let mut first_error = None;
    for event in &range.events {
        let Event::Limit(limit) = event else { continue };
        any = true;
        if limit.contains('*') {
            return Ok(true);
        }
        match compare(version, limit) {
            Ok(Ordering::Less) => return Ok(true),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(!any),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::osv::model::RangeType;

    /// Dotted numeric versions, compared field by field: enough to test the
    /// range logic without the real schemes.
    fn dotted(a: &str, b: &str) -> Result<Ordering, String> {
        let parse = |s: &str| {
            s.split('.')
                .map(|p| p.parse::<u64>().map_err(|_| format!("bad version {s:?}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let (mut a, mut b) = (parse(a)?, parse(b)?);
        let len = a.len().max(b.len());
        a.resize(len, 0);
        b.resize(len, 0);
        Ok(a.cmp(&b))
    }

    fn ev(spec: &str) -> Event {
        let (k, v) = spec.split_once(':').unwrap();
        let v = v.to_string();
        match k {
            "i" => Event::Introduced(v),
            "f" => Event::Fixed(v),
            "la" => Event::LastAffected(v),
            "l" => Event::Limit(v),
            _ => panic!("{k}"),
        }
    }

    fn range(kind: RangeType, events: &str) -> Range {
        Range {
            kind,
            repo: None,
            events: events.split_whitespace().map(ev).collect(),
            database_specific: None,
        }
    }

    fn affected(ranges: &[&str], versions: &[&str]) -> Affected {
        Affected {
            ranges: ranges.iter().map(|r| range(RangeType::Ecosystem, r)).collect(),
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ..Affected::default()
        }
    }

    fn check(a: &Affected, yes: &[&str], no: &[&str]) {
        for v in yes {
            assert_eq!(affects(a, v, dotted), Ok(true), "{v} should be affected by {a:?}");
        }
        for v in no {
            assert_eq!(affects(a, v, dotted), Ok(false), "{v} should not be affected by {a:?}");
        }
    }

    #[test]
    fn introduced_fixed() {
        let a = affected(&["i:0 f:1.2"], &[]);
        check(&a, &["0", "0.1", "1.1.9"], &["1.2", "1.2.0", "2"]);
        assert_eq!(fixed_in(&a, "1.0", dotted).as_deref(), Some("1.2"));
        assert_eq!(fixed_in(&a, "1.2", dotted), None);
    }

    #[test]
    fn unfixed_and_introduced_later() {
        check(&affected(&["i:0"], &[]), &["0", "9.9"], &[]);
        let a = affected(&["i:2"], &[]);
        check(&a, &["2", "3"], &["1.9"]);
        assert_eq!(fixed_in(&a, "3", dotted), None);
    }

    #[test]
    fn last_affected_is_inclusive() {
        let a = affected(&["i:1 la:2.1"], &[]);
        check(&a, &["1", "2.1", "2.1.0"], &["0.9", "2.1.1", "3"]);
        assert_eq!(fixed_in(&a, "2", dotted), None);
    }

    #[test]
    fn several_intervals_in_any_order() {
        // As PYSEC-2018-104 writes them: out of order, "0" in the middle.
        let a = affected(&["i:3.9.0 f:3.19.1 i:0 f:3.8.1 i:3.20.0 f:3.23.1"], &[]);
        check(
            &a,
            &["0.1", "3.8.0", "3.9.0", "3.19.0", "3.20.0", "3.23.0"],
            &["3.8.1", "3.8.5", "3.19.1", "3.19.9", "3.23.1", "4"],
        );
        assert_eq!(fixed_in(&a, "3.8.0", dotted).as_deref(), Some("3.8.1"));
        assert_eq!(fixed_in(&a, "3.10", dotted).as_deref(), Some("3.19.1"));
        assert_eq!(fixed_in(&a, "3.21", dotted).as_deref(), Some("3.23.1"));
    }

    #[test]
    fn adjacent_intervals_and_empty_interval() {
        // [1, 2) and [2, 3): 2 is in the second.
        check(&affected(&["i:1 f:2 i:2 f:3"], &[]), &["1", "2", "2.5"], &["0", "3"]);
        // [1, 1) is empty and must not open an unbounded range.
        check(&affected(&["i:1 f:1"], &[]), &[], &["0", "1", "5"]);
    }

    #[test]
    fn limits() {
        let a = affected(&["i:1 l:2"], &[]);
        check(&a, &["1", "1.9"], &["0", "2", "3"]);
        check(&affected(&["i:1 l:*"], &[]), &["1", "99"], &["0"]);
        // Several limits: below any one of them.
        check(&affected(&["i:1 l:2 l:5"], &[]), &["1", "4"], &["5", "0.5"]);
    }

    #[test]
    fn versions_list_and_ranges_are_alternatives() {
        let a = affected(&["i:5 f:6"], &["1.0", "2.0"]);
        check(&a, &["1.0", "2.0", "5.5"], &["1.5", "6"]);
        // Comparator equality counts: 1.0.0 is not listed verbatim.
        assert_eq!(
            affects(&a, "2", |x: &str, y: &str| dotted(
                &x.replace(".0", ""),
                &y.replace(".0", "")
            )),
            Ok(true)
        );
        // Matched only through the list: no fix known.
        assert_eq!(evaluate(&a, "1.0", dotted), Ok(Verdict::Affected { fixed_in: None }));
    }

    #[test]
    fn git_and_unknown_ranges_are_ignored() {
        let a = Affected {
            ranges: vec![
                range(RangeType::Git, "i:0 f:abc"),
                range(RangeType::Other("X".into()), "i:0"),
            ],
            ..Affected::default()
        };
        assert_eq!(affects(&a, "1", dotted), Ok(false));
        assert!(!included_in_range(&a.ranges[0], "1", dotted).unwrap());
        // A GIT range next to an ECOSYSTEM one: only the latter counts.
        let mut b = affected(&["i:0 f:2"], &[]);
        b.ranges.insert(0, range(RangeType::Git, "i:0 f:deadbeef"));
        check(&b, &["1"], &["2"]);
    }

    #[test]
    fn several_ranges_take_the_highest_fix() {
        let a = affected(&["i:0 f:2", "i:1 f:3"], &[]);
        assert_eq!(fixed_in(&a, "1.5", dotted).as_deref(), Some("3"));
        assert_eq!(fixed_in(&a, "0.5", dotted).as_deref(), Some("2"));
        // One of the matching ranges has no fix: none.
        let b = affected(&["i:0 f:2", "i:1"], &[]);
        assert_eq!(fixed_in(&b, "1.5", dotted), None);
        assert_eq!(affects(&b, "1.5", dotted), Ok(true));
    }

    #[test]
    fn errors_only_when_nothing_matched() {
        // The query version is unreadable.
        assert!(affects(&affected(&["i:0 f:2"], &[]), "x", dotted).is_err());
        // A bad version in one range does not hide a match in another.
        let a = affected(&["i:bad f:2", "i:0 f:3"], &[]);
        assert_eq!(affects(&a, "1", dotted), Ok(true));
        assert!(affects(&a, "4", dotted).is_err());
        // "0" is never compared, so it need not be a valid version.
        let zero_only = affected(&["i:0"], &[]);
        assert_eq!(
            affects(&zero_only, "1", |_: &str, _: &str| Err::<Ordering, _>("no")),
            Ok(true)
        );
    }

    #[test]
    fn an_inconsistent_comparator_does_not_panic() {
        // Says everything is below everything else.
        let liar = |_: &str, _: &str| Ok::<_, Infallible>(Ordering::Less);
        let a = affected(&["i:1 f:2 i:3 la:4 l:5", "i:0 f:9 i:7"], &["x"]);
        let _ = affects(&a, "3", liar);
        let _ = fixed_in(&a, "3", liar);
    }
}
