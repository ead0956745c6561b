//! The segmented object format: offsets, and streaming seal/open state machines
//! that never hold more than one segment.

use ring::aead::LessSafeKey;

use crate::{DataKey, IntegrityError, OVERHEAD, SEGMENT, open_into, seal_into};

const SEALED_SEGMENT: u64 = (SEGMENT + OVERHEAD) as u64;

/// Stored size of an object of `plain_len` bytes.
pub fn sealed_len(plain_len: u64) -> u64 {
    let full = plain_len / SEGMENT as u64;
    let rest = plain_len % SEGMENT as u64;
    full * SEALED_SEGMENT + if rest > 0 { rest + OVERHEAD as u64 } else { 0 }
}

/// The segments holding an inclusive plaintext range, and where they are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Index of the first segment.
    pub first: u64,
    /// Stored byte offset of the first segment.
    pub sealed_start: u64,
    /// Stored bytes to read (whole segments).
    pub sealed_len: u64,
    /// Plaintext bytes to skip at the start of the first segment.
    pub skip: u64,
    /// Plaintext bytes to deliver.
    pub take: u64,
}

/// Segments covering plaintext bytes `start..=end` of an object of `plain_len` bytes
/// (callers check `start <= end < plain_len`).
pub fn segments_for(start: u64, end: u64, plain_len: u64) -> SegmentSpan {
    let seg = SEGMENT as u64;
    let first = start / seg;
    let last = end / seg;
    let sealed_start = first * SEALED_SEGMENT;
    let sealed_end = sealed_len(plain_len).min((last + 1) * SEALED_SEGMENT);
    SegmentSpan {
        first,
        sealed_start,
        sealed_len: sealed_end - sealed_start,
        skip: start - first * seg,
        take: end - start + 1,
    }
}

fn aad(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Seals a plaintext stream into segments as bytes arrive.
pub struct Sealer {
    cipher: LessSafeKey,
    index: u64,
    pending: Vec<u8>,
}

impl Sealer {
    /// Starts sealing at segment `index` (non-zero when an upload resumes).
    pub fn new(key: &DataKey, index: u64) -> Self {
        Sealer {
            cipher: key.cipher(),
            index,
            pending: Vec::with_capacity(SEGMENT),
        }
    }

    /// Takes plaintext; appends each completed sealed segment to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while !data.is_empty() {
            let n = (SEGMENT - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.pending.len() == SEGMENT {
                self.flush(out);
            }
        }
    }

    /// Seals what is left as a shorter last segment (nothing if empty).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        seal_into(&self.cipher, &aad(self.index), &self.pending, out);
        self.pending.clear();
        self.index += 1;
    }
}

/// Opens a stream of stored segments, delivering only the plaintext of a range.
pub struct Opener {
    cipher: LessSafeKey,
    index: u64,
    skip: u64,
    left: u64,
    pending: Vec<u8>,
    plain: Vec<u8>,
}

impl Opener {
    /// Opens the segments of `span`, fed from `span.sealed_start` on.
    pub fn new(key: &DataKey, span: &SegmentSpan) -> Self {
        Opener {
            cipher: key.cipher(),
            index: span.first,
            skip: span.skip,
            left: span.take,
            pending: Vec::with_capacity(SEGMENT + OVERHEAD),
            plain: Vec::with_capacity(SEGMENT),
        }
    }

    /// Takes stored bytes; appends opened plaintext of the range to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), IntegrityError> {
        while !data.is_empty() && self.left > 0 {
            let n = (SEGMENT + OVERHEAD - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.pending.len() == SEGMENT + OVERHEAD {
                self.open_pending(out)?;
            }
        }
        Ok(())
    }

    /// Opens a shorter last segment, then checks the whole range was delivered.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
        if !self.pending.is_empty() && self.left > 0 {
            self.open_pending(out)?;
        }
        if self.left > 0 { Err(IntegrityError) } else { Ok(()) }
    }

    /// Plaintext bytes still to deliver.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    fn open_pending(&mut self, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
        self.plain.clear();
        open_into(&self.cipher, &aad(self.index), &self.pending, &mut self.plain)?;
        self.pending.clear();
        self.index += 1;
        let from = (self.skip as usize).min(self.plain.len());
        self.skip -= from as u64;
        let n = ((self.plain.len() - from) as u64).min(self.left) as usize;
        out.extend_from_slice(&self.plain[from..from + n]);
        self.left -= n as u64;
        Ok(())
    }
}

/// Opens whole stored segments where they lie, without copying: the fast
/// path of a streaming read.
pub struct InPlaceOpener {
    cipher: LessSafeKey,
    index: u64,
}

impl InPlaceOpener {
    /// Opens segments from index `first` on.
    pub fn new(key: &DataKey, first: u64) -> Self {
        InPlaceOpener {
            cipher: key.cipher(),
            index: first,
        }
    }

