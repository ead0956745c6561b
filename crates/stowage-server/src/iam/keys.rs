//! Access keys: CreateAccessKey, DeleteAccessKey, ListAccessKeys (for the
//! named user, or the caller).

use stowage_core::query::Params;

use super::users::user_or_caller;
use super::xml::{self, Xml};
use super::{QueryCtx, Reply, page, truncation};
use crate::services::iam as svc;

pub async fn create_access_key(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = user_or_caller(ctx, p).await?;
    let (key, created_at) = svc::create_access_key(&ctx.state, &u).await?;
    let mut x = Xml::new();
    x.wrap("AccessKey", |x| {
        x.leaf("UserName", &u.name)
            .leaf("AccessKeyId", &key.access_key_id)
            .leaf("Status", "Active")
            .leaf("SecretAccessKey", &key.secret_access_key)
            .leaf("CreateDate", &xml::date(created_at));
    });
    Ok(Some(x.finish()))
}

pub async fn delete_access_key(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = user_or_caller(ctx, p).await?;
    svc::delete_access_key(&ctx.state, &u, p.required("AccessKeyId")?).await?;
    Ok(None)
}

pub async fn list_access_keys(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = user_or_caller(ctx, p).await?;
    let all = ctx.state.meta.list_access_keys(&u.arn).await?;
    let (keys, next) = page(&all, p)?;
    let mut x = Xml::new();
    x.list("AccessKeyMetadata", keys, |x, k| {
        x.leaf("UserName", &u.name)
            .leaf("AccessKeyId", &k.id)
            .leaf("Status", &k.status)
            .leaf("CreateDate", &xml::date(k.created_at));
    });
    truncation(&mut x, next);
    Ok(Some(x.finish()))
}
