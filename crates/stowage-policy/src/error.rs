//! Why a policy document was rejected. Display is exactly IAM's
//! `MalformedPolicyDocument` message (from [`crate::messages`]); the fields say
//! more, for logs and tests, and are never sent to a client.

use crate::messages;

/// A rejected policy document. `to_string()` is the message IAM returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Bad JSON, an unknown member, a value of the wrong type, a bad `Effect`, both
    /// `Action` and `NotAction`, an empty `Statement` list, a bad condition value…
    #[error("{}", messages::SYNTAX_ERRORS)]
    Syntax { detail: String },
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    #[error("{}", messages::LEGACY_PARSING)]
    UnsupportedVersion { version: String },
    /// An identity (or session) policy names a principal.
    #[error("{}", messages::PRINCIPAL_NOT_ALLOWED)]
    PrincipalNotAllowed,
    /// A resource-policy statement has neither `Principal` nor `NotPrincipal`.
    #[error("{}", messages::MISSING_PRINCIPAL)]
    MissingPrincipal,
    /// A principal IAM does not accept (a group, a partial wildcard, a bad ARN…).
    #[error("{}", messages::invalid_principal(kind, value))]
    InvalidPrincipal { kind: String, value: String },
    #[error("{}", messages::MISSING_EFFECT)]
    MissingEffect,
    #[error("{}", messages::MISSING_ACTIONS)]
    MissingActions,
    #[error("{}", messages::MISSING_RESOURCES)]
    MissingResources,
    /// An action (or condition key) without a `vendor:` prefix.
    #[error("{}", messages::MISSING_VENDOR)]
    MissingVendor { value: String },
    #[error("{}", messages::TOO_MANY_COLONS)]
    TooManyColons { value: String },
    /// A resource that is neither `*` nor a six-part ARN.
    #[error("{}", messages::invalid_resource(resource))]
    InvalidResource { resource: String },
    #[error("{}", messages::unsupported_operator(operator))]
    UnsupportedConditionOperator { operator: String },
    #[error("{}", messages::DUPLICATE_SID)]
    DuplicateSid { sid: String },
    #[error("{}", messages::INVALID_SID)]
    InvalidSid { sid: String },
}

impl PolicyError {
    pub(crate) fn syntax(detail: impl Into<String>) -> Self {
        Self::Syntax { detail: detail.into() }
    }
}
