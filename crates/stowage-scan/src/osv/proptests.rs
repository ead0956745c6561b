//! Property tests: range evaluation against a literal transcription of the
//! schema's pseudocode and against plain interval membership, and `parse`
//! on random and mutated bytes.

use std::cmp::Ordering;
use std::path::PathBuf;

use proptest::prelude::*;

use super::model::{Affected, Event, Format, Range, RangeType, parse};
use super::ranges::{Verdict, evaluate};
use super::severity::severity;

/// Versions are integers written out; `"0"` is only ever the special introduced.
fn int(a: &str, b: &str) -> Result<Ordering, String> {
    let n = |s: &str| s.parse::<u32>().map_err(|_| format!("{s:?}"));
    Ok(n(a)?.cmp(&n(b)?))
}

const TOP: u32 = 20;

/// `cases` cases; a failure is reported with its minimal input, not written
/// to a `proptest-regressions/` file beside the sources.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn event() -> impl Strategy<Value = Event> {
    let v = || (1..=TOP).prop_map(|n| n.to_string());
    prop_oneof![
        4 => v().prop_map(Event::Introduced),
        1 => Just(Event::Introduced("0".into())),
        4 => v().prop_map(Event::Fixed),
        2 => v().prop_map(Event::LastAffected),
        1 => v().prop_map(Event::Limit),
        1 => Just(Event::Limit("*".into())),
    ]
}

fn range() -> impl Strategy<Value = Range> {
    (
        prop::collection::vec(event(), 0..8),
        prop_oneof![4 => Just(RangeType::Ecosystem), 1 => Just(RangeType::Semver), 1 => Just(RangeType::Git)],
    )
        .prop_map(|(events, kind)| Range {
            kind,
            repo: None,
            events,
            database_specific: None,
        })
}

fn affected() -> impl Strategy<Value = Affected> {
    (
        prop::collection::vec(range(), 0..4),
        prop::collection::vec((1..=TOP).prop_map(|n| n.to_string()), 0..3),
    )
        .prop_map(|(ranges, versions)| Affected {
            ranges,
            versions,
            ..Affected::default()
        })
}

/// The schema's `IncludedInRange` as written, over integers: a stable sort by
/// version (`"0"` first), then the sweep. Returns the fix too: the first
/// `fixed`/`last_affected` after the last event the version reached.
fn oracle_range(range: &Range, v: u32) -> Option<Option<u32>> {
    let key = |e: &Event| {
        if matches!(e, Event::Introduced(x) if x == "0") {
            -1
        } else {
            i64::from(e.version().parse::<u32>().unwrap())
        }
    };
    let limits: Vec<&Event> = range.events.iter().filter(|e| matches!(e, Event::Limit(_))).collect();
    let before_limits = limits.is_empty() || limits.iter().any(|l| l.version() == "*" || i64::from(v) < key(l));
    if !before_limits {
        return None;
    }
    let mut sorted: Vec<&Event> = range.events.iter().filter(|e| !matches!(e, Event::Limit(_))).collect();
    sorted.sort_by_key(|e| key(e)); // stable
    let v = i64::from(v);
    let mut vulnerable = false;
    let mut last_reached = None;
    for (i, e) in sorted.iter().enumerate() {
        let reached = match e {
            Event::Introduced(_) => v >= key(e),
            Event::Fixed(_) => v >= key(e),
            Event::LastAffected(_) => v > key(e),
            Event::Limit(_) => unreachable!(),
        };
        if reached {
            vulnerable = matches!(e, Event::Introduced(_));
            last_reached = Some(i);
        }
    }
    if !vulnerable {
        return None;
    }
    let closing = sorted[last_reached.unwrap() + 1..]
        .iter()
        .find(|e| matches!(e, Event::Fixed(_) | Event::LastAffected(_)));
    Some(match closing {
        Some(Event::Fixed(f)) => Some(f.parse().unwrap()),
        _ => None,
    })
}

