//! User operations: CreateUser, DeleteUser, GetUser, ListUsers, the user's
//! inline policies and its attached managed policies.

use stowage_core::query::Params;
use stowage_meta::{Entity, EntityKind};

use super::xml::{self, Xml};
use super::{QueryCtx, Reply, encode_document, page, tags, truncation};
use crate::services::iam::{self as svc, NewEntity};

/// `<User>` members.
pub(super) fn user(x: &mut Xml, u: &Entity) {
    x.leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &svc::unique_id(u))
        .leaf("Arn", &u.arn)
        .leaf("CreateDate", &xml::date(u.created_at));
    tags(x, &u.tags);
}

/// The user named by `UserName`.
pub(super) async fn named_user(ctx: &QueryCtx, p: &Params) -> Result<Entity, super::QueryError> {
    Ok(svc::entity(&ctx.state, &ctx.account, EntityKind::User, p.required("UserName")?).await?)
}

/// The user named by `UserName`, or the caller.
pub(super) async fn user_or_caller(ctx: &QueryCtx, p: &Params) -> Result<Entity, super::QueryError> {
    match p.get("UserName") {
        Some(_) => named_user(ctx, p).await,
        None => Ok(svc::calling_user(&ctx.state, &ctx.caller.identity).await?),
    }
}

pub async fn create_user(ctx: &QueryCtx, p: &Params) -> Reply {
    let new = NewEntity {
        name: p.required("UserName")?.to_string(),
        path: p.get("Path").map(str::to_string),
        tags: p.tags("Tags"),
        ..Default::default()
    };
    let u = svc::create_entity(&ctx.state, &ctx.account, EntityKind::User, new).await?;
    let mut x = Xml::new();
    x.wrap("User", |x| user(x, &u));
    Ok(Some(x.finish()))
}

pub async fn delete_user(ctx: &QueryCtx, p: &Params) -> Reply {
    svc::delete_entity(&ctx.state, &ctx.account, EntityKind::User, p.required("UserName")?).await?;
    Ok(None)
}

pub async fn get_user(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = user_or_caller(ctx, p).await?;
    let mut x = Xml::new();
    x.wrap("User", |x| user(x, &u));
    Ok(Some(x.finish()))
}

pub async fn list_users(ctx: &QueryCtx, p: &Params) -> Reply {
    let all = ctx
        .state
        .meta
        .list_entities(&ctx.account, EntityKind::User, p.get("PathPrefix").unwrap_or("/"))
        .await?;
    let (users, next) = page(&all, p)?;
    let mut x = Xml::new();
    x.list("Users", users, user);
    truncation(&mut x, next);
    Ok(Some(x.finish()))
}

pub async fn put_user_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    svc::put_inline_policy(&ctx.state, &u, p.required("PolicyName")?, p.required("PolicyDocument")?).await?;
    Ok(None)
}

pub async fn get_user_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    let name = p.required("PolicyName")?;
    let document = svc::inline_policy(&ctx.state, &u, name).await?;
    let mut x = Xml::new();
    x.leaf("UserName", &u.name)
        .leaf("PolicyName", name)
        .leaf("PolicyDocument", &encode_document(&document));
    Ok(Some(x.finish()))
}

pub async fn delete_user_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    svc::delete_inline_policy(&ctx.state, &u, p.required("PolicyName")?).await?;
    Ok(None)
}

pub async fn list_user_policies(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    let all = ctx.state.meta.list_inline_policies(&u.arn).await?;
    let (names, next) = page(&all, p)?;
    let mut x = Xml::new();
    x.strings("PolicyNames", names);
    truncation(&mut x, next);
    Ok(Some(x.finish()))
}

pub async fn attach_user_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    svc::attach_policy(&ctx.state, &u, p.required("PolicyArn")?).await?;
    Ok(None)
}

pub async fn detach_user_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    svc::detach_policy(&ctx.state, &u, p.required("PolicyArn")?).await?;
    Ok(None)
}

pub async fn list_attached_user_policies(ctx: &QueryCtx, p: &Params) -> Reply {
    let u = named_user(ctx, p).await?;
    let all = svc::attached_policies(&ctx.state, &u).await?;
    let (attached, next) = page(&all, p)?;
    let mut x = Xml::new();
    x.list("AttachedPolicies", attached, |x, (name, arn)| {
        x.leaf("PolicyName", name).leaf("PolicyArn", arn);
    });
    truncation(&mut x, next);
    Ok(Some(x.finish()))
}
