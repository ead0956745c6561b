//! Java: jar, war and ear archives (`*.jar`, `*.war`, `*.ear`), wherever they
//! are in the image.
//!
//! An archive is a zip. From it we read every
//! `META-INF/maven/<group>/<artifact>/pom.properties` (`groupId`,
//! `artifactId`, `version`; one package each: a shaded jar carries several),
//! and, when there is none, the main section of `META-INF/MANIFEST.MF`
//! (`Bundle-SymbolicName`/`Bundle-Version`, else
//! `Implementation-Title`/`Implementation-Version`). Archives nested in it
//! (`WEB-INF/lib/*.jar` of a war, `BOOT-INF/lib/*.jar` of a Spring Boot jar,
//! the modules of an ear) are read the same way, one level deep.
//!
//! Names are OSV's Maven names, `groupId:artifactId`; a manifest-only jar
//! gets its symbolic name or title, which no Maven advisory names.
//!
//! Everything about the archive is untrusted: the entries it declares, the
//! sizes entries inflate to (read through a bound, never trusted from the
//! headers), how many nested archives it has, the total it inflates to.
//! Past a bound an entry is skipped, or the archive is refused.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use super::LangRecord;

/// Whether a path is a Java archive, by its extension (any case).
pub(crate) fn is_archive_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty() && ["jar", "war", "ear"].iter().any(|e| ext.eq_ignore_ascii_case(e))
}

/// Entries an archive may declare (a large shaded jar has some 10⁵).
const MAX_ENTRIES: u64 = 250_000;
/// Inflated size of one `pom.properties` or `MANIFEST.MF`.
const MAX_METADATA_BYTES: u64 = 1 << 20;
/// Inflated size of one nested archive (a nested jar is held in memory).
const MAX_NESTED_BYTES: u64 = 64 << 20;
/// Nested archives read from one archive.
const MAX_NESTED: usize = 10_000;
/// Bytes inflated from one archive, nested archives and their entries
/// included (zip bombs: deflate reaches ~1000:1).
const MAX_INFLATED_BYTES: u64 = 1 << 30;
/// Packages reported from one archive.
const MAX_RECORDS: usize = 20_000;

/// The packages a Java archive holds (itself, shaded and nested ones).
pub(crate) fn parse_archive(bytes: &[u8]) -> Result<Vec<LangRecord>, String> {
    let mut budget = MAX_INFLATED_BYTES;
    let mut out = BTreeSet::new();
    read_archive(bytes, true, &mut budget, &mut out)?;
    let out: Vec<LangRecord> = out
        .into_iter()
        .take(MAX_RECORDS)
        .map(|(name, version)| LangRecord { name, version })
        .collect();
    if out.is_empty() {
        return Err("Java archive without pom.properties or a versioned MANIFEST.MF".into());
    }
    Ok(out)
}

/// Reads one archive's packages into `out`, and those of the archives nested
/// in it when `nested` (each held in memory only while it is read).
fn read_archive(
    bytes: &[u8],
    nested: bool,
    budget: &mut u64,
    out: &mut BTreeSet<(String, String)>,
) -> Result<(), String> {
    if let Some(declared) = declared_entries(bytes)
        && declared > MAX_ENTRIES
    {
        return Err(format!(
            "Java archive declares {declared} entries, over the limit of {MAX_ENTRIES}"
        ));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("Java archive: {e}"))?;
    let mut poms = Vec::new();
    let mut manifest = None;
    let mut archives = Vec::new();
    for i in 0..zip.len() {
        let Some(Ok(name)) = zip.name_for_index(i) else {
            continue;
        };
        if name.ends_with('/') {
            continue;
        }
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            poms.push(i);
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = Some(i);
        } else if nested && is_archive_path(&name) && archives.len() < MAX_NESTED {
            archives.push(i);
        }
    }

    let mut own = 0;
    for i in poms {
        if let Some(text) = read_entry(&mut zip, i, MAX_METADATA_BYTES, budget)
            && let Some(record) = parse_pom_properties(&String::from_utf8_lossy(&text))
        {
            out.insert(record);
            own += 1;
        }
    }
    if own == 0
        && let Some(i) = manifest
        && let Some(text) = read_entry(&mut zip, i, MAX_METADATA_BYTES, budget)
        && let Some(record) = parse_manifest(&String::from_utf8_lossy(&text))
    {
        out.insert(record);
    }

    for i in archives {
        if *budget == 0 || out.len() >= MAX_RECORDS {
            break;
        }
        if let Some(data) = read_entry(&mut zip, i, MAX_NESTED_BYTES, budget) {
            // A nested archive that is not a readable zip yields nothing.
            let _ = read_archive(&data, false, budget, out);
        }
    }
    Ok(())
}

