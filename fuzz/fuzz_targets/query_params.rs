//! `query::Params::parse` on arbitrary bytes: it never panics, its lookups and
//! list decoding never panic, and re-encoding what it parsed parses the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::query::Params;

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    let again = Params::parse(params.encode().as_bytes());
    assert_eq!(again, params, "re-encoding changed the parameters");
    for name in ["Action", "UserName", "DurationSeconds", "MaxItems"] {
        let _ = (params.get(name), params.required(name), params.int(name), params.bool(name));
    }
    let tags = params.tags("Tags");
    assert!(tags.len() <= params.members("Tags").len());
    // Every list name the body mentions decodes, whatever follows `.member.`.
    for (key, _) in params.iter() {
        if let Some((list, _)) = key.split_once(".member.") {
            let _ = params.tags(list);
        }
    }
});
