//! Registry-wide operations: login tokens, the registry description, account settings.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCtx, EcrError, parse, timestamp};
use crate::services::tokens;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GetAuthorizationTokenRequest {
    registry_ids: Option<Vec<String>>,
}

/// `GetAuthorizationToken`: a 12-hour registry password for the caller.
pub async fn get_authorization_token(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: GetAuthorizationTokenRequest = parse(input)?;
    let ids = req.registry_ids.unwrap_or_else(|| vec![ctx.account.clone()]);
    if ids
        .iter()
        .any(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(EcrError::invalid_parameter("registryIds must be 12-digit account ids"));
    }
    let now = stowage_meta::now_ms() / 1000;
    // A password from temporary credentials ends when they do.
    let mut lifetime = tokens::TOKEN_LIFETIME_SECS;
    if let Some(key) = &ctx.identity.session_key
        && let Some(expires_ms) = ctx.state.meta.access_key(key).await?.and_then(|k| k.expires_at)
    {
        lifetime = lifetime.min(expires_ms / 1000 - now).max(1);
    }
    let token = tokens::issue(&ctx.state, &ctx.identity, now, lifetime).await?;
    let data: Vec<Value> = ids
        .iter()
        .map(|_| {
            json!({
                "authorizationToken": token.authorization_token,
                "expiresAt": timestamp(token.expires_at * 1000),
                "proxyEndpoint": ctx.state.config.public_url,
            })
        })
        .collect();
    Ok(json!({ "authorizationData": data }))
}

/// `DescribeRegistry`: the registry id and its (empty) replication configuration.
pub async fn describe_registry(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    Ok(json!({ "registryId": ctx.account, "replicationConfiguration": { "rules": [] } }))
}

/// Account settings ECR knows, with their allowed values; the first is the default.
/// Blob mounting defaults to ENABLED here so cross-repository mounts work out of the box.
const SETTINGS: &[(&str, &[&str])] = &[
    ("BASIC_SCAN_TYPE_VERSION", &["AWS_NATIVE", "CLAIR"]),
    ("REGISTRY_POLICY_SCOPE", &["V2", "V1"]),
    ("BLOB_MOUNTING", &["ENABLED", "DISABLED"]),
];

fn setting(name: &str) -> Result<&'static [&'static str], EcrError> {
    SETTINGS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| {
        EcrError::invalid_parameter(format!(
            "Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum value set: [BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, BLOB_MOUNTING]' (got '{name}')"
        ))
    })
}

#[derive(Deserialize)]
struct SettingRequest {
    name: String,
    value: Option<String>,
}

/// The value of an account setting, or its default.
pub async fn account_setting_value(ctx: &ApiCtx, name: &str) -> Result<String, EcrError> {
    let allowed = setting(name)?;
    Ok(ctx
        .state
        .meta
        .account_setting(&ctx.account, name)
        .await?
        .unwrap_or_else(|| allowed[0].to_string()))
}

/// `GetAccountSetting`.
pub async fn get_account_setting(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: SettingRequest = parse(input)?;
    let value = account_setting_value(ctx, &req.name).await?;
    Ok(json!({ "name": req.name, "value": value }))
}

/// `PutAccountSetting`.
pub async fn put_account_setting(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: SettingRequest = parse(input)?;
    let allowed = setting(&req.name)?;
    let value = req.value.unwrap_or_default();
    if !allowed.contains(&value.as_str()) {
        return Err(EcrError::invalid_parameter(format!(
            "Invalid value '{value}' for setting {}: must be one of {}",
            req.name,
            allowed.join(", ")
        )));
    }
    ctx.state
        .meta
        .put_account_setting(&ctx.account, &req.name, &value)
        .await?;
    Ok(json!({ "name": req.name, "value": value }))
}
