//! Image layers (gzip, zstd or plain tar) as pushed by anyone allowed to push,
//! indexed and cataloged: none panics, and the limits hold (a small output
//! budget keeps decompression bombs cheap).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_scan::catalog;
use stowage_scan::layers::{Limits, index_layer};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 16 << 20,
        max_file_bytes: 1 << 20,
        max_archive_bytes: 1 << 20,
        max_binary_bytes: 1 << 20,
        ..Limits::default()
    };
    if let Ok(index) = index_layer(data, &limits) {
        let _ = catalog::image_inventory(&[index]);
    }
});
