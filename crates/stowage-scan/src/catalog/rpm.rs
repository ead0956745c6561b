//! rpm: the sqlite package database of rpm ≥ 4.16 (`var/lib/rpm/rpmdb.sqlite`,
//! `usr/lib/sysimage/rpm/rpmdb.sqlite`: RHEL, AlmaLinux, Rocky 9, Fedora 33+,
//! Amazon Linux 2023). The BerkeleyDB and NDB `Packages` files of older and
//! SUSE releases are not read.
//!
//! The database is opened from the bytes read (`sqlite3_deserialize`, read
//! only, no file), hardened for untrusted input (defensive mode, no views or
//! triggers, an untrusted schema, cell size checks, a bound on the work done),
//! and its `Packages(hnum, blob)` table is read: each blob is an rpm header
//! without its 8-byte magic, parsed by hand ([`Header`]). rpm leaves the
//! database in WAL mode; its `-wal` file is not read (in an image it is empty:
//! the last writer checkpointed it).
//!
//! From each header: `NAME`, `EPOCH`, `VERSION`, `RELEASE`, `ARCH` and
//! `SOURCERPM` (the source package, which findings match by, as for dpkg and
//! apk), and the package's files that are language-package metadata (the
//! `BASENAMES`/`DIRNAMES`/`DIRINDEXES` file list, filtered down as dpkg's
//! `.list` files are), so that an rpm-installed Python distribution or jar is
//! not reported a second time. `gpg-pubkey` pseudo packages (imported
//! signing keys) are skipped.

use std::borrow::Cow;
use std::io::Read;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, MAIN_DB};
use serde::{Deserialize, Serialize};

/// One installed package from an rpm database, as kept in a layer's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpmRecord {
    /// `NAME`.
    pub name: String,
    /// `[EPOCH:]VERSION-RELEASE`, as `rpm -q --qf '%{EVR}'` writes it (the
    /// epoch when the header has one, even `0`).
    pub version: String,
    /// The source package's name, from `SOURCERPM`
    /// (`openssl-3.0.7-27.el9.src.rpm` → `openssl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source package's `[EPOCH:]VERSION-RELEASE`: its version and
    /// release from `SOURCERPM`, with the binary package's epoch (a source
    /// rpm's file name has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// `ARCH` (`x86_64`, `noarch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The package's files that are language-package metadata, normalized
    /// (no leading `/`): those packages are the rpm's, not separate installs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// os-release `ID`s of rpm distributions: an rpm database takes its
/// ecosystem, purl namespace and `distro` from an OS of these.
pub(crate) const FAMILY: &[&str] = &[
    "rhel",
    "almalinux",
    "rocky",
    "centos",
    "fedora",
    "amzn",
    "ol",
    "openeuler",
    "azurelinux",
    "mariner",
    "mageia",
    "opensuse-leap",
    "opensuse-tumbleweed",
    "sles",
];

/// Packages read from one database at most (a large image has ~2000).
const MAX_PACKAGES: usize = 200_000;
/// Language metadata files kept per package.
const MAX_OWNED_FILES: usize = 10_000;
/// Bound on SQLite's work: virtual machine steps, counted by thousands. A
/// table scan takes some five steps a row, under a million for any real
/// database.
const MAX_VM_KILO_STEPS: u64 = 100_000;

/// Reads an rpm sqlite database's installed packages.
pub(crate) fn parse_rpmdb(bytes: &[u8]) -> Result<Vec<RpmRecord>, String> {
    parse_rpmdb_bounded(bytes, MAX_VM_KILO_STEPS)
}

/// [`parse_rpmdb`], with SQLite's work bounded to `kilo_steps` thousand
/// virtual machine steps.
pub(crate) fn parse_rpmdb_bounded(bytes: &[u8], kilo_steps: u64) -> Result<Vec<RpmRecord>, String> {
    let sql_error = |e: rusqlite::Error| format!("rpm sqlite database: {e}");
    let conn = open(bytes, kilo_steps)?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages").map_err(sql_error)?;
    let mut rows = stmt.query([]).map_err(sql_error)?;
    let mut out = Vec::new();
    let mut bad = 0usize;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let header = match row.get_ref(0).map_err(sql_error)? {
            rusqlite::types::ValueRef::Blob(blob) => Header::parse(blob).ok(),
            _ => None,
        };
        let Some(header) = header else {
            bad += 1;
            continue;
        };
        if let Some(record) = record(&header) {
            if out.len() == MAX_PACKAGES {
                return Err(format!("rpm sqlite database: more than {MAX_PACKAGES} packages"));
            }
            out.push(record);
        }
    }
    if out.is_empty() && bad > 0 {
        return Err(format!("rpm sqlite database: {bad} unreadable package headers"));
    }
    Ok(out)
}

