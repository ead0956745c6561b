//! The control plane's one error type and its wire form (spec §1.3):
//! HTTP 400 (500 for ServerException, and the key service's KMSInternalException),
//! `{"__type","message"}`, `x-amzn-RequestId`.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value};
use stowage_core::sigv4::SigV4Error;
use stowage_meta::MetaError;

/// An error answered on `POST /`.
#[derive(Debug)]
pub struct EcrError {
    /// The bare exception name, e.g. `RepositoryNotFoundException`.
    pub kind: &'static str,
    pub message: String,
    /// Extra members some exceptions carry (e.g. `lastValidByteReceived`).
    pub extra: Map<String, Value>,
}

impl EcrError {
    /// An error of `kind` with `message`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        EcrError {
            kind,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the error body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn repository_not_found(name: &str, account: &str) -> Self {
        Self::new(
            "RepositoryNotFoundException",
            format!("The repository with name '{name}' does not exist in the registry with id '{account}'"),
        )
    }

    pub fn lifecycle_policy_not_found(name: &str, account: &str) -> Self {
        Self::new(
            "LifecyclePolicyNotFoundException",
            format!(
                "Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
            ),
        )
    }

    pub fn lifecycle_policy_preview_not_found(name: &str, account: &str) -> Self {
        Self::new(
            "LifecyclePolicyPreviewNotFoundException",
            format!(
                "Lifecycle policy preview does not exist for the repository with name '{name}' in the registry with id '{account}'"
            ),
        )
    }

    pub fn lifecycle_policy_preview_in_progress(name: &str, account: &str) -> Self {
        Self::new(
            "LifecyclePolicyPreviewInProgressException",
            format!(
                "Lifecycle policy preview is already in progress for the repository with name '{name}' in the registry with id '{account}'"
            ),
        )
    }

    /// A server-side failure; the cause is logged here, once, and not sent.
    pub fn server(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "control-plane request failed on the server side");
        Self::new("ServerException", "An internal error occurred")
    }

    fn status(&self) -> StatusCode {
        if matches!(self.kind, "ServerException" | "KMSInternalException") {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

impl IntoResponse for EcrError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = self.extra;
        body.insert("__type".into(), self.kind.into());
        body.insert("message".into(), self.message.into());
        let mut resp = (status, super::json_response_body(&Value::Object(body))).into_response();
        resp.extensions_mut().insert(crate::ops::ErrorCode(self.kind));
        resp
    }
}

impl From<SigV4Error> for EcrError {
    fn from(e: SigV4Error) -> Self {
        Self::new(e.aws_code(), e.to_string())
    }
}

impl From<crate::auth::AuthError> for EcrError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Denied { message } => Self::new("AccessDeniedException", message),
            crate::auth::AuthError::Meta(e) => Self::server(e),
        }
    }
}

impl From<MetaError> for EcrError {
    fn from(e: MetaError) -> Self {
        Self::server(e)
    }
}

impl From<crate::services::encryption::EncryptionError> for EcrError {
    fn from(e: crate::services::encryption::EncryptionError) -> Self {
        use crate::services::encryption::EncryptionError as E;
        match e {
            E::Key(crate::services::kms::KeyError::Meta(m)) | E::Meta(m) => m.into(),
            E::Key(k) => Self::new("KmsException", k.to_string()).with("kmsError", k.kms_error()),
            e @ E::Integrity(_) => Self::server(e),
        }
    }
}
