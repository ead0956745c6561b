//! OSV advisories (JSON and YAML) from the untrusted files `stowage vulndb
//! import` reads, then range evaluation of what parsed: none panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_scan::osv::{self, Format};
use stowage_scan::version::Scheme;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Json, Format::Yaml] {
        let Ok(advisory) = osv::parse(data, format) else {
            continue;
        };
        for affected in &advisory.affected {
            for (scheme, version) in [(Scheme::Semver, "1.2.3"), (Scheme::Pep440, "2.0rc1"), (Scheme::Dpkg, "1:2.3-4")] {
                let _ = osv::affects(affected, version, |a, b| scheme.compare(a, b));
                let _ = osv::fixed_in(affected, version, |a, b| scheme.compare(a, b));
            }
            let _ = osv::severity(&advisory, affected);
        }
    }
});
