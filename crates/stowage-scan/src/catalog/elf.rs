//! The few parts of an ELF file the binary catalogers need: the header, the
//! program headers (loadable segments, to map addresses to file offsets and
//! to find the data segments) and the section headers with their names.
//!
//! Read by hand, bounds-checked, from a byte slice (32- and 64-bit, either
//! byte order): the header and tables are a few fixed layouts, which is less
//! code to review than a general object-file crate, and nothing here can
//! panic or allocate more than the tables' entries on bad input.

/// The first four bytes of every ELF file.
pub(crate) const MAGIC: &[u8; 4] = b"\x7fELF";

/// `p_type` of a loadable segment.
pub(crate) const PT_LOAD: u32 = 1;
/// `p_flags` bit: executable.
pub(crate) const PF_X: u32 = 1;
/// `p_flags` bit: writable.
pub(crate) const PF_W: u32 = 2;
/// `sh_type` of a section with no bytes in the file (`.bss`).
pub(crate) const SHT_NOBITS: u32 = 8;
/// `sh_flags` bit: the section's bytes are compressed (`Elf_Chdr` first).
pub(crate) const SHF_COMPRESSED: u64 = 0x800;

/// The header fields the catalogers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// ELFCLASS64 (else 32-bit).
    pub(crate) is_64: bool,
    /// ELFDATA2MSB (else little-endian).
    pub(crate) big_endian: bool,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

/// A program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) kind: u32,
    pub(crate) flags: u32,
    pub(crate) offset: u64,
    pub(crate) vaddr: u64,
    pub(crate) filesz: u64,
}

impl Segment {
    /// A loadable, writable, non-executable segment (where Go's build info is).
    pub(crate) fn is_data(&self) -> bool {
        self.kind == PT_LOAD && self.flags & PF_W != 0 && self.flags & PF_X == 0
    }
}

/// A section header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) kind: u32,
    pub(crate) flags: u64,
    pub(crate) addr: u64,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// Reads integers of the file's byte order and word size.
