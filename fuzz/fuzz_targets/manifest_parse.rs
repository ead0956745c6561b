//! `Manifest::parse` under each declared media type, and the name, tag and
//! digest grammars: none panics on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::{Digest, Manifest, RepositoryName, Tag};

const MEDIA_TYPES: &[Option<&str>] = &[
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let _ = Manifest::parse(body, MEDIA_TYPES[usize::from(selector) % MEDIA_TYPES.len()]);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = text.parse::<RepositoryName>();
        let _ = text.parse::<Tag>();
        let _ = text.parse::<Digest>();
    }
});
