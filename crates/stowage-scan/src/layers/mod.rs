//! Layer walking: one pass over a layer blob, streamed, into a small
//! serializable [`LayerIndex`] that is stored by layer digest. An image's
//! inventory is then computed from its layers' indexes
//! ([`crate::catalog::image_inventory`]) without reading any layer again.
//!
//! [`index_layer`]:
//! - detects gzip (`1f 8b`), zstd (`28 b5 2f fd`) or a plain tar by magic
//!   bytes and decompresses as it reads (gzip: flate2, multi-member; zstd:
//!   ruzstd, multi-frame, skippable frames skipped; both check their
//!   checksums, and the stream is read to its end so that they are checked);
//! - walks the tar entries with the `tar` crate, never holding the layer in
//!   memory: only the few files catalogers read are read, each parsed at once
//!   into [`Facts`], so the index holds facts, not contents;
//! - reads executables by content ([`crate::catalog`]'s binary catalogers):
//!   only regular files with an execute bit, only past their first 4 bytes
//!   when those are the ELF magic, so other files cost no extra reads; one
//!   that yields nothing is not recorded;
//! - records whiteouts (`.wh.<name>` deletes `<name>` of lower layers) and
//!   opaque directories (`.wh..wh..opq`: the directory's lower-layer contents
//!   are hidden); other `.wh..wh.*` names (aufs bookkeeping) are ignored;
//! - records symlinks and resolves hard links at cataloged paths
//!   (`etc/os-release → ../usr/lib/os-release`);
//! - normalizes paths (no leading `/` or `./`) and refuses the layer if an
//!   entry's path has a `..` component;
//! - enforces [`Limits`]: entries, decompressed bytes, size of a file it
//!   reads, path length, size of tar extension headers, indexed files.
//!   Exceeding one is a [`LayerError`]: the scan of the image fails. The one
//!   exception is an archive (a jar) or rpm database over
//!   [`Limits::max_archive_bytes`]: it is recorded as unread and the walk goes
//!   on (an executable over [`Limits::max_binary_bytes`] is streamed, never an
//!   error either).
//!
//! The `tar` crate is driven in raw mode: it reads GNU long names and PAX
//! extended headers whole into memory with no bound, so we read those records
//! ourselves, bounded. Not supported (the layer fails with [`LayerError::Tar`]
//! rather than being misread): a PAX `size` record that differs from the
//! header's size (files over 8 GiB written by PAX-only writers), and GNU
//! sparse files with extended sparse maps.

