//! Types with no I/O that every other Stowage crate shares: content digests,
//! repository names, tags and references, manifest parsing and media types,
//! the registry API's error codes, the limits of the wire contract, and the AWS
//! query protocol's form parameters.

pub mod digest;
pub mod lifecycle;
pub mod limits;
pub mod manifest;
pub mod mutability;
pub mod name;
pub mod oci_error;
pub mod query;
pub mod reference;
pub mod sigv4;

pub use digest::{Digest, DigestError, Sha256Hasher};
pub use manifest::{Manifest, ManifestError, MediaType};
pub use mutability::TagMutability;
pub use name::{NameError, RepositoryName};
pub use oci_error::OciErrorCode;
pub use reference::{Reference, Tag, TagError};
