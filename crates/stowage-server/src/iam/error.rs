//! The query protocol's one error type and its wire form: an `ErrorResponse`
//! XML body with IAM's (or STS's) code and HTTP status.

use stowage_core::query::ParamError;
use stowage_core::sigv4::SigV4Error;

use crate::services::iam::IamError;

/// An error answered on the query plane.
#[derive(Debug)]
pub struct QueryError {
    /// The `<Code>`, e.g. `NoSuchEntity`.
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    /// `<Type>Sender</Type>` (the caller's fault) or `Receiver`.
    pub sender: bool,
}

impl QueryError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        QueryError {
            code,
            status,
            message: message.into(),
            sender: status < 500,
        }
    }

    /// An operation this endpoint does not know.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version in this service"),
        )
    }
}

impl From<IamError> for QueryError {
    fn from(e: IamError) -> Self {
        let message = e.to_string();
        let (code, status) = match &e {
            IamError::NoSuchEntity(_) => ("NoSuchEntity", 404),
            IamError::EntityAlreadyExists(_) => ("EntityAlreadyExists", 409),
            IamError::DeleteConflict(_) => ("DeleteConflict", 409),
            IamError::LimitExceeded(_) => ("LimitExceeded", 409),
            IamError::MalformedPolicyDocument(_) => ("MalformedPolicyDocument", 400),
            IamError::InvalidInput(_) => ("InvalidInput", 400),
            IamError::Validation(_) => ("ValidationError", 400),
            IamError::AccessDenied(_) => ("AccessDenied", 403),
            IamError::Meta(cause) => {
                tracing::error!(error = %cause, "IAM request failed on the server side");
                return Self::new("ServiceFailure", 500, "Service failure");
            }
        };
        Self::new(code, status, message)
    }
}

impl From<ParamError> for QueryError {
    fn from(e: ParamError) -> Self {
        IamError::Validation(e.0).into()
    }
}

impl From<SigV4Error> for QueryError {
    fn from(e: SigV4Error) -> Self {
        // The query services' codes for authentication failures (not JSON 1.1's `…Exception`s).
        let message = e.to_string();
        match e {
            SigV4Error::MissingAuthenticationToken => Self::new(
                "MissingAuthenticationToken",
                403,
                "Request is missing Authentication Token",
            ),
            SigV4Error::IncompleteSignature(_) => Self::new("IncompleteSignature", 400, message),
            SigV4Error::InvalidSignature(_) => Self::new("SignatureDoesNotMatch", 403, message),
            SigV4Error::UnrecognizedClient => Self::new("InvalidClientTokenId", 403, message),
            SigV4Error::ExpiredToken => Self::new("ExpiredToken", 403, message),
        }
    }
}

impl From<stowage_meta::MetaError> for QueryError {
    fn from(e: stowage_meta::MetaError) -> Self {
        IamError::Meta(e).into()
    }
}

impl From<crate::auth::AuthError> for QueryError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Denied { message } => IamError::AccessDenied(message).into(),
            crate::auth::AuthError::Meta(e) => e.into(),
        }
    }
}
