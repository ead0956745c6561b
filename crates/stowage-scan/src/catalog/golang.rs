//! Go: the build information the Go toolchain embeds in every binary it links
//! (what `go version -m` prints), read as Go's own `debug/buildinfo` does.
//!
//! The build info starts with a 32-byte header: the magic `\xff Go buildinf:`
//! (16-byte aligned, at the start of the `.go.buildinfo` section, in a
//! writable segment), the pointer size, and flags. Go ≥ 1.18 (flag `0x2`)
//! writes the runtime version and the module info inline after it, each as a
//! uvarint length and bytes; older toolchains write two pointers to Go string
//! headers (address, length) instead, resolved here through the loadable
//! segments. The module info is wrapped in 16-byte sentinels and has one
//! line per entry: `path`, `mod` (the main module), `dep`, `=>` (replaces the
//! entry above it), `build`.
//!
//! Reported (ecosystem `Go`, as OSV's Go advisories name them): the standard
//! library as `stdlib` at the toolchain's version (`go1.21.3` → `1.21.3`,
//! `go1.21rc2` → `1.21.0-rc.2`, as `govulncheck` converts it), the main module
//! when it was built at a version (not `(devel)`), and every dependency as it
//! was built: a replacement (`=>`) stands for the module it replaces, and one
//! by a local directory (no version) is left out, having nothing to match.
//! Module versions are kept as Go writes them (`v0.7.0`,
//! `v0.0.0-20210101000000-abcdef123456`, `v2.0.0+incompatible`): the SemVer
//! comparator accepts the `v` and OSV's ranges are written without it.

use serde::{Deserialize, Serialize};

use super::elf::{self, Section, Segment};
use super::{Found, LangRecord, PackageKind, purl};

/// The magic at the start of the build info header.
pub(crate) const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// The header's alignment, in memory (and so in the file).
pub(crate) const ALIGN: u64 = 16;
const HEADER_LEN: usize = 32;
const FLAG_INLINE: u8 = 0x2;
/// Module info longer than this is refused (real ones are tens of KiB).
pub(crate) const MAX_INFO_BYTES: usize = 1 << 20;

/// What a Go binary's build info says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoBuildInfo {
    /// The toolchain's version as written (`go1.21.3`, `go1.22.0 X:boringcrypto`).
    pub go_version: String,
    /// The standard library's version as OSV writes it (`1.21.3`); `None`
    /// for a development toolchain.
    pub stdlib: Option<String>,
    /// The main module, when built at a version (not `(devel)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<LangRecord>,
    /// The modules linked in, as built (replacements applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<LangRecord>,
}

/// Where the build info header is in a whole ELF file, given its
/// `.go.buildinfo` section: at the section's start. `None`: not a Go binary.
pub(crate) fn find_in_section(data: &[u8], section: &Section) -> Option<usize> {
    let bytes = elf::section_data(data, section)?;
    let at = find_magic(bytes, section.addr, HEADER_LEN)?;
    usize::try_from(section.offset).ok()?.checked_add(at)
}

/// Where the build info header is in a whole ELF file without section
/// headers: the first aligned magic in a writable segment, as Go looks for it.
pub(crate) fn find_in_segments(data: &[u8], segments: &[Segment]) -> Option<usize> {
    segments.iter().filter(|s| s.is_data()).find_map(|s| {
        let bytes = elf::slice(data, s.offset, s.filesz)?;
        let at = find_magic(bytes, s.vaddr, HEADER_LEN)?;
        usize::try_from(s.offset).ok()?.checked_add(at)
    })
}

/// The first offset in `bytes` (loaded at address `addr`) where the magic
/// starts at an aligned address with `room` bytes from there on (the header's
/// 32 in a whole file; the magic's 14 in a streamed chunk, the rest of the
/// header being in the next one).
pub(crate) fn find_magic(bytes: &[u8], addr: u64, room: usize) -> Option<usize> {
    let first = (ALIGN - addr % ALIGN) % ALIGN;
    (first as usize..bytes.len())
        .step_by(ALIGN as usize)
        .take_while(|&i| bytes.len() - i >= room.max(MAGIC.len()))
        .find(|&i| bytes[i..].starts_with(MAGIC))
}

