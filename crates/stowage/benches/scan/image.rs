//! The scanned images: gzip'd tar layers generated deterministically in memory
//! (pseudo-random filler files of various sizes, mostly incompressible, plus
//! real package metadata spread across the layers), their config and OCI
//! manifest, and pushing them through `/v2/`.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::Client;
use sha2::{Digest as _, Sha256};

use crate::client::{OCI_MANIFEST, push_bytes, put_manifest};
use crate::data::digest_of;
use crate::servers::Server;

/// Where the Python packages live in the image.
const SITE_PACKAGES: &str = "usr/local/lib/python3.11/site-packages";
/// Python packages (name, version) with advisories in the PyPI set; the first
/// is deleted again by a whiteout in the last layer (when there are ≥ 3 layers).
const PYTHON: [(&str, &str); 10] = [
    ("Django", "2.2"),
    ("Jinja2", "2.10"),
    ("urllib3", "1.24.1"),
    ("requests", "2.19.1"),
    ("PyYAML", "5.1"),
    ("Flask", "0.12.2"),
    ("Werkzeug", "0.14.1"),
    ("Pillow", "6.2.0"),
    ("cryptography", "2.3"),
    ("paramiko", "2.4.1"),
];
/// Old crates with RustSec advisories, in the image's `Cargo.lock`.
const CRATES: [(&str, &str); 8] = [
    ("chrono", "0.4.19"),
    ("hyper", "0.14.9"),
    ("openssl", "0.10.38"),
    ("regex", "1.5.4"),
    ("smallvec", "1.6.0"),
    ("time", "0.1.43"),
    ("tokio", "1.8.0"),
    ("serde", "1.0.130"),
];
/// A fixed mtime, so that the same seed gives the same bytes.
const MTIME: u64 = 1_700_000_000;

/// Real files copied from this machine into the images.
#[derive(Clone)]
pub struct MachineFiles {
    pub os_release: Vec<u8>,
    pub dpkg_status: Vec<u8>,
    /// An executable (e.g. a Go binary), its path in the image and its bytes.
    pub binary: Option<(String, Vec<u8>)>,
}

impl MachineFiles {
    /// `/etc/os-release` and the dpkg status file `dpkg_status` (Debian 12
    /// stand-ins when missing), and the executable at `binary` if given.
    pub fn read(dpkg_status: &Path, binary: Option<&Path>) -> anyhow::Result<MachineFiles> {
        let os_release = std::fs::read("/etc/os-release").unwrap_or_else(|_| {
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"
                .to_vec()
        });
        let dpkg_status = std::fs::read(dpkg_status).unwrap_or_else(|_| {
            b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n\n".to_vec()
        });
        let binary = match binary {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let name = path
                    .file_name()
                    .map_or("app".into(), |n| n.to_string_lossy().into_owned());
                Some((format!("usr/bin/{name}"), bytes))
            }
            None => None,
        };
        Ok(MachineFiles {
            os_release,
            dpkg_status,
            binary,
        })
    }
}

/// One generated layer blob.
pub struct Layer {
    pub bytes: Vec<u8>,
    pub digest: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    pub tar_len: u64,
    pub entries: u64,
}

/// A generated image: layers, config and manifest.
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: Vec<u8>,
    pub config_digest: String,
    /// Python packages deleted by a whiteout (empty when none).
    pub whiteouts: BTreeSet<String>,
    /// Size of the executable copied in, if any.
    pub binary_bytes: Option<u64>,
}

