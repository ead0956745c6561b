//! Roles: CreateRole (with its trust policy), GetRole, DeleteRole, and the
//! role's policies (which its sessions act with).

use stowage_core::query::Params;
use stowage_meta::{Entity, EntityKind};

use super::xml::{self, Xml};
use super::{QueryCtx, QueryError, Reply, encode_document, tags};
use crate::services::iam::{self as svc, NewEntity};

async fn named_role(ctx: &QueryCtx, p: &Params) -> Result<Entity, QueryError> {
    Ok(svc::entity(&ctx.state, &ctx.account, EntityKind::Role, p.required("RoleName")?).await?)
}

/// `<Role>`.
fn role(r: &Entity) -> String {
    let mut x = Xml::new();
    x.wrap("Role", |x| {
        x.leaf("Path", &r.path)
            .leaf("RoleName", &r.name)
            .leaf("RoleId", &svc::unique_id(r))
            .leaf("Arn", &r.arn)
            .leaf("CreateDate", &xml::date(r.created_at));
        if let Some(doc) = &r.trust_policy {
            x.leaf("AssumeRolePolicyDocument", &encode_document(doc));
        }
        x.opt("Description", r.description.as_deref()).leaf(
            "MaxSessionDuration",
            &r.max_session_duration
                .unwrap_or(svc::DEFAULT_MAX_SESSION_SECS)
                .to_string(),
        );
        tags(x, &r.tags);
    });
    x.finish()
}

pub async fn create_role(ctx: &QueryCtx, p: &Params) -> Reply {
    let new = NewEntity {
        name: p.required("RoleName")?.to_string(),
        path: p.get("Path").map(str::to_string),
        tags: p.tags("Tags"),
        trust_policy: Some(p.required("AssumeRolePolicyDocument")?.to_string()),
        description: p.get("Description").map(str::to_string),
        max_session_duration: p.int("MaxSessionDuration")?,
    };
    let r = svc::create_entity(&ctx.state, &ctx.account, EntityKind::Role, new).await?;
    Ok(Some(role(&r)))
}

pub async fn get_role(ctx: &QueryCtx, p: &Params) -> Reply {
    Ok(Some(role(&named_role(ctx, p).await?)))
}

pub async fn delete_role(ctx: &QueryCtx, p: &Params) -> Reply {
    svc::delete_entity(&ctx.state, &ctx.account, EntityKind::Role, p.required("RoleName")?).await?;
    Ok(None)
}

pub async fn put_role_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let r = named_role(ctx, p).await?;
    svc::put_inline_policy(&ctx.state, &r, p.required("PolicyName")?, p.required("PolicyDocument")?).await?;
    Ok(None)
}

pub async fn attach_role_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let r = named_role(ctx, p).await?;
    svc::attach_policy(&ctx.state, &r, p.required("PolicyArn")?).await?;
    Ok(None)
}