    /// Decrypts the whole segments in `buf` (the last may be short) in place;
    /// returns where each segment's plaintext now lies within `buf`.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Vec<std::ops::Range<usize>>, IntegrityError> {
        let mut ranges = Vec::with_capacity(buf.len() / (SEGMENT + OVERHEAD) + 1);
        let mut at = 0;
        while at < buf.len() {
            let end = (at + SEGMENT + OVERHEAD).min(buf.len());
            let plain = crate::open_in_place(&self.cipher, &aad(self.index), &mut buf[at..end])?;
            ranges.push(at + plain.start..at + plain.end);
            self.index += 1;
            at = end;
        }
        Ok(ranges)
    }
}

/// Seals a whole small object (a manifest) in the segmented format.
pub fn seal_all(key: &DataKey, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_len(plaintext.len() as u64) as usize);
    let mut s = Sealer::new(key, 0);
    s.push(plaintext, &mut out);
    s.finish(&mut out);
    out
}

/// Opens a whole object of `plain_len` bytes sealed by [`seal_all`] or a [`Sealer`].
pub fn open_all(key: &DataKey, sealed: &[u8], plain_len: u64) -> Result<Vec<u8>, IntegrityError> {
    if sealed.len() as u64 != sealed_len(plain_len) {
        return Err(IntegrityError);
    }
    if plain_len == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(plain_len as usize);
    let mut o = Opener::new(key, &segments_for(0, plain_len - 1, plain_len));
    o.push(sealed, &mut out)?;
    o.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sealed_in_chunks(key: &DataKey, plain: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = Sealer::new(key, 0);
        for c in plain.chunks(chunk.max(1)) {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    fn read_range(
        key: &DataKey,
        sealed: &[u8],
        plain_len: u64,
        start: u64,
        end: u64,
        chunk: usize,
    ) -> Result<Vec<u8>, IntegrityError> {
        let span = segments_for(start, end, plain_len);
        let stored = &sealed[span.sealed_start as usize..(span.sealed_start + span.sealed_len) as usize];
        let mut out = Vec::new();
        let mut o = Opener::new(key, &span);
        for c in stored.chunks(chunk.max(1)) {
            o.push(c, &mut out)?;
        }
        o.finish(&mut out)?;
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any range, read in any chunking, returns exactly the plaintext bytes,
        /// whatever chunking the object was written in.
        #[test]
        fn range_reads_return_exactly_the_plaintext(
            len in 1usize..(3 * SEGMENT + 100),
            a in any::<u64>(), b in any::<u64>(),
            wchunk in prop_oneof![1usize..100, 4000usize..70000],
            rchunk in prop_oneof![1usize..100, 4000usize..70000],
        ) {
            let key = DataKey::generate();
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let sealed = sealed_in_chunks(&key, &plain, wchunk);
            prop_assert_eq!(sealed.len() as u64, sealed_len(len as u64));
            let (s, e) = { let x = a % len as u64; let y = b % len as u64; (x.min(y), x.max(y)) };
            let got = read_range(&key, &sealed, len as u64, s, e, rchunk).unwrap();
            prop_assert_eq!(&got[..], &plain[s as usize..=e as usize]);
        }

        /// A flipped byte anywhere in the segments a read touches fails the read.
        #[test]
        fn a_flipped_byte_is_never_served(len in 1usize..(2 * SEGMENT + 10), at in any::<usize>(), bit in 0u8..8) {
            let key = DataKey::generate();
            let plain = vec![0x5a; len];
            let mut sealed = seal_all(&key, &plain);
            let at = at % sealed.len();
            sealed[at] ^= 1 << bit;
            prop_assert_eq!(open_all(&key, &sealed, len as u64), Err(IntegrityError));
        }
    }

    #[test]
    fn segments_cannot_be_reordered_or_dropped() {
        let key = DataKey::generate();
        let plain: Vec<u8> = (0..3 * SEGMENT).map(|i| i as u8).collect();
        let sealed = seal_all(&key, &plain);
        let n = SEGMENT + OVERHEAD;
        let mut swapped = sealed.clone();
        swapped[..n].copy_from_slice(&sealed[n..2 * n]);
        swapped[n..2 * n].copy_from_slice(&sealed[..n]);
        assert_eq!(open_all(&key, &swapped, plain.len() as u64), Err(IntegrityError));
        assert_eq!(
            open_all(&key, &sealed[..2 * n], plain.len() as u64),
            Err(IntegrityError)
        );
        assert_eq!(open_all(&key, &sealed, plain.len() as u64).unwrap(), plain);
    }

    #[test]
    fn the_empty_object_has_no_segments() {
        let key = DataKey::generate();
        assert!(seal_all(&key, b"").is_empty());
        assert_eq!(open_all(&key, b"", 0).unwrap(), b"");
        assert_eq!(sealed_len(SEGMENT as u64), (SEGMENT + OVERHEAD) as u64);
        assert_eq!(
            sealed_len(SEGMENT as u64 + 1),
            (SEGMENT + OVERHEAD + 1 + OVERHEAD) as u64
        );
    }

    #[test]
    fn plaintext_never_appears_in_sealed_bytes() {
        let key = DataKey::generate();
        let plain = b"STOWAGE-MARKER-".repeat(10_000);
        let sealed = seal_all(&key, &plain);
        assert!(!sealed.windows(15).any(|w| w == b"STOWAGE-MARKER-"));
    }
}
