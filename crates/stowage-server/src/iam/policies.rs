//! Managed policies: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies
//! (AWS-managed ones with `Scope=AWS`, the account's own with `Local`).

use stowage_core::query::Params;

use super::xml::{self, Xml};
use super::{QueryCtx, QueryError, Reply, page, truncation};
use crate::services::iam::{self as svc, IamError, PolicyView, Scope};

/// `<Policy>` members.
fn policy(x: &mut Xml, p: &PolicyView) {
    x.leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.id)
        .leaf("Arn", &p.arn)
        .leaf("Path", &p.path)
        .leaf("DefaultVersionId", "v1")
        .leaf("AttachmentCount", &p.attachment_count.to_string())
        .leaf("PermissionsBoundaryUsageCount", "0")
        .leaf("IsAttachable", "true")
        .opt("Description", p.description.as_deref())
        .leaf("CreateDate", &xml::date(p.created_at))
        .leaf("UpdateDate", &xml::date(p.updated_at));
}

pub async fn create_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let view = svc::create_policy(
        &ctx.state,
        &ctx.account,
        p.required("PolicyName")?,
        p.get("Path"),
        p.required("PolicyDocument")?,
        p.get("Description"),
    )
    .await?;
    let mut x = Xml::new();
    x.wrap("Policy", |x| policy(x, &view));
    Ok(Some(x.finish()))
}

pub async fn get_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    let view = svc::policy(&ctx.state, &ctx.account, p.required("PolicyArn")?).await?;
    let mut x = Xml::new();
    x.wrap("Policy", |x| policy(x, &view));
    Ok(Some(x.finish()))
}

pub async fn delete_policy(ctx: &QueryCtx, p: &Params) -> Reply {
    svc::delete_policy(&ctx.state, &ctx.account, p.required("PolicyArn")?).await?;
    Ok(None)
}

pub async fn list_policies(ctx: &QueryCtx, p: &Params) -> Reply {
    let scope = match p.get("Scope").unwrap_or("All") {
        "All" => Scope::All,
        "AWS" => Scope::Aws,
        "Local" => Scope::Local,
        other => {
            return Err(QueryError::from(IamError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            ))));
        }
    };
    let all = svc::list_policies(
        &ctx.state,
        &ctx.account,
        scope,
        p.bool("OnlyAttached"),
        p.get("PathPrefix").unwrap_or("/"),
    )
    .await?;
    let (policies, next) = page(&all, p)?;
    let mut x = Xml::new();
    x.list("Policies", policies, policy);
    truncation(&mut x, next);
    Ok(Some(x.finish()))
}
