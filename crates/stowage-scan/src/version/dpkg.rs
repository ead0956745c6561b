//! Debian versions, compared the way `dpkg --compare-versions` does (Debian
//! Policy §5.6.12; dpkg's `parseversion` and `dpkg_version_compare`).
//!
//! A version is `[epoch:]upstream_version[-debian_revision]`:
//!
//! * the epoch is everything before the first `:` and must be a decimal
//!   number from 0 to `i32::MAX` (dpkg reads it with `strtol`, so a leading
//!   `+`, or `-` on a zero, is accepted); a missing epoch is 0;
//! * the revision is everything after the last `-` (of what follows the
//!   epoch) and may not be empty; a missing revision compares like `0`;
//! * the upstream version is what is left and may not be empty.
//!
//! Epochs compare as numbers. Upstream versions, then revisions, compare by
//! dpkg's `verrevcmp`: alternately a run of non-digits, compared character by
//! character with `~` before the end of the string, the end before letters,
//! and letters before everything else; then a run of digits, compared as a
//! number of any length (leading zeros ignored, no overflow).
//!
//! Like dpkg, leading and trailing blanks (space, tab) are trimmed, and a
//! version that dpkg only *warns* about (an upstream version that does not
//! start with a digit, or characters outside `[A-Za-z0-9.+~:-]`) is compared
//! all the same. What dpkg refuses with an error is [`InvalidVersion`]: an
//! empty version, embedded blanks, an epoch that is empty, not a number,
//! negative or too big, nothing after the colon, an empty upstream version or
//! an empty revision. A NUL byte, which no command line can carry, is refused
//! too. Bytes outside ASCII sort as dpkg built for amd64 (signed `char`) sorts
//! them: after letters, before ASCII punctuation.

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    let a = Version::parse(a)?;
    let b = Version::parse(b)?;
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision)))
}

/// A parsed version; `revision` is empty when there is none.
struct Version<'a> {
    epoch: u32,
    upstream: &'a [u8],
    revision: &'a [u8],
}

impl<'a> Version<'a> {
    /// dpkg's `parseversion`, keeping its errors and dropping its warnings.
    fn parse(text: &'a str) -> Result<Self, InvalidVersion> {
        let invalid = || InvalidVersion::new(Scheme::Dpkg, text);
        let bytes = text.as_bytes();
        if bytes.contains(&0) {
            return Err(invalid());
        }
        let is_blank = |c: &u8| *c == b' ' || *c == b'\t';
        let start = bytes.iter().position(|c| !is_blank(c)).ok_or_else(invalid)?;
        let bytes = &bytes[start..];
        let end = bytes.iter().position(is_blank).unwrap_or(bytes.len());
        if !bytes[end..].iter().all(is_blank) {
            return Err(invalid()); // embedded blanks
        }
        let bytes = &bytes[..end];

        let (epoch, rest) = match bytes.iter().position(|&c| c == b':') {
            Some(colon) => {
                let epoch = parse_epoch(&bytes[..colon]).ok_or_else(invalid)?;
                let rest = &bytes[colon + 1..];
                if rest.is_empty() {
                    return Err(invalid()); // nothing after the colon
                }
                (epoch, rest)
            }
            None => (0, bytes),
        };
        let (upstream, revision) = match rest.iter().rposition(|&c| c == b'-') {
            Some(hyphen) if hyphen + 1 == rest.len() => return Err(invalid()), // empty revision
            Some(hyphen) => (&rest[..hyphen], &rest[hyphen + 1..]),
            None => (rest, &[][..]),
        };
        if upstream.is_empty() {
            return Err(invalid());
        }
        Ok(Version {
            epoch,
            upstream,
            revision,
        })
    }
}

/// The epoch as dpkg reads it: `strtol(text, &end, 10)` must consume all of
/// `text` (which ends at the colon) and give a value in `0..=i32::MAX`.
fn parse_epoch(text: &[u8]) -> Option<u32> {
    // strtol skips leading white space; blanks are trimmed already, the rest
    // of C's isspace() may still be there.
    let text = match text
        .iter()
        .position(|c| !matches!(c, b'\n' | b'\x0b' | b'\x0c' | b'\r'))
    {
        Some(i) => &text[i..],
        None => return None, // no digits: "epoch in version is empty"
    };
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None; // empty, or "epoch in version is not number"
    }
    let significant = digits.iter().position(|&c| c != b'0').map_or(&[][..], |i| &digits[i..]);
    if significant.is_empty() {
        return Some(0); // "-0" is zero, not negative
    }
    if negative || significant.len() > 10 {
        return None; // negative, or too big
    }
    let value: u64 = significant.iter().fold(0, |n, &c| n * 10 + u64::from(c - b'0'));
    u32::try_from(value).ok().filter(|&v| v <= i32::MAX as u32)
}