fn oracle(affected: &Affected, v: u32) -> Verdict {
    let fixes: Vec<Option<u32>> = affected
        .ranges
        .iter()
        .filter(|r| r.kind != RangeType::Git)
        .filter_map(|r| oracle_range(r, v))
        .collect();
    let listed = affected.versions.contains(&v.to_string());
    if fixes.is_empty() && !listed {
        return Verdict::NotAffected;
    }
    let fixed_in = if fixes.is_empty() || fixes.contains(&None) {
        None
    } else {
        fixes.into_iter().flatten().max()
    };
    Verdict::Affected {
        fixed_in: fixed_in.map(|f| f.to_string()),
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn evaluation_agrees_with_the_spec_pseudocode(a in affected(), v in 1..=TOP + 1) {
        prop_assert_eq!(evaluate(&a, &v.to_string(), int), Ok(oracle(&a, v)));
    }

    /// Well-formed ranges: ascending bounds b0 < b1 < …, paired as
    /// [b0, b1), [b2, b3), …, the last possibly open or closed by
    /// `last_affected`, the events listed in a shuffled order.
    #[test]
    fn evaluation_is_interval_membership(
        mut bounds in prop::collection::btree_set(1..=TOP, 1..8),
        open_end in any::<bool>(),
        last_inclusive in any::<bool>(),
        order in any::<u64>(),
        v in 1..=TOP + 1,
    ) {
        let bounds: Vec<u32> = std::mem::take(&mut bounds).into_iter().collect();
        let mut intervals: Vec<(u32, Option<u32>, bool)> = bounds.chunks(2).map(|c| (c[0], c.get(1).copied(), false)).collect();
        if open_end && intervals.last().is_some_and(|i| i.1.is_some()) {
            intervals.push((TOP + 5, None, false));
        }
        if last_inclusive && let Some(last) = intervals.last_mut() && last.1.is_some() {
            last.2 = true;
        }
        let mut events: Vec<Event> = Vec::new();
        for (lo, hi, inclusive) in &intervals {
            events.push(Event::Introduced(lo.to_string()));
            if let Some(hi) = hi {
                events.push(if *inclusive { Event::LastAffected(hi.to_string()) } else { Event::Fixed(hi.to_string()) });
            }
        }
        // A deterministic shuffle from the drawn seed.
        let mut seed = order;
        for i in (1..events.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            events.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let a = Affected {
            ranges: vec![Range { kind: RangeType::Ecosystem, repo: None, events, database_specific: None }],
            ..Affected::default()
        };
        let expected = intervals.iter().find_map(|&(lo, hi, inclusive)| {
            let inside = v >= lo && hi.is_none_or(|hi| if inclusive { v <= hi } else { v < hi });
            inside.then(|| hi.filter(|_| !inclusive).map(|h| h.to_string()))
        });
        let got = evaluate(&a, &v.to_string(), int).unwrap();
        prop_assert_eq!(got, match expected {
            None => Verdict::NotAffected,
            Some(fixed_in) => Verdict::Affected { fixed_in },
        });
    }
}

fn testdata_files() -> Vec<(Vec<u8>, Format)> {
    fn walk(dir: PathBuf, out: &mut Vec<(Vec<u8>, Format)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(path, out);
            } else if let Some(format) = Format::from_path(&path) {
                out.push((std::fs::read(&path).unwrap(), format));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/advisories"),
        &mut out,
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Flip(i, x) if !bytes.is_empty() => {
            let i = i % bytes.len();
            bytes[i] ^= x;
        }
        Mutation::Flip(..) => {}
        Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
        Mutation::Insert(i, b) => {
            let i = at(*i, bytes.len());
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Duplicate(i, n, to) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            let piece = bytes[i..end].to_vec();
            let to = at(*to, bytes.len());
            bytes.splice(to..to, piece);
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        prop::sample::select(vec![
            b"{".to_vec(),
            b"}".to_vec(),
            b"[".to_vec(),
            b"\"".to_vec(),
            b": ".to_vec(),
            b"\n- ".to_vec(),
            b"&a ".to_vec(),
            b"*a".to_vec(),
            b"!!binary ".to_vec(),
            b"null".to_vec(),
            b"\xff".to_vec(),
            b"\t".to_vec(),
            b"  ".to_vec(),
            b"\"introduced\": \"0\", \"fixed\": \"1\"".to_vec(),
            b"? ".to_vec(),
            b"<<: ".to_vec(),
        ]),
    ];
    prop_oneof![
        3 => (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<usize>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<usize>(), 1..256usize, any::<usize>()).prop_map(|(i, n, t)| Mutation::Duplicate(i, n, t)),
    ]
}

/// What an importer does with a record: parse, then rate and evaluate it.
fn exercise(bytes: &[u8], format: Format) {
    if let Ok(a) = parse(bytes, format) {
        for affected in &a.affected {
            let _ = severity(&a, affected);
            let _ = evaluate(affected, "1.0.0", |x: &str, y: &str| Ok::<_, ()>(x.cmp(y)));
        }
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn parse_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), yaml in any::<bool>()) {
        exercise(&bytes, if yaml { Format::Yaml } else { Format::Json });
    }

    #[test]
    fn parse_never_panics_on_mutated_records(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
        swap_format in any::<bool>(),
    ) {
        let files = testdata_files();
        let (bytes, format) = &files[pick.index(files.len())];
        let mut bytes = bytes.clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        let format = match (format, swap_format) {
            (f, false) => *f,
            (Format::Json, true) => Format::Yaml,
            (Format::Yaml, true) => Format::Json,
        };
        exercise(&bytes, format);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_json = format!(
        r#"{{"id":"X","modified":"m","database_specific":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(deep_json.as_bytes(), Format::Json).is_err());
    let deep_yaml = format!(
        "id: X\nmodified: m\ndatabase_specific: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(deep_yaml.as_bytes(), Format::Yaml).is_err());
    // Anchors expanding exponentially (a "billion laughs") are refused too.
    let mut laughs = String::from(
        "id: X\nmodified: m\ndatabase_specific:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let prev = i - 1;
        laughs.push_str(&format!(
            "  a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    assert!(parse(laughs.as_bytes(), Format::Yaml).is_err());
}
