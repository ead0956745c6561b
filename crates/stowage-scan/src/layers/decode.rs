//! The byte stream under the tar walker: compression detected by magic bytes,
//! decompressed as it is read, and counted against the decompressed-bytes limit.
//!
//! Errors are tagged with where they came from ([`StreamFault`]) so that the
//! caller can tell a failing source from a corrupt compressed stream, a limit
//! and a malformed archive.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::Compression;

/// Buffer between the source and the decompressor (and, for a plain tar,
/// between the source and the tar walker, which reads 512-byte headers).
const BUF: usize = 256 * 1024;

/// Where an I/O error in the layer stream came from.
#[derive(Debug)]
pub(crate) enum StreamFault {
    /// The caller's reader failed.
    Source(io::Error),
    /// The compressed stream is corrupt, truncated or unsupported.
    Decode(io::Error),
    /// More decompressed bytes than the limit.
    BytesLimit(u64),
}

impl fmt::Display for StreamFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamFault::Source(e) => write!(f, "reading the layer: {e}"),
            StreamFault::Decode(e) => write!(f, "decompressing the layer: {e}"),
            StreamFault::BytesLimit(limit) => {
                write!(f, "the layer decompresses to more than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for StreamFault {}

fn is_fault(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<StreamFault>())
}

/// Takes a tagged fault back out of an `io::Error`, if it is one.
pub(crate) fn take_fault(e: io::Error) -> Result<StreamFault, io::Error> {
    if !is_fault(&e) {
        return Err(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<StreamFault>()) {
        Some(Ok(fault)) => Ok(*fault),
        Some(Err(other)) => Err(io::Error::new(kind, other)),
        None => Err(io::Error::from(kind)),
    }
}

/// Tags the caller's reader's errors as [`StreamFault::Source`].
struct SourceTag<R>(R);

impl<R: Read> Read for SourceTag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted || is_fault(&e) {
                e
            } else {
                io::Error::new(e.kind(), StreamFault::Source(e))
            }
        })
    }
}

/// Tags a decompressor's own errors as [`StreamFault::Decode`].
struct DecodeTag<R>(R);

impl<R: Read> Read for DecodeTag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted || is_fault(&e) {
                e
            } else {
                io::Error::new(e.kind(), StreamFault::Decode(e))
            }
        })
    }
}

/// Counts decompressed bytes and fails once there are more than `limit`.
pub(crate) struct Counted<R> {
    inner: R,
    count: u64,
    limit: u64,
}

impl<R> Counted<R> {
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.count > self.limit {
            return Err(io::Error::other(StreamFault::BytesLimit(self.limit)));
        }
        // Never hand out bytes past limit + 1: the one extra byte proves the
        // overrun without reading (and inflating) any further.
        let room = (self.limit - self.count).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(StreamFault::BytesLimit(self.limit)));
        }
        Ok(n)
    }
}

/// Reads up to 4 bytes from the start of the stream, to look at magic bytes.
fn read_prefix(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    let mut have = 0;
    while have < prefix.len() {
        match r.read(&mut prefix[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(prefix[..have].to_vec())
}

/// Detects the compression of a layer by its magic bytes.
pub(crate) fn detect(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The decompressed, counted tar stream of a layer.
pub(crate) fn open<'a>(
    reader: impl Read + 'a,
    max_bytes: u64,
) -> io::Result<(Compression, Counted<Box<dyn Read + 'a>>)> {
    let mut source = SourceTag(reader);
    let prefix = read_prefix(&mut source)?;
    let compression = detect(&prefix);
    let source = BufReader::with_capacity(BUF, io::Cursor::new(prefix).chain(source));
    let tar: Box<dyn Read + 'a> = match compression {
        // Multi-member: gzip allows concatenated members and some tools write
        // layers that way; the CRC and length of each member are checked.
        Compression::Gzip => Box::new(DecodeTag(flate2::bufread::MultiGzDecoder::new(source))),
        Compression::Zstd => Box::new(DecodeTag(ZstdFrames::new(source))),
        Compression::None => Box::new(source),
    };
    Ok((
        compression,
        Counted {
            inner: tar,
            count: 0,
            limit: max_bytes,
        },
    ))
}

/// Decodes every frame of a zstd stream, one after the other, skipping
/// skippable frames (zstd:chunked layers are many frames plus skippable ones).
/// Memory is bounded by the frame's window, which ruzstd caps (128 MiB by
/// default) before allocating.
struct ZstdFrames<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
    frames: u64,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source,
            decoder: FrameDecoder::new(),
            in_frame: false,
            frames: 0,
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder
                        .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(io::Error::other)?;
                }
                let n = self.decoder.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                if let (Some(stored), Some(computed)) = (
                    self.decoder.get_checksum_from_data(),
                    self.decoder.get_calculated_checksum(),
                ) && stored != computed
                {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "zstd frame checksum mismatch",
                    ));
                }
                self.in_frame = false;
            }
            if self.source.fill_buf()?.is_empty() {
                if self.frames == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "zstd stream has no frame"));
                }
                return Ok(0);
            }
            match self.decoder.reset(&mut self.source) {
                Ok(()) => {
                    self.in_frame = true;
                    self.frames += 1;
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let want = u64::from(length);
                    let skipped = io::copy(&mut (&mut self.source).take(want), &mut io::sink())?;
                    if skipped < want {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd skippable frame is truncated",
                        ));
                    }
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
    }
}
