//! Maven versions, ordered as Maven's own
//! `org.apache.maven.artifact.versioning.ComparableVersion` orders them: the
//! algorithm of Maven 3.8.7 and 3.9 (after MNG-7644, which made `1.0.0.RC1` read
//! like `1.0.0-RC1`; Maven 4 rewrote it again), checked against the
//! maven-artifact 3.8.7 jar.
//!
//! Accepted: any ASCII string, as Maven reads any string. Non-ASCII text is an
//! [`InvalidVersion`]: Maven would lowercase it with Java's Unicode tables, take
//! any Unicode decimal digit for a digit and compare UTF-16 code units, none of
//! which this reproduces, and no real Maven version needs it.
//!
//! The algorithm, on the lowercased version:
//! - it is split into items at `.` and `-`, and where digits meet non-digits
//!   (`1.0alpha1` reads as `1.0-alpha-1`); an empty item (`1..2`, `-1`) is `0`;
//! - a `-`, and a letters-to-digits or digits-to-letters transition, opens a
//!   sub-list that holds the rest of the version; a run of letters ending the
//!   version or followed by digits, after other items of its list, opens one
//!   too (so `1.a` = `1-a`);
//! - numbers are numbers, at any length, compared by value — with one quirk
//!   kept: Maven stores up to 9 digits as an `int`, up to 18 as a `long`, more
//!   as a `BigInteger`, counting digits after leading zeros are stripped unless
//!   the number is all zeros, and orders `int` < `long` < `BigInteger`
//!   regardless of value; so `0000000000` (a `long` zero) is above `5`;
//! - letters are qualifiers: `alpha` < `beta` < `milestone` < `rc` < `snapshot` <
//!   `""` < `sp` < any other word, other words in ASCII order; `a`, `b` and `m`
//!   directly followed by a digit are `alpha`, `beta` and `milestone`; `cr` is
//!   `rc`; `ga`, `final` and `release` are `""`;
//! - trailing "null" items (`0`, `""`, empty sub-lists) are dropped from every
//!   list, innermost first, skipping over a non-empty sub-list (so `1.0-x` =
//!   `1-x`);
//! - lists compare item by item, a missing item counting as "null": a number
//!   is above null unless 0, a qualifier is above or below null as it is above
//!   or below `""`, a sub-list compares to null as its first item that does
//!   not; a number is above a sub-list, which is above a qualifier.
//!
//! That is not a total order, and this module keeps Maven's answers, cycles
//! included: `1.sp1` < `1ga-a1` < `1.0` < `1.sp1` for Maven too. Versions shaped
//! as releases usually are (numbers, then qualifiers after `-` or straight after
//! a number, no `ga` / `final` / `release` / `-0` in the middle) are ordered
//! transitively.

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two Maven versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    if !a.is_ascii() {
        return Err(InvalidVersion::new(Scheme::Maven, a));
    }
    if !b.is_ascii() {
        return Err(InvalidVersion::new(Scheme::Maven, b));
    }
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    Ok(order(&parse(&a), &parse(&b)))
}

/// A number: Maven's item type (`int` < `long` < `BigInteger`, by digit count)
/// and its digits without leading zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Number<'a> {
    width: Width,
    digits: Num<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Width {
    Int,
    Long,
    Big,
}

/// Digits without leading zeros: comparing length then text compares values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Num<'a>(&'a str);

impl Ord for Num<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Num<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Number<'a> {
    const ZERO: Number<'static> = Number {
        width: Width::Int,
        digits: Num(""),
    };

    fn new(digits: &'a str) -> Self {
        let stripped = digits.trim_start_matches('0');
        // Maven's stripLeadingZeroes keeps an all-zeros string whole.
        let length = if stripped.is_empty() {
            digits.len()
        } else {
            stripped.len()
        };
        let width = match length {
            0..=9 => Width::Int,
            10..=18 => Width::Long,
            _ => Width::Big,
        };
        Number {
            width,
            digits: Num(stripped),
        }
    }

    fn is_zero(self) -> bool {
        self.digits.0.is_empty()
    }
}

