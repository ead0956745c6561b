//! Alpine versions, compared the way `apk version -t` of apk-tools 2.x does
//! (`src/version.c` of the 2.14 branch).
//!
//! A version is `number{.number}...{letter}{_suffix{number}}...{-r#}`. apk
//! reads it as a stream of tokens, each with a value:
//!
//! * the first number, then `.number` parts; a dotted part that starts with
//!   `0` is special (Gentoo-style): its leading zeros, all but the last one,
//!   count as the value `-(how many)` and the rest is read as a plain number,
//!   so `1.05 < 1.5` and `1.0 > 1.00`; the first number is a plain number
//!   (`01.2 = 1.2`);
//! * one lowercase letter, valued by its code, after which a number may
//!   follow again (`1.0a1`);
//! * suffixes `_alpha _beta _pre _rc` (values -4 to -1, before a release),
//!   `_cvs _svn _git _hg _p` (values 0 to 4, after it), each optionally
//!   followed by a number; a suffix is matched by prefix (`_alphax` reads
//!   `_alpha` then fails at `x`), and one that matches nothing is invalid;
//! * `-r` and a revision number (`-r` at the very end reads as `-r0`).
//!
//! Two versions are compared token by token, value first. Numbers compare by
//! value at any length: apk holds them in an `int64_t`, so this agrees with
//! it wherever apk itself does not overflow. When the token *kinds* part ways,
//! the version that ended is older than one that goes on, except that a
//! pre-release suffix (or an unknown one) makes its version the older; more
//! generally the kinds rank, oldest first: pre-release suffix, end, revision,
//! suffix number, other suffix, letter, number, dotted number, invalid.
//! Whatever apk cannot read (an uppercase letter, a second letter, a `-` not
//! followed by `r`, ...) ends the stream as an *invalid* token, which sorts
//! above everything and makes everything after it irrelevant: two versions
//! that turn invalid at the same point with the same tokens before are equal.
//!
//! apk-tools 3 (Alpine edge) tokenises differently (invalid sorts below
//! everything, dotted zeros sort as strings, a letter cannot carry a number,
//! `~hash` is read), and the hand-written `alpine-versions.txt` records some of
//! its answers; the generated file, written by apk 2.x itself, is what this
//! follows (see the tests).
//!
//! apk compares any string, so the only [`InvalidVersion`] is one with a NUL
//! byte, which no C string holds.

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two Alpine package versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    for v in [a, b] {
        if v.contains('\0') {
            return Err(InvalidVersion::new(Scheme::Apk, v));
        }
    }
    Ok(compare_tokens(a.as_bytes(), b.as_bytes()))
}

/// Token kinds, in apk's order (the numbering matters: a higher kind is an
/// older version when the kinds of two versions part ways).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

/// A token's value: apk's `int64_t`, except that numbers too long for one
/// are kept as their digits (no leading zeros, 19 or more of them), which
/// rank above every small value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value<'a> {
    Small(i64),
    Big(&'a [u8]),
}

