//! Rust and Go catalogers on real artifacts: the binaries and lockfiles of
//! `testdata/binaries/` (how each was made is in its README), real lockfiles
//! (this workspace's own `Cargo.lock`), the Go binaries of this machine when
//! there are some, and small ELF files written here for the formats no
//! toolchain on this machine produces (Go's pre-1.18 pointer format, 32-bit
//! and big-endian files, no section headers).

use std::collections::BTreeSet;
use std::process::Command;

use super::binary::{self, from_image};
use super::*;
use crate::findings::match_inventory;
use crate::layers::{Limits, index_layer};
use crate::osv::{self, Advisory};

const BINARIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/binaries");
const ADVISORIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/advisories");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{BINARIES}/{name}")).unwrap()
}

fn records(list: &[LangRecord]) -> Vec<(&str, &str)> {
    list.iter().map(|r| (r.name.as_str(), r.version.as_str())).collect()
}

fn lock(name: &str) -> Vec<LangRecord> {
    rust::parse_cargo_lock(&String::from_utf8(fixture(name)).unwrap()).unwrap()
}

/// `go version -m testdata/binaries/hello-go`, as Go 1.19.8 printed it.
fn hello_go_info() -> GoBuildInfo {
    GoBuildInfo {
        go_version: "go1.19.8".into(),
        stdlib: Some("1.19.8".into()),
        // `mod example.com/stowage-fixture (devel)`: not reported.
        main: None,
        // `dep example.com/greet v0.0.0 => ./greet (devel)`: a directory, left
        // out; `dep golang.org/x/net v0.1.0 => golang.org/x/net v0.7.0`.
        deps: vec![LangRecord {
            name: "golang.org/x/net".into(),
            version: "v0.7.0".into(),
        }],
    }
}

