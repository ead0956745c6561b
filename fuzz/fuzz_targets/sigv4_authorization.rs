//! `sigv4::parse_authorization` on arbitrary `Authorization` header values:
//! it never panics, and what it accepts names a credential scope.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::sigv4;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data)
        && let Ok(auth) = sigv4::parse_authorization(header)
    {
        assert!(header.contains(&auth.access_key_id));
    }
});