/// Decodes the build info whose header starts `data` (and runs on to the end
/// of the file or of what was kept). `resolve(addr, len)` reads the file at a
/// virtual address, for the pre-1.18 pointer format; `None` there means it
/// cannot be read (a binary streamed, not kept).
pub(crate) fn decode(
    data: &[u8],
    resolve: Option<&dyn Fn(u64, u64) -> Option<Vec<u8>>>,
) -> Result<GoBuildInfo, String> {
    if data.len() < HEADER_LEN || !data.starts_with(MAGIC) {
        return Err("Go build info header is truncated".into());
    }
    let ptr_size = data[14];
    let flags = data[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, rest) = uvarint_string(&data[HEADER_LEN..]).ok_or("Go build info: bad inline version")?;
        let (modinfo, _) = uvarint_string(rest).ok_or("Go build info: bad inline module info")?;
        (version.to_vec(), modinfo.to_vec())
    } else {
        let resolve = resolve.ok_or("Go build info in the pre-1.18 pointer format, in a binary not kept whole")?;
        let reader = Words {
            is_64: ptr_size == 8,
            big_endian: flags != 0,
        };
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("Go build info: pointer size {ptr_size}"));
        }
        let version_ptr = reader.word(&data[16..]).ok_or("Go build info: truncated")?;
        let modinfo_ptr = reader
            .word(&data[16 + usize::from(ptr_size)..])
            .ok_or("Go build info: truncated")?;
        let string = |ptr: u64| -> Option<Vec<u8>> {
            let header = resolve(ptr, 2 * u64::from(ptr_size))?;
            let addr = reader.word(&header)?;
            let len = reader.word(&header[usize::from(ptr_size)..])?;
            if len > MAX_INFO_BYTES as u64 {
                return None;
            }
            resolve(addr, len)
        };
        (
            string(version_ptr).ok_or("Go build info: version string out of the file")?,
            string(modinfo_ptr).ok_or("Go build info: module info string out of the file")?,
        )
    };
    let go_version = String::from_utf8_lossy(&version).into_owned();
    if go_version.is_empty() {
        return Err("Go build info without a Go version".into());
    }
    let stdlib = stdlib_version(&go_version);
    let modinfo = strip_sentinels(&modinfo);
    let (main, deps) = parse_modinfo(&String::from_utf8_lossy(modinfo));
    Ok(GoBuildInfo {
        go_version,
        stdlib,
        main,
        deps,
    })
}

/// Pointer-sized words of the pointer format: its size and byte order.
struct Words {
    is_64: bool,
    big_endian: bool,
}

impl Words {
    fn word(&self, b: &[u8]) -> Option<u64> {
        if self.is_64 {
            let b: [u8; 8] = b.get(..8)?.try_into().ok()?;
            Some(if self.big_endian {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            })
        } else {
            let b: [u8; 4] = b.get(..4)?.try_into().ok()?;
            Some(u64::from(if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }))
        }
    }
}

/// A uvarint-length-prefixed string, and what follows it.
fn uvarint_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let rest = &data[i + 1..];
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= rest.len() && l <= MAX_INFO_BYTES)?;
            return Some(rest.split_at(len));
        }
    }
    None
}

/// The module info without the 16-byte sentinels around it (empty when they
/// are not there, as Go's reader does).
fn strip_sentinels(modinfo: &[u8]) -> &[u8] {
    let n = modinfo.len();
    if n >= 33 && modinfo[n - 17] == b'\n' {
        &modinfo[16..n - 16]
    } else {
        &[]
    }
}

