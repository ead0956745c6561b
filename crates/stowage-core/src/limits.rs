//! Limits of the wire contract (spec §7.4).

/// Largest manifest accepted, in bytes (`imageManifest` ≤ 4 194 304 chars).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Default page size of list endpoints when the client gives none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;
