//! SemVer 2.0.0 precedence (npm, crates.io, Go, and the other ecosystems OSV
//! files under `SEMVER` ranges), agreeing with npm's `semver.compare` on every
//! version it accepts (tested), and so, by the rules they share, with Go's
//! `golang.org/x/mod/semver.Compare` (not tested against Go here).
//!
//! Accepted: `[ws] [v] N(.N)* [-pre] [+build] [ws]`, where
//! - `ws` is whitespace as JavaScript's `String.prototype.trim` (which npm
//!   applies first) sees it: `\t`, `\n`, `\v`, `\f`, `\r`, space, U+00A0,
//!   U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF;
//! - `v` is an optional lowercase `v` (Go writes every version with it; npm
//!   accepts it too);
//! - `N` is a run of ASCII digits of any length; there may be one or more of
//!   them and missing ones are 0 (`0` = `0.0` = `0.0.0`; OSV ranges say
//!   `introduced: "0"`, and Go allows the `v1` / `v1.2` shorthands); components
//!   past the third are compared the same way (`1.2.3.4` > `1.2.3` = `1.2.3.0`,
//!   as NuGet does with its fourth number) instead of being refused;
//! - `pre` and `build` are dot-separated, non-empty identifiers of ASCII letters,
//!   digits and `-`;
//! - numbers, in the core or in the pre-release, may have leading zeros (npm's
//!   loose mode reads them too), and are compared by value, at any length.
//!
//! So this accepts everything npm's strict parser and Go accept, plus partial,
//! longer and zero-padded versions, and numbers beyond npm's 2^53 − 1 (which
//! npm refuses in the core and compares as imprecise floats in a pre-release).
//! Anything else is an [`InvalidVersion`].
//!
//! Order: the numbers, then a version without a pre-release above one with; then
//! the pre-release identifiers one by one: digits-only ones by value, below the
//! others, which compare as ASCII text; more identifiers above fewer when all
//! shared ones are equal. Build metadata is ignored (`1.0.0+a` = `1.0.0+b`).
//!
//! Not the `semver` crate: it rejects the `v` prefix, partial versions such as
//! OSV's `0`, leading zeros and numbers above `u64::MAX` (OSV's own test vectors
//! have 30-digit ones), and its `Ord` also orders build metadata where SemVer
//! precedence ignores it.

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two versions by SemVer precedence.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    let va = Version::parse(a).ok_or_else(|| InvalidVersion::new(Scheme::Semver, a))?;
    let vb = Version::parse(b).ok_or_else(|| InvalidVersion::new(Scheme::Semver, b))?;
    Ok(va.order(&vb))
}

/// A non-negative integer as written: its digits without leading zeros, so
/// comparing length then text compares values, at any size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Num<'a>(&'a str);

impl<'a> Num<'a> {
    fn new(digits: &'a str) -> Self {
        Num(digits.trim_start_matches('0'))
    }
}

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

/// A pre-release identifier: numeric ones sort below alphanumeric ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Identifier<'a> {
    Numeric(Num<'a>),
    Alphanumeric(&'a str),
}

#[derive(Debug)]
struct Version<'a> {
    /// The numbers, without trailing zeros.
    core: Vec<Num<'a>>,
    /// Empty for a release.
    pre: Vec<Identifier<'a>>,
}

/// Dot-separated, non-empty identifiers of `[0-9A-Za-z-]`.
fn identifiers(text: &str) -> Option<std::str::Split<'_, char>> {
    let valid = text
        .split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    valid.then(|| text.split('.'))
}

/// Whether JavaScript's `String.prototype.trim` removes `c`.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

impl<'a> Version<'a> {
    fn parse(text: &'a str) -> Option<Version<'a>> {
        let text = text.trim_matches(is_js_space);
        let text = text.strip_prefix('v').unwrap_or(text);
        let (rest, build) = match text.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build {
            identifiers(build)?;
        }
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let mut numbers = Vec::new();
        for n in core.split('.') {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            numbers.push(Num::new(n));
        }
        while numbers.last().is_some_and(|n| n.0.is_empty()) {
            numbers.pop();
        }
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => identifiers(pre)?
                .map(|id| {
                    if id.bytes().all(|b| b.is_ascii_digit()) {
                        Identifier::Numeric(Num::new(id))
                    } else {
                        Identifier::Alphanumeric(id)
                    }
                })
                .collect(),
        };
        Some(Version { core: numbers, pre })
    }

