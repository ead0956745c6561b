//! Archive paths, normalized: no leading `/` or `./`, no empty or `.`
//! components, no trailing `/`. A `..` component is never resolved: the entry
//! that carries it is refused (see [`normalize_entry_path`]).

/// How a path in a layer's archive was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// A `..` component: the entry would reach outside the directory it is
    /// unpacked in (or, after cleaning, somewhere else than it says).
    DotDot,
    /// Not UTF-8. No file a cataloger reads has such a name.
    NotUtf8,
}

/// Normalizes an entry's path as stored in the archive. Returns `Ok("")` for
/// the root itself (`./`, `/`).
pub(crate) fn normalize_entry_path(raw: &[u8]) -> Result<String, PathProblem> {
    let text = std::str::from_utf8(raw).map_err(|_| PathProblem::NotUtf8)?;
    let mut out = String::with_capacity(text.len());
    for component in text.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(PathProblem::DotDot),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Ok(out)
}

/// The parent directory of a normalized path (`""` for a top-level entry).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The last component of a normalized path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// `dir` joined with `name`, both normalized.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolves a symbolic link's target the way the kernel does inside a
/// container's root: an absolute target starts from the root, a relative one
/// from the link's directory, and `..` never climbs above the root. Returns the
/// normalized path (intermediate directory symlinks are not followed).
pub(crate) fn resolve_link(link_path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(parent(link_path).split('/').filter(|c| !c.is_empty()));
    }
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// Whether `path` is `dir` itself or lies below it (`dir == ""` is the root).
pub(crate) fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let n = |s: &str| normalize_entry_path(s.as_bytes());
        assert_eq!(n("./etc/os-release"), Ok("etc/os-release".into()));
        assert_eq!(n("/etc//os-release"), Ok("etc/os-release".into()));
        assert_eq!(n("etc/./apt/"), Ok("etc/apt".into()));
        assert_eq!(n("./"), Ok(String::new()));
        assert_eq!(n("../etc/passwd"), Err(PathProblem::DotDot));
        assert_eq!(n("usr/../../etc"), Err(PathProblem::DotDot));
        assert_eq!(n("a/..b/c"), Ok("a/..b/c".into()));
        assert_eq!(normalize_entry_path(b"caf\xe9"), Err(PathProblem::NotUtf8));
    }

    #[test]
    fn resolves_links_inside_the_root() {
        assert_eq!(
            resolve_link("etc/os-release", "../usr/lib/os-release"),
            "usr/lib/os-release"
        );
        assert_eq!(
            resolve_link("etc/os-release", "/usr/lib/os-release"),
            "usr/lib/os-release"
        );
        assert_eq!(resolve_link("etc/x", "../../../../y"), "y");
        assert_eq!(resolve_link("x", "./y/./z"), "y/z");
    }

    #[test]
    fn under() {
        assert!(is_under("a/b/c", "a/b"));
        assert!(is_under("a/b", "a/b"));
        assert!(!is_under("a/bc", "a/b"));
        assert!(is_under("anything", ""));
    }
}
