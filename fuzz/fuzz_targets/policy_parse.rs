//! `Policy::parse` on arbitrary text, as both kinds: it never panics, and a
//! document it accepts serializes to one it accepts again, unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_policy::{Policy, PolicyKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in [PolicyKind::Identity, PolicyKind::Resource] {
        if let Ok(policy) = Policy::parse(text, kind) {
            let again = Policy::parse(&policy.to_string(), kind).expect("a serialized policy parses");
            assert_eq!(again.to_value(), policy.to_value(), "round trip changed the policy");
        }
    }
});