/// A qualifier's rank: the known ones in order, then everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Qualifier<'a> {
    Alpha,
    Beta,
    Milestone,
    Rc,
    Snapshot,
    Release,
    Sp,
    Other(&'a str),
}

impl<'a> Qualifier<'a> {
    fn new(word: &'a str, followed_by_digit: bool) -> Self {
        match word {
            "a" if followed_by_digit => Qualifier::Alpha,
            "b" if followed_by_digit => Qualifier::Beta,
            "m" if followed_by_digit => Qualifier::Milestone,
            "alpha" => Qualifier::Alpha,
            "beta" => Qualifier::Beta,
            "milestone" => Qualifier::Milestone,
            "rc" | "cr" => Qualifier::Rc,
            "snapshot" => Qualifier::Snapshot,
            "" | "ga" | "final" | "release" => Qualifier::Release,
            "sp" => Qualifier::Sp,
            other => Qualifier::Other(other),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item<'a> {
    Number(Number<'a>),
    Qualifier(Qualifier<'a>),
}

impl Item<'_> {
    fn is_null(self) -> bool {
        match self {
            Item::Number(n) => n.is_zero(),
            Item::Qualifier(q) => q == Qualifier::Release,
        }
    }

    fn parse(digits: bool, text: &str) -> Item<'_> {
        if digits {
            Item::Number(Number::new(text))
        } else {
            Item::Qualifier(Qualifier::new(text, false))
        }
    }
}

/// A parsed version. Maven's lists nest as a chain, each sub-list being the
/// last element of its parent, so the version is kept as the chain's levels:
/// level `k + 1`, when there is one, is the last element of level `k`.
type Levels<'a> = Vec<Vec<Item<'a>>>;

/// `ComparableVersion.parseVersion`, on lowercase ASCII text.
fn parse(text: &str) -> Levels<'_> {
    let bytes = text.as_bytes();
    let mut levels: Levels<'_> = vec![Vec::new()];
    let mut digits = false;
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let current = levels.len() - 1;
        match c {
            b'.' | b'-' => {
                let item = if i == start {
                    Item::Number(Number::ZERO)
                } else {
                    Item::parse(digits, &text[start..i])
                };
                levels[current].push(item);
                start = i + 1;
                if c == b'-' {
                    levels.push(Vec::new());
                }
            }
            b'0'..=b'9' => {
                if !digits && i > start {
                    // Letters then a digit: `a1` is `alpha-1`.
                    if !levels[current].is_empty() {
                        levels.push(Vec::new());
                    }
                    let current = levels.len() - 1;
                    levels[current].push(Item::Qualifier(Qualifier::new(&text[start..i], true)));
                    start = i;
                    levels.push(Vec::new());
                }
                digits = true;
            }
            _ => {
                if digits && i > start {
                    levels[current].push(Item::parse(true, &text[start..i]));
                    start = i;
                    levels.push(Vec::new());
                }
                digits = false;
            }
        }
    }
    if text.len() > start {
        if !digits && !levels[levels.len() - 1].is_empty() {
            levels.push(Vec::new());
        }
        let current = levels.len() - 1;
        levels[current].push(Item::parse(digits, &text[start..]));
    }

    // ListItem.normalize, innermost list first: a sub-list left empty goes,
    // then null items go from the end of the items before it, up to the first
    // other one.
    for k in (0..levels.len()).rev() {
        if levels.len() == k + 2 && levels[k + 1].is_empty() {
            levels.pop();
        }
        while levels[k].last().is_some_and(|item| item.is_null()) {
            levels[k].pop();
        }
    }
    levels
}

/// An element of a level: an item, or the sub-list that is the next level.
#[derive(Clone, Copy)]
enum Element<'a> {
    Item(Item<'a>),
    List(usize),
}