    fn order(&self, other: &Version<'_>) -> Ordering {
        // Without trailing zeros, the shorter of two equal prefixes is the
        // smaller version: its next number is an implicit 0.
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    use super::compare;
    use crate::version::vectors;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn agrees_with_the_vectors() {
        let lines = vectors::load("semver-versions.txt");
        let wrong: Vec<String> = lines
            .iter()
            .filter(|(a, op, b)| compare(a, b) != Ok(*op) || compare(b, a) != Ok(op.reverse()))
            .map(|(a, op, b)| format!("{a} {op:?} {b}: got {:?}", compare(a, b)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} wrong:\n{}",
            wrong.len(),
            lines.len(),
            wrong.join("\n")
        );
        assert_eq!(lines.len(), 86);
        eprintln!("semver-versions.txt: {} lines agree", lines.len());
    }

    #[test]
    fn orders_the_semver_examples() {
        // The chain of semver.org's item 11, plus the extensions.
        let chain = [
            "0",
            "0.0.1",
            "0.9",
            "1.0.0-0",
            "1.0.0-00.1",
            "1.0.0-2",
            "1.0.0-11",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1-rc.1",
            "v1.0.1",
            "1.1",
            "2.0.0",
            "18446744073709551616.0.0",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        for (a, b) in [
            ("1", "1.0.0"),
            ("v1.2", "1.2.0"),
            ("1.2.3.0.0", "1.2.3"),
            ("01.002.0003", "1.2.3"),
            ("1.0.0-01", "1.0.0-1"),
            ("1.0.0+build.1", "1.0.0+other"),
            ("1.0.0-rc.1+build", "1.0.0-rc.1"),
            (
                "v0.0.0-20201008074935-acfc0b28355a",
                "0.0.0-20201008074935-acfc0b28355a+incompatible",
            ),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} = {b}");
        }
        // Numeric identifiers compare by value, without overflow.
        assert_eq!(
            cmp("1.0.0-18446744073709551616", "1.0.0-18446744073709551615"),
            Ordering::Greater
        );
        assert_eq!(cmp("1.0.0-99999999999999999999", "1.0.0-a"), Ordering::Less);
        assert_eq!(cmp("1.0.0-a-b", "1.0.0-a"), Ordering::Greater);
        assert_eq!(cmp("1.0.0-B", "1.0.0-a"), Ordering::Less);
    }

    #[test]
    fn rejects_what_is_not_semver_like() {
        for v in [
            "",
            "v",
            "V1.0.0",
            "=1.0.0",
            "1 .0.0",
            "1.0.0\u{85}",
            ".1",
            "1.",
            "1..2",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0+a..b",
            "1.0.0-a_b",
            "1.0.0+a+b",
            "1.0.0-a+b+c",
            "1.x",
            "1.0.0a",
            "1.0.0.-1",
            "-1.0.0",
            "vv1",
            "1.0.0-ä",
            "１.0.0",
            "^1.0.0",
        ] {
            assert!(compare(v, "1").is_err(), "{v:?} accepted");
            assert!(compare("1", v).is_err(), "{v:?} accepted");
        }
    }

    // --- properties -------------------------------------------------------

    /// Valid versions from a small alphabet, so that ties are frequent.
    fn version() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "v?[0-2](\\.[0-2]){0,3}(-([0-2]|a|b|0a|-)(\\.([0-2]|a|b|0a|-)){0,2})?(\\+[a0-2])?",
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
        fn transitive(a in version(), b in version(), c in version()) {
            crate::version::vectors::transitive(cmp, &[a, b, c], true)?;
        }

        #[test]
        fn spellings_of_one_version_are_equal(
            core in proptest::collection::vec(0u64..30, 1..4),
            pre in proptest::collection::vec("[0-9]{1,3}|[a-zA-Z-][0-9a-zA-Z-]{0,3}", 0..3),
            build in proptest::collection::vec("[0-9a-zA-Z-]{1,4}", 0..3),
            v in any::<bool>(),
            zeros in proptest::collection::vec(0usize..3, 8),
            extra in 0usize..3,
        ) {
            let mut full: Vec<u64> = core.clone();
            full.resize(3, 0);
            let mut canonical = full.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let mut other = String::from(if v { "v" } else { "" });
            other += &core
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{}{n}", "0".repeat(zeros[i])))
                .collect::<Vec<_>>()
                .join(".");
            other += &".0".repeat(extra);
            if !pre.is_empty() {
                canonical += &format!("-{}", pre.iter().map(|id| match id.parse::<u64>() {
                    Ok(n) => n.to_string(),
                    Err(_) => id.clone(),
                }).collect::<Vec<_>>().join("."));
                other += &format!("-{}", pre.iter().enumerate().map(|(i, id)| {
                    if id.bytes().all(|b| b.is_ascii_digit()) { format!("{}{id}", "0".repeat(zeros[3 + i])) } else { id.clone() }
                }).collect::<Vec<_>>().join("."));
            }
            if !build.is_empty() {
                other += &format!("+{}", build.join("."));
            }
            prop_assert_eq!(cmp(&canonical, &other), Ordering::Equal, "{} vs {}", canonical, other);
        }
    }

