//! Key operations: create, describe, list, enable/disable, deletion, rotation.

use serde::Deserialize;
use serde_json::{Value, json};
use stowage_meta::{KmsKey, KmsKeyState};

use super::{KmsCtx, error, finish_page, kms_error, limit};
use crate::ecr::{EcrError, parse, timestamp};
use crate::services::kms as svc;

/// `KeyMetadata` of a key, as KMS shapes it.
pub(super) fn key_metadata(key: &KmsKey) -> Value {
    let mut v = json!({
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": timestamp(key.created_at),
        "Enabled": key.state == KmsKeyState::Enabled,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.as_str(),
        "Origin": key.origin,
        "KeyManager": if key.aws_managed { "AWS" } else { "CUSTOMER" },
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let Some(d) = key.deletion_date {
        v["DeletionDate"] = timestamp(d);
    }
    v
}

#[derive(Deserialize)]
pub(super) struct Tag {
    #[serde(rename = "TagKey")]
    key: String,
    #[serde(rename = "TagValue")]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyRequest {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    policy: Option<String>,
    #[serde(default)]
    multi_region: bool,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// `CreateKey`.
pub async fn create_key(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    ctx.authorize(&ctx.any_key_arn()).await?;
    let req: CreateKeyRequest = parse(input)?;
    if req.policy.is_some() {
        return Err(EcrError::new(
            "UnsupportedOperationException",
            "Key policies are not supported by this key service: access to keys is granted by IAM policies",
        ));
    }
    if req.multi_region {
        return Err(EcrError::new(
            "UnsupportedOperationException",
            "Multi-Region keys are not supported by this key service",
        ));
    }
    if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
        return Err(error::validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request",
        ));
    }
    let create = svc::CreateKey {
        description: req.description,
        key_usage: req.key_usage,
        key_spec: req.key_spec.or(req.customer_master_key_spec),
        origin: req.origin,
        tags: req.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    };
    let key = svc::create_key(&ctx.state, &ctx.account, create)
        .await
        .map_err(kms_error)?;
    Ok(json!({ "KeyMetadata": key_metadata(&key) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyRequest {
    key_id: String,
}

/// `DescribeKey` (by key id, key ARN, alias name or alias ARN).
pub async fn describe_key(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, true).await?;
    Ok(json!({ "KeyMetadata": key_metadata(&key) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    limit: Option<i64>,
    marker: Option<String>,
}

/// `ListKeys`: the account's keys by id, `Limit`/`Marker` paged.
pub async fn list_keys(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    ctx.authorize(&ctx.any_key_arn()).await?;
    let req: ListRequest = parse(input)?;
    let limit = limit(req.limit)?;
    let mut keys = ctx
        .state
        .meta
        .kms_keys(&ctx.account, req.marker.as_deref(), limit + 1)
        .await?;
    let more = keys.len() > limit;
    keys.truncate(limit);
    let mut out = json!({
        "Keys": keys.iter().map(|k| json!({ "KeyId": k.key_id, "KeyArn": k.arn })).collect::<Vec<_>>(),
    });
    finish_page(&mut out, more.then(|| keys.last().map(|k| k.key_id.clone())).flatten());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyListRequest {
    key_id: String,
    limit: Option<i64>,
    marker: Option<String>,
}

/// Pages `items` (already in order) by a numeric `Marker`: the index to start at.
fn page<T>(items: Vec<T>, limit: usize, marker: Option<&str>) -> Result<(Vec<T>, Option<String>), EcrError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| error::validation(format!("Invalid marker '{m}'")))?,
    };
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + items.len() < total).then(|| (start + items.len()).to_string());
    Ok((items, next))
}

/// `ListResourceTags`.
pub async fn list_resource_tags(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyListRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    let (tags, next) = page(key.tags, limit(req.limit)?, req.marker.as_deref())?;
    let mut out = json!({
        "Tags": tags.iter().map(|(k, v)| json!({ "TagKey": k, "TagValue": v })).collect::<Vec<_>>(),
    });
    finish_page(&mut out, next);
    Ok(out)
}

/// `EnableKey`.
pub async fn enable_key(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::enable_key(&ctx.state, &key).await.map_err(kms_error)?;
    Ok(json!({}))
}

/// `DisableKey`.
pub async fn disable_key(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::disable_key(&ctx.state, &key).await.map_err(kms_error)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleKeyDeletionRequest {
    key_id: String,
    pending_window_in_days: Option<i64>,
}

/// `ScheduleKeyDeletion`: 7–30 days (default 30).
pub async fn schedule_key_deletion(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: ScheduleKeyDeletionRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    let (date, days) = svc::schedule_key_deletion(&ctx.state, &key, req.pending_window_in_days)
        .await
        .map_err(kms_error)?;
    Ok(json!({
        "KeyId": key.arn,
        "DeletionDate": timestamp(date),
        "KeyState": KmsKeyState::PendingDeletion.as_str(),
        "PendingWindowInDays": days,
    }))
}

/// `CancelKeyDeletion`: the key is left disabled.
pub async fn cancel_key_deletion(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::cancel_key_deletion(&ctx.state, &key).await.map_err(kms_error)?;
    Ok(json!({ "KeyId": key.arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableKeyRotationRequest {
    key_id: String,
    rotation_period_in_days: Option<i64>,
}

/// `EnableKeyRotation`.
pub async fn enable_key_rotation(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: EnableKeyRotationRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::enable_key_rotation(&ctx.state, &key, req.rotation_period_in_days)
        .await
        .map_err(kms_error)?;
    Ok(json!({}))
}

/// `DisableKeyRotation`.
pub async fn disable_key_rotation(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::disable_key_rotation(&ctx.state, &key).await.map_err(kms_error)?;
    Ok(json!({}))
}

/// `GetKeyRotationStatus`.
pub async fn get_key_rotation_status(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    let mut out = json!({ "KeyId": key.key_id, "KeyRotationEnabled": key.rotation_enabled });
    if key.rotation_enabled {
        if let Some(days) = key.rotation_period_days {
            out["RotationPeriodInDays"] = days.into();
        }
        if let Some(at) = key.next_rotation_at {
            out["NextRotationDate"] = timestamp(at);
        }
    }
    Ok(out)
}

/// `RotateKeyOnDemand`: a new key-material version now.
pub async fn rotate_key_on_demand(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    svc::rotate_key_on_demand(&ctx.state, &key).await.map_err(kms_error)?;
    Ok(json!({ "KeyId": key.key_id }))
}

/// `ListKeyRotations`: the rotations made, oldest first.
pub async fn list_key_rotations(ctx: &KmsCtx, input: Value) -> Result<Value, EcrError> {
    let req: KeyListRequest = parse(input)?;
    let key = ctx.key(&req.key_id, false).await?;
    let rotations = svc::key_rotations(&ctx.state, &key).await.map_err(kms_error)?;
    let (rotations, next) = page(rotations, limit(req.limit)?, req.marker.as_deref())?;
    let mut out = json!({
        "Rotations": rotations
            .iter()
            .map(|r| json!({
                "KeyId": key.key_id,
                "RotationDate": timestamp(r.created_at),
                "RotationType": r.rotation_type,
            }))
            .collect::<Vec<_>>(),
    });
    finish_page(&mut out, next);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_markers_page_through() {
        let (first, next) = page(vec![1, 2, 3], 2, None).unwrap();
        assert_eq!((first, next.as_deref()), (vec![1, 2], Some("2")));
        let (rest, next) = page(vec![1, 2, 3], 2, Some("2")).unwrap();
        assert_eq!((rest, next), (vec![3], None));
        assert!(page(vec![1], 1, Some("x")).is_err());
    }
}