impl Image {
    /// Generates `layers` layers of `total` compressed bytes in all (roughly),
    /// on every core; the same seed gives the same image.
    pub fn generate(seed: u64, total: u64, layers: usize, machine: &MachineFiles) -> Image {
        let plan = plan(layers, machine);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(layers);
        // Each layer gets its special files plus an equal share of filler, so
        // that the compressed layers add up to `total`.
        let specials: Vec<u64> = plan.iter().map(|p| compressed_len(p)).collect();
        let filler = total.saturating_sub(specials.iter().sum()) / layers as u64;
        let targets: Vec<u64> = specials.iter().map(|s| s + filler).collect();
        let mut built: Vec<Option<Layer>> = (0..layers).map(|_| None).collect();
        std::thread::scope(|scope| {
            let chunks: Vec<_> = built.chunks_mut(layers.div_ceil(threads)).collect();
            let mut first = 0;
            for chunk in chunks {
                let start = first;
                first += chunk.len();
                let (plan, targets) = (&plan, &targets);
                scope.spawn(move || {
                    for (i, slot) in chunk.iter_mut().enumerate() {
                        let index = start + i;
                        *slot = Some(build_layer(seed, index, targets[index], &plan[index]));
                    }
                });
            }
        });
        let layers: Vec<Layer> = built.into_iter().map(|l| l.expect("every layer built")).collect();
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        })
        .to_string()
        .into_bytes();
        let whiteouts = if layers.len() >= 3 {
            BTreeSet::from([PYTHON[0].0.to_string()])
        } else {
            BTreeSet::new()
        };
        Image {
            config_digest: digest_of(&config),
            config,
            layers,
            whiteouts,
            binary_bytes: machine.binary.as_ref().map(|(_, b)| b.len() as u64),
        }
    }

    /// Compressed bytes of all layers.
    pub fn layer_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.bytes.len() as u64).sum()
    }

    pub fn tar_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.tar_len).sum()
    }

    pub fn entries(&self) -> u64 {
        self.layers.iter().map(|l| l.entries).sum()
    }

    /// The OCI image manifest.
    pub fn manifest(&self) -> Vec<u8> {
        let layers: Vec<_> = self
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": l.digest,
                    "size": l.bytes.len(),
                })
            })
            .collect();
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.config_digest,
                "size": self.config.len(),
            },
            "layers": layers,
        })
        .to_string()
        .into_bytes()
    }

    /// Pushes the config and the layers (not the manifest).
    pub async fn push_blobs(&self, client: &Client, server: &Server, repo: &str) -> anyhow::Result<()> {
        push_bytes(client, server, repo, &self.config).await?;
        for layer in &self.layers {
            let digest = push_bytes(client, server, repo, &layer.bytes).await?;
            anyhow::ensure!(digest == layer.digest, "layer digest changed");
        }
        Ok(())
    }

    /// Pushes the manifest under `tag`: with scan on push, this queues the scan.
    pub async fn push_manifest(&self, client: &Client, server: &Server, repo: &str, tag: &str) -> anyhow::Result<()> {
        put_manifest(client, server, repo, tag, &self.manifest()).await
    }
}

/// A file with fixed contents placed in a given layer.
struct Special {
    path: String,
    bytes: Vec<u8>,
    mode: u32,
}

/// The special files of each layer: the OS files in the first, the Python
/// packages, the `Cargo.lock` and the executable spread over the others, a
/// whiteout of the first Python package in the last (with ≥ 3 layers; with
/// fewer there is no layer above it, and that package is left out).
fn plan(layers: usize, machine: &MachineFiles) -> Vec<Vec<Special>> {
    let mut plan: Vec<Vec<Special>> = (0..layers).map(|_| Vec::new()).collect();
    let file = |path: &str, bytes: Vec<u8>, mode: u32| Special {
        path: path.to_string(),
        bytes,
        mode,
    };
    plan[0].push(file("etc/os-release", machine.os_release.clone(), 0o644));
    plan[0].push(file("var/lib/dpkg/status", machine.dpkg_status.clone(), 0o644));
    let whiteout = layers >= 3;
    let mut extra = Vec::new();
    for (i, (name, version)) in PYTHON.iter().enumerate() {
        if i == 0 && !whiteout {
            continue;
        }
        let metadata = format!(
            "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name} (scan bench)\n\
             Home-page: https://pypi.org/project/{name}/\nLicense: BSD\n\n{name} {version}\n"
        );
        extra.push(file(
            &format!("{SITE_PACKAGES}/{name}-{version}.dist-info/METADATA"),
            metadata.into_bytes(),
            0o644,
        ));
    }
    extra.push(file("srv/app/Cargo.lock", cargo_lock().into_bytes(), 0o644));
    if let Some((path, bytes)) = &machine.binary {
        extra.push(file(path, bytes.clone(), 0o755));
    }
    // Layers 1 ..= last-but-one when there is a whiteout layer, else 1 ..= last
    // (or all in layer 0 for a single-layer image); the first package (the one
    // whited out) goes in layer 1, below the whiteout.
    let (low, high) = match layers {
        1 => (0, 0),
        2 => (1, 1),
        n => (1, n - 2),
    };
    let span = high - low + 1;
    let count = extra.len();
    for (k, special) in extra.into_iter().enumerate() {
        plan[low + k * span / count].push(special);
    }
    if whiteout {
        let (name, version) = PYTHON[0];
        plan[layers - 1].push(file(
            &format!("{SITE_PACKAGES}/.wh.{name}-{version}.dist-info"),
            Vec::new(),
            0o644,
        ));
    }
    plan
}

