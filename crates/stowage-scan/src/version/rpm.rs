//! RPM versions, compared the way rpm 4.18 does: `rpmverParse` splits the
//! string into epoch, version and release, `rpmverCmp` compares them, and
//! `rpmvercmp` compares each part. This is what `rpm.ver(a) < rpm.ver(b)` in
//! Python and `rpm.vercmp(a, b)` in rpm's Lua answer, and what
//! `rpm.labelCompare((e, v, r), ...)` answers once the string is split.
//!
//! Splitting (`[epoch:]version[-release]`): the epoch is a run of digits at
//! the start followed by `:` (an empty one, as in `:1`, is `0`); anything else
//! before a colon is part of the version, so `a:1` has no epoch. The release
//! is what follows the last `-` after that digit run. A missing epoch is `0`;
//! a missing release sorts before any release, even an empty one (`1 < 1-`).
//!
//! `rpmvercmp` walks both strings by segments, skipping separators (anything
//! but ASCII letters, digits, `~` and `^`):
//!
//! * `~` sorts before everything, even the end of the string (`1.0~rc1 <
//!   1.0`);
//! * `^` sorts after the end of the string but before anything else
//!   (`1.0 < 1.0^git1 < 1.0.1`);
//! * otherwise the next segment is a run of digits or a run of letters; a
//!   number is newer than letters; numbers compare by value (leading zeros
//!   ignored, any length), letters by bytes (case-sensitive);
//! * when one string runs out, the one with segments left is newer; which
//!   separators stood between segments does not matter (`1.0 = 1_0`).
//!
//! Every non-empty string is a version to rpm. Only the empty string (which
//! `rpmverParse` refuses) and strings with a NUL byte (which no C string
//! holds) are [`InvalidVersion`].

use std::cmp::Ordering;

use super::{InvalidVersion, Scheme};

/// Compares two RPM `[epoch:]version[-release]` strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, InvalidVersion> {
    let a = Evr::parse(a)?;
    let b = Evr::parse(b)?;
    Ok(rpmvercmp(a.epoch, b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }))
}

/// An EVR split the way `rpmverParse` splits it.
struct Evr<'a> {
    epoch: &'a [u8],
    version: &'a [u8],
    release: Option<&'a [u8]>,
}

impl<'a> Evr<'a> {
    fn parse(text: &'a str) -> Result<Self, InvalidVersion> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.contains(&0) {
            return Err(InvalidVersion::new(Scheme::Rpm, text));
        }
        let digits = bytes.iter().position(|c| !c.is_ascii_digit()).unwrap_or(bytes.len());
        // The release starts after the last '-' that follows the leading digits.
        let (rest, release) = match bytes[digits..].iter().rposition(|&c| c == b'-') {
            Some(i) => (&bytes[..digits + i], Some(&bytes[digits + i + 1..])),
            None => (bytes, None),
        };
        let (epoch, version) = if rest.get(digits) == Some(&b':') {
            let epoch = &rest[..digits];
            (if epoch.is_empty() { &b"0"[..] } else { epoch }, &rest[digits + 1..])
        } else {
            (&b"0"[..], rest)
        };
        Ok(Evr {
            epoch,
            version,
            release,
        })
    }
}

