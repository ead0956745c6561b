//! IAM's wildcard matching: `*` (any run of characters, including none, and
//! spanning `/` and `:`) and `?` (exactly one character). Actions compare
//! case-insensitively; resources, `StringLike` and ARNs case-sensitively.

/// Does `value` match the wildcard `pattern`, comparing characters exactly?
pub fn glob(pattern: &str, value: &str) -> bool {
    glob_by(pattern, value, |p, v| p == v)
}

/// Does `value` match the wildcard `pattern`, ignoring case (as for actions)?
pub fn glob_ignore_case(pattern: &str, value: &str) -> bool {
    glob_by(pattern, value, |p, v| p == v || p.to_lowercase().eq(v.to_lowercase()))
}

/// Does the action (`ecr:PutImage`) match the policy's action pattern (`ecr:Put*`, `*`)?
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob_ignore_case(pattern, action)
}

/// Does the resource ARN (or `*`) match the policy's resource pattern? Case-sensitive;
/// `*` may span `/` and `:`, so `arn:aws:ecr:*:*:repository/team-a/*` matches nested names.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    glob(pattern, resource)
}

/// `ArnEquals`/`ArnLike`: each of the six colon-separated parts of the ARN is
/// matched separately, with wildcards, case-sensitively. A `value` that is not an
/// ARN never matches; a `pattern` of fewer than six parts matches nothing, except
/// a lone `*`, which matches every ARN.
pub fn arn_matches(pattern: &str, value: &str) -> bool {
    let Some(value_parts) = arn_parts(value) else {
        return false;
    };
    match arn_parts(pattern) {
        Some(pattern_parts) => pattern_parts.iter().zip(value_parts.iter()).all(|(p, v)| glob(p, v)),
        None => pattern == "*",
    }
}

/// The six parts of `arn:partition:service:region:account:resource`; the resource
/// part keeps any further colons.
pub fn arn_parts(value: &str) -> Option<[&str; 6]> {
    let mut it = value.splitn(6, ':');
    let parts = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (parts[0] == "arn").then_some(parts)
}

/// Iterative wildcard matcher: on a mismatch after a `*`, let that star swallow one
/// more character and retry. Linear in practice, O(n·m) at worst, never recursive.
fn glob_by(pattern: &str, value: &str, eq: impl Fn(char, char) -> bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || eq(p[pi], v[vi])) {
            pi += 1;
            vi += 1;
        } else if let Some((star_pi, star_vi)) = star {
            pi = star_pi + 1;
            vi = star_vi + 1;
            star = Some((star_pi, star_vi + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("?", "", false),
            ("?", "é", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("a**", "a", true),
            ("**a", "ba", true),
            ("ab", "AB", false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(glob(pattern, value), want, "glob({pattern:?}, {value:?})");
        }
    }

    #[test]
    fn actions_ignore_case_resources_do_not() {
        assert!(action_matches("ECR:putimage", "ecr:PutImage"));
        assert!(action_matches("ecr:*Image*", "ecr:BatchGetImage"));
        assert!(!resource_matches(
            "arn:aws:ecr:*:*:repository/Team-A/*",
            "arn:aws:ecr:us-east-1:111122223333:repository/team-a/app"
        ));
    }

    #[test]
    fn arns_match_part_by_part() {
        let arn = "arn:aws:iam::111122223333:role/path/admin";
        assert!(arn_matches("arn:aws:iam::*:role/*", arn));
        assert!(arn_matches(arn, arn));
        assert!(arn_matches("*", arn));
        // A star in the account part cannot reach into the resource part.
        assert!(!arn_matches("arn:aws:iam::*:role", arn));
        assert!(!arn_matches("arn:aws:iam::*", arn));
        assert!(!arn_matches("arn:aws:iam::*:user/*", arn));
        assert!(!arn_matches("*", "not-an-arn"));
        assert_eq!(
            arn_parts("arn:aws:ecr:r:1:repository/a:b").map(|p| p[5]),
            Some("repository/a:b")
        );
    }
}