/// The weight of a character in a non-digit run (dpkg's `order`): the end of
/// the string and digits 0, `~` -1, ASCII letters their code, anything else
/// its code plus 256. Bytes of 0x80 and up are negative as a signed `char`,
/// so dpkg gives them `c + 256`, which is their unsigned value.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, on bytes, with digit runs compared as numbers of any
/// length.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let digit_at = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // A run of non-digits. When one side has ended or reached a digit
        // (weight 0) while the other has not, the weights differ and the loop
        // returns, so neither index runs past its end.
        while (i < a.len() && !digit_at(a, i)) || (j < b.len() && !digit_at(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // A run of digits: skip leading zeros, then the longer number wins,
        // and between equally long ones the first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit_at(a, i) && digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit_at(a, i) {
            return Ordering::Greater;
        }
        if digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::{self, Equal, Greater, Less};
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::compare;
    use crate::version::vectors;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn vector_files_agree() {
        let hand = vectors::check("debian-versions.txt", cmp);
        let generated = vectors::check("debian-versions-generated.txt", cmp);
        println!("debian-versions.txt: {hand} lines; debian-versions-generated.txt: {generated} lines");
        assert!(hand > 0 && generated > 0);
    }

    #[test]
    fn policy_examples() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Less);
        assert_eq!(cmp("1.0~", "1.0"), Less);
        assert_eq!(cmp("1.0", "1.0a"), Less);
        assert_eq!(cmp("1.0a", "1.0+"), Less);
        assert_eq!(cmp("1.0+", "1.0.1"), Less); // '+' sorts before '.'
        assert_eq!(cmp("1:0.1", "2.0"), Greater);
        assert_eq!(cmp("1.01", "1.1"), Equal);
        assert_eq!(cmp("1.0", "1.0-0"), Equal);
        assert_eq!(cmp("0:1.0", "1.0"), Equal);
        assert_eq!(cmp("1.0-1", "1.0-1~bpo1"), Greater);
        assert_eq!(cmp("2.30-1", "2.30-1+deb12u1"), Less);
        assert_eq!(cmp("1.2-3-4", "1.2-3-5"), Less); // the revision is after the last '-'
        assert_eq!(cmp("1:2:3", "1:2:4"), Less); // colons after the epoch belong to the version
        // Digit runs of any length, compared as numbers.
        assert_eq!(
            cmp("1.123456789012345678901234567890", "1.123456789012345678901234567891"),
            Less
        );
        assert_eq!(cmp("1.00000000000000000000000000000000000001", "1.1"), Equal);
        assert_eq!(cmp("99999999999999999999999", "100000000000000000000000"), Less);
        // dpkg trims blanks around the version.
        assert_eq!(cmp(" 1.0\t", "1.0"), Equal);
    }

    #[test]
    fn dpkg_warns_but_compares() {
        // "version number does not start with digit", "invalid character":
        // warnings only, so dpkg still answers.
        assert_eq!(cmp("a", "b"), Less);
        assert_eq!(cmp("1_0", "1.0"), Greater); // '_' (95+256) after '.' (46+256)
        assert_eq!(cmp("1é", "1z"), Greater); // bytes >= 0x80: after letters ...
        assert_eq!(cmp("1é", "1+"), Less); // ... and before ASCII punctuation
        assert_eq!(cmp("+1:1", "1:1"), Equal); // strtol takes a '+'
        assert_eq!(cmp("-0:1", "1"), Equal); // and "-0" is not negative
        assert_eq!(cmp("1.0-a_b", "1.0-a.b"), Greater);
    }

    #[test]
    fn dpkg_errors_are_invalid() {
        for bad in [
            "",
            " ",
            "\t",
            "1 0",
            "1:",
            ":1",
            "a:1",
            "1a:1",
            "-1:1",
            "2147483648:1",
            "99999999999999999999:1",
            "1.0-",
            "-1",
            "1:-1",
            "1\u{0}2",
        ] {
            let err = compare(bad, "1").expect_err(bad);
            assert_eq!(err.scheme, crate::version::Scheme::Dpkg);
            assert_eq!(err.version, bad);
            assert!(compare("1", bad).is_err(), "{bad:?}");
        }
        assert_eq!(cmp("2147483647:1", "2147483646:9"), Greater);
    }

    /// A Debian version that dpkg accepts: digits with and without leading
    /// zeros, letters, and every separator dpkg allows.
    fn valid_version() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => prop::sample::select(vec!["0", "00", "1", "01", "2", "9", "10", "010", "123456789012345678901"]),
            3 => prop::sample::select(vec!["a", "b", "z", "A", "Z", "rc", "dfsg", "deb12u", "ubuntu"]),
            3 => prop::sample::select(vec![".", "+", "~", "~~", ":", "-"]),
        ];
        let upstream = (
            prop::sample::select(vec!["0", "1", "2", "10", "01"]),
            prop::collection::vec(piece.clone(), 0..5),
        );
        let revision = prop::collection::vec(piece, 1..4);
        (
            prop::option::weighted(0.3, prop::sample::select(vec!["0", "1", "2", "10", "01"])),
            upstream,
            prop::option::weighted(0.5, revision),
        )
            .prop_map(|(epoch, (first, rest), revision)| {
                let mut v = String::new();
                if let Some(e) = epoch {
                    v.push_str(e);
                    v.push(':');
                }
                v.push_str(first);
                for p in rest {
                    // Without an epoch a ':' would be read as one, without a
                    // revision a '-' as its start: keep those for later.
                    if (p == ":" && epoch.is_none()) || (p == "-" && revision.is_none()) {
                        continue;
                    }
                    v.push_str(p);
                }
                if let Some(rev) = revision {
                    v.push('-');
                    for p in rev {
                        if p != ":" && p != "-" {
                            v.push_str(p);
                        }
                    }
                    if v.ends_with('-') {
                        v.push('1');
                    }
                }
                v
            })
    }

    /// Anything a Debian version might be made of, valid or not: the
    /// differential test's input.
    fn any_version() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            5 => prop::sample::select(vec!["0", "00", "1", "01", "2", "9", "10", "010", "123456789012345678901"]),
            3 => prop::sample::select(vec!["a", "b", "z", "A", "Z", "rc"]),
            5 => prop::sample::select(vec![".", "+", "~", "~~", ":", "-", "-1", "1:", "0:"]),
            1 => prop::sample::select(vec!["_", "!", "é", "%", "-0:", "+1:", "2147483648:", "a:"]),
        ];
        prop_oneof![
            4 => valid_version(),
            1 => prop::collection::vec(piece, 1..7).prop_map(|p| p.concat()),
        ]
    }

    /// The same version with a different spelling dpkg reads as equal: zeros
    /// in front of digit runs, an explicit `0:` epoch, an explicit `-0`
    /// revision.
    fn respelled(v: &str, pad: &[bool], add_epoch: bool, add_revision: bool) -> String {
        let mut out = String::new();
        if add_epoch && !v.contains(':') {
            out.push_str("0:");
        }
        let mut pad = pad.iter().cycle();
        let mut prev_digit = false;
        for c in v.chars() {
            if c.is_ascii_digit() && !prev_digit && *pad.next().unwrap_or(&false) {
                out.push('0');
            }
            prev_digit = c.is_ascii_digit();
            out.push(c);
        }
        if add_revision && !v.contains('-') {
            out.push_str("-0");
        }
        out
    }

    proptest! {
        #[test]
        fn reflexive(v in any_version()) {
            if let Ok(o) = compare(&v, &v) {
                prop_assert_eq!(o, Equal);
            }
        }

        #[test]
        fn antisymmetric(a in any_version(), b in any_version()) {
            match (compare(&a, &b), compare(&b, &a)) {
                (Ok(x), Ok(y)) => prop_assert_eq!(x, y.reverse()),
                (Err(_), Err(_)) => {}
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn transitive(v in prop::collection::vec(any_version(), 3)) {
            prop_assume!(v.iter().all(|x| compare(x, x).is_ok()));
            crate::version::vectors::transitive(cmp, &v, false)?;
        }

        #[test]
        fn respelling_is_equal(
            a in valid_version(),
            b in valid_version(),
            pad in prop::collection::vec(any::<bool>(), 1..8),
            add_epoch: bool,
            add_revision: bool,
        ) {
            let a2 = respelled(&a, &pad, add_epoch, add_revision);
            prop_assert_eq!(cmp(&a, &a2), Equal, "{} vs {}", a, a2);
            prop_assert_eq!(cmp(&a2, &b), cmp(&a, &b), "{} vs {}", a2, b);
        }
    }

    /// Every pair of a few characters of each class, in a few positions:
    /// the per-character order, exhaustively on a sample.
    fn character_pairs() -> Vec<(String, String)> {
        const CHARS: [&str; 20] = [
            "0", "1", "9", "a", "z", "A", "Z", "~", "^", "+", ".", "-", ":", "_", "!", "%", "@", "é", "ÿ", "€",
        ];
        let mut pairs = Vec::new();
        for template in ["1{}", "1.0{}1"] {
            for x in CHARS {
                for y in CHARS {
                    pairs.push((template.replace("{}", x), template.replace("{}", y)));
                }
            }
        }
        pairs
    }

    /// Pairs drawn deterministically from `strategy`; three in four are a
    /// version and a small edit of it, so that near-ties are common.
    fn pairs(count: usize, strategy: impl Strategy<Value = String>) -> Vec<(String, String)> {
        let mut runner = TestRunner::deterministic();
        let mut draw = || strategy.new_tree(&mut runner).expect("strategy").current();
        (0..count)
            .map(|i| {
                let a = draw();
                let other = draw();
                let c = other.chars().next().unwrap_or('0');
                let mut chars: Vec<char> = a.chars().collect();
                let at = other.len() % (chars.len() + 1);
                let b = match i % 4 {
                    0 => other,
                    1 => format!("{a}{c}"),
                    2 => {
                        chars.insert(at, c);
                        chars.into_iter().collect()
                    }
                    _ => {
                        if at < chars.len() && chars.len() > 1 {
                            chars.remove(at);
                        }
                        chars.into_iter().collect()
                    }
                };
                (a, b)
            })
            .collect()
    }

    /// Our answer against `dpkg --compare-versions` on a few thousand
    /// generated pairs, valid and not. One dpkg call per pair checks the whole
    /// answer: `A lt B` must hold when we say Less (and so on), and dpkg must
    /// exit 2 (bad syntax) exactly when we say InvalidVersion. dpkg is part of
    /// every Debian system, so this test never skips.
    #[test]
    fn agrees_with_dpkg_compare_versions() {
        let mut pairs = pairs(1600, any_version());
        pairs.extend(character_pairs());
        let expected: Vec<(&str, u8)> = pairs
            .iter()
            .map(|(a, b)| match compare(a, b) {
                Ok(Less) => ("lt", 0),
                Ok(Equal) => ("eq", 0),
                Ok(Greater) => ("gt", 0),
                Err(_) => ("lt", 2),
            })
            .collect();
        // Two shells (this machine and CI have two cores), each running
        // dpkg once per line of its half and printing the exit status.
        let script = r#"tab=$(printf '\t'); while IFS="$tab" read -r a op b; do dpkg --compare-versions -- "$a" "$op" "$b" 2>/dev/null; echo $?; done"#;
        let half = pairs.len() / 2;
        let mut children = Vec::new();
        for range in [0..half, half..pairs.len()] {
            let mut child = Command::new("sh")
                .args(["-c", script])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("running sh");
            let mut input = Vec::new();
            for i in range {
                let (a, b) = &pairs[i];
                assert!(!a.contains(['\t', '\n']) && !b.contains(['\t', '\n']));
                writeln!(input, "{a}\t{}\t{b}", expected[i].0).unwrap();
            }
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || stdin.write_all(&input).expect("writing to sh"));
            children.push(child);
        }
        let mut statuses = Vec::new();
        for child in children {
            let out = child.wait_with_output().expect("waiting for sh");
            assert!(out.status.success(), "sh failed: {:?}", out.status);
            let text = String::from_utf8(out.stdout).unwrap();
            statuses.extend(text.lines().map(|l| l.parse::<u8>().expect("exit status")));
        }
        assert_eq!(
            statuses.len(),
            pairs.len(),
            "dpkg answered {} of {} pairs",
            statuses.len(),
            pairs.len()
        );
        let mut wrong = Vec::new();
        let mut counts = [0usize; 4];
        for (i, status) in statuses.iter().enumerate() {
            let (op, want) = expected[i];
            let (a, b) = &pairs[i];
            if *status != want {
                wrong.push(format!(
                    "{a:?} vs {b:?}: we say {:?}, dpkg's `{op}` exits {status}",
                    compare(a, b)
                ));
            }
            counts[match (op, want) {
                ("lt", 0) => 0,
                ("eq", _) => 1,
                ("gt", _) => 2,
                _ => 3,
            }] += 1;
        }
        println!(
            "dpkg --compare-versions: {} pairs ({} <, {} =, {} >, {} invalid), {} disagreements",
            pairs.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            wrong.len()
        );
        assert!(
            wrong.is_empty(),
            "{} of {} pairs disagree with dpkg:\n{}",
            wrong.len(),
            pairs.len(),
            wrong.join("\n")
        );
        assert!(
            counts.iter().all(|&c| c > 0),
            "the generator missed a kind of answer: {counts:?}"
        );
    }
}
