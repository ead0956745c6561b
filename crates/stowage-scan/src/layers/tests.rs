//! Layer indexing tests, and the layer-building kit the catalog tests use.
//!
//! Layers are built here, at test time, from real files of this machine
//! (Debian 12: `/var/lib/dpkg/status`, `/etc/os-release`, Python dist-info
//! directories, npm's own `node_modules`), so that nothing large is committed.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use proptest::prelude::*;

use super::*;
use crate::catalog::{Facts, image_inventory};

// ---------------------------------------------------------------------------
// Kit: building layers.

/// A tar layer under construction (test-only: built in memory).
pub(crate) struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
}

fn header(entry_type: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(entry_type);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h
}

impl LayerBuilder {
    pub(crate) fn new() -> Self {
        LayerBuilder {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    pub(crate) fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
        self.builder.append_data(&mut h, path, data).unwrap();
        self
    }

    pub(crate) fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Directory, 0, 0o755);
        self.builder.append_data(&mut h, path, io::empty()).unwrap();
        self
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Symlink, 0, 0o777);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub(crate) fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Link, 0, 0o644);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    /// `.wh.<name>`: deletes `path` from the layers below.
    pub(crate) fn whiteout(&mut self, path: &str) -> &mut Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"")
    }

    /// `.wh..wh..opq`: hides the lower layers' contents of `dir`.
    pub(crate) fn opaque(&mut self, dir: &str) -> &mut Self {
        if dir.is_empty() {
            self.file(".wh..wh..opq", b"")
        } else {
            self.file(&format!("{dir}/.wh..wh..opq"), b"")
        }
    }

    /// An entry whose name is written into the header as is (no validation),
    /// to make archives that well-behaved writers refuse to.
    pub(crate) fn raw(&mut self, entry_type: tar::EntryType, name: &[u8], link: &[u8], data: &[u8]) -> &mut Self {
        let mut h = header(entry_type, data.len() as u64, 0o644);
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    /// Copies a real file of this machine into the layer; false if absent.
    pub(crate) fn real_file(&mut self, src: &str, dst: &str) -> bool {
        match std::fs::read(src) {
            Ok(data) => {
                self.file(dst, &data);
                true
            }
            Err(_) => false,
        }
    }

    /// Copies a real directory tree (regular files and symlinks) into the
    /// layer under `dst`, keeping the files `keep` accepts; returns how many
    /// files were copied.
    pub(crate) fn real_tree(&mut self, src: &Path, dst: &str, keep: &dyn Fn(&Path) -> bool) -> usize {
        let mut copied = 0;
        let Ok(dir) = std::fs::read_dir(src) else {
            return 0;
        };
        let mut children: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        children.sort();
        self.dir(dst);
        for child in children {
            let name = child.file_name().unwrap().to_string_lossy().into_owned();
            let to = format!("{dst}/{name}");
            let Ok(meta) = std::fs::symlink_metadata(&child) else {
                continue;
            };
            if meta.is_dir() {
                copied += self.real_tree(&child, &to, keep);
            } else if meta.file_type().is_symlink() {
                if keep(&child) {
                    let target = std::fs::read_link(&child).unwrap();
                    self.symlink(&to, &target.to_string_lossy());
                    copied += 1;
                }
            } else if meta.is_file() && keep(&child) {
                self.file(&to, &std::fs::read(&child).unwrap());
                copied += 1;
            }
        }
        copied
    }

    pub(crate) fn tar(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().unwrap()
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Indexes with the default limits, failing the test on error.
pub(crate) fn index(blob: &[u8]) -> LayerIndex {
    index_layer(blob, &Limits::default()).unwrap_or_else(|e| panic!("index_layer: {e}"))
}

/// The real dpkg status of this machine.
pub(crate) fn real_dpkg_status() -> Vec<u8> {
    std::fs::read("/var/lib/dpkg/status").expect("this test runs on a Debian machine: /var/lib/dpkg/status")
}

/// A layer made of this machine's OS: os-release (as Debian ships it, a
/// symlink into usr/lib), debian_version and the dpkg status.
pub(crate) fn real_debian_base() -> LayerBuilder {
    let mut layer = LayerBuilder::new();
    layer.dir("etc").dir("usr/lib").dir("var/lib/dpkg");
    assert!(layer.real_file("/usr/lib/os-release", "usr/lib/os-release"));
    layer.symlink("etc/os-release", "../usr/lib/os-release");
    assert!(layer.real_file("/etc/debian_version", "etc/debian_version"));
    layer.file("var/lib/dpkg/status", &real_dpkg_status());
    layer
}

/// The pyenv site-packages directory of this machine with the most
/// dist-info directories.
pub(crate) fn real_site_packages() -> Option<std::path::PathBuf> {
    let versions = std::fs::read_dir("/root/.pyenv/versions").ok()?;
    versions
        .flatten()
        .filter_map(|v| {
            let lib = v.path().join("lib");
            let python = std::fs::read_dir(&lib)
                .ok()?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("python3"))?;
            let sp = python.path().join("site-packages");
            let count = std::fs::read_dir(&sp)
                .ok()?
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".dist-info"))
                .count();
            (count > 0).then_some((count, sp))
        })
        .max()
        .map(|(_, sp)| sp)
}