fn element<'a>(levels: &Levels<'a>, k: usize, i: usize) -> Option<Element<'a>> {
    let list = &levels[k];
    if i < list.len() {
        Some(Element::Item(list[i]))
    } else if i == list.len() && k + 1 < levels.len() {
        Some(Element::List(k + 1))
    } else {
        None
    }
}

/// `Item.compareTo(null)`.
fn item_vs_null(item: Item<'_>) -> Ordering {
    match item {
        Item::Number(n) if n.is_zero() => Ordering::Equal,
        Item::Number(_) => Ordering::Greater,
        Item::Qualifier(q) => q.cmp(&Qualifier::Release),
    }
}

/// `ListItem.compareTo(null)` for the list at level `k`: its first element that
/// is not equal to null decides.
fn list_vs_null(levels: &Levels<'_>, mut k: usize) -> Ordering {
    loop {
        for &item in &levels[k] {
            let order = item_vs_null(item);
            if order != Ordering::Equal {
                return order;
            }
        }
        if k + 1 < levels.len() {
            k += 1;
        } else {
            return Ordering::Equal;
        }
    }
}

fn item_vs_item(a: Item<'_>, b: Item<'_>) -> Ordering {
    match (a, b) {
        (Item::Number(x), Item::Number(y)) => x.cmp(&y),
        (Item::Number(_), Item::Qualifier(_)) => Ordering::Greater,
        (Item::Qualifier(_), Item::Number(_)) => Ordering::Less,
        (Item::Qualifier(x), Item::Qualifier(y)) => x.cmp(&y),
    }
}