#[derive(Clone, Copy)]
struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let at = usize::try_from(at).ok()?;
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    fn u16(&self, at: u64) -> Option<u16> {
        let b = self.bytes::<2>(at)?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: u64) -> Option<u32> {
        let b = self.bytes::<4>(at)?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: u64) -> Option<u64> {
        let b = self.bytes::<8>(at)?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A word: 4 bytes in a 32-bit file, 8 in a 64-bit one.
    fn word(&self, is_64: bool, at: u64) -> Option<u64> {
        if is_64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

impl Header {
    /// Parses the ELF header at the start of `data` (52 or 64 bytes).
    pub(crate) fn parse(data: &[u8]) -> Option<Header> {
        if !data.starts_with(MAGIC) {
            return None;
        }
        let is_64 = match data.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match data.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let r = Reader { data, big_endian };
        // Offsets of e_phoff and what follows differ by the word size.
        let (phoff, shoff, rest) = if is_64 {
            (r.u64(32)?, r.u64(40)?, 54)
        } else {
            (u64::from(r.u32(28)?), u64::from(r.u32(32)?), 42)
        };
        Some(Header {
            is_64,
            big_endian,
            phoff,
            phentsize: r.u16(rest)?,
            phnum: r.u16(rest + 2)?,
            shoff,
            shentsize: r.u16(rest + 4)?,
            shnum: r.u16(rest + 6)?,
            shstrndx: r.u16(rest + 8)?,
        })
    }

    fn reader<'a>(&self, data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            big_endian: self.big_endian,
        }
    }

    /// The program headers, read from `data` (the file, or a prefix of it
    /// that holds them); `None` if they are not all in `data`.
    pub(crate) fn segments(&self, data: &[u8]) -> Option<Vec<Segment>> {
        let r = self.reader(data);
        let min = if self.is_64 { 56 } else { 32 };
        if self.phnum == 0 {
            return Some(Vec::new());
        }
        if self.phentsize < min {
            return None;
        }
        let end = self
            .phoff
            .checked_add(u64::from(self.phentsize) * u64::from(self.phnum))?;
        if end > data.len() as u64 {
            return None;
        }
        (0..u64::from(self.phnum))
            .map(|i| {
                let at = self.phoff + i * u64::from(self.phentsize);
                Some(if self.is_64 {
                    Segment {
                        kind: r.u32(at)?,
                        flags: r.u32(at + 4)?,
                        offset: r.u64(at + 8)?,
                        vaddr: r.u64(at + 16)?,
                        filesz: r.u64(at + 32)?,
                    }
                } else {
                    Segment {
                        kind: r.u32(at)?,
                        offset: u64::from(r.u32(at + 4)?),
                        vaddr: u64::from(r.u32(at + 8)?),
                        filesz: u64::from(r.u32(at + 16)?),
                        flags: r.u32(at + 24)?,
                    }
                })
            })
            .collect()
    }

    /// The first section named each of `names` in the whole file `data`;
    /// `None` when it has no section headers (or they are out of bounds).
    /// Names are compared in place: nothing is allocated per section.
    pub(crate) fn find_sections<const N: usize>(&self, data: &[u8], names: [&str; N]) -> Option<[Option<Section>; N]> {
        let r = self.reader(data);
        let min = if self.is_64 { 64 } else { 40 };
        if self.shoff == 0 || self.shentsize < min {
            return None;
        }
        let entsize = u64::from(self.shentsize);
        // (sh_name, section, sh_link) of section `i`.
        let raw = |i: u64| -> Option<(u32, Section, u32)> {
            let at = self.shoff.checked_add(i.checked_mul(entsize)?)?;
            // Every field read below lies within the entry: the entry's end
            // must not overflow, or neither may the fields' offsets.
            at.checked_add(entsize)?;
            let w = |n: u64| if self.is_64 { 8 * n } else { 4 * n };
            let section = Section {
                kind: r.u32(at + 4)?,
                flags: r.word(self.is_64, at + 8)?,
                addr: r.word(self.is_64, at + 8 + w(1))?,
                offset: r.word(self.is_64, at + 8 + w(2))?,
                size: r.word(self.is_64, at + 8 + w(3))?,
            };
            Some((r.u32(at)?, section, r.u32(at + 8 + w(4))?))
        };
        // Extended numbering: past 0xff00 sections, the count and the string
        // table's index are in section 0.
        let (_, first, first_link) = raw(0)?;
        let count = if self.shnum == 0 {
            first.size
        } else {
            u64::from(self.shnum)
        };
        let strndx = if self.shstrndx == 0xffff {
            u64::from(first_link)
        } else {
            u64::from(self.shstrndx)
        };
        if count.checked_mul(entsize)? > data.len() as u64 {
            return None;
        }
        let table: &[u8] = match raw(strndx) {
            Some((_, s, _)) if s.kind != SHT_NOBITS => slice(data, s.offset, s.size).unwrap_or(&[]),
            _ => &[],
        };
        let is_named = |at: u32, name: &str| {
            let tail = table.get(at as usize..).unwrap_or(&[]);
            tail.strip_prefix(name.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&0))
        };
        let mut found = [None; N];
        for i in 0..count {
            let (name, section, _) = raw(i)?;
            for (slot, wanted) in found.iter_mut().zip(names) {
                if slot.is_none() && is_named(name, wanted) {
                    *slot = Some(section);
                }
            }
        }
        Some(found)
    }
}

/// `data[offset..offset + size]`, if in bounds.
pub(crate) fn slice(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    data.get(start..end)
}

/// The bytes of a section, if it has some in the file.
pub(crate) fn section_data<'a>(data: &'a [u8], section: &Section) -> Option<&'a [u8]> {
    if section.kind == SHT_NOBITS {
        return None;
    }
    slice(data, section.offset, section.size)
}

/// The file bytes at virtual address `addr`, `len` long, from the loadable
/// segment that holds them.
pub(crate) fn read_at_address<'a>(data: &'a [u8], segments: &[Segment], addr: u64, len: u64) -> Option<&'a [u8]> {
    let s = segments
        .iter()
        .find(|s| s.kind == PT_LOAD && s.vaddr <= addr && addr - s.vaddr < s.filesz)?;
    let within = addr - s.vaddr;
    if len > s.filesz - within {
        return None;
    }
    slice(data, s.offset.checked_add(within)?, len)
}
