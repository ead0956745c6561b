//! STS: GetCallerIdentity (no permission needed) and AssumeRole (temporary
//! `ASIA…` credentials acting as `arn:aws:sts::<acct>:assumed-role/<role>/<session>`).

use stowage_core::query::Params;

use super::xml::{self, Xml};
use super::{QueryCtx, Reply};
use crate::services::iam::{self as svc, AssumeRole};

pub async fn get_caller_identity(ctx: &QueryCtx, _p: &Params) -> Reply {
    let (user_id, account, arn) = svc::caller_identity(&ctx.state, &ctx.caller.identity).await?;
    let mut x = Xml::new();
    x.leaf("UserId", &user_id).leaf("Account", &account).leaf("Arn", &arn);
    Ok(Some(x.finish()))
}

pub async fn assume_role(ctx: &QueryCtx, p: &Params) -> Reply {
    let req = AssumeRole {
        role_arn: p.required("RoleArn")?.to_string(),
        session_name: p.required("RoleSessionName")?.to_string(),
        duration_secs: p.int("DurationSeconds")?,
        policy: p.get("Policy").map(str::to_string),
    };
    let s = svc::assume_role(&ctx.state, &ctx.caller.identity, &ctx.caller.access_key_id, req).await?;
    let mut x = Xml::new();
    x.wrap("Credentials", |x| {
        x.leaf("AccessKeyId", &s.key.access_key_id)
            .leaf("SecretAccessKey", &s.key.secret_access_key)
            .leaf("SessionToken", s.key.session_token.as_deref().unwrap_or_default())
            .leaf("Expiration", &xml::date(s.expires_at));
    })
    .wrap("AssumedRoleUser", |x| {
        x.leaf("AssumedRoleId", &s.assumed_role_id).leaf("Arn", &s.arn);
    });
    Ok(Some(x.finish()))
}
