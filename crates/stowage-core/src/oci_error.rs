//! The registry API's error codes (OCI distribution spec v1.1 plus ECR's `TAG_INVALID`).

/// An OCI distribution error code with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OciErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    RangeInvalid,
    TooManyRequests,
    /// A server-side failure (never a client mistake).
    Unknown,
}

impl OciErrorCode {
    /// Every code, in the order of the spec's table.
    pub const ALL: [OciErrorCode; 17] = [
        Self::BlobUnknown,
        Self::BlobUploadInvalid,
        Self::BlobUploadUnknown,
        Self::DigestInvalid,
        Self::ManifestBlobUnknown,
        Self::ManifestInvalid,
        Self::ManifestUnknown,
        Self::NameInvalid,
        Self::NameUnknown,
        Self::SizeInvalid,
        Self::TagInvalid,
        Self::Unauthorized,
        Self::Denied,
        Self::Unsupported,
        Self::RangeInvalid,
        Self::TooManyRequests,
        Self::Unknown,
    ];

    /// The code string in the JSON error body.
    pub fn code(self) -> &'static str {
        match self {
            Self::BlobUnknown => "BLOB_UNKNOWN",
            Self::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Self::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Self::DigestInvalid => "DIGEST_INVALID",
            Self::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Self::ManifestInvalid => "MANIFEST_INVALID",
            Self::ManifestUnknown => "MANIFEST_UNKNOWN",
            Self::NameInvalid => "NAME_INVALID",
            Self::NameUnknown => "NAME_UNKNOWN",
            Self::SizeInvalid => "SIZE_INVALID",
            Self::TagInvalid => "TAG_INVALID",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Denied => "DENIED",
            Self::Unsupported => "UNSUPPORTED",
            Self::RangeInvalid => "RANGE_INVALID",
            Self::TooManyRequests => "TOOMANYREQUESTS",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::BlobUnknown | Self::BlobUploadUnknown | Self::ManifestUnknown | Self::NameUnknown => 404,
            Self::Unauthorized => 401,
            Self::Denied => 403,
            Self::Unsupported => 405,
            Self::RangeInvalid => 416,
            Self::TooManyRequests => 429,
            Self::Unknown => 500,
            Self::SizeInvalid
            | Self::BlobUploadInvalid
            | Self::DigestInvalid
            | Self::ManifestBlobUnknown
            | Self::ManifestInvalid
            | Self::NameInvalid
            | Self::TagInvalid => 400,
        }
    }

    /// The spec's default message for the code.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::BlobUnknown => "blob unknown to registry",
            Self::BlobUploadInvalid => "blob upload invalid",
            Self::BlobUploadUnknown => "blob upload unknown to registry",
            Self::DigestInvalid => "provided digest did not match uploaded content",
            Self::ManifestBlobUnknown => "manifest references a manifest or blob unknown to registry",
            Self::ManifestInvalid => "manifest invalid",
            Self::ManifestUnknown => "Requested image not found",
            Self::NameInvalid => "invalid repository name",
            Self::NameUnknown => "repository name not known to registry",
            Self::SizeInvalid => "provided length did not match content length",
            Self::TagInvalid => "manifest tag did not match URI",
            Self::Unauthorized => "authentication required",
            Self::Denied => "requested access to the resource is denied",
            Self::Unsupported => "the operation is unsupported",
            Self::RangeInvalid => "invalid content range",
            Self::TooManyRequests => "too many requests",
            Self::Unknown => "internal server error",
        }
    }
}