/// `ListItem.compareTo`, from the top-level lists down the chains.
fn order(a: &Levels<'_>, b: &Levels<'_>) -> Ordering {
    let (mut ka, mut kb) = (0, 0);
    'lists: loop {
        let mut i = 0;
        loop {
            let order = match (element(a, ka, i), element(b, kb, i)) {
                (None, None) => return Ordering::Equal,
                (Some(Element::Item(x)), Some(Element::Item(y))) => item_vs_item(x, y),
                (Some(Element::Item(x)), None) => item_vs_null(x),
                (None, Some(Element::Item(y))) => item_vs_null(y).reverse(),
                // A number is above a sub-list, a sub-list above a qualifier.
                (Some(Element::Item(Item::Number(_))), Some(Element::List(_))) => Ordering::Greater,
                (Some(Element::Item(Item::Qualifier(_))), Some(Element::List(_))) => Ordering::Less,
                (Some(Element::List(_)), Some(Element::Item(Item::Number(_)))) => Ordering::Less,
                (Some(Element::List(_)), Some(Element::Item(Item::Qualifier(_)))) => Ordering::Greater,
                // Sub-lists are last in their lists: what they compare to
                // decides.
                (Some(Element::List(x)), Some(Element::List(y))) => {
                    (ka, kb) = (x, y);
                    continue 'lists;
                }
                (Some(Element::List(x)), None) => return list_vs_null(a, x),
                (None, Some(Element::List(y))) => return list_vs_null(b, y).reverse(),
            };
            if order != Ordering::Equal {
                return order;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::process::Command;

    use proptest::prelude::*;

    use super::compare;
    use crate::version::vectors;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Lines of the vector files that Maven 3.8.7 and 3.9 answer differently:
    /// the files predate MNG-7644 (Maven ≤ 3.8.6 read `1.0.0.RC1` as
    /// `[1, rc, [1]]`, since 3.8.7 as `[1, [rc, [1]]]`, like `1.0.0-RC1`) and keep
    /// `1-1 = 1-ga-1` from older Maven still. Each with the answer of the
    /// maven-artifact 3.8.7 jar, which the differential test below re-checks.
    const STALE: [(&str, &str, Ordering); 19] = [
        ("maven-versions.txt", "1-1 = 1-ga-1", Ordering::Greater),
        (
            "maven-versions-generated.txt",
            "1.0.0-RC16 < 1.0.0.RC8-beta",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3",
            Ordering::Greater,
        ),
        ("maven-versions-generated.txt", "2.9.0-1 < 2.9.0.RC1", Ordering::Greater),
        (
            "maven-versions-generated.txt",
            "6.1.12.rc5 < 6.1.12rc1",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.1.31.sec10 < 1.1.31_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.1.34.sec10 < 1.1.34_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.1.46.sec10 < 1.1.46_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.8.sec10_noneautotype < 1.2.8_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.31.sec10 < 1.2.31_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.48.sec10 < 1.2.48_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.50.sec10 < 1.2.50_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.54.sec10 < 1.2.54_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.57.sec10 < 1.2.57_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.60.sec10 < 1.2.60_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.2.67.sec10 < 1.2.67_noneautotype",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.0.0rc0 < 1.0.beta8",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.5.9.RC1 < 1.5.9-RC0",
            Ordering::Greater,
        ),
        (
            "maven-versions-generated.txt",
            "1.1.0-01-glassfish < 1.1.0.Beta1",
            Ordering::Greater,
        ),
    ];

    /// The vector lines of `file`, and the Maven 3.8.7 answer for each: the
    /// file's, or the one [`STALE`] gives.
    fn expected(file: &str, lines: Vec<(String, Ordering, String)>) -> Vec<(String, Ordering, String)> {
        let symbol = |op: Ordering| ["<", "=", ">"][(op as i8 + 1) as usize];
        lines
            .into_iter()
            .map(|(a, op, b)| {
                let line = format!("{a} {} {b}", symbol(op));
                match STALE.iter().find(|(f, l, _)| *f == file && *l == line) {
                    Some(&(_, _, maven)) => (a, maven, b),
                    None => (a, op, b),
                }
            })
            .collect()
    }

    /// Checks `compare` against every line of `file` (Maven 3.8.7's answer,
    /// both ways round); returns how many lines agree with the file and how
    /// many with [`STALE`] instead.
    fn check_vectors(file: &str, lines: Vec<(String, Ordering, String)>) -> (usize, usize) {
        let n = lines.len();
        let stale = STALE.iter().filter(|(f, _, _)| *f == file).count();
        let wrong: Vec<String> = expected(file, lines)
            .iter()
            .filter(|(a, op, b)| compare(a, b) != Ok(*op) || compare(b, a) != Ok(op.reverse()))
            .map(|(a, op, b)| format!("{a} {op:?} {b}: got {:?}", compare(a, b)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{file}: {} of {n} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        eprintln!(
            "{file}: {} lines agree, {stale} stale lines get Maven 3.8.7's answer",
            n - stale
        );
        (n - stale, stale)
    }

    #[test]
    fn agrees_with_the_hand_written_vectors() {
        let file = "maven-versions.txt";
        assert_eq!(check_vectors(file, vectors::load(file)), (101, 1));
    }

    #[test]
    fn agrees_with_the_generated_vectors() {
        let file = "maven-versions-generated.txt";
        assert_eq!(check_vectors(file, vectors::load(file)), (14734, 18));
    }

    #[test]
    fn orders_the_maven_examples() {
        let chain = [
            "1-alpha",
            "1-alpha-1",
            "1-a2",
            "1-beta",
            "1-b1",
            "1-milestone",
            "1-m1",
            "1-rc",
            "1-CR1",
            "1-rc-2",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp1",
            "1-abc",
            "1-xyz",
            "1-0.1",
            "1-1",
            "1.0.1",
            "1.1-alpha",
            "1.1",
            "1.5",
            "2",
            "10",
            "1234567890",
            "12345678901234567890",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        for (a, b) in [
            ("1", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.ga"),
            ("1", "1-FINAL"),
            ("1", "1.release"),
            ("1", "1."),
            ("1", "1-"),
            ("", "0"),
            ("", "0.0-0"),
            ("1.0-x", "1-x"),
            ("1x", "1-x"),
            ("1.a", "1-a"),
            ("1a1", "1-alpha-1"),
            ("1.a1", "1-alpha-1"),
            ("1cr", "1rc"),
            ("1..1", "1.0.1"),
            ("1.01", "1.1"),
            ("1-SNAPSHOT", "1-snapshot"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} = {b}");
        }
        // `a` is `alpha` only when a digit follows: alone it is an unknown word.
        assert_eq!(cmp("1-a", "1-alpha"), Ordering::Greater);
        assert_eq!(cmp("1-a", "1-sp"), Ordering::Greater);
        // Maven's int < long < BigInteger by digit count, whatever the value.
        assert_eq!(cmp("1.0000000000.5", "1.5.5"), Ordering::Greater);
        assert_eq!(cmp("1.0000000000000000000.5", "1.0000000000.5"), Ordering::Greater);
        // Deep nesting does not recurse.
        let deep = "1a".repeat(100_000);
        assert_eq!(cmp(&deep, &deep), Ordering::Equal);
        assert_eq!(cmp(&format!("{deep}2"), &format!("{deep}1")), Ordering::Greater);
    }

    /// ComparableVersion is not a total order: these cycles are Maven's own
    /// (the differential test feeds them to the jar too). Stowage keeps
    /// Maven's answers rather than inventing an order Maven does not have.
    const CYCLES: [[&str; 3]; 3] = [
        ["0", "a", "ga-rc"],
        ["1.sp1", "1ga-a1", "1.0"],
        ["1.1", "1.1x", "1.1-0-rc-rc"],
    ];

    #[test]
    fn maven_itself_is_not_transitive() {
        for [a, b, c] in CYCLES {
            assert_eq!(
                (cmp(a, b), cmp(b, c), cmp(c, a)),
                (Ordering::Less, Ordering::Less, Ordering::Less)
            );
        }
        assert_eq!(cmp("1-rc.x", "1"), Ordering::Less);
        assert_eq!(cmp("1", "1.b.b"), Ordering::Less);
        assert_eq!(cmp("1-rc.x", "1.b.b"), Ordering::Greater);
    }

    #[test]
    fn rejects_non_ascii() {
        for v in ["1.0-é", "１.0", "1.٣"] {
            assert!(compare(v, "1").is_err(), "{v:?} accepted");
            assert!(compare("1", v).is_err(), "{v:?} accepted");
        }
    }

    // --- properties -------------------------------------------------------

    /// Versions from a small alphabet, so that ties are frequent.
    fn version() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "([0-2]|00|a|b|rc|sp|ga|x|SNAPSHOT)([.-]?([0-2]|00|a|b|rc|sp|ga|x|SNAPSHOT)){0,4}[.-]?",
        )
        .unwrap()
    }

    /// Versions shaped as releases are: numbers, then qualifiers after `-` or
    /// straight after a number, numbers after `-` or `.`; no `ga` / `final` /
    /// `release` and no `-0` (null items that, dropped, leave a list first in
    /// its list). Maven orders these transitively; it does not order all
    /// versions so (see `maven_itself_is_not_transitive`).
    fn release_shaped_version() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[0-2](\\.[0-2]){0,2}(-(alpha|b|rc|snapshot|sp|x|a)|(alpha|b|rc|snapshot|sp|x|a)|-[12]|\\.[0-2]){0,3}",
        )
        .unwrap()
    }

    proptest! {
        // Failures are reported, not saved under the source tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn reflexive(a in version()) {
            prop_assert_eq!(cmp(&a, &a), Ordering::Equal);
        }

        #[test]
        fn antisymmetric(a in version(), b in version()) {
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in release_shaped_version(), b in release_shaped_version(), c in release_shaped_version()) {
            crate::version::vectors::transitive(cmp, &[a, b, c], true)?;
        }

        /// Case, leading zeros, the `cr`/`rc` and `ga`/`final`/`release`
        /// aliases and trailing null items do not change a version.
        #[test]
        fn spellings_of_one_version_are_equal(
            tokens in proptest::collection::vec(
                (prop_oneof![Just("."), Just("-"), Just("")], "[0-9]{1,3}|rc|cr|ga|final|release|alpha|sp|x"),
                1..6,
            ),
            choices in proptest::collection::vec(any::<u8>(), 1..32),
            tail in prop_oneof![Just(""), Just(".0"), Just("-0"), Just("-ga"), Just(".final"), Just("-0.0"), Just("-release-0")],
        ) {
            let mut k = choices.iter().copied().cycle();
            let mut plain = String::new();
            let mut other = String::new();
            let mut previous_digits = None;
            let mut ends_with_dotted_word = false;
            for (i, (sep, token)) in tokens.iter().enumerate() {
                let digits = token.bytes().all(|b| b.is_ascii_digit());
                // No separator only between a number and a word, so that the
                // tokens stay apart.
                let sep = if i == 0 { "" } else if sep.is_empty() && previous_digits == Some(digits) { "." } else { sep };
                previous_digits = Some(digits);
                ends_with_dotted_word = !digits && sep == ".";
                plain += sep;
                other += sep;
                plain += token;
                let respelled = match token.as_str() {
                    t if digits => format!("{}{t}", "0".repeat((k.next().unwrap() % 3) as usize)),
                    "rc" | "cr" => ["rc", "cr", "RC", "Cr"][(k.next().unwrap() % 4) as usize].to_string(),
                    "ga" | "final" | "release" => ["ga", "final", "release", "GA", "Final"][(k.next().unwrap() % 5) as usize].to_string(),
                    t if k.next().unwrap() % 2 == 0 => t.to_ascii_uppercase(),
                    t => t.to_string(),
                };
                other += &respelled;
            }
            // A word after a dot that ends the version reads as a sub-list
            // (`1.x` is `[1, [x]]`), not when anything follows (`1.x.0` and
            // `1.x-0` are `[1, x]`): no tail then.
            if !ends_with_dotted_word {
                other += tail;
            }
            prop_assert_eq!(cmp(&plain, &other), Ordering::Equal, "{} vs {}", plain, other);
        }
    }

    // --- differential test against Maven's ComparableVersion --------------

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len())]
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    fn token(rng: &mut Rng) -> String {
        match rng.below(24) {
            0 => "0".repeat(1 + rng.below(21)),
            1 => format!("{}{}", "0".repeat(rng.below(3)), rng.below(100)),
            2 => (rng.next() % 100_000_000_000).to_string(),
            3 => format!("{}{}", rng.next(), rng.next()),
            4 => "9".repeat(8 + rng.below(13)),
            5..=12 => rng.below(4).to_string(),
            _ => rng
                .pick(&[
                    "alpha",
                    "a",
                    "beta",
                    "b",
                    "milestone",
                    "m",
                    "rc",
                    "cr",
                    "snapshot",
                    "ga",
                    "final",
                    "release",
                    "sp",
                    "SNAPSHOT",
                    "Final",
                    "RELEASE",
                    "RC",
                    "foo",
                    "x",
                    "jre",
                    "redhat",
                    "pfd",
                    "c",
                    "z",
                    "Alpha",
                ])
                .to_string(),
        }
    }

    fn random_version(rng: &mut Rng) -> String {
        let mut s = String::new();
        if rng.chance(2) {
            return s;
        }
        if rng.chance(3) {
            s += rng.pick(&[".", "-"]);
        }
        s += &token(rng);
        for _ in 0..rng.below(6) {
            s += rng.pick(&[".", ".", "-", "-", "", "..", "-."]);
            s += &token(rng);
        }
        if rng.chance(5) {
            s += rng.pick(&[".", "-"]);
        }
        s
    }

    /// The maven-artifact jar that Maven itself uses.
    fn maven_artifact_jar() -> std::path::PathBuf {
        let lib = std::path::Path::new("/usr/share/maven/lib");
        let install = "install Java and Maven (Debian: `apt-get install default-jre-headless maven`)";
        let entries = std::fs::read_dir(lib).unwrap_or_else(|e| panic!("{}: {e}: {install}", lib.display()));
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with("maven-artifact-") && name.ends_with(".jar")
            })
            .unwrap_or_else(|| panic!("no maven-artifact-*.jar in {}: {install}", lib.display()))
    }

    #[test]
    fn agrees_with_maven_comparable_version() {
        let jar = maven_artifact_jar();
        // The vector files' pairs, the cycles, then generated pairs.
        let files = ["maven-versions.txt", "maven-versions-generated.txt"];
        let file_pairs: Vec<(String, Ordering, String)> = files
            .iter()
            .flat_map(|file| expected(file, vectors::load(file)))
            .collect();
        let mut versions: Vec<String> = file_pairs.iter().flat_map(|(a, _, b)| [a.clone(), b.clone()]).collect();
        for cycle in CYCLES {
            versions.extend([cycle[0], cycle[1], cycle[2], cycle[0]].map(String::from));
        }
        let from_files = versions.len();
        let mut rng = Rng(0x5eed_3a7e);
        while versions.len() < from_files + 12_000 {
            let a = random_version(&mut rng);
            let b = if rng.chance(50) {
                // A neighbour, for near ties.
                let mut b = a.clone();
                b += rng.pick(&[
                    ".0",
                    "-0",
                    "-ga",
                    "-SNAPSHOT",
                    ".1",
                    "-1",
                    "a",
                    "-sp",
                    ".final",
                    "0",
                    "1",
                    "-rc1",
                    "",
                ]);
                b
            } else {
                random_version(&mut rng)
            };
            versions.push(a);
            versions.push(b);
        }
        // ComparableVersion's main compares each argument with the next one.
        let out = Command::new("java")
            .arg("-cp")
            .arg(&jar)
            .arg("org.apache.maven.artifact.versioning.ComparableVersion")
            .args(&versions)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run java ({e}): install Java and Maven (Debian: `apt-get install default-jre-headless maven`)")
            });
        assert!(
            out.status.success(),
            "java failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        // Lines `   A < B` / `   A == B` / `   A > B`, between the `N. A -> ...`
        // lines describing each argument.
        let answers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("   ")).collect();
        assert_eq!(
            answers.len(),
            versions.len() - 1,
            "unexpected output:\n{}",
            &stdout[..stdout.len().min(2000)]
        );
        let mut wrong = Vec::new();
        for (i, (pair, line)) in versions.windows(2).zip(&answers).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            let op = line
                .strip_prefix(&format!("   {a} "))
                .and_then(|rest| rest.strip_suffix(&format!(" {b}")))
                .unwrap_or_else(|| panic!("unexpected line {line:?} for {a:?} vs {b:?}"));
            let theirs = match op {
                "<" => Ordering::Less,
                "==" => Ordering::Equal,
                ">" => Ordering::Greater,
                other => panic!("unexpected operator {other:?} in {line:?}"),
            };
            let ours = compare(a, b);
            if ours != Ok(theirs) {
                wrong.push(format!("{a:?} vs {b:?}: Maven {theirs:?}, ours {ours:?}"));
            }
            // The vector files, as corrected by STALE, are what this Maven says.
            if i % 2 == 0 && i / 2 < file_pairs.len() && file_pairs[i / 2].1 != theirs {
                wrong.push(format!(
                    "{a:?} vs {b:?}: Maven {theirs:?}, vector files (with STALE) {:?}",
                    file_pairs[i / 2].1
                ));
            }
        }
        assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
        let equal = answers.iter().filter(|l| l.contains(" == ")).count();
        eprintln!(
            "{}: {} comparisons agree ({} of them between the {} vector-file pairs, {equal} equalities), \
             and the vector files, with {} stale lines corrected, are what it says",
            jar.display(),
            answers.len(),
            from_files - 1,
            file_pairs.len(),
            STALE.len()
        );
    }
}