// ---------------------------------------------------------------------------
// Compression and format.

fn sample_layer() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let mut layer = real_debian_base();
        layer
            .file(
                "usr/lib/node_modules/x/node_modules/@scope/pkg/package.json",
                br#"{"name":"@scope/pkg","version":"1.0.0"}"#,
            )
            .whiteout("usr/share/doc/gone")
            .opaque("opt/app");
        layer.tar()
    })
}

#[test]
fn plain_gzip_and_zstd_give_the_same_index() {
    let tar = sample_layer();
    let plain = index(tar);
    let gz = index(&gzip(tar));
    let zst = index(&zstd(tar));
    assert_eq!(plain.compression, Compression::None);
    assert_eq!(gz.compression, Compression::Gzip);
    assert_eq!(zst.compression, Compression::Zstd);
    for other in [&gz, &zst] {
        assert_eq!(other.files, plain.files);
        assert_eq!(other.whiteouts, plain.whiteouts);
        assert_eq!(other.opaque_dirs, plain.opaque_dirs);
        assert_eq!(other.entries, plain.entries);
        assert_eq!(other.uncompressed_bytes, tar.len() as u64);
    }
    assert_eq!(plain.uncompressed_bytes, tar.len() as u64);

    let Some(FileRecord::Facts(Facts::Dpkg(packages))) = plain.files.get("var/lib/dpkg/status") else {
        panic!("no dpkg status in {:?}", plain.files.keys());
    };
    assert!(packages.iter().any(|p| p.name == "libc6"));
    assert_eq!(
        plain.files.get("etc/os-release"),
        Some(&FileRecord::Symlink {
            target: "../usr/lib/os-release".into()
        })
    );
    assert!(matches!(
        plain.files.get("usr/lib/os-release"),
        Some(FileRecord::Facts(Facts::OsRelease(f))) if f["ID"] == "debian"
    ));
    assert_eq!(plain.whiteouts.iter().collect::<Vec<_>>(), vec!["usr/share/doc/gone"]);
    assert_eq!(plain.opaque_dirs.iter().collect::<Vec<_>>(), vec!["opt/app"]);
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd() {
    let tar = sample_layer();
    let expected = index(tar);
    let cut = tar.len() / 3;

    let mut gz = gzip(&tar[..cut]);
    gz.extend(gzip(&tar[cut..]));
    assert_eq!(index(&gz).files, expected.files);

    // Two frames with a skippable frame between them, as zstd:chunked writes.
    let mut zst = zstd(&tar[..cut]);
    zst.extend(0x184D_2A50u32.to_le_bytes());
    zst.extend(5u32.to_le_bytes());
    zst.extend(b"skip!");
    zst.extend(zstd(&tar[cut..]));
    let got = index(&zst);
    assert_eq!(got.compression, Compression::Zstd);
    assert_eq!(got.files, expected.files);
}

/// The reference zstd implementation's output (checksummed frames, and a
/// multi-frame file), when its command-line tool is installed.
#[test]
fn zstd_cli_output_decodes() {
    let tar = sample_layer();
    let compress = |data: &[u8]| -> Option<Vec<u8>> {
        let mut child = Command::new("zstd")
            .args(["-q", "-3", "--check", "-c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let data = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        out.status.success().then_some(out.stdout)
    };
    let Some(mut blob) = compress(&tar[..1000]) else {
        eprintln!("zstd CLI not installed: skipping the cross-implementation check");
        return;
    };
    blob.extend(compress(&tar[1000..]).unwrap());
    assert_eq!(index(&blob).files, index(tar).files);

    // A flipped byte inside the second frame: checksum or format error.
    let at = blob.len() - 20;
    blob[at] ^= 0x55;
    assert!(matches!(
        index_layer(&blob[..], &Limits::default()),
        Err(LayerError::Decompress { .. } | LayerError::Tar(_))
    ));
}

#[test]
fn json_round_trip() {
    let idx = index(sample_layer());
    let json = serde_json::to_string(&idx).unwrap();
    let back: LayerIndex = serde_json::from_str(&json).unwrap();
    assert_eq!(back, idx);
    assert_eq!(back.format, LayerIndex::FORMAT);
    // Facts, not file contents: the real dpkg status is ~700 KB.
    assert!(json.len() < real_dpkg_status().len(), "{} bytes", json.len());
}

// ---------------------------------------------------------------------------
// Entries: paths, whiteouts, links.

#[test]
fn paths_are_normalized() {
    let os_release = b"ID=debian\nVERSION_ID=\"12\"\n";
    for name in [&b"./etc/os-release"[..], b"/etc/os-release", b"etc//./os-release"] {
        let mut layer = LayerBuilder::new();
        layer.raw(tar::EntryType::Regular, name, b"", os_release);
        let idx = index(&layer.tar());
        assert_eq!(
            idx.files.keys().collect::<Vec<_>>(),
            vec!["etc/os-release"],
            "{}",
            String::from_utf8_lossy(name)
        );
    }
    let mut layer = LayerBuilder::new();
    layer.raw(tar::EntryType::Regular, b"./usr/.wh.share", b"", b"");
    layer.raw(tar::EntryType::Regular, b"/opt/app/.wh..wh..opq", b"", b"");
    let idx = index(&layer.tar());
    assert!(idx.whiteouts.contains("usr/share"));
    assert!(idx.opaque_dirs.contains("opt/app"));
}

#[test]
fn dot_dot_paths_fail_the_layer() {
    for name in [&b"../etc/os-release"[..], b"etc/../../var/lib/dpkg/status", b"a/.."] {
        let mut layer = LayerBuilder::new();
        layer.raw(tar::EntryType::Regular, name, b"", b"ID=debian\n");
        let err = index_layer(&layer.tar()[..], &Limits::default()).unwrap_err();
        assert!(
            matches!(err, LayerError::UnsafePath { .. }),
            "{}: {err}",
            String::from_utf8_lossy(name)
        );
    }
    // A hard link whose target escapes.
    let mut layer = LayerBuilder::new();
    layer.raw(tar::EntryType::Link, b"etc/os-release", b"../../etc/shadow", b"");
    assert!(matches!(
        index_layer(&layer.tar()[..], &Limits::default()),
        Err(LayerError::UnsafePath { .. })
    ));
    // A symlink's target is not an archive path: `..` is normal there.
    let mut layer = LayerBuilder::new();
    layer.symlink("etc/os-release", "../usr/lib/os-release");
    assert!(index_layer(&layer.tar()[..], &Limits::default()).is_ok());
}

#[test]
fn whiteout_markers() {
    let mut layer = LayerBuilder::new();
    layer
        .whiteout("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info")
        .opaque("usr/local/lib/python3.12/site-packages")
        .file("root/.wh..wh.plnk", b"") // aufs bookkeeping: ignored
        .file("tmp/.wh.", b"") // nothing named: ignored
        .whiteout("var");
    let idx = index(&layer.tar());
    assert_eq!(
        idx.whiteouts.iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["usr/lib/python3/dist-packages/PyYAML-6.0.dist-info", "var"]
    );
    assert_eq!(
        idx.opaque_dirs.iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["usr/local/lib/python3.12/site-packages"]
    );
    assert!(idx.files.is_empty());
}

#[test]
fn links_at_cataloged_paths() {
    let mut layer = LayerBuilder::new();
    layer
        .file("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n")
        .hardlink("etc/os-release", "usr/lib/os-release")
        .hardlink("etc/debian_version", "usr/share/not-indexed")
        .symlink("lib/apk/db/installed", "/usr/lib/apk/db/installed")
        .symlink("usr/bin/python3", "python3.11"); // not cataloged: not recorded
    let idx = index(&layer.tar());
    assert_eq!(idx.files["etc/os-release"], idx.files["usr/lib/os-release"]);
    assert!(matches!(
        &idx.files["etc/debian_version"],
        FileRecord::Unparsed { reason } if reason.contains("not indexed")
    ));
    assert_eq!(
        idx.files["lib/apk/db/installed"],
        FileRecord::Symlink {
            target: "/usr/lib/apk/db/installed".into()
        }
    );
    assert_eq!(idx.files.len(), 4);
}

#[test]
fn long_names_through_gnu_and_pax_records() {
    let deep = format!(
        "usr/local/lib/{}/python3.12/site-packages/pip-23.2.1.dist-info/METADATA",
        "d".repeat(150)
    );
    let metadata = b"Metadata-Version: 2.1\nName: pip\nVersion: 23.2.1\n\nbody\n";

    // GNU long name (what the tar crate writes for a GNU header).
    let mut layer = LayerBuilder::new();
    layer.file(&deep, metadata);
    let idx = index(&layer.tar());
    assert!(matches!(&idx.files[&deep], FileRecord::Facts(Facts::Python(r)) if r.version == "23.2.1"));

    // PAX `path` record (what Go's archive/tar, so Docker, writes).
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_pax_extensions([("path", deep.as_bytes())]).unwrap();
    let mut h = header(tar::EntryType::Regular, metadata.len() as u64, 0o644);
    h.set_path("placeholder").unwrap();
    h.set_cksum();
    builder.append(&h, &metadata[..]).unwrap();
    let idx = index(&builder.into_inner().unwrap());
    assert_eq!(idx.files.keys().collect::<Vec<_>>(), vec![&deep]);
}

#[test]
fn unparsable_files_are_recorded_as_such() {
    let mut layer = LayerBuilder::new();
    layer
        .file("app/node_modules/a/package.json", b"{ not json")
        .file("app/node_modules/b/package.json", br#"{"name":"b"}"#)
        .file("usr/lib/python3/dist-packages/x-1.dist-info/METADATA", b"Name: x\n");
    let idx = index(&layer.tar());
    assert_eq!(idx.files.len(), 3);
    assert!(idx.files.values().all(|r| matches!(r, FileRecord::Unparsed { .. })));
}

// ---------------------------------------------------------------------------
// Limits and corrupt input.

#[test]
fn too_many_entries() {
    let mut layer = LayerBuilder::new();
    for i in 0..50 {
        layer.file(&format!("f{i}"), b"x");
    }
    let blob = gzip(&layer.tar());
    let limits = Limits {
        max_entries: 49,
        ..Limits::default()
    };
    let err = index_layer(&blob[..], &limits).unwrap_err();
    assert!(matches!(err, LayerError::TooManyEntries { limit: 49 }), "{err}");
    let limits = Limits {
        max_entries: 50,
        ..Limits::default()
    };
    assert_eq!(index_layer(&blob[..], &limits).unwrap().entries, 50);
}

#[test]
fn too_many_bytes_stops_a_gzip_bomb_early() {
    // A 1 GiB entry of zeros: 1024 copies of one gzip member of 1 MiB of
    // zeros (members concatenate), about 1000:1.
    let member = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        enc.finish().unwrap()
    };
    let mut h = header(tar::EntryType::Regular, 1 << 30, 0o644);
    h.set_path("zeros").unwrap();
    h.set_cksum();
    let mut bomb = gzip(h.as_bytes());
    for _ in 0..1024 {
        bomb.extend(&member);
    }

    let limits = Limits {
        max_total_bytes: 8 << 20,
        ..Limits::default()
    };
    let mut source = &bomb[..];
    let err = index_layer(&mut source, &limits).unwrap_err();
    assert!(
        matches!(err, LayerError::TooManyBytes { limit } if limit == 8 << 20),
        "{err}"
    );
    // It stopped reading soon after the limit: most of the blob is unread.
    let read = bomb.len() - source.len();
    assert!(read < bomb.len() / 8, "read {read} of {} bytes", bomb.len());
}

#[test]
fn file_too_large() {
    let status = real_dpkg_status();
    let mut layer = LayerBuilder::new();
    layer.file("var/lib/dpkg/status", &status);
    let limits = Limits {
        max_file_bytes: 64 << 10,
        ..Limits::default()
    };
    let err = index_layer(&layer.tar()[..], &limits).unwrap_err();
    assert!(
        matches!(&err, LayerError::FileTooLarge { path, size, .. }
            if path == "var/lib/dpkg/status" && *size == status.len() as u64),
        "{err}"
    );
    // The same size elsewhere is not read, so not limited.
    let mut layer = LayerBuilder::new();
    layer.file("usr/share/big", &status);
    assert!(index_layer(&layer.tar()[..], &limits).is_ok());
}

#[test]
fn path_and_extension_limits() {
    // A GNU long-name record claiming 1 GiB: refused from its header alone.
    let mut h = header(tar::EntryType::GNULongName, 1 << 30, 0o644);
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let mut blob = h.as_bytes().to_vec();
    blob.extend([b'a'; 4096]);
    let err = index_layer(&blob[..], &Limits::default()).unwrap_err();
    assert!(
        matches!(err, LayerError::PathTooLong { len, .. } if len == 1 << 30),
        "{err}"
    );

    let mut layer = LayerBuilder::new();
    layer.file(&"p/".repeat(300), b"x");
    let limits = Limits {
        max_path_bytes: 255,
        ..Limits::default()
    };
    assert!(matches!(
        index_layer(&layer.tar()[..], &limits),
        Err(LayerError::PathTooLong { .. })
    ));

    // An oversized PAX header.
    let mut builder = tar::Builder::new(Vec::new());
    let big = vec![b'v'; 2 << 20];
    builder.append_pax_extensions([("comment", &big[..])]).unwrap();
    builder
        .append_data(&mut header(tar::EntryType::Regular, 1, 0o644), "f", &b"x"[..])
        .unwrap();
    let err = index_layer(&builder.into_inner().unwrap()[..], &Limits::default()).unwrap_err();
    assert!(matches!(err, LayerError::ExtensionTooLarge { .. }), "{err}");
}

#[test]
fn too_many_indexed_files() {
    let mut layer = LayerBuilder::new();
    for i in 0..20 {
        layer.file(
            &format!("app/node_modules/p{i}/package.json"),
            format!(r#"{{"name":"p{i}","version":"1.0.0"}}"#).as_bytes(),
        );
    }
    let limits = Limits {
        max_indexed_files: 10,
        ..Limits::default()
    };
    assert!(matches!(
        index_layer(&layer.tar()[..], &limits),
        Err(LayerError::TooManyIndexedFiles { limit: 10 })
    ));
}

#[test]
fn corrupt_and_truncated_input_is_an_error() {
    let tar = sample_layer();
    let gz = gzip(tar);
    let zst = zstd(tar);
    let limits = Limits::default();

    // Truncated gzip: inside the tar data, and just before the CRC trailer.
    for cut in [gz.len() / 2, gz.len() - 4] {
        let err = index_layer(&gz[..cut], &limits).unwrap_err();
        assert!(
            matches!(
                err,
                LayerError::Decompress {
                    compression: Compression::Gzip,
                    ..
                }
            ),
            "cut {cut}: {err}"
        );
    }
    // A flipped bit in the deflate data: a format or CRC error.
    let mut bad = gz.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    assert!(matches!(
        index_layer(&bad[..], &limits),
        Err(LayerError::Decompress { .. } | LayerError::Tar(_))
    ));
    // Truncated zstd.
    let err = index_layer(&zst[..zst.len() / 2], &limits).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Decompress {
                compression: Compression::Zstd,
                ..
            }
        ),
        "{err}"
    );
    // Magic alone.
    assert!(index_layer(&[0x1f, 0x8b][..], &limits).is_err());
    assert!(index_layer(&[0x28, 0xb5, 0x2f, 0xfd][..], &limits).is_err());
    // Truncated plain tar, inside an entry's data.
    let err = index_layer(&tar[..tar.len() / 2], &limits).unwrap_err();
    assert!(matches!(err, LayerError::Tar(_)), "{err}");
    // Not a tar at all.
    let err = index_layer(&b"hello, this is not a tar archive"[..], &limits).unwrap_err();
    assert!(matches!(err, LayerError::Tar(_)), "{err}");
    // An empty blob is an empty layer.
    assert!(index_layer(&b""[..], &limits).unwrap().files.is_empty());
}

#[test]
fn a_failing_reader_is_a_read_error() {
    /// Serves the first `.1` bytes of `.0`, then fails.
    struct Failing<'a>(&'a [u8], usize);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "blob store went away"));
            }
            let n = buf.len().min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            self.1 -= n;
            Ok(n)
        }
    }
    let err = index_layer(Failing(sample_layer(), 3000), &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, LayerError::Read(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{err}"
    );
    let gz = gzip(sample_layer());
    let err = index_layer(Failing(&gz, gz.len() - 100), &Limits::default()).unwrap_err();
    assert!(matches!(err, LayerError::Read(_)), "{err}");
    let zst = zstd(sample_layer());
    let err = index_layer(Failing(&zst, zst.len() / 2), &Limits::default()).unwrap_err();
    assert!(
        matches!(err, LayerError::Read(_) | LayerError::Decompress { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Streaming: a large layer generated on the fly, never materialized.

/// xorshift64*: fast, deterministic filler.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// What the generated files contain.
#[derive(Clone, Copy)]
pub(crate) enum Content {
    /// Random bytes (incompressible).
    Random,
    /// Random words (compresses about 3:1, like text and code).
    Words,
}

/// A tar layer of `files` files of `file_size` bytes each, produced as it is
/// read, followed by a real dpkg status and os-release (so the walk must get
/// to the end to find them).
pub(crate) struct GeneratedLayer {
    rng: Rng,
    content: Content,
    files_left: u64,
    file_size: u64,
    data_left: u64,
    pending: Vec<u8>,
    pending_at: usize,
    tail: Option<Vec<u8>>,
}

impl GeneratedLayer {
    pub(crate) fn new(files: u64, file_size: u64, content: Content) -> Self {
        let mut tail = LayerBuilder::new();
        tail.file("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
        tail.file("var/lib/dpkg/status", &real_dpkg_status());
        GeneratedLayer {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            content,
            files_left: files,
            file_size,
            data_left: 0,
            pending: Vec::new(),
            pending_at: 0,
            // The builder writes the two end-of-archive blocks.
            tail: Some(tail.tar()),
        }
    }

    pub(crate) fn total_len(files: u64, file_size: u64) -> u64 {
        let tail = {
            let mut t = LayerBuilder::new();
            t.file("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
            t.file("var/lib/dpkg/status", &real_dpkg_status());
            t.tar().len() as u64
        };
        files * (512 + file_size.div_ceil(512) * 512) + tail
    }

    fn fill(&mut self, buf: &mut [u8]) {
        const WORDS: [&[u8]; 16] = [
            b"layer ",
            b"image ",
            b"digest ",
            b"sha256 ",
            b"registry ",
            b"manifest ",
            b"fn ",
            b"let ",
            b"return ",
            b"Some(",
            b"None ",
            b"\n    ",
            b"{ ",
            b"} ",
            b"package ",
            b"version ",
        ];
        match self.content {
            Content::Random => {
                for chunk in buf.chunks_mut(8) {
                    let v = self.rng.next().to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
            }
            Content::Words => {
                let mut i = 0;
                while i < buf.len() {
                    let word = WORDS[(self.rng.next() >> 60) as usize];
                    let n = word.len().min(buf.len() - i);
                    buf[i..i + n].copy_from_slice(&word[..n]);
                    i += n;
                }
            }
        }
    }
}

impl Read for GeneratedLayer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending_at < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.pending_at);
                buf[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Ok(n);
            }
            if self.data_left > 0 {
                let n = buf.len().min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                self.fill(&mut buf[..n]);
                self.data_left -= n as u64;
                if self.data_left == 0 {
                    // Padding to the next 512-byte block.
                    let pad = (512 - (self.file_size % 512) as usize) % 512;
                    self.pending = vec![0; pad];
                    self.pending_at = 0;
                }
                return Ok(n);
            }
            if self.files_left > 0 {
                let i = self.files_left;
                self.files_left -= 1;
                let mut h = header(tar::EntryType::Regular, self.file_size, 0o644);
                h.set_path(format!("data/blob-{i:06}.bin")).unwrap();
                h.set_cksum();
                self.pending = h.as_bytes().to_vec();
                self.pending_at = 0;
                self.data_left = self.file_size;
                continue;
            }
            match self.tail.take() {
                Some(tail) => {
                    self.pending = tail;
                    self.pending_at = 0;
                }
                None => return Ok(0),
            }
        }
    }
}

fn check_generated(idx: &LayerIndex, files: u64, file_size: u64) {
    assert_eq!(idx.entries, files + 2);
    assert_eq!(idx.uncompressed_bytes, GeneratedLayer::total_len(files, file_size));
    assert!(matches!(
        idx.files.get("var/lib/dpkg/status"),
        Some(FileRecord::Facts(Facts::Dpkg(p))) if p.iter().any(|p| p.name == "libc6")
    ));
    assert!(idx.files.contains_key("etc/os-release"));
}

/// 200 MiB of random file content streamed through the indexer: it never
/// exists as a whole anywhere.
#[test]
fn streams_a_200_mib_layer() {
    let (files, size) = (200, 1 << 20);
    let start = Instant::now();
    let idx = index_layer(GeneratedLayer::new(files, size, Content::Random), &Limits::default()).unwrap();
    check_generated(&idx, files, size);
    eprintln!("200 MiB plain (debug build): {:?}", start.elapsed());
}

/// A gzip layer compressed on the fly (GzEncoder as a reader) and
/// decompressed on the fly by the indexer.
#[test]
fn streams_a_gzip_layer_compressed_on_the_fly() {
    let (files, size) = (4, 1 << 20);
    let gz = flate2::read::GzEncoder::new(
        GeneratedLayer::new(files, size, Content::Words),
        flate2::Compression::fast(),
    );
    let idx = index_layer(gz, &Limits::default()).unwrap();
    assert_eq!(idx.compression, Compression::Gzip);
    check_generated(&idx, files, size);
}

/// Throughput in release mode (run with `cargo test --release -p stowage-scan
/// layers::tests::throughput -- --ignored --nocapture`).
#[test]
#[ignore = "benchmark: run in release mode"]
fn throughput() {
    let (files, size) = (200, 1 << 20);
    let total = GeneratedLayer::total_len(files, size) as f64 / 1e6;
    let report = |what: &str, f: &dyn Fn() -> LayerIndex| {
        let start = Instant::now();
        let idx = f();
        let secs = start.elapsed().as_secs_f64();
        check_generated(&idx, files, size);
        eprintln!(
            "{what}: {total:.0} MB in {secs:.2} s = {:.0} MB/s (uncompressed)",
            total / secs
        );
    };
    report("plain tar, random content, generated", &|| {
        index_layer(GeneratedLayer::new(files, size, Content::Random), &Limits::default()).unwrap()
    });

    let dir = tempfile::tempdir().unwrap();
    let tar_path = dir.path().join("layer.tar");
    io::copy(
        &mut GeneratedLayer::new(files, size, Content::Words),
        &mut std::fs::File::create(&tar_path).unwrap(),
    )
    .unwrap();
    let from_file = |p: &Path| io::BufReader::new(std::fs::File::open(p).unwrap());
    report("plain tar, text-like content, from file", &|| {
        index_layer(from_file(&tar_path), &Limits::default()).unwrap()
    });

    let gz_path = dir.path().join("layer.tar.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz_path).unwrap(), flate2::Compression::default());
    io::copy(&mut from_file(&tar_path), &mut enc).unwrap();
    enc.finish().unwrap();
    eprintln!(
        "gzip -6 size: {} MB",
        std::fs::metadata(&gz_path).unwrap().len() / 1_000_000
    );
    report("gzip -6, from file", &|| {
        index_layer(from_file(&gz_path), &Limits::default()).unwrap()
    });

    let zst_path = dir.path().join("layer.tar.zst");
    let cli = Command::new("zstd")
        .args(["-q", "-3", "-f", "-o"])
        .arg(&zst_path)
        .arg(&tar_path)
        .status()
        .is_ok_and(|s| s.success());
    if !cli {
        let mut out = std::fs::File::create(&zst_path).unwrap();
        ruzstd::encoding::compress(
            from_file(&tar_path),
            &mut out,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
    }
    eprintln!(
        "zstd ({}) size: {} MB",
        if cli { "CLI -3" } else { "ruzstd fastest" },
        std::fs::metadata(&zst_path).unwrap().len() / 1_000_000
    );
    report("zstd, from file", &|| {
        index_layer(from_file(&zst_path), &Limits::default()).unwrap()
    });
}

// ---------------------------------------------------------------------------
// Fuzz-style: no input panics.

fn small_layers() -> &'static [Vec<u8>; 3] {
    static SMALL: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    SMALL.get_or_init(|| {
        let status = real_dpkg_status();
        // The first few stanzas of the real status file.
        let cut = status
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\n\n")
            .nth(5)
            .map_or(status.len(), |(i, _)| i + 2);
        let mut layer = LayerBuilder::new();
        layer
            .file("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n")
            .file("var/lib/dpkg/status", &status[..cut])
            .file("app/node_modules/a/package.json", br#"{"name":"a","version":"1.0.0"}"#)
            .file(
                "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
                b"Name: x\nVersion: 1\n",
            )
            .symlink("usr/lib/os-release", "../../etc/os-release")
            .whiteout("opt/gone")
            .opaque("srv");
        let tar = layer.tar();
        [gzip(&tar), zstd(&tar), tar]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(
        prefix in prop_oneof![
            Just(Vec::new()),
            Just(vec![0x1f, 0x8b]),
            Just(vec![0x1f, 0x8b, 0x08, 0x00]),
            Just(vec![0x28, 0xb5, 0x2f, 0xfd]),
        ],
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut input = prefix;
        input.extend(bytes);
        if let Ok(idx) = index_layer(&input[..], &Limits::default()) {
            let _ = image_inventory(&[idx]);
        }
    }

    #[test]
    fn mutated_layers_never_panic(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut input = small_layers()[which].clone();
        for (at, x) in flips {
            let i = at.index(input.len());
            input[i] ^= x;
        }
        if let Some(cut) = cut {
            input.truncate(cut.index(input.len() + 1));
        }
        if let Ok(idx) = index_layer(&input[..], &Limits::default()) {
            let _ = image_inventory(&[idx]);
        }
    }
}
