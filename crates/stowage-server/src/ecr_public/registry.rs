//! Registry-wide ECR Public operations: the login token, the registry's
//! description and its catalog data.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::ecr::{ApiCtx, EcrError, parse, timestamp};
use crate::services::tokens;

/// `GetAuthorizationToken`: one `authorizationData` object (no list, no
/// `proxyEndpoint`: the CLI indexes the object directly).
pub async fn get_authorization_token(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    let token = tokens::issue(
        &ctx.state,
        &ctx.identity,
        stowage_meta::now_ms() / 1000,
        tokens::TOKEN_LIFETIME_SECS,
    )
    .await?;
    Ok(json!({ "authorizationData": {
        "authorizationToken": token.authorization_token,
        "expiresAt": timestamp(token.expires_at * 1000),
    }}))
}

/// `DescribeRegistries`: the account's one public registry.
pub async fn describe_registries(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    Ok(json!({ "registries": [{
        "registryId": ctx.account,
        "registryArn": super::registry_arn(&ctx.account),
        "registryUri": ctx.state.config.public_registry_host(),
        "verified": false,
        "aliases": [{
            "name": ctx.account,
            "status": "ACTIVE",
            "primaryRegistryAlias": true,
            "defaultRegistryAlias": true,
        }],
    }]}))
}

/// `GetRegistryCatalogData`.
pub async fn get_registry_catalog_data(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    let mut data = json!({});
    if let Some(name) = ctx.state.meta.registry_display_name(&ctx.account).await? {
        data["displayName"] = name.into();
    }
    Ok(json!({ "registryCatalogData": data }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRegistryCatalogDataRequest {
    display_name: Option<String>,
}

/// `PutRegistryCatalogData`: sets the display name (kept when not given).
pub async fn put_registry_catalog_data(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutRegistryCatalogDataRequest = parse(input)?;
    if let Some(name) = &req.display_name {
        if name.chars().count() > 100 {
            return Err(EcrError::invalid_parameter(
                "Invalid parameter at 'displayName' failed to satisfy constraint: 'Member must have length less than or equal to 100'",
            ));
        }
        ctx.state.meta.set_registry_display_name(&ctx.account, name).await?;
    }
    get_registry_catalog_data(ctx, Value::Null).await
}
