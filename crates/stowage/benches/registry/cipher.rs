//! Encryption at rest on its own: sealing and opening the bench blob in the
//! stored segment format on one core, beside copying the same bytes, so the
//! cipher's share of a push or pull can be read off the same run.

use std::time::Instant;

use stowage_crypto::{DataKey, Opener, Sealer, segments_for};

/// Bytes handled per step, like the store's write and read paths.
const CHUNK: usize = 1024 * 1024;

/// Throughputs in MB/s.
pub struct Cipher {
    pub copy: f64,
    pub seal: f64,
    pub open: f64,
}

/// Seals `mib` MiB of generated data chunk by chunk, then opens it all,
/// checking it comes back; copies the same chunks as the baseline.
pub fn measure(mib: u64) -> anyhow::Result<Cipher> {
    let len = mib * 1024 * 1024;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i * 31 + i / 4099) as u8).collect();
    let steps = len / CHUNK as u64;
    let mb = |secs: f64| len as f64 / 1e6 / secs;

    let start = Instant::now();
    let mut sink = vec![0u8; CHUNK];
    for _ in 0..steps {
        sink.copy_from_slice(std::hint::black_box(&chunk));
    }
    std::hint::black_box(&sink);
    let copy = mb(start.elapsed().as_secs_f64());

    let key = DataKey::generate();
    let mut sealed = Vec::with_capacity((len + len / 1000) as usize);
    let start = Instant::now();
    let mut sealer = Sealer::new(&key, 0);
    for _ in 0..steps {
        sealer.push(&chunk, &mut sealed);
    }
    sealer.finish(&mut sealed);
    let seal = mb(start.elapsed().as_secs_f64());

    let start = Instant::now();
    let mut opener = Opener::new(&key, &segments_for(0, steps * CHUNK as u64 - 1, steps * CHUNK as u64));
    let mut out = Vec::with_capacity(CHUNK + 2 * stowage_crypto::SEGMENT);
    let mut opened = 0u64;
    for piece in sealed.chunks(16 * (stowage_crypto::SEGMENT + stowage_crypto::OVERHEAD)) {
        opener.push(piece, &mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
        opened += out.len() as u64;
        out.clear();
    }
    opener.finish(&mut out).map_err(|e| anyhow::anyhow!("{e}"))?;
    opened += out.len() as u64;
    let open = mb(start.elapsed().as_secs_f64());
    anyhow::ensure!(
        opened == steps * CHUNK as u64,
        "opened {opened} bytes of {}",
        steps * CHUNK as u64
    );
    Ok(Cipher { copy, seal, open })
}
