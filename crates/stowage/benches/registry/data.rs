//! Deterministic blob content, generated chunk by chunk so that a 1 GiB blob is
//! never held in memory.

use std::io;

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest as _, Sha256};

/// Size of one generated chunk.
const CHUNK: usize = 1 << 20;

/// A blob of `len` pseudo-random bytes. Chunk `i` is a fixed random block with
/// `i` and the seed stamped into its first 16 bytes: cheap to produce (one
/// memcpy per MiB), yet every chunk differs and the digest depends on the seed.
#[derive(Clone)]
pub struct Blob {
    len: u64,
    seed: u64,
    block: Bytes,
}

impl Blob {
    pub fn new(seed: u64, len: u64) -> Blob {
        Blob {
            len,
            seed,
            block: random_block(seed, CHUNK),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The blob's chunks, in order.
    pub fn chunks(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let this = self.clone();
        let count = self.len.div_ceil(CHUNK as u64);
        (0..count).map(move |i| this.chunk(i))
    }

    /// The blob as a request body stream.
    pub fn stream(&self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures::stream::iter(self.chunks().map(Ok))
    }

    /// `sha256:<hex>` of the blob; reads the generator once.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for chunk in self.chunks() {
            hasher.update(&chunk);
        }
        format!("sha256:{}", hex(&hasher.finalize()))
    }

    fn chunk(&self, i: u64) -> Bytes {
        let start = i * CHUNK as u64;
        let len = (self.len - start).min(CHUNK as u64) as usize;
        let mut chunk = self.block[..len].to_vec();
        let stamp = [i.to_le_bytes(), self.seed.to_le_bytes()].concat();
        let n = stamp.len().min(len);
        chunk[..n].copy_from_slice(&stamp[..n]);
        Bytes::from(chunk)
    }
}

/// `sha256:<hex>` of a small in-memory byte string.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `len` xorshift bytes.
fn random_block(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