fn hello_rust_crates() -> Vec<LangRecord> {
    // The `.dep-v0` JSON: bytes and smallvec from crates.io, the root local.
    ["bytes 1.5.0", "smallvec 1.6.0"]
        .iter()
        .map(|s| {
            let (name, version) = s.split_once(' ').unwrap();
            LangRecord {
                name: name.into(),
                version: version.into(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The committed binaries.

#[test]
fn go_fixture_build_info() {
    let facts = from_image(&fixture("hello-go")).unwrap().unwrap();
    assert_eq!(facts, Facts::GoBinary(hello_go_info()));
}

#[test]
fn rust_fixture_dep_v0() {
    let facts = from_image(&fixture("hello-rust")).unwrap().unwrap();
    assert_eq!(facts, Facts::RustBinary(hello_rust_crates()));
    // Neither is the other kind.
    assert!(!matches!(
        from_image(&fixture("hello-go")),
        Some(Ok(Facts::RustBinary(_)))
    ));
}

#[test]
fn over_the_limit_go_is_streamed_and_rust_is_not_read() {
    let go = fixture("hello-go");
    for limit in [0, 4096, 65_536, go.len() as u64 - 1] {
        let got = binary::read(&mut &go[..], go.len() as u64, limit).unwrap();
        assert_eq!(got, Some(Ok(Facts::GoBinary(hello_go_info()))), "limit {limit}");
    }
    let rust = fixture("hello-rust");
    let got = binary::read(&mut &rust[..], rust.len() as u64, 1 << 10).unwrap();
    let Some(Err(reason)) = got else { panic!("{got:?}") };
    assert!(reason.contains("over the 1024-byte limit"), "{reason}");
    // Whole, under the limit, the same as from the bytes.
    let got = binary::read(&mut &rust[..], rust.len() as u64, Limits::default().max_binary_bytes).unwrap();
    assert_eq!(got, Some(Ok(Facts::RustBinary(hello_rust_crates()))));
}

#[test]
fn not_elf_and_truncated_streams() {
    let script = b"#!/bin/sh\necho hello\n".repeat(10);
    assert_eq!(
        binary::read(&mut &script[..], script.len() as u64, 1 << 20).unwrap(),
        None
    );
    // The layer ends inside the file: a stream error, not a record.
    let go = fixture("hello-go");
    for limit in [0, 1 << 30] {
        let err = binary::read(&mut &go[..100_000], go.len() as u64, limit);
        assert_eq!(
            err.unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof,
            "limit {limit}"
        );
    }
    assert!(binary::is_candidate(0o755, 64));
    assert!(binary::is_candidate(0o100, 1000));
    assert!(!binary::is_candidate(0o644, 1 << 20));
    assert!(!binary::is_candidate(0o755, 63));
}

/// Cut and damaged copies of the real binaries: never a panic, and an
/// unreadable one yields no facts or a reason, never wrong facts.
#[test]
fn damaged_binaries_do_not_panic() {
    for name in ["hello-go", "hello-rust"] {
        let data = fixture(name);
        let whole = from_image(&data);
        for cut in (0..data.len()).step_by(4093).chain([1, 4, 63, 64, 65, data.len() - 1]) {
            let got = from_image(&data[..cut]);
            assert!(
                got.is_none() || got.as_ref().unwrap().is_err() || got == whole,
                "{name} cut at {cut}: {got:?}"
            );
            let _ = binary::read(&mut &data[..cut], cut as u64, 1 << 30);
            let _ = binary::read(&mut &data[..cut], cut as u64, 0);
        }
        // Every byte of the ELF header, and bytes of the section and program
        // header tables, flipped one at a time.
        let tables: Vec<usize> = (0..64).chain(64..64 + 56 * 4).collect();
        let shoff = header_shoff(&data);
        let mut bad = data.clone();
        for at in tables.into_iter().chain(shoff..(shoff + 64 * 40).min(data.len())) {
            for flip in [0x01, 0x80, 0xff] {
                bad[at] ^= flip;
                let _ = from_image(&bad);
                if at < 64 + 56 * 4 {
                    let _ = binary::read(&mut &bad[..], bad.len() as u64, 0);
                }
                bad[at] ^= flip;
            }
        }
    }
}

fn header_shoff(data: &[u8]) -> usize {
    u64::from_le_bytes(data[40..48].try_into().unwrap()) as usize
}

// ---------------------------------------------------------------------------
// Lockfiles.

#[test]
fn real_lockfiles_of_each_format() {
    // v1 (num-integer 0.1.47 as published: `[metadata]` checksums, no
    // `version`): the package itself has no source.
    assert_eq!(
        records(&lock("lockfiles/num-integer-0.1.47.Cargo.lock")),
        [("autocfg", "1.5.1"), ("num-traits", "0.2.18")]
    );
    // v2 (slab 0.4.12: inline checksums, no `version`).
    let slab = lock("lockfiles/slab-0.4.12.Cargo.lock");
    assert_eq!(slab.len(), 8, "{slab:?}");
    assert!(!slab.iter().any(|r| r.name == "slab"));
    assert!(slab.contains(&LangRecord {
        name: "serde".into(),
        version: "1.0.228".into()
    }));
    // v4: the Rust fixture's own.
    assert_eq!(lock("rust/Cargo.lock"), hello_rust_crates());
}

/// This workspace's `Cargo.lock` (v4): every registry package, no member.
#[test]
fn this_workspace_lockfile() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let got = rust::parse_cargo_lock(&text).unwrap();
    let registry = text
        .lines()
        .filter(|l| *l == r#"source = "registry+https://github.com/rust-lang/crates.io-index""#)
        .count();
    assert_eq!(got.len(), registry);
    assert!(got.iter().any(|r| r.name == "serde"));
    assert!(
        !got.iter().any(|r| r.name.starts_with("stowage")),
        "workspace members are not crates.io packages"
    );
}

// ---------------------------------------------------------------------------
// End to end: a layer, its index, the inventory, the real advisories.

/// Builds a tar layer from (path, mode, data) files.
fn layer(files: &[(&str, u32, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        b.append_data(&mut h, path, *data).unwrap();
    }
    for (path, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_link(&mut h, path, target).unwrap();
    }
    b.into_inner().unwrap()
}

fn advisories() -> Vec<Advisory> {
    ["Go", "crates.io"]
        .iter()
        .flat_map(|eco| osv::read(format!("{ADVISORIES}/{eco}")).unwrap())
        .map(|(origin, r)| r.unwrap_or_else(|e| panic!("{origin}: {e}")))
        .collect()
}

#[test]
fn end_to_end_layer_matches_real_advisories() {
    let go = fixture("hello-go");
    let rust = fixture("hello-rust");
    let cargo_lock = fixture("rust/Cargo.lock");
    let big = vec![0x7f; 3 << 20]; // not executable: never read
    let mut fake_elf = b"\x7fELF".to_vec();
    fake_elf.resize(4096, 0xee); // executable, ELF magic, nothing else
    let blob = layer(
        &[
            ("usr/local/bin/hello-go", 0o755, &go),
            ("usr/local/bin/hello-rust", 0o755, &rust),
            ("srv/app/Cargo.lock", 0o644, &cargo_lock),
            ("opt/go-copy-not-executable", 0o644, &go),
            ("opt/data.bin", 0o644, &big),
            ("usr/local/bin/run.sh", 0o755, b"#!/bin/sh\nexec hello-go\n"),
            ("usr/local/bin/broken", 0o755, &fake_elf),
        ],
        &[("usr/bin/hello-go-link", "usr/local/bin/hello-go")],
    );
    let index = index_layer(&blob[..], &Limits::default()).unwrap();
    let paths: Vec<&str> = index.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "srv/app/Cargo.lock",
            "usr/bin/hello-go-link",
            "usr/local/bin/hello-go",
            "usr/local/bin/hello-rust",
        ]
    );
    assert_eq!(
        index.files["usr/bin/hello-go-link"],
        index.files["usr/local/bin/hello-go"]
    );

    let inventory = image_inventory(&[index]);
    let got: BTreeSet<(&str, &str, &str, &str, &str)> = inventory
        .packages
        .iter()
        .map(|p| {
            (
                p.ecosystem.as_str(),
                p.name.as_str(),
                p.version.as_str(),
                p.purl.as_str(),
                p.path.as_str(),
            )
        })
        .collect();
    let bin = "usr/local/bin/hello-go";
    let link = "usr/bin/hello-go-link";
    let rs = "usr/local/bin/hello-rust";
    let lockp = "srv/app/Cargo.lock";
    let x_net = ("golang.org/x/net", "v0.7.0", "pkg:golang/golang.org/x/net@v0.7.0");
    let stdlib = ("stdlib", "1.19.8", "pkg:golang/stdlib@1.19.8");
    let smallvec = ("smallvec", "1.6.0", "pkg:cargo/smallvec@1.6.0");
    let bytes = ("bytes", "1.5.0", "pkg:cargo/bytes@1.5.0");
    let want: BTreeSet<_> = [
        ("Go", x_net, bin),
        ("Go", x_net, link),
        ("Go", stdlib, bin),
        ("Go", stdlib, link),
        ("crates.io", smallvec, rs),
        ("crates.io", smallvec, lockp),
        ("crates.io", bytes, rs),
        ("crates.io", bytes, lockp),
    ]
    .into_iter()
    .map(|(eco, (name, version, purl), path)| (eco, name, version, purl, path))
    .collect();
    assert_eq!(got, want);
    assert!(
        inventory
            .packages
            .iter()
            .all(|p| p.layer == 0 && p.source_name.is_none())
    );
    let kinds: BTreeSet<PackageKind> = inventory.packages.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, BTreeSet::from([PackageKind::Cargo, PackageKind::Go]));

    // Expected from the advisory files' ranges (testdata/advisories):
    // - GO-2023-1988 (x/net/html, fixed 0.13.0): x/net v0.7.0;
    // - GO-2024-2687 (HTTP/2 CONTINUATION; stdlib fixed 1.21.9, x/net fixed
    //   0.23.0): both stdlib 1.19.8 and x/net v0.7.0;
    // - GO-2023-1878 (net/http, stdlib fixed 1.19.11): stdlib 1.19.8;
    // - not GO-2023-1571 (x/net fixed 0.7.0, stdlib fixed 1.19.6): it matches
    //   x/net v0.1.0, the version the binary's go.mod asked for, replaced;
    // - RUSTSEC-2021-0003 (smallvec 1.0.0 to 1.6.1): smallvec 1.6.0;
    // - not RUSTSEC-2018-0018 (smallvec before 0.6.13);
    // - RUSTSEC-2026-0007 (bytes 1.2.1 to 1.11.1): bytes 1.5.0;
    // - the other Go stdlib records there are fixed before 1.17.
    let all = advisories();
    let matched = match_inventory(&inventory, |eco, name| {
        all.iter()
            .filter(|a| {
                a.affected
                    .iter()
                    .any(|x| x.package.as_ref().is_some_and(|p| p.ecosystem == eco && p.name == name))
            })
            .collect()
    });
    assert_eq!(matched.skipped, []);
    let found: BTreeSet<(&str, &str, &str)> = matched
        .findings
        .iter()
        .map(|f| (f.advisory_id.as_str(), f.package.name.as_str(), f.package.path.as_str()))
        .collect();
    let mut want = BTreeSet::new();
    for path in [bin, link] {
        want.insert(("GO-2023-1988", "golang.org/x/net", path));
        want.insert(("GO-2024-2687", "golang.org/x/net", path));
        want.insert(("GO-2024-2687", "stdlib", path));
        want.insert(("GO-2023-1878", "stdlib", path));
    }
    for path in [rs, lockp] {
        want.insert(("RUSTSEC-2021-0003", "smallvec", path));
        want.insert(("RUSTSEC-2026-0007", "bytes", path));
    }
    assert_eq!(found, want);
    let smallvec = matched
        .findings
        .iter()
        .find(|f| f.advisory_id == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(smallvec.vulnerability_id, "CVE-2021-25900");
    assert_eq!(smallvec.fixed_in.as_deref(), Some("1.6.1"));
    let x_net = matched
        .findings
        .iter()
        .find(|f| f.advisory_id == "GO-2023-1988")
        .unwrap();
    assert_eq!(x_net.fixed_in.as_deref(), Some("0.13.0"));
}

/// A later layer replaces the binary (an upgrade), or deletes it.
#[test]
fn later_layers_replace_and_delete_binaries() {
    let go = fixture("hello-go");
    let rust = fixture("hello-rust");
    let base = index_layer(&layer(&[("app/bin", 0o755, &go)], &[])[..], &Limits::default()).unwrap();
    let upgrade = index_layer(&layer(&[("app/bin", 0o755, &rust)], &[])[..], &Limits::default()).unwrap();
    let inv = image_inventory(&[base.clone(), upgrade]);
    assert!(
        inv.packages
            .iter()
            .all(|p| p.kind == PackageKind::Cargo && p.layer == 1)
    );
    let mut wh = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    wh.append_data(&mut h, "app/.wh.bin", std::io::empty()).unwrap();
    let delete = index_layer(&wh.into_inner().unwrap()[..], &Limits::default()).unwrap();
    assert_eq!(image_inventory(&[base, delete]).packages, []);
}

#[test]
fn layer_with_binaries_over_the_limit() {
    let go = fixture("hello-go");
    let rust = fixture("hello-rust");
    let blob = layer(&[("a/go", 0o755, &go), ("a/rust", 0o700, &rust)], &[]);
    let limits = Limits {
        max_binary_bytes: 100_000,
        ..Limits::default()
    };
    let index = index_layer(&blob[..], &limits).unwrap();
    assert_eq!(index.files["a/go"], FileRecord::Facts(Facts::GoBinary(hello_go_info())));
    let FileRecord::Unparsed { reason } = &index.files["a/rust"] else {
        panic!("{:?}", index.files["a/rust"])
    };
    assert!(reason.contains("over the 100000-byte limit"), "{reason}");
    // The index round-trips.
    let json = serde_json::to_string(&index).unwrap();
    assert_eq!(serde_json::from_str::<crate::layers::LayerIndex>(&json).unwrap(), index);
}

// ---------------------------------------------------------------------------
// Go binaries of this machine (Docker's, containerd, runc, skopeo), when
// present: read whole or streamed, as `go version` reads them.

#[test]
fn go_binaries_of_this_machine() {
    let candidates = [
        "/usr/local/bin/docker",
        "/usr/sbin/dockerd",
        "/usr/bin/containerd",
        "/usr/sbin/runc",
        "/usr/bin/skopeo",
    ];
    let mut seen = 0;
    for path in candidates {
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let size = file.metadata().unwrap().len();
        let limit = Limits::default().max_binary_bytes;
        let got = binary::read(&mut file, size, limit).unwrap();
        let Some(Ok(Facts::GoBinary(info))) = got else {
            panic!("{path} ({size} bytes): {got:?}")
        };
        seen += 1;
        let stdlib = info.stdlib.clone().unwrap_or_else(|| panic!("{path}: {info:?}"));
        assert!(
            crate::version::Scheme::Semver.compare(&stdlib, "1.13").is_ok(),
            "{stdlib}"
        );
        // Streamed (over the limit) and whole give the same facts.
        let again = binary::read(&mut std::fs::File::open(path).unwrap(), size, 0).unwrap();
        assert_eq!(again, Some(Ok(Facts::GoBinary(info.clone()))), "{path} streamed");
        // What Go itself says, when it is installed.
        if let Ok(out) = Command::new("go").args(["version", path]).output()
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            let version = text.trim().rsplit(' ').next().unwrap();
            assert_eq!(info.go_version, version, "{path}");
        }
    }
    if seen == 0 {
        eprintln!("no Go binary on this machine: skipped");
    }
}

// ---------------------------------------------------------------------------
// ELF files written here: the formats no toolchain on this machine makes.

struct Part {
    name: &'static str,
    addr: u64,
    writable: bool,
    data: Vec<u8>,
}

/// A minimal ELF file: one PT_LOAD per part with an address, the parts' bytes
/// 16-byte aligned, then (optionally) `.shstrtab` and the section headers.
fn build_elf(is_64: bool, big_endian: bool, parts: &[Part], section_headers: bool) -> Vec<u8> {
    let word = |out: &mut Vec<u8>, v: u64| {
        if is_64 {
            out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
        } else {
            let v = v as u32;
            out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
        }
    };
    let u16_ = |out: &mut Vec<u8>, v: u16| out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    let u32_ = |out: &mut Vec<u8>, v: u32| out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
    let (ehsize, phentsize, shentsize) = if is_64 { (64u64, 56u64, 64u64) } else { (52, 32, 40) };
    let loads: Vec<&Part> = parts.iter().filter(|p| p.addr != 0).collect();
    // Layout: header, program headers, parts, shstrtab, section headers.
    let mut offsets = Vec::new();
    let mut at = ehsize + phentsize * loads.len() as u64;
    for p in parts {
        at = at.div_ceil(16) * 16 + (p.addr % 16);
        offsets.push(at);
        at += p.data.len() as u64;
    }
    let mut shstrtab = vec![0u8];
    let mut names = Vec::new();
    for p in parts.iter().map(|p| p.name).chain([".shstrtab"]) {
        names.push(shstrtab.len() as u32);
        shstrtab.extend(p.as_bytes());
        shstrtab.push(0);
    }
    let shstrtab_off = at;
    let shoff = (shstrtab_off + shstrtab.len() as u64).div_ceil(8) * 8;

    let mut out = b"\x7fELF".to_vec();
    out.extend([if is_64 { 2 } else { 1 }, if big_endian { 2 } else { 1 }, 1]);
    out.resize(16, 0);
    u16_(&mut out, 2); // ET_EXEC
    u16_(&mut out, 62);
    u32_(&mut out, 1);
    word(&mut out, 0); // entry
    word(&mut out, ehsize); // phoff
    word(&mut out, if section_headers { shoff } else { 0 });
    u32_(&mut out, 0);
    u16_(&mut out, ehsize as u16);
    u16_(&mut out, phentsize as u16);
    u16_(&mut out, loads.len() as u16);
    u16_(&mut out, shentsize as u16);
    u16_(&mut out, if section_headers { parts.len() as u16 + 2 } else { 0 });
    u16_(&mut out, if section_headers { parts.len() as u16 + 1 } else { 0 });
    assert_eq!(out.len() as u64, ehsize);
    for p in &loads {
        let i = parts.iter().position(|q| std::ptr::eq(q, *p)).unwrap();
        let flags = if p.writable { 6 } else { 4 };
        let len = p.data.len() as u64;
        u32_(&mut out, 1);
        if is_64 {
            u32_(&mut out, flags);
            for v in [offsets[i], p.addr, p.addr, len, len, 16] {
                word(&mut out, v);
            }
        } else {
            for v in [offsets[i], p.addr, p.addr, len, len] {
                word(&mut out, v);
            }
            u32_(&mut out, flags);
            word(&mut out, 16);
        }
    }
    for (p, off) in parts.iter().zip(&offsets) {
        out.resize(*off as usize, 0);
        out.extend(&p.data);
    }
    out.resize(shstrtab_off as usize, 0);
    out.extend(&shstrtab);
    if section_headers {
        out.resize(shoff as usize, 0);
        out.resize(out.len() + shentsize as usize, 0); // section 0
        let headers = parts
            .iter()
            .zip(&offsets)
            .map(|(p, off)| (1u32, if p.writable { 3 } else { 2 }, p.addr, *off, p.data.len() as u64))
            .chain([(3, 0, 0, shstrtab_off, shstrtab.len() as u64)]);
        for ((kind, flags, addr, off, size), name) in headers.zip(&names) {
            u32_(&mut out, *name);
            u32_(&mut out, kind);
            for v in [flags, addr, off, size] {
                word(&mut out, v);
            }
            u32_(&mut out, 0);
            u32_(&mut out, 0);
            word(&mut out, 1);
            word(&mut out, 0);
        }
    }
    out
}

const MODINFO: &str = "path\texample.com/old\nmod\texample.com/old\tv1.2.3\t\n\
                       dep\tgithub.com/pkg/errors\tv0.8.0\th1:WdK/asTD0HN+q6hsWO3/vpuAkAr+tw6aNJNDFFf0+qw=\n";

fn sentineled(modinfo: &str) -> Vec<u8> {
    // cmd/go's infoStart and infoEnd.
    let mut v = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
    v.extend(modinfo.as_bytes());
    v.extend(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
    v
}

/// A pre-1.18 binary: the header points at two string headers in the data
/// segment, which point at the bytes in the read-only one.
fn pointer_format(is_64: bool, big_endian: bool, section_headers: bool) -> Vec<u8> {
    let ptr = if is_64 { 8 } else { 4 };
    let put = |out: &mut Vec<u8>, v: u64| {
        if is_64 {
            out.extend(if big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
        } else {
            out.extend(if big_endian {
                (v as u32).to_be_bytes()
            } else {
                (v as u32).to_le_bytes()
            });
        }
    };
    let (rodata, data) = (0x20_0000u64, 0x40_0000u64);
    let version = b"go1.16.5".to_vec();
    let modinfo = sentineled(MODINFO);
    let mut strings = version.clone();
    strings.extend(&modinfo);
    let mut info = golang::MAGIC.to_vec();
    info.push(ptr as u8);
    info.push(u8::from(big_endian));
    put(&mut info, data + 32); // -> version string header
    put(&mut info, data + 32 + 2 * ptr); // -> modinfo string header
    info.resize(32, 0);
    put(&mut info, rodata);
    put(&mut info, version.len() as u64);
    put(&mut info, rodata + version.len() as u64);
    put(&mut info, modinfo.len() as u64);
    build_elf(
        is_64,
        big_endian,
        &[
            Part {
                name: ".rodata",
                addr: rodata,
                writable: false,
                data: strings,
            },
            Part {
                name: ".go.buildinfo",
                addr: data,
                writable: true,
                data: info,
            },
        ],
        section_headers,
    )
}

#[test]
fn go_pointer_format_of_each_word_size_and_byte_order() {
    for is_64 in [true, false] {
        for big_endian in [false, true] {
            for section_headers in [true, false] {
                let elf = pointer_format(is_64, big_endian, section_headers);
                let what = format!("64-bit {is_64}, big-endian {big_endian}, sections {section_headers}");
                let Some(Ok(Facts::GoBinary(info))) = from_image(&elf) else {
                    panic!("{what}: {:?}", from_image(&elf))
                };
                assert_eq!(info.go_version, "go1.16.5", "{what}");
                assert_eq!(info.stdlib.as_deref(), Some("1.16.5"));
                assert_eq!(records(info.main.as_slice()), [("example.com/old", "v1.2.3")]);
                assert_eq!(records(&info.deps), [("github.com/pkg/errors", "v0.8.0")]);
                // Streamed, the pointers cannot be followed: a reason, not facts.
                let got = binary::read(&mut &elf[..], elf.len() as u64, 0).unwrap();
                let Some(Err(reason)) = got else {
                    panic!("{what}: {got:?}")
                };
                assert!(reason.contains("pointer format"), "{reason}");
            }
        }
    }
}

#[test]
fn inline_format_without_section_headers_and_dep_v0_in_a_32_bit_file() {
    // Go ≥ 1.18, section headers stripped: found by its writable segment.
    let mut info = golang::MAGIC.to_vec();
    info.extend([8, 2]);
    info.resize(32, 0);
    let modinfo = sentineled("path\tx\nmod\tx\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.7\t\n");
    info.push(9);
    info.extend(b"go1.21rc2");
    info.extend([(modinfo.len() & 0x7f) as u8 | 0x80, (modinfo.len() >> 7) as u8]);
    info.extend(&modinfo);
    let mut data = vec![0u8; 48]; // something before it, as .data.rel.ro is
    data.extend(&info);
    let elf = build_elf(
        true,
        false,
        &[Part {
            name: ".data",
            addr: 0x1000,
            writable: true,
            data,
        }],
        false,
    );
    let Some(Ok(Facts::GoBinary(got))) = from_image(&elf) else {
        panic!("{:?}", from_image(&elf))
    };
    assert_eq!(got.stdlib.as_deref(), Some("1.21.0-rc.2"));
    assert_eq!(got.main, None);
    assert_eq!(records(&got.deps), [("golang.org/x/text", "v0.3.7")]);
    assert_eq!(
        binary::read(&mut &elf[..], elf.len() as u64, 0).unwrap(),
        Some(Ok(Facts::GoBinary(got)))
    );

    // cargo-auditable's section in a big-endian 32-bit file (not loaded).
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(
        &mut z,
        br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"time","version":"0.3.20","source":"crates.io"}]}"#,
    )
    .unwrap();
    let elf = build_elf(
        false,
        true,
        &[Part {
            name: ".dep-v0",
            addr: 0,
            writable: false,
            data: z.finish().unwrap(),
        }],
        true,
    );
    assert_eq!(
        from_image(&elf),
        Some(Ok(Facts::RustBinary(vec![LangRecord {
            name: "time".into(),
            version: "0.3.20".into()
        }])))
    );
    // An ELF with nothing cataloged.
    let plain = build_elf(
        true,
        false,
        &[Part {
            name: ".data",
            addr: 0x1000,
            writable: true,
            data: vec![0; 256],
        }],
        true,
    );
    assert_eq!(from_image(&plain), None);
    assert_eq!(
        binary::read(&mut &plain[..], plain.len() as u64, 0)
            .unwrap()
            .map(|r| r.is_err()),
        Some(true)
    );
}

/// A fuzzer-found layer (an ELF whose Go build info is damaged) is indexed
/// and cataloged without a panic, under the fuzz target's limits.
#[test]
fn fuzz_regression_damaged_go_build_info() {
    let data = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-regressions/layer_index-go-buildinfo.tar"),
    )
    .unwrap();
    let limits = Limits {
        max_total_bytes: 16 << 20,
        max_file_bytes: 1 << 20,
        max_archive_bytes: 1 << 20,
        max_binary_bytes: 1 << 20,
        ..Limits::default()
    };
    if let Ok(index) = index_layer(&data[..], &limits) {
        let _ = image_inventory(&[index]);
    }
}