impl Ord for Value<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Small(x), Value::Small(y)) => x.cmp(y),
            (Value::Big(x), Value::Big(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            (Value::Small(_), Value::Big(_)) => Ordering::Less,
            (Value::Big(_), Value::Small(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Value<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Value<'a> {
    fn number(digits: &'a [u8]) -> Self {
        let significant = &digits[digits.iter().position(|&c| c != b'0').unwrap_or(digits.len())..];
        if significant.len() > 18 {
            Value::Big(significant)
        } else {
            Value::Small(significant.iter().fold(0, |n, &c| n * 10 + i64::from(c - b'0')))
        }
    }
}

const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// Reads one version: apk's `get_token` and `next_token` over a cursor.
struct Tokens<'a> {
    rest: &'a [u8],
    kind: Kind,
}

impl<'a> Tokens<'a> {
    fn new(version: &'a [u8]) -> Self {
        Tokens {
            rest: version,
            kind: Kind::Digit,
        }
    }

    /// `get_token`: reads the value of a token of the current kind, then
    /// moves on and sets the kind of the next one.
    fn next_value(&mut self) -> Value<'a> {
        if self.rest.is_empty() {
            self.kind = Kind::End;
            return Value::Small(0);
        }
        let mut next_kind = None;
        let (value, len) = match self.kind {
            Kind::DigitOrZero if self.rest[0] == b'0' => {
                // All zeros but the last one count; the rest is a number.
                let zeros = self.rest[1..].iter().take_while(|&&c| c == b'0').count();
                next_kind = Some(Kind::Digit);
                (Value::Small(-(zeros as i64)), zeros)
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                let len = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
                (Value::number(&self.rest[..len]), len)
            }
            Kind::Letter => (Value::Small(i64::from(self.rest[0])), 1),
            Kind::Suffix => match suffix(self.rest) {
                Some((value, len)) => (Value::Small(value), len),
                None => {
                    self.kind = Kind::Invalid;
                    return Value::Small(-1);
                }
            },
            Kind::Invalid | Kind::End => {
                self.kind = Kind::Invalid;
                return Value::Small(-1);
            }
        };
        self.rest = &self.rest[len..];
        if self.rest.is_empty() {
            self.kind = Kind::End;
        } else if let Some(kind) = next_kind {
            self.kind = kind;
        } else {
            self.next_kind();
        }
        value
    }

    /// `next_token`: the kind of the token that starts here, consuming its
    /// separator (`.`, `_`, `-r`; a letter or a number has none).
    fn next_kind(&mut self) {
        let current = self.kind;
        let c = self.rest[0];
        let next = if matches!(current, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() {
            Kind::Letter
        } else if current == Kind::Letter && c.is_ascii_digit() {
            Kind::Digit
        } else if current == Kind::Suffix && c.is_ascii_digit() {
            Kind::SuffixNo
        } else {
            let kind = match c {
                b'.' => Kind::DigitOrZero,
                b'_' => Kind::Suffix,
                b'-' if self.rest.get(1) == Some(&b'r') => {
                    self.rest = &self.rest[1..];
                    Kind::RevisionNo
                }
                _ => Kind::Invalid,
            };
            self.rest = &self.rest[1..];
            kind
        };
        // Kinds only go forward, except a new dotted number after a number,
        // a new suffix after a suffix number and a number after a letter.
        let allowed_back = matches!(
            (next, current),
            (Kind::DigitOrZero, Kind::Digit) | (Kind::Suffix, Kind::SuffixNo) | (Kind::Digit, Kind::Letter)
        );
        self.kind = if next < current && !allowed_back {
            Kind::Invalid
        } else {
            next
        };
    }

    /// Whether the next token is a suffix apk ranks below a release (a
    /// pre-release one, or one it does not know), as `get_token(...) < 0`.
    fn at_pre_release(&self) -> bool {
        // With nothing after the '_', get_token reads the end: value 0.
        self.kind == Kind::Suffix && !self.rest.is_empty() && suffix(self.rest).is_none_or(|(value, _)| value < 0)
    }
}

/// The suffix at the start of `s` (matched by prefix, pre-release ones first)
/// and its length; its value is -4..=-1 before a release and 0..=4 after.
fn suffix(s: &[u8]) -> Option<(i64, usize)> {
    if let Some(i) = PRE_SUFFIXES.iter().position(|p| s.starts_with(p)) {
        return Some((i as i64 - PRE_SUFFIXES.len() as i64, PRE_SUFFIXES[i].len()));
    }
    POST_SUFFIXES
        .iter()
        .position(|p| s.starts_with(p))
        .map(|i| (i as i64, POST_SUFFIXES[i].len()))
}

/// `apk_version_compare_blob`.
fn compare_tokens(a: &[u8], b: &[u8]) -> Ordering {
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    let (mut va, mut vb) = (Value::Small(0), Value::Small(0));
    while ta.kind == tb.kind && ta.kind != Kind::End && ta.kind != Kind::Invalid && va == vb {
        va = ta.next_value();
        vb = tb.next_value();
    }
    if va != vb {
        return va.cmp(&vb);
    }
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // Equal so far, and one goes on where the other does not (or not alike):
    // the one that goes on is newer unless it goes on with a pre-release.
    if ta.at_pre_release() {
        return Ordering::Less;
    }
    if tb.at_pre_release() {
        return Ordering::Greater;
    }
    // A higher kind is the older version.
    tb.kind.cmp(&ta.kind)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    use proptest::prelude::*;

    use super::compare;
    use crate::version::vectors;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn generated_vectors_agree() {
        // Written by `apk version -t` itself (apk-tools 2.x, Alpine 3.10).
        let lines = vectors::check("alpine-versions-generated.txt", cmp);
        println!("alpine-versions-generated.txt: {lines} lines");
        assert!(lines > 0);
    }

    /// Lines of `alpine-versions.txt` whose answer is not what apk-tools 2.x
    /// prints, with the answer it does print. The file is an old copy of
    /// osv-scanner's; its comments call some of these "latest apk" (3.x)
    /// answers, and osv-scalibr's current copy
    /// (`semantic/testdata/alpine-versions.txt`) has since turned every one of
    /// them to the answer given here. What they have in common: versions apk
    /// reads as invalid part-way (`-r` without a number, `.r1`, an uppercase
    /// letter), where 2.x ranks the invalid token above everything and 3.x
    /// below.
    const APK2_ANSWERS: [(&str, &str); 8] = [
        ("1-r-0 < 1-r0", ">"),
        ("1-r-1 < 1-r0", ">"),
        ("0.r1 < 0r2", ">"),
        ("0.8.21.r2 < 0.8.21r2", ">"),
        ("1.2.0A < 1.2.0d", ">"),
        ("1.2.0D < 1.2.0d", ">"),
        ("1 > 1-ruff", "<"),
        ("1-ruff2 = 1--ruff1", "<"),
    ];

    #[test]
    fn hand_written_vectors_agree_but_for_apk3_answers() {
        let lines = vectors::load("alpine-versions.txt");
        let mut wrong = Vec::new();
        let mut overridden = 0;
        for (a, op, b) in &lines {
            let symbol = match op {
                Less => "<",
                Equal => "=",
                Greater => ">",
            };
            let line = format!("{a} {symbol} {b}");
            let want = match APK2_ANSWERS.iter().find(|(l, _)| *l == line) {
                Some((_, answer)) => {
                    overridden += 1;
                    match *answer {
                        "<" => Less,
                        "=" => Equal,
                        _ => Greater,
                    }
                }
                None => *op,
            };
            if cmp(a, b) != want || cmp(b, a) != want.reverse() {
                wrong.push(format!("{line}: got {:?}, want {want:?}", cmp(a, b)));
            }
        }
        println!(
            "alpine-versions.txt: {} lines, {} agree as written, {overridden} with apk 2.x's answer instead",
            lines.len(),
            lines.len() - overridden
        );
        assert!(!lines.is_empty());
        assert!(
            wrong.is_empty(),
            "{} of {} wrong:\n{}",
            wrong.len(),
            lines.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn apk_examples() {
        assert_eq!(cmp("1.0", "1.0.1"), Less);
        assert_eq!(cmp("1.0_alpha", "1.0"), Less);
        assert_eq!(cmp("1.0_alpha", "1.0_beta"), Less);
        assert_eq!(cmp("1.0_beta", "1.0_pre"), Less);
        assert_eq!(cmp("1.0_pre", "1.0_rc"), Less);
        assert_eq!(cmp("1.0_rc", "1.0"), Less);
        assert_eq!(cmp("1.0", "1.0_cvs"), Less);
        assert_eq!(cmp("1.0_cvs", "1.0_svn"), Less);
        assert_eq!(cmp("1.0_svn", "1.0_git"), Less);
        assert_eq!(cmp("1.0_git", "1.0_hg"), Less);
        assert_eq!(cmp("1.0_hg", "1.0_p"), Less);
        assert_eq!(cmp("1.0_rc1", "1.0_rc2"), Less);
        assert_eq!(cmp("1.0_rc01", "1.0_rc1"), Equal);
        assert_eq!(cmp("1.0-r1", "1.0-r01"), Equal);
        assert_eq!(cmp("1.0-r1", "1.0-r2"), Less);
        assert_eq!(cmp("1.0", "1.0-r0"), Less);
        assert_eq!(cmp("1.0-r", "1.0-r0"), Equal);
        assert_eq!(cmp("1.0a", "1.0b"), Less);
        assert_eq!(cmp("1.0", "1.0a"), Less);
        assert_eq!(cmp("1.0a", "1.0.1"), Less);
        assert_eq!(cmp("3.3.3p1-r2", "3.3.3p1-r3"), Less); // a letter may carry a number
        assert_eq!(cmp("01.2", "1.2"), Equal); // the first number is a plain number
        // Dotted numbers with leading zeros: apk-tools 2.14's rule.
        assert_eq!(cmp("1.05", "1.5"), Less);
        assert_eq!(cmp("1.0", "1.00"), Greater);
        assert_eq!(cmp("1.", "1.0"), Less);
        assert_eq!(cmp("1", "1.0"), Less);
        assert_eq!(cmp("1.010", "1.09"), Greater); // 3.x says "<"
        assert_eq!(cmp("8.2.0", "8.2.001"), Greater); // apk-tools issue 10882
        // Numbers past int64 compare by value.
        assert_eq!(
            cmp("1.123456789012345678901234567890", "1.123456789012345678901234567891"),
            Less
        );
        assert_eq!(cmp("20191002222144", "20210530193627"), Less);
        // Invalid tokens rank above everything and end the comparison.
        assert_eq!(cmp("1.0A", "1.0z"), Greater);
        assert_eq!(cmp("1.0A", "1.0B"), Equal);
        assert_eq!(cmp("1.0_foo", "1.0"), Less); // an unknown suffix is pre-release-like
        assert_eq!(cmp("1.0_alphax", "1.0_alpha"), Greater);
    }

    #[test]
    fn only_nul_is_invalid() {
        let err = compare("1\u{0}", "1").unwrap_err();
        assert_eq!(err.scheme, crate::version::Scheme::Apk);
        assert_eq!(err.version, "1\u{0}");
        assert!(compare("1", "1\u{0}").is_err());
        assert_eq!(compare("", ""), Ok(Equal));
        assert_eq!(compare("", "0"), Ok(Equal)); // "" reads as a number 0 too
        assert_eq!(compare("", "1"), Ok(Less));
    }

    /// An Alpine version, mostly well-formed: numbers with and without
    /// leading zeros, a letter (maybe with a number), suffixes with numbers,
    /// a revision; and now and then the pieces apk reads as invalid.
    fn version() -> impl Strategy<Value = String> {
        let number = prop::sample::select(vec![
            "0",
            "00",
            "1",
            "01",
            "2",
            "9",
            "10",
            "010",
            "123456789012345678901",
        ]);
        let suffix = (
            prop::sample::select(vec![
                "alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p", "foo",
            ]),
            prop::option::of(number.clone()),
        )
            .prop_map(|(s, n)| format!("_{s}{}", n.unwrap_or("")));
        let junk = prop::sample::select(vec!["", "", "", "", "", "", "A", ".", "-", "-r", "x1", "~abc", "é"]);
        (
            prop::collection::vec(number.clone(), 1..4),
            prop::option::weighted(
                0.2,
                (
                    prop::sample::select(vec!["a", "b", "p", "z"]),
                    prop::option::of(number.clone()),
                ),
            ),
            prop::collection::vec(suffix, 0..3),
            prop::option::weighted(0.6, prop::option::of(number)),
            junk,
        )
            .prop_map(|(numbers, letter, suffixes, revision, junk)| {
                let mut v = numbers.join(".");
                if let Some((l, n)) = letter {
                    v.push_str(l);
                    v.push_str(n.unwrap_or(""));
                }
                v.extend(suffixes);
                if let Some(r) = revision {
                    v.push_str("-r");
                    v.push_str(r.unwrap_or(""));
                }
                v.push_str(junk);
                v
            })
    }

    /// The same version as apk reads it, spelled differently: zeros in front
    /// of the plain numbers, which are the first one and those that follow a
    /// letter (the version's letter, a suffix, `-r`); not the dotted ones.
    fn respelled(v: &str, pad: &[bool]) -> String {
        let mut out = String::new();
        let mut pad = pad.iter().cycle();
        let mut prev: Option<char> = None;
        for c in v.chars() {
            let plain_number = c.is_ascii_digit() && prev.is_none_or(|p| p.is_ascii_alphabetic());
            if plain_number && *pad.next().unwrap_or(&false) {
                out.push('0');
            }
            out.push(c);
            prev = Some(c);
        }
        out
    }

    proptest! {
        #[test]
        fn reflexive(v in version()) {
            prop_assert_eq!(cmp(&v, &v), Equal);
        }

        #[test]
        fn antisymmetric(a in version(), b in version()) {
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
        }

        #[test]
        fn transitive(v in prop::collection::vec(version(), 3)) {
            crate::version::vectors::transitive(cmp, &v, false)?;
        }

        #[test]
        fn respelling_is_equal(a in version(), b in version(), pad in prop::collection::vec(any::<bool>(), 1..8)) {
            let a2 = respelled(&a, &pad);
            prop_assert_eq!(cmp(&a, &a2), Equal, "{} vs {}", a, a2);
            prop_assert_eq!(cmp(&a2, &b), cmp(&a, &b), "{} vs {}", a2, b);
        }
    }
}
