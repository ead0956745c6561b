//! Console: a repository's policy (view, edit with the API's validation
//! messages, delete) and who can pull and push, as the one authorization
//! evaluator decides for each user and role of the account.

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stowage_meta::EntityKind;

use super::views::{self, AccessRow, PermissionsPage};
use super::{Ctx, render};
use crate::AppState;
use crate::auth::{self, Identity, Principal};
use crate::ecr::operation::Operation;
use crate::services::authz;

/// Whether `principal_arn` may do `action` on the repository.
async fn decides(
    ctx: &Ctx,
    principal_arn: &str,
    action: &str,
    name: &str,
    repo: Option<&stowage_meta::Repository>,
) -> bool {
    let account = &ctx.session.identity.account_id;
    let arn = auth::repository_arn(&ctx.state.config.region, account, name);
    let who = Principal::Authenticated(Identity {
        account_id: account.clone(),
        principal_arn: principal_arn.to_string(),
        session_key: None,
    });
    authz::authorize(
        &ctx.state,
        &who,
        action,
        auth::Resource {
            account_id: account,
            arn: &arn,
            repository: repo,
        },
        &ctx.facts,
    )
    .await
    .is_ok()
}

/// Every user and role with whether it may pull and push.
async fn access(ctx: &Ctx, name: &str) -> Vec<AccessRow> {
    let account = ctx.session.identity.account_id.clone();
    let repo = crate::services::repositories::lookup(&ctx.state, &account, name)
        .await
        .ok()
        .flatten();
    let mut rows = Vec::new();
    for (kind, label) in [(EntityKind::User, "user"), (EntityKind::Role, "role")] {
        for entity in ctx
            .state
            .meta
            .list_entities(&account, kind, "/")
            .await
            .unwrap_or_default()
        {
            let yes = |b: bool| if b { "yes" } else { "no" };
            let pull = decides(ctx, &entity.arn, "ecr:BatchGetImage", name, repo.as_ref()).await;
            let push = decides(ctx, &entity.arn, "ecr:PutImage", name, repo.as_ref()).await;
            rows.push(AccessRow {
                name: entity.name,
                kind: label,
                pull: yes(pull),
                push: yes(push),
            });
        }
    }
    rows
}

async fn page(ctx: &Ctx, name: &str, policy: String, message: Option<String>, error: Option<String>) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let view = PermissionsPage {
        layout: Some(ctx.layout()),
        csrf: ctx.session.csrf.clone(),
        repository_href: format!("/console/repository?name={}", views::q(name)),
        name: name.to_string(),
        access: access(ctx, name).await,
        policy,
        message,
        error,
        can_edit: ctx.may(Operation::SetRepositoryPolicy, name).await,
    };
    (status, render(&view)).into_response()
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: String,
}

/// `GET /console/permissions?name=`.
pub async fn show(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let Ok(Query(q)) = Query::<NameQuery>::try_from_uri(req.uri()) else {
        return (StatusCode::BAD_REQUEST, "name is required").into_response();
    };
    let policy = match ctx
        .call(Operation::GetRepositoryPolicy, json!({ "repositoryName": q.name }))
        .await
    {
        Ok(v) => pretty(v["policyText"].as_str().unwrap_or_default()),
        Err(e) if e.kind == "RepositoryPolicyNotFoundException" => String::new(),
        Err(e) => return ctx.error(&e),
    };
    page(&ctx, &q.name, policy, None, None).await
}

fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| text.to_string())
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    action: String,
}

impl super::PostedForm for PolicyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/permissions`: `action` = `save` (SetRepositoryPolicy) or `delete`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, form) = match Ctx::posted::<PolicyForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let outcome = if form.action == "delete" || form.policy.trim().is_empty() {
        ctx.call(
            Operation::DeleteRepositoryPolicy,
            json!({ "repositoryName": form.name }),
        )
        .await
        .map(|_| (String::new(), "Policy deleted."))
    } else {
        ctx.call(
            Operation::SetRepositoryPolicy,
            json!({ "repositoryName": form.name, "policyText": form.policy }),
        )
        .await
        .map(|v| (pretty(v["policyText"].as_str().unwrap_or_default()), "Policy saved."))
    };
    match outcome {
        Ok((policy, message)) => page(&ctx, &form.name, policy, Some(message.into()), None).await,
        Err(e) if e.kind == "AccessDeniedException" => ctx.error(&e),
        Err(e) => page(&ctx, &form.name, form.policy.clone(), None, Some(e.message)).await,
    }
}