    // --- differential test against npm's semver --------------------------

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

    /// A number npm can hold (below 2^53), sometimes zero-padded.
    fn number(rng: &mut Rng) -> String {
        match rng.below(20) {
            0 => format!("0{}", rng.below(10)),
            1 => (9_007_199_254_740_000 + rng.below(991) as u64).to_string(),
            2 => (rng.next() % 100_000_000_000).to_string(),
            _ => rng.below(4).to_string(),
        }
    }

    fn identifier(rng: &mut Rng) -> String {
        match rng.below(10) {
            0..=3 => number(rng),
            4 => format!("{}{}", rng.below(10), rng.pick(&["a", "-", "x1"])),
            5 => "-".to_string(),
            _ => rng
                .pick(&[
                    "alpha",
                    "beta",
                    "rc",
                    "a",
                    "b",
                    "A",
                    "B",
                    "Alpha",
                    "pre-1",
                    "20201008074935-acfc0b28355a",
                    "x-y",
                ])
                .to_string(),
        }
    }

    /// A version-like string: mostly valid SemVer, sometimes partial or longer,
    /// sometimes damaged.
    fn random_version(rng: &mut Rng) -> String {
        let mut s = String::new();
        if rng.chance(20) {
            s += "v";
        }
        let components = match rng.below(20) {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 3,
        };
        s += &(0..components).map(|_| number(rng)).collect::<Vec<_>>().join(".");
        if rng.chance(50) {
            s += "-";
            s += &(0..1 + rng.below(3))
                .map(|_| identifier(rng))
                .collect::<Vec<_>>()
                .join(".");
        }
        if rng.chance(15) {
            s += "+";
            s += &(0..1 + rng.below(2))
                .map(|_| {
                    rng.pick(&["build", "001", "incompatible", "a-b", "sha.5114f85"])
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join(".");
        }
        if rng.chance(8) {
            let at = rng.below(s.len() + 1);
            if rng.chance(50) || at == s.len() {
                s.insert_str(at, rng.pick(&[".", "-", "+", "_", "a", "0", " ", "v", "=", "~"]));
            } else {
                s.remove(at);
            }
        }
        s
    }

    /// Whether npm holds every number of `v` exactly: none above 2^53 − 1
    /// (npm refuses those in the core, and compares pre-release ones as floats).
    fn fits_npm(v: &str) -> bool {
        v.split(['.', '-', '+', 'v', ' '])
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .all(|n| n.trim_start_matches('0').len() < 16 || n.parse::<u64>().is_ok_and(|n| n < (1 << 53)))
    }

    /// `v` as npm's strict parser wants it, for the versions only this module
    /// accepts: no leading zeros, exactly three numbers. `None` when that
    /// would drop a nonzero fourth number, or with numbers npm cannot hold.
    fn npm_spelling(v: &str) -> Option<String> {
        if !fits_npm(v) {
            return None;
        }
        let v = v.trim();
        let v = v.strip_prefix('v').unwrap_or(v);
        let (rest, build) = v.split_once('+').map_or((v, None), |(r, b)| (r, Some(b)));
        let (core, pre) = rest.split_once('-').map_or((rest, None), |(c, p)| (c, Some(p)));
        let strip = |n: &str| match n.trim_start_matches('0') {
            "" => "0".to_string(),
            n => n.to_string(),
        };
        let mut numbers: Vec<String> = core.split('.').map(strip).collect();
        while numbers.len() > 3 && numbers.last().is_some_and(|n| n == "0") {
            numbers.pop();
        }
        if numbers.len() > 3 {
            return None;
        }
        numbers.resize(3, "0".to_string());
        let mut s = numbers.join(".");
        if let Some(pre) = pre {
            let ids: Vec<String> = pre
                .split('.')
                .map(|id| {
                    if id.bytes().all(|b| b.is_ascii_digit()) {
                        strip(id)
                    } else {
                        id.to_string()
                    }
                })
                .collect();
            s += &format!("-{}", ids.join("."));
        }
        if let Some(build) = build {
            s += &format!("+{build}");
        }
        Some(s)
    }

    const NPM_SEMVER: &str = "/usr/lib/node_modules/npm/node_modules/semver";

    const NODE_SCRIPT: &str = r#"
const semver = require(process.argv[1]);
const valid = (v) => { try { new semver.SemVer(v); return true; } catch (e) { return false; } };
const order = (a, b) => (valid(a) && valid(b) ? semver.compare(a, b) : null);
const pairs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = pairs.map(([a, b, na, nb]) => [valid(a), valid(b), order(a, b), na === null || nb === null ? null : order(na, nb)]);
process.stdout.write(JSON.stringify({ version: require(process.argv[1] + "/package.json").version, out }));
"#;

    #[test]
    fn agrees_with_npm_semver() {
        assert!(
            std::path::Path::new(NPM_SEMVER).join("package.json").exists(),
            "{NPM_SEMVER} is missing: install node and npm (Debian: `apt-get install nodejs npm`)"
        );
        let mut rng = Rng(0x5eed_5e3e);
        let mut pairs = Vec::new();
        while pairs.len() < 8000 {
            let a = random_version(&mut rng);
            let b = if rng.chance(40) {
                // A neighbour, for near ties.
                let mut b = a.clone();
                b += rng.pick(&["", ".0", "-0", "-a", ".1", "+b", "-rc.1", "0"]);
                b
            } else {
                random_version(&mut rng)
            };
            let (na, nb) = (npm_spelling(&a), npm_spelling(&b));
            pairs.push((a, b, na, nb));
        }
        let mut child = Command::new("node")
            .args(["-e", NODE_SCRIPT, NPM_SEMVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run node ({e}): install node and npm (Debian: `apt-get install nodejs npm`)")
            });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&pairs).unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "node failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        #[derive(serde::Deserialize)]
        struct Reply {
            version: String,
            out: Vec<(bool, bool, Option<i8>, Option<i8>)>,
        }
        let reply: Reply = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reply.out.len(), pairs.len());

        let (mut strict, mut extended, mut unchecked, mut rejected, mut wrong) = (0, 0, 0, 0, Vec::new());
        for ((a, b, _, _), (valid_a, valid_b, order, order_respelled)) in pairs.iter().zip(reply.out) {
            let ours = compare(a, b);
            for (v, valid) in [(a, valid_a), (b, valid_b)] {
                // What npm accepts, we accept.
                if valid && compare(v, "0").is_err() {
                    wrong.push(format!("{v:?}: npm accepts it, we do not"));
                }
            }
            if let Some(order) = order {
                if !fits_npm(a) || !fits_npm(b) {
                    unchecked += 1;
                    continue;
                }
                strict += 1;
                if ours != Ok(order.cmp(&0)) {
                    wrong.push(format!("{a:?} vs {b:?}: npm {:?}, ours {ours:?}", order.cmp(&0)));
                }
            } else if let Ok(ours) = ours {
                // Versions only we accept: ordered as npm orders their strict
                // spellings (when they have some: not with a nonzero fourth
                // number or numbers above 2^53).
                match order_respelled {
                    Some(order) if order.cmp(&0) == ours => extended += 1,
                    Some(order) => wrong.push(format!(
                        "{a:?} vs {b:?}: npm {:?} (respelled), ours {ours:?}",
                        order.cmp(&0)
                    )),
                    None if [a, b].iter().any(|v| npm_spelling(v).is_none()) => unchecked += 1,
                    None => wrong.push(format!(
                        "{a:?} vs {b:?}: we accept, npm rejects even the strict spellings"
                    )),
                }
            } else {
                rejected += 1;
            }
        }
        assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
        assert!(
            strict > 4000 && extended > 500 && rejected > 300,
            "{strict} / {extended} / {rejected}"
        );
        eprintln!(
            "npm semver {}: {} pairs: {strict} ordered alike; {extended} that only we accept ordered as npm orders \
             their strict spellings; {unchecked} unchecked (a nonzero fourth number, numbers beyond 2^53); \
             {rejected} rejected by both",
            reply.version,
            pairs.len()
        );
    }
}