/// Opens the database bytes in memory, read only, hardened.
fn open(bytes: &[u8], kilo_steps: u64) -> Result<Connection, String> {
    const MAGIC: &[u8] = b"SQLite format 3\0";
    if bytes.len() < 100 || !bytes.starts_with(MAGIC) {
        return Err("not an SQLite database".into());
    }
    let sql_error = |e: rusqlite::Error| format!("rpm sqlite database: {e}");
    let mut conn = Connection::open_in_memory().map_err(sql_error)?;
    for (option, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
    ] {
        conn.set_db_config(option, on).map_err(sql_error)?;
    }
    let mut steps = 0u64;
    conn.progress_handler(
        1000,
        Some(move || {
            steps += 1;
            steps > kilo_steps
        }),
    )
    .map_err(sql_error)?;
    // Header bytes 18 and 19 are the write and read format versions: 2 is
    // WAL, which an in-memory database cannot open; 1 (rollback journal)
    // reads the same file.
    let legacy = [legacy_format(bytes[18]), legacy_format(bytes[19])];
    let reader = bytes[..18].chain(&legacy[..]).chain(&bytes[20..]);
    conn.deserialize_read_exact(MAIN_DB, reader, bytes.len(), true)
        .map_err(sql_error)?;
    conn.execute_batch("PRAGMA cell_size_check = ON; PRAGMA query_only = ON;")
        .map_err(sql_error)?;
    // `Packages` must be a plain table (no view, no virtual table).
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => "rpm sqlite database without a Packages table".to_owned(),
            e => sql_error(e),
        })?;
    if !sql.trim_start().to_ascii_uppercase().starts_with("CREATE TABLE") {
        return Err("rpm sqlite database: Packages is not a plain table".into());
    }
    Ok(conn)
}

fn legacy_format(b: u8) -> u8 {
    if b == 2 { 1 } else { b }
}

/// The package a header describes, or `None` for a pseudo package (an
/// imported key) or a header without a name or version.
fn record(h: &Header<'_>) -> Option<RpmRecord> {
    let name = h.string(tag::NAME).filter(|n| !n.is_empty())?;
    if name == "gpg-pubkey" {
        return None;
    }
    let version = h.string(tag::VERSION).filter(|v| !v.is_empty())?;
    let release = h.string(tag::RELEASE).filter(|r| !r.is_empty());
    let epoch = h.int32(tag::EPOCH);
    let evr = |version: &str, release: Option<&str>| {
        let mut s = String::new();
        if let Some(e) = epoch {
            s.push_str(&format!("{e}:"));
        }
        s.push_str(version);
        if let Some(r) = release {
            s.push('-');
            s.push_str(r);
        }
        s
    };
    let source_rpm = h.string(tag::SOURCERPM);
    let source = source_rpm.as_deref().and_then(split_source_rpm);
    Some(RpmRecord {
        version: evr(&version, release.as_deref()),
        source_version: source.map(|(_, v, r)| evr(v, Some(r))),
        source: source.map(|(n, _, _)| n.to_owned()),
        arch: h.string(tag::ARCH).filter(|a| !a.is_empty()).map(Cow::into_owned),
        files: owned_files(h),
        name: name.into_owned(),
    })
}

/// `name-version-release.src.rpm` → (name, version, release).
pub(crate) fn split_source_rpm(file: &str) -> Option<(&str, &str, &str)> {
    let base = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty() && !release.is_empty()).then_some((name, version, release))
}

/// The epoch of an `[epoch:]version-release` and the rest (what a purl
/// writes as the version, with the epoch as a qualifier).
pub(crate) fn split_epoch(evr: &str) -> (Option<&str>, &str) {
    match evr.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), rest),
        _ => (None, evr),
    }
}

/// The header's files that are language-package metadata.
fn owned_files(h: &Header<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut keep = |path: &str| {
        let path = path.trim_start_matches('/');
        if out.len() < MAX_OWNED_FILES && super::is_language_metadata(path) {
            out.push(path.to_owned());
        }
    };
    if let (Some(bases), Some(dirs), Some(indexes)) = (
        h.strings(tag::BASENAMES),
        h.strings(tag::DIRNAMES),
        h.int32s(tag::DIRINDEXES),
    ) {
        if bases.len() != indexes.len() {
            return out;
        }
        for (base, index) in bases.iter().zip(indexes) {
            if let Some(dir) = usize::try_from(index).ok().and_then(|i| dirs.get(i)) {
                keep(&format!("{dir}{base}"));
            }
        }
    } else if let Some(names) = h.strings(tag::OLDFILENAMES) {
        for name in names {
            keep(&name);
        }
    }
    out
}