/// The main module (when versioned) and the dependencies as built.
fn parse_modinfo(text: &str) -> (Option<LangRecord>, Vec<LangRecord>) {
    // (path, version) per `mod`/`dep` line, replaced in place by `=>`.
    let mut main: Option<(String, String)> = None;
    let mut deps: Vec<(String, String)> = Vec::new();
    let mut last_is_main = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once('\t') else {
            continue;
        };
        let mut fields = rest.split('\t');
        let path = fields.next().unwrap_or_default().to_owned();
        let version = fields.next().unwrap_or_default().to_owned();
        match key {
            "mod" => {
                main = Some((path, version));
                last_is_main = true;
            }
            "dep" => {
                deps.push((path, version));
                last_is_main = false;
            }
            "=>" => {
                let target = if last_is_main { main.as_mut() } else { deps.last_mut() };
                if let Some(target) = target {
                    *target = (path, version);
                }
            }
            _ => {}
        }
    }
    let usable = |(path, version): (String, String)| -> Option<LangRecord> {
        let local = path.starts_with('.') || path.starts_with('/') || path.is_empty();
        let unversioned = version.is_empty() || version == "(devel)";
        (!local && !unversioned).then_some(LangRecord { name: path, version })
    };
    (main.and_then(usable), deps.into_iter().filter_map(usable).collect())
}

/// The standard library's version, as OSV writes it, of a toolchain version
/// (`go1.21.3` → `1.21.3`, `go1.21` → `1.21.0`, `go1.21rc2` → `1.21.0-rc.2`,
/// `go1.9beta1` → `1.9.0-beta.1`); `None` for a development build.
pub(crate) fn stdlib_version(go_version: &str) -> Option<String> {
    let tag = go_version.split_whitespace().next()?;
    if tag == "go1" {
        return Some("1.0.0".into());
    }
    let rest = tag.strip_prefix("go")?;
    // major.minor, then an optional .patch, then an optional beta/rc/-pre N.
    let numbers_end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (numbers, pre) = rest.split_at(numbers_end);
    let parts: Vec<&str> = numbers.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut out = format!("{}.{}.{}", parts[0], parts[1], parts.get(2).unwrap_or(&"0"));
    if !pre.is_empty() {
        let (word, n) = ["beta", "rc", "-pre"]
            .iter()
            .find_map(|w| pre.strip_prefix(w).map(|n| (w.trim_start_matches('-'), n)))?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out = format!("{out}-{word}.{n}");
    }
    Some(out)
}

/// The packages a Go binary's build info stands for.
pub(super) fn found<'a>(path: &'a str, info: &'a GoBuildInfo) -> impl Iterator<Item = Found<'a>> {
    let stdlib = info.stdlib.as_deref().map(|v| ("stdlib", v));
    let modules = info
        .main
        .iter()
        .chain(&info.deps)
        .map(|r| (r.name.as_str(), r.version.as_str()));
    stdlib.into_iter().chain(modules).map(move |(name, version)| Found {
        kind: PackageKind::Go,
        path,
        name,
        version,
        source: None,
        source_version: None,
        arch: None,
    })
}

