//! `LifecyclePolicy::parse` (ECR's lifecycle policy text) on arbitrary text: it
//! never panics, whatever it accepts or rejects.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::lifecycle::LifecyclePolicy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LifecyclePolicy::parse(text);
    }
});
