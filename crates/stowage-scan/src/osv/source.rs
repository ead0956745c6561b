//! Reading advisories in bulk: one file, a directory tree, or a `.zip` dump as
//! osv.dev publishes them (`<ecosystem>/all.zip`, one JSON file per record).
//!
//! [`read`] yields `(origin, result)` pairs, one per record, so an importer
//! can note a bad file and go on. Memory stays bounded: files are read one at
//! a time, a zip is read entry by entry through its central directory, and no
//! record may be larger than [`MAX_ADVISORY_BYTES`].

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use super::model::{Advisory, Format, ParseError, parse};

/// The largest record read (the largest osv.dev records are a few MiB).
pub const MAX_ADVISORY_BYTES: u64 = 16 << 20;

/// Where a record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    File(PathBuf),
    /// An entry of a zip archive (`archive` is the label given to the archive,
    /// its path when read from a file).
    ZipEntry {
        archive: String,
        entry: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::ZipEntry { archive, entry } => write!(f, "{archive}!{entry}"),
        }
    }
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading: {0}")]
    Io(#[from] io::Error),
    #[error("zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{size} bytes or more, over the {limit}-byte limit for one advisory")]
    TooLarge { size: u64, limit: u64 },
    #[error("not .json, .yaml or .yml: cannot tell the format")]
    UnknownFormat,
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// What [`read`] yields.
pub type Item = (Origin, Result<Advisory, ReadError>);

/// Reads the advisories at `path`: a `.zip` archive, a directory (every
/// `.json`, `.yaml` and `.yml` file below it, in name order, not following
/// symbolic links to directories; archives in it are not opened), or a
/// single record file. Only a path that cannot be opened at all is an error
/// here; everything after is per record.
pub fn read(path: impl AsRef<Path>) -> Result<Advisories, ReadError> {
    let path = path.as_ref();
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        let mut dirs = Vec::new();
        let first = list_dir(path)?;
        dirs.push(first.into_iter());
        return Ok(Advisories(Inner::Dir { stack: dirs }));
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        let file = BufReader::new(File::open(path)?);
        return read_zip(file, path.display().to_string());
    }
    Ok(Advisories(Inner::File(Some(path.to_path_buf()))))
}

/// Reads the `.json`/`.yaml`/`.yml` entries of a zip archive from `reader`;
/// `label` names it in the [`Origin`]s.
pub fn read_zip(reader: impl Read + Seek + Send + 'static, label: impl Into<String>) -> Result<Advisories, ReadError> {
    let archive = ZipArchive::new(Box::new(reader) as Box<dyn ReadSeek>)?;
    Ok(Advisories(Inner::Zip {
        label: label.into(),
        archive,
        next: 0,
    }))
}

/// Reads and parses one record file; the format comes from its extension.
pub fn read_file(path: &Path) -> Result<Advisory, ReadError> {
    let format = Format::from_path(path).ok_or(ReadError::UnknownFormat)?;
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_ADVISORY_BYTES {
        return Err(ReadError::TooLarge {
            size,
            limit: MAX_ADVISORY_BYTES,
        });
    }
    let bytes = read_bounded(file)?;
    Ok(parse(&bytes, format)?)
}

/// Reads at most [`MAX_ADVISORY_BYTES`], failing past them.
fn read_bounded(reader: impl Read) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader.take(MAX_ADVISORY_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ADVISORY_BYTES {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_ADVISORY_BYTES,
        });
    }
    Ok(bytes)
}

/// A directory's entries, sorted by name.
fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The records of a file, directory or archive, one at a time; see [`read`].
pub struct Advisories(Inner);

enum Inner {
    File(Option<PathBuf>),
    /// Depth-first: the sorted, not yet visited entries of each open directory.
    Dir {
        stack: Vec<std::vec::IntoIter<PathBuf>>,
    },
    Zip {
        label: String,
        archive: ZipArchive<Box<dyn ReadSeek>>,
        next: usize,
    },
}

impl fmt::Debug for Advisories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::File(p) => f.debug_tuple("Advisories::File").field(p).finish(),
            Inner::Dir { stack } => f.debug_struct("Advisories::Dir").field("depth", &stack.len()).finish(),
            Inner::Zip { label, next, .. } => f
                .debug_struct("Advisories::Zip")
                .field("archive", label)
                .field("next", next)
                .finish(),
        }
    }
}

impl Iterator for Advisories {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        match &mut self.0 {
            Inner::File(path) => {
                let path = path.take()?;
                let result = read_file(&path);
                Some((Origin::File(path), result))
            }
            Inner::Dir { stack } => next_in_dir(stack),
            Inner::Zip { label, archive, next } => next_in_zip(label, archive, next),
        }
    }
}

fn next_in_dir(stack: &mut Vec<std::vec::IntoIter<PathBuf>>) -> Option<Item> {
    loop {
        let top = stack.last_mut()?;
        let Some(path) = top.next() else {
            stack.pop();
            continue;
        };
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => return Some((Origin::File(path), Err(e.into()))),
        };
        if meta.is_dir() {
            match list_dir(&path) {
                Ok(entries) => stack.push(entries.into_iter()),
                Err(e) => return Some((Origin::File(path), Err(e.into()))),
            }
            continue;
        }
        if Format::from_path(&path).is_none() {
            continue;
        }
        // A symbolic link is followed only to a file.
        if meta.file_type().is_symlink() && !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let result = read_file(&path);
        return Some((Origin::File(path), result));
    }
}

fn next_in_zip(label: &str, archive: &mut ZipArchive<Box<dyn ReadSeek>>, next: &mut usize) -> Option<Item> {
    while *next < archive.len() {
        let index = *next;
        *next += 1;
        let name = match archive.name_for_index(index) {
            Some(Ok(name)) => name.into_owned(),
            Some(Err(e)) => return Some((zip_origin(label, format!("#{index}")), Err(e.into()))),
            None => continue,
        };
        let Some(format) = Format::from_path(&name) else {
            continue;
        };
        let origin = zip_origin(label, name);
        let result = (|| {
            let entry = archive.by_index(index)?;
            if entry.is_dir() {
                return Ok(None);
            }
            if entry.size() > MAX_ADVISORY_BYTES {
                return Err(ReadError::TooLarge {
                    size: entry.size(),
                    limit: MAX_ADVISORY_BYTES,
                });
            }
            let bytes = read_bounded(entry)?;
            Ok(Some(parse(&bytes, format)?))
        })();
        match result {
            Ok(None) => continue,
            Ok(Some(advisory)) => return Some((origin, Ok(advisory))),
            Err(e) => return Some((origin, Err(e))),
        }
    }
    None
}

fn zip_origin(label: &str, entry: String) -> Origin {
    Origin::ZipEntry {
        archive: label.to_string(),
        entry,
    }
}
