//! Vulnerability scanning, as pure functions over bytes: compare versions the
//! way each ecosystem does ([`version`]), read OSV advisories ([`osv`]), walk
//! image layers with their whiteouts ([`layers`]) and list what is installed in
//! them ([`catalog`]), and match what is installed against the advisories
//! ([`findings`]). No HTTP and no SQL: the server stores what comes out.

pub mod catalog;
pub mod findings;
pub mod layers;
pub mod osv;
pub mod sbom;
pub mod version;
