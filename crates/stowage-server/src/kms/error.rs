//! KMS errors on the wire: `{"__type": "<KMS exception>", "message"}` through
//! the control plane's error type, HTTP 400, or 500 for `KMSInternalException`
//! (whose cause is logged here, once, and not sent).

use crate::ecr::EcrError;
use crate::services::kms::{KeyError, KmsError};

/// The wire form of a key-service error.
pub fn kms_error(e: KmsError) -> EcrError {
    match e {
        KmsError::Key(KeyError::Meta(cause)) => {
            tracing::error!(error = %cause, "key-service request failed on the server side");
            EcrError::new("KMSInternalException", "An internal error occurred")
        }
        other => EcrError::new(other.kms_error(), other.to_string()),
    }
}

/// `ValidationException`.
pub fn validation(message: impl Into<String>) -> EcrError {
    EcrError::new("ValidationException", message)
}