/// A v3 `Cargo.lock` of an application using the old crates of [`CRATES`].
fn cargo_lock() -> String {
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 3\n\n\
         [[package]]\nname = \"bench-app\"\nversion = \"0.1.0\"\ndependencies = [\n",
    );
    for (name, _) in CRATES {
        out.push_str(&format!(" \"{name}\",\n"));
    }
    out.push_str("]\n");
    for (name, version) in CRATES {
        out.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ));
    }
    out
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// xorshift64*: fast, deterministic, good enough to defeat deflate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// About what `specials` take in a layer, compressed.
fn compressed_len(specials: &[Special]) -> u64 {
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(1));
    for s in specials {
        gz.write_all(&s.bytes).expect("writing to memory");
    }
    gz.finish().expect("writing to memory").len() as u64
}

/// Builds layer `index`: its special files, then filler files until the
/// compressed layer has about `target` bytes (gzip level 1: the filler does
/// not compress anyway).
fn build_layer(seed: u64, index: usize, target: u64, specials: &[Special]) -> Layer {
    let mut rng = Rng::new(seed, index as u64 + 1);
    let out = Hashing {
        inner: GzEncoder::new(Vec::with_capacity(target as usize + (1 << 20)), Compression::new(1)),
        hasher: Sha256::new(),
        len: 0,
    };
    let mut tar = tar::Builder::new(out);
    let mut entries = 0u64;
    let mut dirs = BTreeSet::new();
    let mut add = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8], mode: u32| {
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, d)| d)
        {
            parent.push_str(part);
            parent.push('/');
            if dirs.insert(parent.clone()) {
                append(tar, &parent, &[], 0o755, tar::EntryType::Directory);
                entries += 1;
            }
        }
        append(tar, path, bytes, mode, tar::EntryType::Regular);
        entries += 1;
    };
    for s in specials {
        add(&mut tar, &s.path, &s.bytes, s.mode);
    }
    let compressed = |tar: &tar::Builder<Hashing<GzEncoder<Vec<u8>>>>| tar.get_ref().inner.get_ref().len() as u64;
    let mut n = 0u64;
    let mut buf = Vec::new();
    while compressed(&tar) < target {
        // 70% small (100 B – 16 KiB), 25% medium (16 – 512 KiB), 5% large
        // (0.5 – 8 MiB); 15% of the files are text (compressible), 10% are
        // executable (not ELF: the scanner reads their first 4 bytes).
        let size = match rng.range(0, 100) {
            0..70 => rng.range(100, 16 << 10),
            70..95 => rng.range(16 << 10, 512 << 10),
            _ => rng.range(512 << 10, 8 << 20),
        }
        .min(target - compressed(&tar) + 100);
        buf.resize(size as usize, 0);
        let text = rng.range(0, 100) < 15;
        if text {
            fill_text(&mut rng, &mut buf);
        } else {
            rng.fill(&mut buf);
        }
        let mode = if rng.range(0, 100) < 10 { 0o755 } else { 0o644 };
        let ext = if text { "txt" } else { "bin" };
        let path = format!("opt/filler/l{index:02}/d{:02}/f{n:05}.{ext}", n % 37);
        add(&mut tar, &path, &buf, mode);
        n += 1;
    }
    let hashing = tar.into_inner().expect("writing to memory");
    let bytes = hashing.inner.finish().expect("writing to memory");
    Layer {
        digest: digest_of(&bytes),
        diff_id: format!("sha256:{}", hex::encode(hashing.hasher.finalize())),
        tar_len: hashing.len,
        bytes,
        entries,
    }
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8], mode: u32, kind: tar::EntryType) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(MTIME);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_data(&mut header, path, bytes).expect("writing to memory");
}

/// Lines of `key_N = <random word>`: compresses some 4×.
fn fill_text(rng: &mut Rng, buf: &mut [u8]) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut line = 0u64;
    let mut at = 0;
    while at < buf.len() {
        let mut text = format!("key_{line} = ").into_bytes();
        for _ in 0..rng.range(4, 24) {
            text.push(ALPHABET[rng.range(0, 26) as usize]);
        }
        text.push(b'\n');
        let n = text.len().min(buf.len() - at);
        buf[at..at + n].copy_from_slice(&text[..n]);
        at += n;
        line += 1;
    }
}