/// `pkg:golang/<module path>@<version>` (the path's last element is the name).
pub(super) fn purl(name: &str, version: &str) -> String {
    match name.rsplit_once('/') {
        Some((namespace, last)) => purl::purl("golang", Some(namespace), last, version, &[]),
        None => purl::purl("golang", None, name, version, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_versions() {
        for (go, want) in [
            ("go1.21.3", Some("1.21.3")),
            ("go1.19.8", Some("1.19.8")),
            ("go1.21", Some("1.21.0")),
            ("go1.21rc2", Some("1.21.0-rc.2")),
            ("go1.9beta1", Some("1.9.0-beta.1")),
            ("go1.22.0 X:boringcrypto", Some("1.22.0")),
            ("go1", Some("1.0.0")),
            ("devel go1.22-abcdef Tue Jan 1", None),
            ("go1.x", None),
            ("go1.21.3.4", None),
            ("go1.21rc", None),
            ("", None),
        ] {
            assert_eq!(stdlib_version(go).as_deref(), want, "{go}");
        }
    }

    #[test]
    fn modinfo_lines() {
        // As Go 1.19 writes it for the committed fixture (`go version -m`).
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                    dep\texample.com/greet\tv0.0.0\n=>\t./greet\t(devel)\t\n\
                    dep\tgolang.org/x/net\tv0.1.0\n=>\tgolang.org/x/net\tv0.7.0\t\n\
                    dep\tgithub.com/pkg/errors\tv0.9.1\th1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n\
                    dep\tgithub.com/x/y\tv0.0.0-20210101000000-abcdef123456\t\n\
                    build\t-compiler=gc\nmalformed line\n";
        let (main, deps) = parse_modinfo(text);
        assert_eq!(main, None);
        let got: Vec<(&str, &str)> = deps.iter().map(|r| (r.name.as_str(), r.version.as_str())).collect();
        assert_eq!(
            got,
            [
                ("golang.org/x/net", "v0.7.0"),
                ("github.com/pkg/errors", "v0.9.1"),
                ("github.com/x/y", "v0.0.0-20210101000000-abcdef123456"),
            ]
        );
        let (main, _) = parse_modinfo("mod\tgithub.com/a/b\tv1.2.3\th1:x=\n=>\tgithub.com/fork/b\tv1.2.4\t\n");
        assert_eq!(
            main,
            Some(LangRecord {
                name: "github.com/fork/b".into(),
                version: "v1.2.4".into()
            })
        );
    }

    #[test]
    fn inline_header_decodes_and_bad_ones_do_not_panic() {
        let modinfo = format!("{}path\tp\nmod\tp\tv1.0.0\t\n{}", "0".repeat(16), "1".repeat(16));
        let mut data = MAGIC.to_vec();
        data.extend([8, FLAG_INLINE]);
        data.resize(HEADER_LEN, 0);
        data.push(8);
        data.extend(b"go1.22.1");
        data.push(modinfo.len() as u8);
        data.extend(modinfo.as_bytes());
        let info = decode(&data, None).unwrap();
        assert_eq!(info.go_version, "go1.22.1");
        assert_eq!(info.stdlib.as_deref(), Some("1.22.1"));
        assert_eq!(info.main.unwrap().version, "v1.0.0");
        for cut in 0..data.len() {
            let _ = decode(&data[..cut], None);
        }
        // Pointer format with nothing to resolve it with.
        let mut old = data[..HEADER_LEN].to_vec();
        old[15] = 0;
        assert!(decode(&old, None).unwrap_err().contains("pointer format"));
        // A length running past the end.
        let mut long = data[..HEADER_LEN].to_vec();
        long.extend([0xff, 0xff, 0xff, 0x7f]);
        assert!(decode(&long, None).is_err());
    }

    #[test]
    fn purls() {
        assert_eq!(purl("golang.org/x/net", "v0.7.0"), "pkg:golang/golang.org/x/net@v0.7.0");
        assert_eq!(
            purl("github.com/docker/docker", "v20.10.0+incompatible"),
            "pkg:golang/github.com/docker/docker@v20.10.0%2Bincompatible"
        );
        assert_eq!(purl("stdlib", "1.21.3"), "pkg:golang/stdlib@1.21.3");
    }

    #[test]
    fn magic_is_found_at_aligned_addresses_only() {
        let mut bytes = vec![0u8; 96];
        bytes[8..22].copy_from_slice(MAGIC); // misaligned for address 0
        assert_eq!(find_magic(&bytes, 0, HEADER_LEN), None);
        // Loaded at address 8, offset 8 is address 16: aligned.
        assert_eq!(find_magic(&bytes, 8, HEADER_LEN), Some(8));
        bytes[32..46].copy_from_slice(MAGIC);
        assert_eq!(find_magic(&bytes, 0, HEADER_LEN), Some(32));
        // No room for the header after it, but for the magic.
        assert_eq!(find_magic(&bytes[..50], 0, HEADER_LEN), None);
        assert_eq!(find_magic(&bytes[..50], 0, 0), Some(32));
        assert_eq!(find_magic(&bytes[..45], 0, 0), None);
    }
}
