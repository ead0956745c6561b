//! Executables cataloged by content: any regular file with an execute bit
//! whose first bytes are the ELF magic. Go binaries carry their build info
//! ([`super::golang`]), Rust binaries built with `cargo auditable` their
//! crate list ([`super::rust`]).
//!
//! Reading is streamed from the layer, with memory bounded independently of
//! the layer and of the file:
//! * a file up to `max_bytes` ([`crate::layers::Limits::max_binary_bytes`])
//!   is read whole into memory, then its ELF tables are parsed: the
//!   cargo-auditable section can be anywhere (it is usually past the loaded
//!   segments, near the end), and the section headers that locate it are
//!   usually at the very end;
//! * a larger file is not kept: it is streamed in 64 KiB chunks through its
//!   writable segments (from the program headers at its start), looking for
//!   the Go build info header, and the bytes after it (bounded) are kept and
//!   decoded. Only the Go ≥ 1.18 inline format can be read that way; such a
//!   file yields a record saying why it was not read further.

use std::io::{self, Read};

use super::elf::{self, Header, Segment};
use super::{Facts, golang, rust};

/// Bytes read at a time from a binary too large to keep.
const CHUNK: usize = 64 << 10;
/// The ELF header, 64 bytes in a 64-bit file: smaller files are not read.
const MIN_SIZE: u64 = 64;

/// Whether a regular file of this mode and size may be a binary (any execute
/// bit; room for an ELF header). Only those are read at all.
pub(crate) fn is_candidate(mode: u32, size: u64) -> bool {
    mode & 0o111 != 0 && size >= MIN_SIZE
}

/// Reads a candidate binary of `size` bytes from `entry`: `None` when it is
/// not ELF or carries nothing cataloged, else its facts or why it yields none.
/// An `Err` is the stream's (a truncated layer), never the file's content.
pub(crate) fn read(entry: &mut impl Read, size: u64, max_bytes: u64) -> io::Result<Option<Result<Facts, String>>> {
    let mut magic = [0u8; 4];
    entry.read_exact(&mut magic)?;
    if &magic != elf::MAGIC {
        return Ok(None);
    }
    if size <= max_bytes {
        let mut data = Vec::new();
        let len = usize::try_from(size).map_err(io::Error::other)?;
        if data.try_reserve_exact(len).is_err() {
            return Ok(Some(Err(format!("no memory for a {size}-byte binary"))));
        }
        data.extend_from_slice(&magic);
        read_exactly(entry, &mut data, size - 4)?;
        return Ok(from_image(&data));
    }
    stream_go(entry, magic, size, max_bytes)
}

/// Appends exactly `n` bytes of `entry` to `buf`.
fn read_exactly(entry: &mut impl Read, buf: &mut Vec<u8>, n: u64) -> io::Result<()> {
    let got = entry.take(n).read_to_end(buf)? as u64;
    if got < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "archive ends inside an entry",
        ));
    }
    Ok(())
}

/// What a whole ELF file carries.
pub(crate) fn from_image(data: &[u8]) -> Option<Result<Facts, String>> {
    let header = Header::parse(data)?;
    let segments = header.segments(data).unwrap_or_default();
    let sections = header.find_sections(data, [".go.buildinfo", ".dep-v0"]);
    let go = match &sections {
        Some([go, _]) => go.as_ref().and_then(|s| golang::find_in_section(data, s)),
        None => golang::find_in_segments(data, &segments),
    };
    if let Some(at) = go {
        let resolve = |addr: u64, len: u64| elf::read_at_address(data, &segments, addr, len).map(<[u8]>::to_vec);
        return Some(golang::decode(&data[at..], Some(&resolve)).map(Facts::GoBinary));
    }
    let dep = sections.and_then(|[_, dep]| dep)?;
    if dep.flags & elf::SHF_COMPRESSED != 0 {
        return Some(Err("cargo-auditable .dep-v0 section is ELF-compressed".into()));
    }
    let bytes = elf::section_data(data, &dep)?;
    Some(rust::parse_dep_v0(bytes).map(Facts::RustBinary))
}

/// Streams a binary too large to keep, looking for Go's build info in its
/// writable segments.
fn stream_go(
    entry: &mut impl Read,
    magic: [u8; 4],
    size: u64,
    max_bytes: u64,
) -> io::Result<Option<Result<Facts, String>>> {
    let not_read = |why: &str| {
        Ok(Some(Err(format!(
            "{size}-byte binary, over the {max_bytes}-byte limit: {why}"
        ))))
    };
    // The first chunk: the ELF header and, normally, the program headers.
    let mut chunk = magic.to_vec();
    read_exactly(entry, &mut chunk, (CHUNK as u64).min(size) - 4)?;
    let Some(header) = Header::parse(&chunk) else {
        return Ok(None);
    };
    let Some(segments) = header.segments(&chunk) else {
        return not_read("program headers not at its start; not read");
    };
    // Data segments whose file offsets keep their addresses' alignment, so
    // that an aligned header never straddles two (aligned) chunks.
    let data: Vec<&Segment> = segments
        .iter()
        .filter(|s| s.is_data() && s.offset % golang::ALIGN == s.vaddr % golang::ALIGN)
        .collect();
    let end = data
        .iter()
        .map(|s| s.offset.saturating_add(s.filesz))
        .max()
        .unwrap_or(0);
    let mut pos: u64 = 0;
    while pos < end.min(size) {
        let chunk_end = pos + chunk.len() as u64;
        for s in &data {
            let from = s.offset.max(pos);
            let to = s.offset.saturating_add(s.filesz).min(chunk_end);
            if from >= to {
                continue;
            }
            let bytes = &chunk[(from - pos) as usize..(to - pos) as usize];
            if let Some(at) = golang::find_magic(bytes, s.vaddr + (from - s.offset), 0) {
                let start = (from - pos) as usize + at;
                let mut info = chunk[start..].to_vec();
                let left = size - chunk_end;
                let want = (golang::MAX_INFO_BYTES as u64 + 64).saturating_sub(info.len() as u64);
                read_exactly(entry, &mut info, want.min(left))?;
                return Ok(Some(golang::decode(&info, None).map(Facts::GoBinary)));
            }
        }
        pos = chunk_end;
        let next = (CHUNK as u64).min(size - pos);
        chunk.clear();
        read_exactly(entry, &mut chunk, next)?;
    }
    not_read("no Go build info in its data segments; not read further")
}