/// rpm's `rpmvercmp`, on bytes.
fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let is_separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while i < a.len() && is_separator(a[i]) {
            i += 1;
        }
        while j < b.len() && is_separator(b[j]) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());

        // '~' sorts before everything else.
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // '^' is like '~', except that the end of the string sorts before it.
        if x == Some(b'^') || y == Some(b'^') {
            match (x, y) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let Some(x) = x else { break };
        if y.is_none() {
            break;
        }

        // The next segment: all digits or all letters, as the first one is.
        let numeric = x.is_ascii_digit();
        let same_kind = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let seg_a = run(&a[i..], same_kind);
        let seg_b = run(&b[j..], same_kind);
        i += seg_a.len();
        j += seg_b.len();
        if seg_b.is_empty() {
            // Different kinds: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let order = if numeric {
            let seg_a = run_after_zeros(seg_a);
            let seg_b = run_after_zeros(seg_b);
            seg_a.len().cmp(&seg_b.len()).then_with(|| seg_a.cmp(seg_b))
        } else {
            seg_a.cmp(seg_b)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    // All segments equal: whichever string has something left is newer.
    (i < a.len()).cmp(&(j < b.len()))
}

/// The longest prefix of `s` whose bytes satisfy `keep`.
fn run(s: &[u8], keep: impl Fn(&u8) -> bool) -> &[u8] {
    &s[..s.iter().position(|c| !keep(c)).unwrap_or(s.len())]
}

/// A run of digits without its leading zeros.
fn run_after_zeros(s: &[u8]) -> &[u8] {
    &s[s.iter().position(|&c| c != b'0').unwrap_or(s.len())..]
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
    fn vector_file_agrees() {
        // There is no generated Red Hat file, only the hand-written one.
        let lines = vectors::check("redhat-versions.txt", cmp);
        println!("redhat-versions.txt: {lines} lines");
        assert!(lines > 0);
    }

    #[test]
    fn rpmvercmp_examples() {
        assert_eq!(cmp("1.0", "1.0.1"), Less);
        assert_eq!(cmp("1.0a", "1.0"), Greater);
        assert_eq!(cmp("1.0a", "1.0.1"), Less); // letters before numbers
        assert_eq!(cmp("1.0", "1_0"), Equal);
        assert_eq!(cmp("1.01", "1.1"), Equal);
        assert_eq!(cmp("1.0~rc1", "1.0"), Less);
        assert_eq!(cmp("1.0~rc1", "1.0~rc1~"), Greater);
        assert_eq!(cmp("1.0^", "1.0"), Greater);
        assert_eq!(cmp("1.0^git1", "1.0.1"), Less);
        assert_eq!(cmp("1.0^git1", "1.0~rc1"), Greater);
        assert_eq!(cmp("A", "a"), Less); // case-sensitive, by bytes
        assert_eq!(cmp("1.1.é", "1.1"), Equal); // non-ASCII is a separator
        assert_eq!(
            cmp("1.123456789012345678901234567890", "1.123456789012345678901234567891"),
            Less
        );
        assert_eq!(cmp("1.0000000000000000000000000000000000000001", "1.1"), Equal);
    }

    #[test]
    fn evr_examples() {
        assert_eq!(cmp("1:1.0", "2.0"), Greater);
        assert_eq!(cmp("0:1.0", "1.0"), Equal);
        assert_eq!(cmp(":1.0", "0:1.0"), Equal);
        assert_eq!(cmp("00001:1", "1:1"), Equal);
        assert_eq!(cmp("99999999999999999999999:1", "99999999999999999999998:2"), Greater);
        assert_eq!(cmp("1.0-1", "1.0-2"), Less);
        assert_eq!(cmp("1.0", "1.0-1"), Less); // no release < any release
        assert_eq!(cmp("1.0", "1.0-"), Less);
        assert_eq!(cmp("1.0-1.el9", "1.0-1.el9_1"), Less);
        assert_eq!(cmp("1-2-3", "1-2-4"), Less); // the release is after the last '-'
        assert_eq!(cmp("a:1", "1"), Less); // not an epoch: version "a:1"
        assert_eq!(cmp("1:", "1:0"), Less); // epoch 1, empty version
    }

    #[test]
    fn only_empty_and_nul_are_invalid() {
        for bad in ["", "1\u{0}2"] {
            let err = compare(bad, "1").expect_err(bad);
            assert_eq!(err.scheme, crate::version::Scheme::Rpm);
            assert_eq!(err.version, bad);
            assert!(compare("1", bad).is_err());
        }
        for odd in [":", "-", "~", "^", " ", "é", "a:b:c-d-e"] {
            assert_eq!(compare(odd, odd), Ok(Equal), "{odd:?}");
        }
    }

    /// An RPM version: numbers with and without leading zeros, letters of
    /// both cases, separators including `~` and `^`, an optional epoch and an
    /// optional release.
    fn version() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            5 => prop::sample::select(vec!["0", "00", "1", "01", "2", "9", "10", "010", "123456789012345678901"]),
            3 => prop::sample::select(vec!["a", "b", "z", "A", "Z", "rc", "el", "git"]),
            4 => prop::sample::select(vec![".", "_", "+", "~", "^", "~~", "^^", ".."]),
            1 => prop::sample::select(vec![":", "-", "é", "%"]),
        ];
        let part = prop::collection::vec(piece, 1..6).prop_map(|p| p.concat());
        (
            prop::option::weighted(0.3, prop::sample::select(vec!["", "0", "1", "2", "10", "01", "a"])),
            part.clone(),
            prop::option::weighted(0.5, part),
        )
            .prop_map(|(epoch, version, release)| {
                let mut v = String::new();
                if let Some(e) = epoch {
                    v.push_str(e);
                    v.push(':');
                }
                v.push_str(&version);
                if let Some(r) = release {
                    v.push('-');
                    v.push_str(&r);
                }
                v
            })
    }

    /// The same version as rpm reads it, spelled differently: zeros in front
    /// of numbers, other separators, an explicit `0:` epoch.
    fn respelled(v: &str, choices: &[u8], add_epoch: bool) -> String {
        let mut out = String::new();
        let starts_with_epoch = v.find(':').is_some_and(|i| v[..i].bytes().all(|c| c.is_ascii_digit()));
        if add_epoch && !starts_with_epoch {
            out.push_str("0:");
        }
        let mut choices = choices.iter().cycle();
        let mut prev = None;
        for c in v.chars() {
            let pick = *choices.next().unwrap_or(&0);
            if c.is_ascii_digit() && !prev.is_some_and(|p: char| p.is_ascii_digit()) && pick % 2 == 1 {
                out.push('0');
            }
            // A separator between two segments may be any other separator
            // ('-' and ':' place the release and the epoch: they stay).
            if matches!(c, '.' | '_' | '+') {
                out.push(['.', '_', '+', '.'][usize::from(pick % 4)]);
            } else {
                out.push(c);
            }
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
        fn respelling_is_equal(
            a in version(),
            b in version(),
            choices in prop::collection::vec(any::<u8>(), 1..8),
            add_epoch: bool,
        ) {
            let a2 = respelled(&a, &choices, add_epoch);
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
                        if at < chars.len() {
                            chars.remove(at);
                        }
                        chars.into_iter().collect()
                    }
                };
                (a, b)
            })
            .collect()
    }

    /// Debian's python3-rpm installs into the system Python, which may not be
    /// the first `python3` on PATH (pyenv, a venv).
    fn system_python() -> &'static str {
        if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        }
    }

    /// Our answer against rpm's own on thousands of generated pairs, in one
    /// Python process: `rpm.ver` is `rpmverParse` and its comparisons are
    /// `rpmverCmp`, from the rpm library itself. python3-rpm is installed by
    /// `scripts/test`, so a machine without it fails here rather than skip.
    #[test]
    fn agrees_with_librpm() {
        const SCRIPT: &str = r#"
import sys
import rpm
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = rpm.ver(a), rpm.ver(b)
    except ValueError:
        print("E")
        continue
    print(-1 if x < y else (1 if x > y else 0))
"#;
        let python = system_python();
        let probe = Command::new(python).args(["-c", "import rpm"]).output();
        match probe {
            Ok(out) if out.status.success() => {}
            other => panic!(
                "{python} cannot import rpm ({other:?}): install Debian's python3-rpm \
                 (`apt-get install -y python3-rpm`, which scripts/test does)"
            ),
        }

        let mut pairs = pairs(5000, version());
        pairs.extend(character_pairs());
        pairs.extend([("".into(), "1".into()), ("1".into(), "".into())]);
        let mut input = String::new();
        for (a, b) in &pairs {
            assert!(!a.contains(['\t', '\n']) && !b.contains(['\t', '\n']));
            input.push_str(&format!("{a}\t{b}\n"));
        }
        let mut child = Command::new(python)
            .args(["-c", SCRIPT])
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("running python");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).expect("writing to python"));
        let out = child.wait_with_output().expect("waiting for python");
        writer.join().unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answers: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(answers.len(), pairs.len());

        let mut counts = [0usize; 4];
        let mut wrong = Vec::new();
        for ((a, b), answer) in pairs.iter().zip(&answers) {
            let ours = match compare(a, b) {
                Ok(Less) => "-1",
                Ok(Equal) => "0",
                Ok(Greater) => "1",
                Err(_) => "E",
            };
            counts[["-1", "0", "1", "E"].iter().position(|&s| s == ours).unwrap()] += 1;
            if ours != answer {
                wrong.push(format!("{a:?} vs {b:?}: we say {ours}, rpm says {answer}"));
            }
        }
        println!(
            "librpm rpmverCmp: {} pairs ({} <, {} =, {} >, {} invalid), {} disagreements",
            pairs.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            wrong.len()
        );
        assert!(
            wrong.is_empty(),
            "{} of {} pairs disagree with rpm:\n{}",
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
