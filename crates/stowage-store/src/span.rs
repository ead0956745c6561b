//! Turning stored segments into the plaintext of a requested range: shared by
//! every backend, so each only has to deliver sealed bytes in order.

use std::io;

use bytes::Bytes;
use stowage_crypto::{DataKey, InPlaceOpener, OVERHEAD, SEGMENT, SegmentSpan};

/// Stored size of one full segment.
pub(crate) const SEALED_SEGMENT: u64 = (SEGMENT + OVERHEAD) as u64;
/// Stored bytes opened per step when streaming a blob out (whole segments).
pub(crate) const READ_CHUNK: usize = 16 * (SEGMENT + OVERHEAD);

/// Opens the sealed bytes of a [`SegmentSpan`], step by step, and yields only the
/// plaintext the range asked for. Each step's plaintext is sliced out of the
/// buffer it was decrypted in, with no copy.
pub(crate) struct SpanOpener {
    opener: InPlaceOpener,
    skip: usize,
    take: usize,
}

impl SpanOpener {
    pub(crate) fn new(key: &DataKey, span: &SegmentSpan) -> Self {
        SpanOpener {
            opener: InPlaceOpener::new(key, span.first),
            skip: span.skip as usize,
            take: span.take as usize,
        }
    }

    /// Opens `sealed`, whole segments in order (only the span's last may be
    /// short), and returns the pieces of the range it holds. A segment that
    /// fails authentication is `InvalidData`.
    pub(crate) fn open(&mut self, mut sealed: Vec<u8>) -> io::Result<Vec<Bytes>> {
        let ranges = self
            .opener
            .open(&mut sealed)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let buf = Bytes::from(sealed);
        let mut out = Vec::with_capacity(ranges.len());
        for r in ranges {
            let from = (r.start + self.skip).min(r.end);
            self.skip -= from - r.start;
            let to = (from + self.take).min(r.end);
            self.take -= to - from;
            if to > from {
                out.push(buf.slice(from..to));
            }
        }
        Ok(out)
    }
}

/// The inclusive plaintext range to serve of a blob of `size` bytes.
pub(crate) fn resolve_range(range: Option<crate::ByteRange>, size: u64) -> Result<(u64, u64), crate::StoreError> {
    let last = size.saturating_sub(1);
    match range {
        None => Ok((0, last)),
        Some(r) => {
            let end = r.end.unwrap_or(last).min(last);
            if r.start >= size || r.start > end {
                return Err(crate::StoreError::RangeNotSatisfiable {
                    start: r.start,
                    end: r.end.unwrap_or(size),
                    size,
                });
            }
            Ok((r.start, end))
        }
    }
}

/// Reads the first piece of a plaintext stream before anything is sent, so a
/// first segment that fails authentication is an [`Integrity`] error of the
/// call rather than a broken response; later failures end the stream.
///
/// [`Integrity`]: crate::StoreError::Integrity
pub(crate) async fn first_checked(
    mut body: crate::ByteStream,
    blob: &crate::BlobKey,
) -> Result<crate::ByteStream, crate::StoreError> {
    use futures::StreamExt;
    let first = match body.next().await {
        Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(crate::StoreError::Integrity(blob.clone()));
        }
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(b)) => b,
        None => Bytes::new(),
    };
    Ok(Box::pin(futures::stream::once(async move { Ok(first) }).chain(body)))
}
