//! Inputs the fuzzer found, kept as regression tests.

use stowage_policy::{Policy, PolicyKind};

/// A parsed policy serializes to text that parses back to the same policy.
fn round_trips(text: &str) {
    for kind in [PolicyKind::Identity, PolicyKind::Resource] {
        if let Ok(policy) = Policy::parse(text, kind) {
            let again = Policy::parse(&policy.to_string(), kind).expect("a serialized policy parses");
            assert_eq!(again.to_value(), policy.to_value(), "round trip changed the policy");
        }
    }
}

#[test]
fn crash_c0cda70d() {
    round_trips(include_str!("fuzz/crash-c0cda70d.json"));
}