/// rpm tag numbers (`rpmtag.h`).
mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const OLDFILENAMES: u32 = 1027;
    pub const ARCH: u32 = 1022;
    pub const SOURCERPM: u32 = 1044;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
}

/// rpm tag data types (`rpmTagType`).
mod ty {
    pub const INT32: u32 = 4;
    pub const STRING: u32 = 6;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// Why a header blob was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Shorter than its 8-byte preamble.
    Short,
    /// More index entries or data than rpm itself accepts.
    TooLarge,
    /// The blob's length is not what its preamble says.
    Length,
}

/// An rpm header as stored in the database: `il` and `dl` (big-endian
/// 32-bit counts of index entries and data bytes), `il` 16-byte index entries
/// (tag, type, offset into the data, count), then `dl` bytes of data.
pub(crate) struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

/// rpm's own bounds (`hdrchkTags`, `hdrchkData`).
const MAX_INDEX_ENTRIES: u32 = 0xffff;
const MAX_DATA_BYTES: u32 = 0x0fff_ffff;

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> Header<'a> {
    /// Checks the preamble and lengths; entries are checked as they are read.
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(HeaderError::Short);
        };
        if il == 0 || il > MAX_INDEX_ENTRIES || dl > MAX_DATA_BYTES {
            return Err(HeaderError::TooLarge);
        }
        let index_len = il as usize * 16;
        if blob.len() as u64 != 8 + index_len as u64 + u64::from(dl) {
            return Err(HeaderError::Length);
        }
        let (index, data) = blob[8..].split_at(index_len);
        Ok(Header { index, data })
    }

    /// (type, offset, count) of a tag's entry.
    fn entry(&self, tag: u32) -> Option<(u32, usize, u32)> {
        self.index.chunks_exact(16).find_map(|e| {
            (be32(e, 0)? == tag).then(|| Some((be32(e, 4)?, usize::try_from(be32(e, 8)?).ok()?, be32(e, 12)?)))?
        })
    }

    /// The NUL-terminated string at `offset` in the data, and where the next
    /// one starts.
    fn c_string(&self, offset: usize) -> Option<(Cow<'a, str>, usize)> {
        let rest = self.data.get(offset..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        Some((String::from_utf8_lossy(&rest[..len]), offset + len + 1))
    }

    /// A string tag's value (the first string of an array or i18n table).
    pub(crate) fn string(&self, tag: u32) -> Option<Cow<'a, str>> {
        let (kind, offset, count) = self.entry(tag)?;
        match kind {
            ty::STRING => {}
            ty::STRING_ARRAY | ty::I18NSTRING if count >= 1 => {}
            _ => return None,
        }
        self.c_string(offset).map(|(s, _)| s)
    }

    /// A string array tag's values.
    fn strings(&self, tag: u32) -> Option<Vec<Cow<'a, str>>> {
        let (kind, mut offset, count) = self.entry(tag)?;
        // Each string takes at least its NUL: a count past the data is a lie.
        if kind != ty::STRING_ARRAY || count as usize > self.data.len() {
            return None;
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let (s, next) = self.c_string(offset)?;
            out.push(s);
            offset = next;
        }
        Some(out)
    }

    /// An INT32 array tag's values.
    fn int32s(&self, tag: u32) -> Option<Vec<u32>> {
        let (kind, offset, count) = self.entry(tag)?;
        if kind != ty::INT32 {
            return None;
        }
        let len = (count as usize).checked_mul(4)?;
        let bytes = self.data.get(offset..offset.checked_add(len)?)?;
        Some(bytes.chunks_exact(4).filter_map(|c| be32(c, 0)).collect())
    }

    /// An INT32 tag's (first) value.
    pub(crate) fn int32(&self, tag: u32) -> Option<u32> {
        let (kind, offset, count) = self.entry(tag)?;
        (kind == ty::INT32 && count >= 1).then(|| be32(self.data, offset))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob with these (tag, type, data) entries, the way rpm lays
    /// them out (data concatenated in entry order).
    fn blob(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for (tag, ty, count, bytes) in entries {
            index.extend(tag.to_be_bytes());
            index.extend(ty.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(count.to_be_bytes());
            data.extend(*bytes);
        }
        let mut out = Vec::new();
        out.extend((entries.len() as u32).to_be_bytes());
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-27.el9.src.rpm"),
            Some(("openssl", "3.0.7", "27.el9"))
        );
        assert_eq!(
            split_source_rpm("python3.11-3.11.7-1.el9.src.rpm"),
            Some(("python3.11", "3.11.7", "1.el9"))
        );
        assert_eq!(split_source_rpm("a-b-c.nosrc.rpm"), Some(("a", "b", "c")));
        assert_eq!(split_source_rpm("openssl.src.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
        assert_eq!(split_source_rpm("(none)"), None);
    }

    #[test]
    fn epochs_split_off() {
        assert_eq!(split_epoch("2:1.2.3-4.el9"), (Some("2"), "1.2.3-4.el9"));
        assert_eq!(split_epoch("1.2.3-4.el9"), (None, "1.2.3-4.el9"));
        assert_eq!(split_epoch("a:1"), (None, "a:1"));
    }

    #[test]
    fn header_entries_are_bounds_checked() {
        let b = blob(&[
            (tag::NAME, ty::STRING, 1, b"bash\0"),
            (tag::EPOCH, ty::INT32, 1, &7u32.to_be_bytes()),
            (tag::VERSION, ty::STRING, 1, b"5.1.8\0"),
        ]);
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(tag::NAME).as_deref(), Some("bash"));
        assert_eq!(h.int32(tag::EPOCH), Some(7));
        assert_eq!(h.string(tag::EPOCH), None, "wrong type");
        assert_eq!(h.int32(tag::NAME), None, "wrong type");
        assert_eq!(h.string(tag::RELEASE), None, "absent");

        // An offset past the data, a string without its NUL, an array whose
        // count exceeds the data.
        let b = blob(&[(tag::NAME, ty::STRING, 1, b"bash")]);
        assert_eq!(Header::parse(&b).unwrap().string(tag::NAME), None);
        let mut b = blob(&[(tag::NAME, ty::STRING, 1, b"bash\0")]);
        b[8 + 8..8 + 12].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(Header::parse(&b).unwrap().string(tag::NAME), None);
        let b = blob(&[(tag::BASENAMES, ty::STRING_ARRAY, u32::MAX, b"a\0")]);
        assert_eq!(Header::parse(&b).unwrap().strings(tag::BASENAMES), None);
        let b = blob(&[(tag::DIRINDEXES, ty::INT32, u32::MAX, b"\0\0\0\0")]);
        assert_eq!(Header::parse(&b).unwrap().int32s(tag::DIRINDEXES), None);

        // Preambles rpm refuses.
        assert_eq!(Header::parse(&[0, 0, 0]).err(), Some(HeaderError::Short));
        assert_eq!(Header::parse(&[0; 8]).err(), Some(HeaderError::TooLarge));
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend(u32::MAX.to_be_bytes());
        assert_eq!(Header::parse(&b).err(), Some(HeaderError::TooLarge));
        let mut b = 0x1_0000u32.to_be_bytes().to_vec();
        b.extend(0u32.to_be_bytes());
        assert_eq!(Header::parse(&b).err(), Some(HeaderError::TooLarge));
        let mut b = blob(&[(tag::NAME, ty::STRING, 1, b"bash\0")]);
        b.push(0);
        assert_eq!(Header::parse(&b).err(), Some(HeaderError::Length));
    }

    #[test]
    fn file_lists_keep_language_metadata() {
        let b = blob(&[
            (tag::NAME, ty::STRING, 1, b"python3-requests\0"),
            (tag::VERSION, ty::STRING, 1, b"2.25.1\0"),
            (tag::DIRINDEXES, ty::INT32, 3, &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7]),
            (
                tag::BASENAMES,
                ty::STRING_ARRAY,
                3,
                b"__init__.py\0METADATA\0x\0",
            ),
            (
                tag::DIRNAMES,
                ty::STRING_ARRAY,
                2,
                b"/usr/lib/python3.9/site-packages/requests/\0/usr/lib/python3.9/site-packages/requests-2.25.1.dist-info/\0",
            ),
        ]);
        let r = record(&Header::parse(&b).unwrap()).unwrap();
        assert_eq!(
            r.files,
            vec!["usr/lib/python3.9/site-packages/requests-2.25.1.dist-info/METADATA"]
        );
        assert_eq!(r.version, "2.25.1");
        assert_eq!(r.source, None);
    }
}
