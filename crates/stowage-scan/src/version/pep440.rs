//! PEP 440 versions (PyPI), ordered exactly as Python's `packaging.version.Version`
//! orders them (checked against packaging 26.4; on ASCII input every packaging
//! since 22, which dropped `LegacyVersion`, agrees; packaging < 26 also let
//! Python's Unicode case folding read `ſ`, `İ`, `ı` and the Kelvin sign as `s`,
//! `i` and `k`, which 26 and this module refuse).
//!
//! Accepted: what `packaging.version.Version(s)` accepts, namely
//! `[ws] [v] [N!] N(.N)* [pre] [post] [dev] [+local] [ws]`, case-insensitive, where
//! - `ws` is any run of the characters Python's `str.isspace` (and `re`'s `\s`)
//!   matches: ASCII whitespace, `\x1c`–`\x1f`, U+0085, U+00A0, U+1680, U+2000–U+200A,
//!   U+2028, U+2029, U+202F, U+205F, U+3000;
//! - `N` is a run of ASCII digits of any length (compared by value, so `01` = `1`);
//! - `pre` is `[sep] (alpha|a|beta|b|preview|pre|c|rc) [sep] [N]` with `sep` one
//!   of `.` `_` `-`; `alpha` = `a`, `beta` = `b`, `c` = `pre` = `preview` = `rc`,
//!   and a missing number is 0;
//! - `post` is `-N` (the implicit form, `1.0-1` = `1.0.post1`) or
//!   `[sep] (post|rev|r) [sep] [N]`;
//! - `dev` is `[sep] dev [sep] [N]`;
//! - `local` is `+` and alphanumeric segments separated by `.` `_` `-`.
//!
//! Everything else, notably the pre-PEP 440 "legacy" versions packaging < 22
//! accepted (`0.1-bulbasaur`), is an [`InvalidVersion`]. One deliberate
//! difference: Python refuses to turn a run of more than 4300 digits into an
//! `int` (a `ValueError`, not `InvalidVersion`); numbers here have no length limit.
//!
//! Order (PEP 440's, as packaging's `_cmpkey` builds it): epoch, then the release
//! with trailing zeros ignored (`1.0.0` = `1`), then `N.devM` < `NaM` < `NbM` <
//! `NrcM` < `N` < `N.postM` with a `.devM` placing a version just before the same
//! version without it (`1.0a1.dev0 < 1.0a1 < 1.0a1.post1.dev0 < 1.0a1.post1`),
//! then the local version: none < any; segment-wise, a numeric segment above an
//! alphanumeric one, alphanumerics compared as lowercase ASCII, numbers by value,
//! a shorter list first when it is a prefix of the other.
//!
//! Written by hand rather than with the `pep440_rs` crate: the grammar and the
//! order are a page of code, checked here against packaging itself (the vector
//! files and a differential test over thousands of generated pairs), while
//! `pep440_rs` holds numbers in fixed-size integers (packaging's are unbounded)
//! and follows its own releases' reading of the spec, which we would have to
//! re-check against packaging on every upgrade.

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    let a_lower = lowered(a).ok_or_else(|| InvalidVersion::new(Scheme::Pep440, a))?;
    let b_lower = lowered(b).ok_or_else(|| InvalidVersion::new(Scheme::Pep440, b))?;
    let va = Version::parse(&a_lower).ok_or_else(|| InvalidVersion::new(Scheme::Pep440, a))?;
    let vb = Version::parse(&b_lower).ok_or_else(|| InvalidVersion::new(Scheme::Pep440, b))?;
    Ok(va.order(&vb))
}

/// Whether Python's `str.isspace` holds for `c` (what `\s` matches in `re`).
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `v` without surrounding whitespace, in lowercase, or `None` when what is left
/// is not ASCII (no non-ASCII character can match the grammar).
fn lowered(v: &str) -> Option<String> {
    let v = v.trim_matches(is_python_space);
    v.is_ascii().then(|| v.to_ascii_lowercase())
}

/// A non-negative integer as written: its digits without leading zeros, so
/// comparing length then text compares values, at any size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Num<'a>(&'a str);

impl<'a> Num<'a> {
    fn new(digits: &'a str) -> Self {
        Num(digits.trim_start_matches('0'))
    }

    const ZERO: Num<'static> = Num("");

