//! Alias operations: create, delete, list.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{KmsCtx, finish_page, kms_error, limit};
use crate::ecr::{EcrError, parse, timestamp};
use crate::services::kms as svc;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAliasRequest {
    alias_name: String,
    target_key_id: String,
}

/// `CreateAlias`: needs `kms:CreateAlias` on the alias and on the key.
pub async fn create_alias(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: CreateAliasRequest = parse(input)?;
    ctx.authorize(&svc::alias_arn(&ctx.state, &ctx.account, &req.alias_name))
        .await?;
    let key = ctx.key(&req.target_key_id, false).await?;
    svc::create_alias(&ctx.state, &ctx.account, &req.alias_name, &key)
        .await
        .map_err(kms_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAliasRequest {
    alias_name: String,
}

/// `DeleteAlias`: needs `kms:DeleteAlias` on the alias and on its key.
pub async fn delete_alias(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: DeleteAliasRequest = parse(input)?;
    ctx.authorize(&svc::alias_arn(&ctx.state, &ctx.account, &req.alias_name))
        .await?;
    let alias = svc::alias(&ctx.state, &ctx.account, &req.alias_name)
        .await
        .map_err(kms_error)?;
    ctx.authorize(&svc::key_arn(&ctx.state, &ctx.account, &alias.key_id))
        .await?;
    svc::delete_alias(&ctx.state, &ctx.account, &req.alias_name)
        .await
        .map_err(kms_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// `ListAliases`: the account's aliases by name (of one key, with `KeyId`), `Limit`/`Marker` paged.
pub async fn list_aliases(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: ListAliasesRequest = parse(input)?;
    let key_id = match &req.key_id {
        Some(reference) => Some(ctx.key(reference, false).await?.key_id),
        None => {
            ctx.authorize(&ctx.any_key_arn()).await?;
            None
        }
    };
    let limit = limit(req.limit)?;
    let mut aliases = ctx
        .state
        .meta
        .kms_aliases(&ctx.account, key_id.as_deref(), req.marker.as_deref(), limit + 1)
        .await?;
    let more = aliases.len() > limit;
    aliases.truncate(limit);
    let mut out = json!({
        "Aliases": aliases
            .iter()
            .map(|a| json!({
                "AliasName": a.alias_name,
                "AliasArn": svc::alias_arn(&ctx.state, &ctx.account, &a.alias_name),
                "TargetKeyId": a.key_id,
                "CreationDate": timestamp(a.created_at),
                "LastUpdatedDate": timestamp(a.created_at),
            }))
            .collect::<Vec<_>>(),
    });
    finish_page(
        &mut out,
        more.then(|| aliases.last().map(|a| a.alias_name.clone())).flatten(),
    );
    Ok(out)
}
