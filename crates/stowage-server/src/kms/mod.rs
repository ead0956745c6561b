//! The built-in key service on the AWS KMS JSON protocol: `POST /` with
//! `X-Amz-Target: TrentService.<Op>`, AWS JSON 1.1, SigV4 with signing name
//! `kms`. Requests arrive through `ecr::dispatch`; each is authorized once per
//! resource as `kms:<Op>` on the key's ARN (`…:key/*` for CreateKey, ListKeys
//! and ListAliases; the alias's ARN too for alias changes), then served by a
//! thin handler over `services::kms`. Errors are KMS's exception names
//! (HTTP 400; 500 for `KMSInternalException`).

mod aliases;
mod crypto;
mod error;
mod keys;

use http::request::Parts;
use serde_json::Value;
use stowage_meta::KmsKey;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::ecr::{self, EcrError};
use crate::services::authz::{self, RequestFacts};
use crate::services::kms as svc;

pub use error::kms_error;

/// The target prefix of KMS's JSON API.
pub const TARGET_PREFIX: &str = "TrentService.";
/// SigV4 signing name.
const SIGNING_NAME: &str = "kms";

json_operations!(
    /// A KMS operation this key service serves.
    CreateKey,
    DescribeKey,
    ListKeys,
    ListResourceTags,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    EnableKeyRotation,
    DisableKeyRotation,
    GetKeyRotationStatus,
    RotateKeyOnDemand,
    ListKeyRotations,
    CreateAlias,
    DeleteAlias,
    ListAliases,
    Encrypt,
    Decrypt,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
);

impl Operation {
    /// The IAM action, e.g. `kms:CreateKey`.
    pub fn action(self) -> String {
        format!("kms:{}", self.name())
    }
}

/// What a handler gets: the state, the caller, its account (KMS acts on the
/// caller's own keys) and the request's condition facts.
pub struct KmsCtx {
    pub state: AppState,
    pub principal: Principal,
    pub account: String,
    pub op: Operation,
    facts: RequestFacts,
}

impl KmsCtx {
    /// Authorizes the operation's action on `arn` (the one decision per resource).
    pub async fn authorize(&self, arn: &str) -> Result<(), EcrError> {
        let resource = auth::Resource {
            account_id: &self.account,
            arn,
            repository: None,
        };
        authz::authorize(&self.state, &self.principal, &self.op.action(), resource, &self.facts).await?;
        Ok(())
    }

    /// `arn:aws:kms:<region>:<account>:key/*`: the resource of account-wide operations.
    pub fn any_key_arn(&self) -> String {
        svc::key_arn(&self.state, &self.account, "*")
    }

    /// The key `reference` names (aliases too when `allow_alias`), authorized:
    /// an unknown key is `NotFoundException` only for a caller allowed to ask.
    pub async fn key(&self, reference: &str, allow_alias: bool) -> Result<KmsKey, EcrError> {
        match svc::key_for_request(&self.state, &self.account, reference, allow_alias).await {
            Ok(key) => {
                self.authorize(&key.arn).await?;
                Ok(key)
            }
            Err(e) => {
                let arn = match &e {
                    svc::KmsError::Key(svc::KeyError::NotFound { key }) if key.starts_with("arn:aws:kms:") => {
                        key.clone()
                    }
                    svc::KmsError::Key(svc::KeyError::Destroyed { arn }) => arn.clone(),
                    _ => self.any_key_arn(),
                };
                self.authorize(&arn).await?;
                Err(kms_error(e))
            }
        }
    }
}

/// Serves one KMS request whose target named operation `name`.
pub(crate) async fn handle(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    name: &str,
    endpoint: &mut &'static str,
) -> Result<Value, EcrError> {
    let identity = ecr::authenticate(state, parts, body, SIGNING_NAME, &state.config.region).await?;
    let op = Operation::parse(name).ok_or_else(|| {
        EcrError::new(
            "UnsupportedOperationException",
            format!("{name} is not supported by this key service"),
        )
    })?;
    *endpoint = op.name();
    let input = ecr::input_object(body)?;
    let mut facts = RequestFacts::from_extensions(&parts.extensions);
    // `aws:RequestTag/…` and `aws:TagKeys` of CreateKey's `Tags`.
    for tag in input.get("Tags").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(k), Some(v)) = (
            tag.get("TagKey").and_then(Value::as_str),
            tag.get("TagValue").and_then(Value::as_str),
        ) {
            facts.request_tags.push((k.to_string(), v.to_string()));
            facts.tag_keys.push(k.to_string());
        }
    }
    let ctx = KmsCtx {
        state: state.clone(),
        account: identity.account_id.clone(),
        principal: Principal::Authenticated(identity),
        op,
        facts,
    };
    use Operation as O;
    match op {
        O::CreateKey => keys::create_key(&ctx, input).await,
        O::DescribeKey => keys::describe_key(&ctx, input).await,
        O::ListKeys => keys::list_keys(&ctx, input).await,
        O::ListResourceTags => keys::list_resource_tags(&ctx, input).await,
        O::EnableKey => keys::enable_key(&ctx, input).await,
        O::DisableKey => keys::disable_key(&ctx, input).await,
        O::ScheduleKeyDeletion => keys::schedule_key_deletion(&ctx, input).await,
        O::CancelKeyDeletion => keys::cancel_key_deletion(&ctx, input).await,
        O::EnableKeyRotation => keys::enable_key_rotation(&ctx, input).await,
        O::DisableKeyRotation => keys::disable_key_rotation(&ctx, input).await,
        O::GetKeyRotationStatus => keys::get_key_rotation_status(&ctx, input).await,
        O::RotateKeyOnDemand => keys::rotate_key_on_demand(&ctx, input).await,
        O::ListKeyRotations => keys::list_key_rotations(&ctx, input).await,
        O::CreateAlias => aliases::create_alias(&ctx, input).await,
        O::DeleteAlias => aliases::delete_alias(&ctx, input).await,
        O::ListAliases => aliases::list_aliases(&ctx, input).await,
        O::Encrypt => crypto::encrypt(&ctx, input).await,
        O::Decrypt => crypto::decrypt(&ctx, input).await,
        O::GenerateDataKey => crypto::generate_data_key(&ctx, input, true).await,
        O::GenerateDataKeyWithoutPlaintext => crypto::generate_data_key(&ctx, input, false).await,
    }
}

/// Reads `Limit` (1–1000, default 100) for a listing.
fn limit(limit: Option<i64>) -> Result<usize, EcrError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(error::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        ))),
    }
}

/// Sets `Truncated` (and `NextMarker` when more follow) on a listing.
fn finish_page(out: &mut Value, next_marker: Option<String>) {
    out["Truncated"] = Value::Bool(next_marker.is_some());
    if let Some(m) = next_marker {
        out["NextMarker"] = Value::String(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_kms_actions() {
        assert_eq!(Operation::parse("CreateKey").unwrap().action(), "kms:CreateKey");
        assert_eq!(Operation::parse("GetKeyPolicy"), None);
        assert_eq!(Operation::ALL.len(), 20);
    }
}