    fn is_zero(self) -> bool {
        self.0.is_empty()
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

/// A pre-release kind, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    Alpha,
    Beta,
    Rc,
}

/// A segment of a local version: alphanumeric segments sort before numeric ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local<'a> {
    Text(&'a str),
    Number(Num<'a>),
}

/// A parsed version, borrowing from its lowercased text.
#[derive(Debug)]
struct Version<'a> {
    epoch: Num<'a>,
    /// The release numbers without trailing zeros.
    release: Vec<Num<'a>>,
    pre: Option<(Pre, Num<'a>)>,
    post: Option<Num<'a>>,
    dev: Option<Num<'a>>,
    local: Option<Vec<Local<'a>>>,
}

/// A cursor over the (ASCII, lowercase) version text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.at + ahead).copied()
    }

    fn digits(&mut self) -> Option<&'a str> {
        let start = self.at;
        while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }

    fn separator(&mut self) {
        if matches!(self.peek(0), Some(b'.' | b'_' | b'-')) {
            self.at += 1;
        }
    }

    /// Takes the first of `words` (in order, as a regex alternation does) that
    /// the text continues with.
    fn word<T: Copy>(&mut self, words: &[(&str, T)]) -> Option<T> {
        let rest = &self.text[self.at..];
        let &(word, value) = words.iter().find(|(w, _)| rest.starts_with(w))?;
        self.at += word.len();
        Some(value)
    }

    /// `[sep] word [sep] [N]`, all or nothing (like packaging's possessive
    /// optional groups).
    fn lettered<T: Copy>(&mut self, words: &[(&str, T)]) -> Option<(T, Num<'a>)> {
        let start = self.at;
        self.separator();
        let Some(value) = self.word(words) else {
            self.at = start;
            return None;
        };
        self.separator();
        Some((value, self.digits().map_or(Num::ZERO, Num::new)))
    }
}

impl<'a> Version<'a> {
    /// Parses lowercase ASCII text without surrounding whitespace.
    fn parse(text: &'a str) -> Option<Version<'a>> {
        let mut c = Cursor { text, at: 0 };
        if c.peek(0) == Some(b'v') {
            c.at += 1;
        }

        let mut epoch = Num::ZERO;
        let start = c.at;
        match c.digits() {
            Some(digits) if c.peek(0) == Some(b'!') => {
                epoch = Num::new(digits);
                c.at += 1;
            }
            _ => c.at = start,
        }

        let mut release = vec![Num::new(c.digits()?)];
        while c.peek(0) == Some(b'.') && c.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            c.at += 1;
            release.push(Num::new(c.digits()?));
        }
        while release.last().is_some_and(|n| n.is_zero()) {
            release.pop();
        }

        let pre = c.lettered(&[
            ("alpha", Pre::Alpha),
            ("a", Pre::Alpha),
            ("beta", Pre::Beta),
            ("b", Pre::Beta),
            ("preview", Pre::Rc),
            ("pre", Pre::Rc),
            ("c", Pre::Rc),
            ("rc", Pre::Rc),
        ]);

        let post = if c.peek(0) == Some(b'-') && c.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            c.at += 1;
            c.digits().map(Num::new)
        } else {
            c.lettered(&[("post", ()), ("rev", ()), ("r", ())]).map(|((), n)| n)
        };

        let dev = c.lettered(&[("dev", ())]).map(|((), n)| n);