/// An entry's bytes, inflated through a bound: `None` when it is unreadable
/// or inflates past `limit` or the archive's remaining budget.
fn read_entry<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    limit: u64,
    budget: &mut u64,
) -> Option<Vec<u8>> {
    let entry = zip.by_index(index).ok()?;
    let cap = limit.min(*budget);
    let mut data = Vec::new();
    let read = entry.take(cap + 1).read_to_end(&mut data);
    *budget = budget.saturating_sub(data.len() as u64);
    if read.is_err() || data.len() as u64 > cap {
        return None;
    }
    Some(data)
}

/// The entry count the archive's end-of-central-directory record (or its
/// zip64 record) declares, when one is found: checked before the zip reader
/// allocates for them.
fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
    const ZIP64_EOCD: &[u8] = b"PK\x06\x06";
    let le16 = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let le64 = |at: usize| {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    // The record is 22 bytes plus a comment of up to 65535.
    let search_from = bytes.len().saturating_sub(22 + 0xffff);
    let eocd = search_from + bytes[search_from..].windows(4).rposition(|w| w == EOCD)?;
    let count = le16(eocd + 10)?.max(le16(eocd + 8)?);
    if count != 0xffff {
        return Some(count);
    }
    let locator = eocd.checked_sub(20)?;
    if bytes.get(locator..locator + 4)? != ZIP64_LOCATOR {
        return Some(count);
    }
    let offset = usize::try_from(le64(locator + 8)?).ok()?;
    if bytes.get(offset..offset.checked_add(4)?)? != ZIP64_EOCD {
        return Some(count);
    }
    Some(le64(offset + 24)?.max(le64(offset + 32)?))
}

/// `groupId:artifactId` and `version` of a `pom.properties` (Java properties:
/// `key=value`, `key: value` or `key value`; `#` and `!` comments).
pub(crate) fn parse_pom_properties(text: &str) -> Option<(String, String)> {
    let (mut group, mut artifact, mut version) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
        let key = &line[..split];
        let value = line[split..]
            .trim_start_matches([' ', '\t'])
            .strip_prefix(['=', ':'])
            .unwrap_or(&line[split..])
            .trim();
        let slot = match key {
            "groupId" => &mut group,
            "artifactId" => &mut artifact,
            "version" => &mut version,
            _ => continue,
        };
        *slot = Some(value.to_owned()).filter(|v| !v.is_empty());
    }
    Some((format!("{}:{}", group?, artifact?), version?))
}

/// A name and version from a manifest's main section: `Bundle-SymbolicName`
/// (its directives dropped) with `Bundle-Version`, else `Implementation-Title`
/// with `Implementation-Version`.
pub(crate) fn parse_manifest(text: &str) -> Option<(String, String)> {
    let mut attrs: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // the end of the main section
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some((_, value)) = attrs.last_mut() {
                value.push_str(more);
            }
        } else if let Some((key, value)) = line.split_once(':') {
            attrs.push((key.trim().to_owned(), value.trim_start().to_owned()));
        }
    }
    let get = |key: &str| {
        attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let pair = |name: Option<&str>, version: Option<&str>| Some((name?.to_owned(), version?.to_owned()));
    let symbolic = get("Bundle-SymbolicName").map(|n| n.split(';').next().unwrap_or(n).trim());
    pair(symbolic, get("Bundle-Version")).or_else(|| pair(get("Implementation-Title"), get("Implementation-Version")))
}
