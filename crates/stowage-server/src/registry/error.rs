//! The registry API's one error type and its wire form:
//! `{"errors":[{"code","message","detail"}]}` with the code's HTTP status.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use stowage_core::OciErrorCode;
use stowage_meta::MetaError;
use stowage_store::StoreError;

/// An error answered on `/v2/`.
#[derive(Debug)]
pub struct OciError {
    pub code: OciErrorCode,
    pub status: u16,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl OciError {
    /// An error with the code's status and a message.
    pub fn new(code: OciErrorCode, message: impl Into<String>) -> Self {
        OciError {
            code,
            status: code.status(),
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }
    }

    /// Adds a detail object.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn name_invalid(why: &str) -> Self {
        Self::new(OciErrorCode::NameInvalid, format!("invalid repository name: {why}"))
    }

    pub fn name_unknown(name: &str, account: &str) -> Self {
        Self::new(
            OciErrorCode::NameUnknown,
            format!("The repository with name '{name}' does not exist in the registry with id '{account}'"),
        )
    }

    pub fn digest_invalid(why: &str) -> Self {
        Self::new(OciErrorCode::DigestInvalid, why)
    }

    pub fn manifest_unknown() -> Self {
        Self::new(
            OciErrorCode::ManifestUnknown,
            OciErrorCode::ManifestUnknown.default_message(),
        )
    }

    pub fn blob_unknown(digest: &str) -> Self {
        Self::new(OciErrorCode::BlobUnknown, "blob unknown to registry")
            .with_detail(serde_json::json!({ "digest": digest }))
    }

    pub fn upload_unknown() -> Self {
        Self::new(
            OciErrorCode::BlobUploadUnknown,
            OciErrorCode::BlobUploadUnknown.default_message(),
        )
    }

    pub fn upload_invalid(why: impl Into<String>) -> Self {
        Self::new(OciErrorCode::BlobUploadInvalid, why)
    }

    pub fn method_not_allowed(method: &Method) -> Self {
        Self::new(
            OciErrorCode::Unsupported,
            format!("method {method} is not supported on this endpoint"),
        )
    }

    pub fn not_found_route() -> Self {
        Self::new(OciErrorCode::Unsupported, "no such registry endpoint").with_status(404)
    }

    /// A server-side failure; the cause is logged here, once, and not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed on the server side");
        Self::new(OciErrorCode::Unknown, "internal server error")
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let mut err = serde_json::json!({ "code": self.code.code(), "message": self.message });
        if let Some(d) = self.detail {
            err["detail"] = d;
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(serde_json::json!({ "errors": [err] }))).into_response();
        resp.headers_mut().extend(self.headers);
        resp.extensions_mut().insert(crate::ops::ErrorCode(self.code.code()));
        resp
    }
}

impl From<crate::auth::AuthError> for OciError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Denied { message } => Self::new(OciErrorCode::Denied, message),
            crate::auth::AuthError::Meta(e) => Self::internal(e),
        }
    }
}

impl From<MetaError> for OciError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::BlobsMissing(d) => Self::new(
                OciErrorCode::ManifestBlobUnknown,
                format!("manifest references blobs unknown to the repository: {}", join(&d)),
            )
            .with_detail(serde_json::json!({ "digests": d })),
            MetaError::ManifestsMissing(d) => Self::new(
                OciErrorCode::ManifestUnknown,
                format!("index references manifests unknown to the repository: {}", join(&d)),
            )
            .with_detail(serde_json::json!({ "digests": d })),
            MetaError::UploadNotFound => Self::upload_unknown(),
            MetaError::UploadConflict => {
                Self::upload_invalid("upload was changed by another request; query its status")
            }
            MetaError::ManifestReferenced(parent) => Self::new(
                OciErrorCode::Denied,
                format!("manifest is referenced by index {parent} and cannot be deleted"),
            ),
            MetaError::BlobReferenced(m) => Self::new(
                OciErrorCode::Denied,
                format!("blob is referenced by manifest {m} and cannot be deleted"),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<StoreError> for OciError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(d) => Self::blob_unknown(&d.to_string()),
            StoreError::DigestMismatch { expected, actual } => {
                Self::digest_invalid(&format!("uploaded content has digest {actual}, not {expected}"))
            }
            StoreError::Body(e) => Self::upload_invalid(format!("request body could not be read: {e}")),
            e @ StoreError::Integrity(_) => integrity(e),
            // A crash while the upload's last segment was rewritten: the client starts over.
            StoreError::UploadIntegrity(_) => {
                Self::upload_invalid("the upload's staged data is damaged; start the upload again")
            }
            other => Self::internal(other),
        }
    }
}

impl From<crate::services::encryption::EncryptionError> for OciError {
    fn from(e: crate::services::encryption::EncryptionError) -> Self {
        use crate::services::encryption::EncryptionError as E;
        use crate::services::kms::KeyError;
        match e {
            E::Key(KeyError::Meta(m)) | E::Meta(m) => m.into(),
            E::Key(k @ KeyError::Destroyed { .. }) => Self::new(
                OciErrorCode::Denied,
                format!("this repository's data is unrecoverable: its KMS key {k}"),
            ),
            E::Key(k) => Self::new(
                OciErrorCode::Denied,
                format!(
                    "this repository's KMS key cannot be used ({}: {k}); its images cannot be read or written until the key is usable again",
                    k.kms_error()
                ),
            ),
            e @ E::Integrity(_) => integrity(e),
        }
    }
}

/// Stored data that fails authentication is never served; the failure is
/// logged as the corruption it is.
fn integrity(cause: impl std::fmt::Display) -> OciError {
    tracing::error!(error = %cause, "stored data failed its integrity check");
    OciError::new(OciErrorCode::Unknown, format!("{cause}; it is not served")).with_status(500)
}

fn join(d: &[stowage_core::Digest]) -> String {
    d.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