        let local = if c.peek(0) == Some(b'+') {
            c.at += 1;
            let mut segments = Vec::new();
            loop {
                let start = c.at;
                while c.peek(0).is_some_and(|b| b.is_ascii_alphanumeric()) {
                    c.at += 1;
                }
                let segment = &text[start..c.at];
                if segment.is_empty() {
                    return None;
                }
                segments.push(if segment.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Number(Num::new(segment))
                } else {
                    Local::Text(segment)
                });
                if matches!(c.peek(0), Some(b'.' | b'_' | b'-')) {
                    c.at += 1;
                } else {
                    break;
                }
            }
            Some(segments)
        } else {
            None
        };

        (c.at == text.len()).then_some(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The pre/post/dev part of packaging's sort key:
    /// `(pre rank, pre number, has post, post number, has no dev, dev number)`.
    fn suffix(&self) -> (i8, Num<'a>, bool, Num<'a>, bool, Num<'a>) {
        let (pre_rank, pre_n) = match (self.pre, self.post, self.dev) {
            // `1.0.dev0` sorts before `1.0a0`.
            (None, None, Some(_)) => (-1, Num::ZERO),
            (None, _, _) => (3, Num::ZERO),
            (Some((kind, n)), _, _) => (kind as i8, n),
        };
        (
            pre_rank,
            pre_n,
            self.post.is_some(),
            self.post.unwrap_or(Num::ZERO),
            self.dev.is_none(),
            self.dev.unwrap_or(Num::ZERO),
        )
    }

    fn order(&self, other: &Version<'_>) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.suffix().cmp(&other.suffix()))
            .then_with(|| self.local.cmp(&other.local))
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::collections::BTreeSet;
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    use super::compare;
    use crate::version::vectors;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks `compare` against every line of a vector file, both ways round.
    /// The files were generated with a packaging that still had `LegacyVersion`
    /// (< 22) and keep some of those versions: packaging ≥ 22 rejects them and
    /// so do we, and the differential test below checks that against packaging
    /// itself. Returns (lines that agree, lines with a rejected version, the
    /// rejected versions).
    fn check_vectors(file: &str) -> (usize, usize, BTreeSet<String>) {
        let lines = vectors::load(file);
        let (mut agreed, mut legacy, mut rejected, mut wrong) = (0, 0, BTreeSet::new(), Vec::new());
        for (a, op, b) in &lines {
            let invalid: Vec<&String> = [a, b].into_iter().filter(|v| compare(v, "0").is_err()).collect();
            if !invalid.is_empty() {
                legacy += 1;
                rejected.extend(invalid.into_iter().cloned());
                assert!(compare(a, b).is_err() && compare(b, a).is_err(), "{a} {b}");
                continue;
            }
            if cmp(a, b) == *op && cmp(b, a) == op.reverse() {
                agreed += 1;
            } else {
                wrong.push(format!("{a} {op:?} {b}: got {:?}", cmp(a, b)));
            }
        }
        assert!(
            wrong.is_empty(),
            "{file}: {} of {} wrong:\n{}",
            wrong.len(),
            lines.len(),
            wrong.join("\n")
        );
        eprintln!("{file}: {agreed} lines agree, {legacy} lines with a legacy version rejected");
        (agreed, legacy, rejected)
    }

    #[test]
    fn agrees_with_the_hand_written_vectors() {
        let (agreed, legacy, rejected) = check_vectors("pypi-versions.txt");
        assert_eq!((agreed, legacy), (26, 11));
        let expected = [
            "0.1-bulbasaur",
            "0.1-charmander",
            "0.9-doduo",
            "0.9-eevee",
            "0.9-fearow",
            "0.9-gyarados",
            "0.9-horsea",
            "0.9-ivysaur",
            "-class.-jw.util.version.version-pre",
            "-class.-jw.util.version.version-preview",
            "-class.-jw.util.version.version-dev",
        ];
        assert_eq!(rejected, expected.iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn agrees_with_the_generated_vectors() {
        let (agreed, legacy, rejected) = check_vectors("pypi-versions-generated.txt");
        assert_eq!((agreed, legacy, rejected.len()), (12306, 69, 69));
    }

    #[test]
    fn orders_the_pep_440_examples() {
        let chain = [
            "1.0.dev0",
            "1.0a1.dev0",
            "1.0a1",
            "1.0a1.post1.dev0",
            "1.0a1.post1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc.1",
            "1.0+abc.2",
            "1.0+1",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.0.1",
            "1!0.1",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        for (a, b) in [
            ("1.0", "1.0.0.0"),
            ("V1.0", "1"),
            (" 1.0\u{3000}", "1"),
            ("1.0-1", "1.0.post1"),
            ("1.0_r_1", "1.0.post1"),
            ("1.0.REV1", "1.0.post1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-preview.1", "1.0rc1"),
            ("1.0pre", "1.0rc0"),
            ("1.0ALPHA", "1.0a0"),
            ("1.0a.", "1.0a0"),
            ("1.0.dev", "1.0.dev0"),
            ("0!1.0", "1.0"),
            ("01.002", "1.2"),
            ("1.0+ABC-007", "1.0+abc.7"),
            ("1.0+abc_1", "1.0+abc.1"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} = {b}");
        }
        assert_eq!(cmp("1.0", "1.0+0"), Ordering::Less);
        assert_eq!(cmp("1.0+a", "1.0+0"), Ordering::Less);
        assert_eq!(cmp("1.0+a.1", "1.0+a"), Ordering::Greater);
        assert_eq!(
            cmp("1.99999999999999999999999999999", "1.99999999999999999999999999998"),
            Ordering::Greater
        );
    }

    #[test]
    fn rejects_what_packaging_rejects() {
        for v in [
            "",
            " ",
            "v",
            "1.",
            ".1",
            "1..2",
            "1.0-",
            "1.0+",
            "1.0+abc.",
            "1.0+a..b",
            "1.0+ab c",
            "1!",
            "!1",
            "1.0a1a1",
            "1.0.dev1.post1",
            "1.0-dev-1-1",
            "1.0beta.alpha",
            "1.0 a1",
            "1.0.post1.post2",
            "vv1.0",
            "1.0\u{200b}",
            "１.0",
            "1.0+ä",
            "0.1-bulbasaur",
            "1.*",
        ] {
            assert!(compare(v, "1").is_err(), "{v:?} accepted");
            assert!(compare("1", v).is_err(), "{v:?} accepted");
        }
    }

    // --- properties -------------------------------------------------------

    /// Valid versions from a small alphabet, so that ties are frequent.
    fn version() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "(v|V)?([0-2]!)?[0-2](\\.[0-2]){0,2}((-|\\.)?(a|b|rc|c|alpha|pre|preview)[0-2]?)?\
             (\\.post[0-2]?|-[0-2]|\\.rev[0-2]?)?(\\.dev[0-2]?)?(\\+[a0-2](\\.[b0-2]){0,2})?",
        )
        .unwrap()
    }

    /// A version spelled out in parts, to write it two ways.
    #[derive(Debug, Clone)]
    struct Parts {
        epoch: Option<u32>,
        release: Vec<u32>,
        pre: Option<(usize, Option<u32>)>,
        post: Option<Option<u32>>,
        dev: Option<Option<u32>>,
        local: Vec<String>,
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            proptest::option::of(0u32..3),
            proptest::collection::vec(0u32..20, 1..5),
            proptest::option::of((0usize..3, proptest::option::of(0u32..20))),
            proptest::option::of(proptest::option::of(0u32..20)),
            proptest::option::of(proptest::option::of(0u32..20)),
            proptest::collection::vec("[a-z0-9]{1,4}", 0..3),
        )
            .prop_map(|(epoch, release, pre, post, dev, local)| Parts {
                epoch,
                release,
                pre,
                post,
                dev,
                local,
            })
    }

    impl Parts {
        /// The normalized form, as `str(Version(...))` writes it.
        fn canonical(&self) -> String {
            let mut s = String::new();
            if let Some(e) = self.epoch.filter(|&e| e != 0) {
                s += &format!("{e}!");
            }
            s += &self.release.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            if let Some((kind, n)) = self.pre {
                s += &format!("{}{}", ["a", "b", "rc"][kind], n.unwrap_or(0));
            }
            if let Some(n) = self.post {
                s += &format!(".post{}", n.unwrap_or(0));
            }
            if let Some(n) = self.dev {
                s += &format!(".dev{}", n.unwrap_or(0));
            }
            if !self.local.is_empty() {
                let local: Vec<String> = self
                    .local
                    .iter()
                    .map(|seg| match seg.parse::<u64>() {
                        Ok(n) if seg.bytes().all(|b| b.is_ascii_digit()) => n.to_string(),
                        _ => seg.clone(),
                    })
                    .collect();
                s += &format!("+{}", local.join("."));
            }
            s
        }

        /// Another spelling of the same version, with `choices` picking the
        /// variations (case, `v`, separators, alternative words, implicit
        /// numbers and post releases, leading and trailing zeros, whitespace).
        fn respelled(&self, choices: &[u8]) -> String {
            let mut k = choices.iter().copied().cycle();
            let mut pick = |n: u8| k.next().unwrap() % n;
            let sep = |c: u8| ["", ".", "-", "_"][c as usize];
            let mut s = String::new();
            if pick(3) == 0 {
                s += [" ", "\t", "\n"][pick(3) as usize];
            }
            if pick(2) == 0 {
                s += "v";
            }
            if let Some(e) = self.epoch {
                s += &format!("{}{e}!", "0".repeat(pick(2) as usize));
            } else if pick(3) == 0 {
                s += "0!";
            }
            let release: Vec<String> = self
                .release
                .iter()
                .map(|n| format!("{}{n}", "0".repeat(pick(3) as usize)))
                .collect();
            s += &release.join(".");
            for _ in 0..pick(3) {
                s += ".0";
            }
            // `1.0a` then `-1` would read as `1.0a1`.
            let mut pre_open = false;
            if let Some((kind, n)) = self.pre {
                let words: &[&str] = match kind {
                    0 => &["a", "alpha"],
                    1 => &["b", "beta"],
                    _ => &["rc", "c", "pre", "preview"],
                };
                s += sep(pick(4));
                s += words[pick(words.len() as u8) as usize];
                match n {
                    Some(n) => s += &format!("{}{n}", sep(pick(4))),
                    None if pick(2) == 0 => s += "0",
                    None => pre_open = true,
                }
            }
            if let Some(n) = self.post {
                match n {
                    Some(n) if pick(3) == 0 && !pre_open => s += &format!("-{n}"),
                    _ => {
                        s += sep(pick(4));
                        s += ["post", "rev", "r"][pick(3) as usize];
                        if let Some(n) = n {
                            s += &format!("{}{n}", sep(pick(4)));
                        }
                    }
                }
            }
            if let Some(n) = self.dev {
                s += sep(pick(4));
                s += "dev";
                if let Some(n) = n {
                    s += &format!("{}{n}", sep(pick(4)));
                }
            }
            if !self.local.is_empty() {
                s += "+";
                for (i, seg) in self.local.iter().enumerate() {
                    if i > 0 {
                        s += [".", "-", "_"][pick(3) as usize];
                    }
                    if seg.bytes().all(|b| b.is_ascii_digit()) {
                        s += &format!("{}{seg}", "0".repeat(pick(2) as usize));
                    } else {
                        s += seg;
                    }
                }
            }
            if pick(3) == 0 {
                s += " ";
            }
            s.chars()
                .map(|c| if pick(2) == 0 { c.to_ascii_uppercase() } else { c })
                .collect()
        }
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
        fn spellings_of_one_version_are_equal(p in parts(), choices in proptest::collection::vec(any::<u8>(), 1..64)) {
            let (canonical, other) = (p.canonical(), p.respelled(&choices));
            prop_assert_eq!(cmp(&canonical, &other), Ordering::Equal, "{:?} vs {:?}", canonical, other);
        }
    }

    // --- differential test against packaging ------------------------------

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

    fn number(rng: &mut Rng) -> String {
        match rng.below(20) {
            0 => format!("{}{}", "0".repeat(rng.below(3)), rng.below(10)),
            1 => "9".repeat(15 + rng.below(30)),
            2 => format!("1{}", "0".repeat(18 + rng.below(4))),
            _ => rng.below(4).to_string(),
        }
    }

    fn sep(rng: &mut Rng) -> &'static str {
        rng.pick(&["", "", ".", "-", "_"])
    }

    /// A version-like string: mostly valid, in all the spellings packaging
    /// accepts, with some damage now and then.
    fn random_version(rng: &mut Rng) -> String {
        let mut s = String::new();
        if rng.chance(3) {
            s += rng.pick(&[" ", "\t", "\u{3000}", "\u{1c}", "\n"]);
        }
        if rng.chance(10) {
            s += rng.pick(&["v", "V"]);
        }
        if rng.chance(10) {
            s += &format!("{}!", number(rng));
        }
        s += &number(rng);
        for _ in 0..rng.below(4) {
            s += ".";
            s += &number(rng);
        }
        if rng.chance(40) {
            s += sep(rng);
            s += rng.pick(&[
                "a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "RC", "Alpha", "dev", "post",
            ]);
            if rng.chance(70) {
                s += sep(rng);
                s += &number(rng);
            }
        }
        if rng.chance(30) {
            if rng.chance(30) {
                s += &format!("-{}", number(rng));
            } else {
                s += sep(rng);
                s += rng.pick(&["post", "rev", "r", "POST", "Rev"]);
                if rng.chance(70) {
                    s += sep(rng);
                    s += &number(rng);
                }
            }
        }
        if rng.chance(25) {
            s += sep(rng);
            s += rng.pick(&["dev", "DEV", "Dev"]);
            if rng.chance(70) {
                s += sep(rng);
                s += &number(rng);
            }
        }
        if rng.chance(20) {
            s += "+";
            for i in 0..1 + rng.below(3) {
                if i > 0 {
                    s += rng.pick(&[".", "-", "_"]);
                }
                s += rng.pick(&["abc", "ABC", "1", "01", "2", "ubuntu", "a1", "1a", "z", "cpu"]);
            }
        }
        if rng.chance(3) {
            s += rng.pick(&[" ", "\u{a0}", "\r\n"]);
        }
        if rng.chance(12) {
            // Damage: insert or delete a character somewhere.
            let chars: Vec<char> = s.chars().collect();
            let at = rng.below(chars.len() + 1);
            let mut damaged: String = chars[..at].iter().collect();
            if rng.chance(50) || at == chars.len() {
                damaged.push(
                    rng.pick(&[".", "-", "_", "+", "!", "x", "a", "0", " ", "*", "é"])
                        .chars()
                        .next()
                        .unwrap(),
                );
                damaged.extend(&chars[at..]);
            } else {
                damaged.extend(&chars[at + 1..]);
            }
            s = damaged;
        }
        s
    }

    /// The Python to run packaging with: `$STOWAGE_TEST_PYTHON` (scripts/test's
    /// venv), else `python3`.
    fn python() -> String {
        std::env::var("STOWAGE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
    }

    const PACKAGING_SCRIPT: &str = r#"
import json, sys
from packaging.version import Version, InvalidVersion
def parse(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
out = []
for a, b in json.load(sys.stdin):
    va, vb = parse(a), parse(b)
    if va is None or vb is None:
        out.append([va is not None, vb is not None, None, None, None])
    else:
        out.append([True, True, (va > vb) - (va < vb), str(va), str(vb)])
json.dump(out, sys.stdout)
"#;

    #[test]
    fn agrees_with_python_packaging() {
        let python = python();
        let probe = Command::new(&python)
            .args(["-c", "import packaging.version, packaging; print(packaging.__version__)"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {python:?} ({e}): install python3, or point STOWAGE_TEST_PYTHON at a Python with `packaging`")
            });
        assert!(
            probe.status.success(),
            "{python:?} cannot import packaging: `{python} -m pip install packaging` (scripts/test's venv \
             at $STOWAGE_TEST_PYTHON needs it)\n{}",
            String::from_utf8_lossy(&probe.stderr)
        );

        // Every pair of the vector files (the legacy versions among them
        // included), then generated ones.
        let mut pairs: Vec<(String, String)> = ["pypi-versions.txt", "pypi-versions-generated.txt"]
            .iter()
            .flat_map(|file| vectors::load(file))
            .map(|(a, _, b)| (a, b))
            .collect();
        let from_files = pairs.len();
        let mut rng = Rng(0x5eed_0440);
        while pairs.len() < from_files + 8000 {
            let a = random_version(&mut rng);
            // Half the time a neighbour: the same text with a change, so that
            // near ties are common.
            let b = if rng.chance(50) {
                let mut b = a.clone();
                let tail = ["", "0", ".0", "a", "a0", ".post", "-1", ".dev", "+1", "+a", "rc1", ".1"];
                b += rng.pick(&tail);
                b
            } else {
                random_version(&mut rng)
            };
            pairs.push((a, b));
        }
        let input = serde_json::to_vec(&pairs).unwrap();
        let mut child = Command::new(&python)
            .args(["-c", PACKAGING_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "packaging failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        type Answer = (bool, bool, Option<i8>, Option<String>, Option<String>);
        let answers: Vec<Answer> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answers.len(), pairs.len());

        let (mut compared, mut invalid, mut wrong) = (0, 0, Vec::new());
        for ((a, b), (valid_a, valid_b, order, norm_a, norm_b)) in pairs.iter().zip(answers) {
            if super::compare(a, "0").is_ok() != valid_a {
                wrong.push(format!("{a:?}: packaging says valid={valid_a}"));
            }
            if super::compare(b, "0").is_ok() != valid_b {
                wrong.push(format!("{b:?}: packaging says valid={valid_b}"));
            }
            let Some(order) = order else {
                invalid += 1;
                continue;
            };
            compared += 1;
            let theirs = order.cmp(&0);
            match compare(a, b) {
                Ok(ours) if ours == theirs => {}
                other => wrong.push(format!("{a:?} vs {b:?}: packaging {theirs:?}, ours {other:?}")),
            }
            // The normalized spelling is the same version.
            for (v, norm) in [(a, norm_a.unwrap()), (b, norm_b.unwrap())] {
                if compare(v, &norm) != Ok(Ordering::Equal) {
                    wrong.push(format!("{v:?} vs its normal form {norm:?}: {:?}", compare(v, &norm)));
                }
            }
        }
        assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
        assert!(
            compared > 14_000 && invalid > 1000,
            "{compared} compared, {invalid} with an invalid side"
        );
        eprintln!(
            "packaging {}: {} pairs ({from_files} from the vector files): {compared} ordered alike, \
             {invalid} with an invalid side rejected alike",
            String::from_utf8_lossy(&probe.stdout).trim(),
            pairs.len()
        );
    }
}