mod binaries;
mod decode;
pub(crate) mod path;
#[cfg(test)]
pub(crate) mod tests;
mod view;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::catalog::{self, Facts};
use decode::StreamFault;
use path::PathProblem;
pub(crate) use view::FsView;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`).
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// Bounds on what one layer may make the indexer do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries (extension headers count too).
    pub max_entries: u64,
    /// Decompressed bytes (the tar stream, headers included).
    pub max_total_bytes: u64,
    /// Size of one file the indexer reads (package databases, `METADATA`,
    /// `package.json`, dpkg file lists, os-release).
    pub max_file_bytes: u64,
    /// Size of one archive (jar, war, ear) or rpm sqlite database the indexer
    /// reads, held in memory while it is read (the database twice). A larger
    /// one is skipped ([`FileRecord::Unparsed`]), not an error: fat jars of a
    /// few hundred MiB are ordinary.
    pub max_archive_bytes: u64,
    /// Size of an executable read whole (for Go build info, cargo-auditable's
    /// `.dep-v0`), held in memory while it is read. A larger one is streamed
    /// for Go (≥ 1.18) build info only, not kept, and never an error.
    pub max_binary_bytes: u64,
    /// Length of an entry's path or link target, in bytes.
    pub max_path_bytes: usize,
    /// Size of one PAX extended header.
    pub max_extension_bytes: u64,
    /// Files recorded in the index (cataloged files, symlinks to them).
    pub max_indexed_files: usize,
}

impl Default for Limits {
    /// Far above real images (a large layer has some 10⁵ entries and a few
    /// GiB; a big dpkg status is ~10 MiB), far below what hurts the server.
    fn default() -> Self {
        Limits {
            max_entries: 2_000_000,
            max_total_bytes: 64 << 30,
            max_file_bytes: 64 << 20,
            max_archive_bytes: 256 << 20,
            max_binary_bytes: 64 << 20,
            max_path_bytes: 4096,
            max_extension_bytes: 1 << 20,
            max_indexed_files: 500_000,
        }
    }
}

/// Why a layer could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The reader given to [`index_layer`] failed.
    #[error("reading the layer: {0}")]
    Read(#[source] io::Error),
    /// The compressed stream is corrupt or truncated.
    #[error("corrupt {compression} stream: {source}")]
    Decompress {
        /// The layer's compression.
        compression: Compression,
        /// What the decompressor said.
        #[source]
        source: io::Error,
    },
    /// The decompressed stream is not a valid tar archive.
    #[error("malformed tar archive: {0}")]
    Tar(#[source] io::Error),
    /// More entries than [`Limits::max_entries`].
    #[error("layer has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// More decompressed bytes than [`Limits::max_total_bytes`].
    #[error("layer decompresses to more than {limit} bytes")]
    TooManyBytes {
        /// The limit.
        limit: u64,
    },
    /// A file the indexer reads is larger than [`Limits::max_file_bytes`].
    #[error("{path}: {size} bytes, over the {limit}-byte limit for a file the scanner reads")]
    FileTooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry's path or link target is longer than [`Limits::max_path_bytes`].
    #[error("entry path or link of {len} bytes is over the {limit}-byte limit")]
    PathTooLong {
        /// Its length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A PAX extended header is larger than [`Limits::max_extension_bytes`].
    #[error("tar extension header of {size} bytes is over the {limit}-byte limit")]
    ExtensionTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry's path (or hard link target) has a `..` component.
    #[error("entry path {path:?} has a `..` component")]
    UnsafePath {
        /// The path, lossily decoded.
        path: String,
    },
    /// More recorded files than [`Limits::max_indexed_files`].
    #[error("layer has more than {limit} files to index")]
    TooManyIndexedFiles {
        /// The limit.
        limit: usize,
    },
}

/// What the index keeps of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRecord {
    /// A cataloged file, parsed.
    Facts(Facts),
    /// A symbolic link at a cataloged path. Followed at image level for the OS
    /// files (`etc/os-release → ../usr/lib/os-release`); a symlinked package
    /// metadata file yields no package (its target is reported where it is).
    Symlink {
        /// The link's target, as written.
        target: String,
    },
    /// A cataloged path whose content yields nothing (unparsable, sparse, not
    /// a regular file, hard link to an unindexed file). It still replaces what
    /// lower layers had at that path.
    Unparsed {
        /// Why.
        reason: String,
    },
}

/// What one layer holds that matters to the catalogers. Serialized as JSON
/// and stored by layer digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerIndex {
    /// [`LayerIndex::FORMAT`] when it was made: an index stored with another
    /// value must be made again (what is recorded has changed).
    pub format: u32,
    /// The blob's compression.
    pub compression: Compression,
    /// Tar entries, extension headers included.
    pub entries: u64,
    /// Decompressed bytes.
    pub uncompressed_bytes: u64,
    /// Paths this layer deletes from the layers below (and all below them).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub whiteouts: BTreeSet<String>,
    /// Directories whose lower-layer contents this layer hides (`""`: the root).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub opaque_dirs: BTreeSet<String>,
    /// Cataloged files, by normalized path.
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
}

impl LayerIndex {
    /// The current index format. Bump it whenever what is recorded changes
    /// (a new cataloger, a parser fix), so stored indexes are made again.
    pub const FORMAT: u32 = 2;

    fn new(compression: Compression) -> Self {
        LayerIndex {
            format: Self::FORMAT,
            compression,
            entries: 0,
            uncompressed_bytes: 0,
            whiteouts: BTreeSet::new(),
            opaque_dirs: BTreeSet::new(),
            files: BTreeMap::new(),
        }
    }
}

/// Reads one layer blob (gzip, zstd or plain tar), streamed, into its index.
pub fn index_layer(reader: impl Read, limits: &Limits) -> Result<LayerIndex, LayerError> {
    let (compression, stream) =
        decode::open(reader, limits.max_total_bytes).map_err(|e| from_io(e, Compression::None))?;
    let fail = |e: io::Error| from_io(e, compression);
    let mut walker = Walker {
        limits,
        index: LayerIndex::new(compression),
        pending: Pending::default(),
    };
    let mut archive = tar::Archive::new(stream);
    {
        let entries = archive.entries().map_err(fail)?.raw(true);
        for entry in entries {
            let mut entry = entry.map_err(fail)?;
            walker.entry(&mut entry).map_err(|e| e.into_layer_error(compression))?;
        }
    }
    if walker.pending.is_some() {
        return Err(LayerError::Tar(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "extension header with no entry after it",
        )));
    }
    // Read to the end (the padding after the archive's end blocks) so that
    // the decompressor checks its checksum and a truncated blob is caught.
    let mut stream = archive.into_inner();
    io::copy(&mut stream, &mut io::sink()).map_err(fail)?;
    let mut index = walker.index;
    index.uncompressed_bytes = stream.count();
    Ok(index)
}

/// Sorts an I/O error out by where it came from.
fn from_io(e: io::Error, compression: Compression) -> LayerError {
    match decode::take_fault(e) {
        Ok(StreamFault::Source(e)) => LayerError::Read(e),
        Ok(StreamFault::Decode(source)) => LayerError::Decompress { compression, source },
        Ok(StreamFault::BytesLimit(limit)) => LayerError::TooManyBytes { limit },
        Err(e) => LayerError::Tar(e),
    }
}

/// An error while handling one entry: either from the stream or our own.
enum EntryError {
    Io(io::Error),
    Layer(LayerError),
}

impl EntryError {
    fn into_layer_error(self, compression: Compression) -> LayerError {
        match self {
            EntryError::Io(e) => from_io(e, compression),
            EntryError::Layer(e) => e,
        }
    }
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        EntryError::Io(e)
    }
}

impl From<LayerError> for EntryError {
    fn from(e: LayerError) -> Self {
        EntryError::Layer(e)
    }
}

/// Extension records that describe the next entry.
#[derive(Default)]
struct Pending {
    gnu_long_name: Option<Vec<u8>>,
    gnu_long_link: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

impl Pending {
    fn is_some(&self) -> bool {
        self.gnu_long_name.is_some()
            || self.gnu_long_link.is_some()
            || self.pax_path.is_some()
            || self.pax_link.is_some()
            || self.pax_size.is_some()
    }
}

struct Walker<'l> {
    limits: &'l Limits,
    index: LayerIndex,
    pending: Pending,
}

/// Reads an entry's `size` bytes of data (the caller has checked `size`
/// against its limit).
fn read_data(entry: &mut impl Read, size: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
    entry.take(size).read_to_end(&mut buf)?;
    if (buf.len() as u64) < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "archive ends inside an entry",
        ));
    }
    Ok(buf)
}

fn strip_nuls(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

impl Walker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), EntryError> {
        self.index.entries += 1;
        if self.index.entries > self.limits.max_entries {
            return Err(LayerError::TooManyEntries {
                limit: self.limits.max_entries,
            }
            .into());
        }
        let entry_type = entry.header().entry_type();
        let size = entry.size();
        let max_path = self.limits.max_path_bytes as u64;
        let path_too_long = |len: u64| LayerError::PathTooLong {
            len,
            limit: self.limits.max_path_bytes,
        };

        // Extension records: bounded reads, kept for the next entry.
        if entry_type.is_gnu_longname() || entry_type.is_gnu_longlink() {
            // The name plus its terminating NUL.
            if size > max_path + 1 {
                return Err(path_too_long(size).into());
            }
            let name = strip_nuls(read_data(entry, size)?);
            if entry_type.is_gnu_longname() {
                self.pending.gnu_long_name = Some(name);
            } else {
                self.pending.gnu_long_link = Some(name);
            }
            return Ok(());
        }
        if entry_type.is_pax_local_extensions() || entry_type.is_pax_global_extensions() {
            if size > self.limits.max_extension_bytes {
                return Err(LayerError::ExtensionTooLarge {
                    size,
                    limit: self.limits.max_extension_bytes,
                }
                .into());
            }
            let data = read_data(entry, size)?;
            if entry_type.is_pax_global_extensions() {
                return Ok(()); // archive-wide defaults (mtime, charset): nothing we use
            }
            for record in tar::PaxExtensions::new(&data) {
                let record = record?;
                match record.key_bytes() {
                    b"path" => self.pending.pax_path = Some(record.value_bytes().to_vec()),
                    b"linkpath" => self.pending.pax_link = Some(record.value_bytes().to_vec()),
                    b"size" => {
                        let size = record
                            .value()
                            .ok()
                            .and_then(|v| v.parse::<u64>().ok())
                            .ok_or_else(|| io::Error::other("invalid PAX size record"))?;
                        self.pending.pax_size = Some(size);
                    }
                    _ => {}
                }
            }
            return Ok(());
        }

        // A real entry: apply what the extension records said.
        let pending = std::mem::take(&mut self.pending);
        if let Some(pax_size) = pending.pax_size
            && pax_size != size
        {
            return Err(EntryError::Io(io::Error::other(
                "PAX size record differs from the header's size (unsupported)",
            )));
        }
        if entry_type.is_gnu_sparse() && entry.header().as_gnu().is_some_and(|gnu| gnu.is_extended()) {
            return Err(EntryError::Io(io::Error::other(
                "GNU sparse file with an extended sparse map (unsupported)",
            )));
        }
        let raw_path: Cow<'_, [u8]> = match pending.pax_path.or(pending.gnu_long_name) {
            Some(p) => Cow::Owned(p),
            None => Cow::Owned(entry.header().path_bytes().into_owned()),
        };
        if raw_path.len() as u64 > max_path {
            return Err(path_too_long(raw_path.len() as u64).into());
        }
        let raw_link: Option<Vec<u8>> = pending
            .pax_link
            .or(pending.gnu_long_link)
            .or_else(|| entry.header().link_name_bytes().map(Cow::into_owned));
        if let Some(link) = &raw_link
            && link.len() as u64 > max_path
        {
            return Err(path_too_long(link.len() as u64).into());
        }
        let path = match path::normalize_entry_path(&raw_path) {
            Ok(p) => p,
            Err(PathProblem::DotDot) => {
                return Err(LayerError::UnsafePath {
                    path: String::from_utf8_lossy(&raw_path).into_owned(),
                }
                .into());
            }
            // No cataloged file has such a name, and a whiteout of one only
            // hides files we do not record either.
            Err(PathProblem::NotUtf8) => return Ok(()),
        };
        if path.is_empty() || entry_type.is_dir() || raw_path.ends_with(b"/") {
            return Ok(());
        }

        let name = path::file_name(&path);
        if let Some(whited) = name.strip_prefix(".wh.") {
            let dir = path::parent(&path);
            if whited == ".wh..opq" {
                self.index.opaque_dirs.insert(dir.to_owned());
            } else if !whited.is_empty() && !whited.starts_with(".wh.") {
                self.index.whiteouts.insert(path::join(dir, whited));
            }
            return Ok(());
        }

        let Some(kind) = catalog::classify(&path) else {
            return self.unclassified(entry, path, entry_type, size, raw_link);
        };
        let record = if (entry_type.is_file() || entry_type.is_contiguous())
            && kind.is_large()
            && size > self.limits.max_archive_bytes
        {
            FileRecord::Unparsed {
                reason: format!(
                    "{size} bytes, over the {}-byte limit for an archive or database the scanner reads",
                    self.limits.max_archive_bytes
                ),
            }
        } else if entry_type.is_file() || entry_type.is_contiguous() {
            if size > self.limits.max_file_bytes && !kind.is_large() {
                return Err(LayerError::FileTooLarge {
                    path,
                    size,
                    limit: self.limits.max_file_bytes,
                }
                .into());
            }
            let data = read_data(entry, size)?;
            match catalog::parse_file(kind, &data) {
                Ok(facts) => FileRecord::Facts(facts),
                Err(reason) => FileRecord::Unparsed { reason },
            }
        } else if entry_type.is_symlink() {
            FileRecord::Symlink {
                target: String::from_utf8_lossy(raw_link.as_deref().unwrap_or_default()).into_owned(),
            }
        } else if entry_type.is_hard_link() {
            let raw_target = raw_link.unwrap_or_default();
            match path::normalize_entry_path(&raw_target) {
                Err(PathProblem::DotDot) => {
                    return Err(LayerError::UnsafePath {
                        path: String::from_utf8_lossy(&raw_target).into_owned(),
                    }
                    .into());
                }
                Ok(target) if self.index.files.contains_key(&target) => self.index.files[&target].clone(),
                _ => FileRecord::Unparsed {
                    reason: format!(
                        "hard link to {}, which is not indexed",
                        String::from_utf8_lossy(&raw_target)
                    ),
                },
            }
        } else if entry_type.is_gnu_sparse() {
            FileRecord::Unparsed {
                reason: "sparse file".into(),
            }
        } else {
            FileRecord::Unparsed {
                reason: format!("not a regular file (tar type {:?})", entry_type),
            }
        };
        self.index.files.insert(path, record);
        if self.index.files.len() > self.limits.max_indexed_files {
            return Err(LayerError::TooManyIndexedFiles {
                limit: self.limits.max_indexed_files,
            }
            .into());
        }
        Ok(())
    }
}
