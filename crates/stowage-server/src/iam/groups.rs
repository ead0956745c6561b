//! Groups: CreateGroup, DeleteGroup, membership, and the group's policies
//! (which apply to every member).

use stowage_core::query::Params;
use stowage_meta::{Entity, EntityKind};

use super::users::named_user;
use super::xml::{self, Xml};
use super::{QueryCtx, QueryError, Reply};
use crate::services::iam::{self as svc, NewEntity};

async fn named_group(ctx: &QueryCtx, p: &Params) -> Result<Entity, QueryError> {
    Ok(svc::entity(&ctx.state, &ctx.account, EntityKind::Group, p.required("GroupName")?).await?)
}

pub async fn create_group(ctx: &QueryCtx, p: &Params) -> Reply {
    let new = NewEntity {
        name: p.required("GroupName")?.to_string(),
        path: p.get("Path").map(str::to_string),
        ..Default::default()
    };
    let g = svc::create_entity(&ctx.state, &ctx.account, EntityKind::Group, new).await?;
    let mut x = Xml::new();
    x.wrap("Group", |x| {
        x.leaf("Path", &g.path)
            .leaf("GroupName", &g.name)
            .leaf("GroupId", &svc::unique_id(&g))
            .leaf("Arn", &g.arn)
            .leaf("CreateDate", &xml::date(g.created_at));
    });
    Ok(Some(x.finish()))
}

pub async fn delete_group(ctx: &QueryCtx, p: &Params) -> Reply {
    svc::delete_entity(&ctx.state, &ctx.account, EntityKind::Group, p.required("GroupName")?).await?;
    Ok(None)
}

pub async fn add_user_to_group(ctx: &QueryCtx, p: &Params) -> Reply {
    let g = named_group(ctx, p).await?;
    let u = named_user(ctx, p).await?;
    svc::add_user_to_group(&ctx.state, &g, &u).await?;
    Ok(None)
}

pub async fn remove_user_from_group(ctx: &QueryCtx, p: &Params) -> Reply {
    let g = named_group(ctx, p).await?;
    let u = named_user(ctx, p).await?;
    svc::remove_user_from_group(&ctx.state, &g, &u).await?;
    Ok(None)
}

pub async fn put_group_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let g = named_group(ctx, p).await?;
    svc::put_inline_policy(&ctx.state, &g, p.required("PolicyName")?, p.required("PolicyDocument")?).await?;
    Ok(None)
}

pub async fn attach_group_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let g = named_group(ctx, p).await?;
    svc::attach_policy(&ctx.state, &g, p.required("PolicyArn")?).await?;
    Ok(None)
}
