//! Console: the repository list (search, pages, usage), creating a
//! repository with every CreateRepository option, and deleting one after a
//! confirmation that names what goes with it.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views::{self, CreateForm, DeleteRepositoryPage, RepoRow, RepositoriesPage};
use super::{Ctx, render};
use crate::AppState;
use crate::ecr::EcrError;
use crate::ecr::operation::Operation;

/// Repositories per page.
const PAGE: usize = 50;
const MUTABILITIES: &[&str] = &[
    "MUTABLE",
    "IMMUTABLE",
    "MUTABLE_WITH_EXCLUSION",
    "IMMUTABLE_WITH_EXCLUSION",
];
const ENCRYPTIONS: &[&str] = &["AES256", "KMS", "KMS_DSSE"];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
}

/// Every repository the user may describe, through DescribeRepositories.
async fn all_repositories(ctx: &Ctx) -> Result<Vec<Value>, EcrError> {
    let pages = ctx
        .call_pages(Operation::DescribeRepositories, json!({ "maxResults": 1000 }))
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p["repositories"].as_array().cloned().unwrap_or_default())
        .collect())
}

/// (images, bytes) per repository name.
async fn usage(ctx: &Ctx) -> HashMap<String, (u64, u64)> {
    ctx.state
        .meta
        .repository_usage(&ctx.session.identity.account_id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading repository usage failed");
            Vec::new()
        })
        .into_iter()
        .map(|(name, images, bytes)| (name, (images, bytes)))
        .collect()
}

fn row(r: &Value, usage: &HashMap<String, (u64, u64)>) -> RepoRow {
    let name = r["repositoryName"].as_str().unwrap_or_default().to_string();
    let (images, bytes) = usage.get(&name).copied().unwrap_or_default();
    RepoRow {
        href: format!("/console/repository?name={}", views::q(&name)),
        uri: r["repositoryUri"].as_str().unwrap_or_default().to_string(),
        images,
        size: views::bytes(bytes),
        created: r["createdAt"]
            .as_f64()
            .map_or_else(String::new, |s| views::time((s * 1000.0) as i64)),
        mutability: r["imageTagMutability"].as_str().unwrap_or_default().to_string(),
        scan_on_push: if r["imageScanningConfiguration"]["scanOnPush"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        },
        encryption: r["encryptionConfiguration"]["encryptionType"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        name,
    }
}

/// The list page, with the create form (re-filled after an error).
async fn list_page(ctx: &Ctx, query: &ListQuery, form: &CreateForm, create_error: Option<String>) -> Response {
    let repositories = match all_repositories(ctx).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e),
    };
    let usage = usage(ctx).await;
    let needle = query.q.trim().to_lowercase();
    let matching: Vec<&Value> = repositories
        .iter()
        .filter(|r| needle.is_empty() || r["repositoryName"].as_str().is_some_and(|n| n.contains(&needle)))
        .collect();
    let pages = matching.len().div_ceil(PAGE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let href = |p: usize| format!("/console/repositories?q={}&page={p}", views::q(&query.q));
    let status = if create_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page_view = RepositoriesPage {
        layout: Some(ctx.layout()),
        csrf: ctx.session.csrf.clone(),
        q: query.q.clone(),
        total: matching.len(),
        rows: matching
            .iter()
            .skip((page - 1) * PAGE)
            .take(PAGE)
            .map(|r| row(r, &usage))
            .collect(),
        page,
        prev_href: (page > 1).then(|| href(page - 1)),
        next_href: (page < pages).then(|| href(page + 1)),
        can_create: ctx.may(Operation::CreateRepository, "*").await,
        create_error,
        form: form.into(),
        mutabilities: MUTABILITIES,
        encryptions: ENCRYPTIONS,
    };
    (status, render(&page_view)).into_response()
}

/// `GET /console/repositories?q=&page=`.
pub async fn list(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let query = Query::<ListQuery>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    list_page(&ctx, &query, &CreateForm::default(), None).await
}

/// The CreateRepository input of the console's form.
fn create_input(form: &CreateForm) -> Value {
    let mut input = json!({
        "repositoryName": form.name.trim(),
        "imageTagMutability": if form.mutability.is_empty() { "MUTABLE" } else { form.mutability.as_str() },
        "imageScanningConfiguration": { "scanOnPush": form.scan_on_push.is_some() },
        "encryptionConfiguration": { "encryptionType": if form.encryption.is_empty() { "AES256" } else { form.encryption.as_str() } },
    });
    let exclusions: Vec<Value> = form
        .exclusions
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| json!({ "filterType": "WILDCARD", "filter": f }))
        .collect();
    if !exclusions.is_empty() {
        input["imageTagMutabilityExclusionFilters"] = exclusions.into();
    }
    if !form.kms_key.trim().is_empty() {
        input["encryptionConfiguration"]["kmsKey"] = form.kms_key.trim().into();
    }
    let tags: Vec<Value> = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (k, v) = t.split_once('=').unwrap_or((t, ""));
            json!({ "Key": k.trim(), "Value": v.trim() })
        })
        .collect();
    if !tags.is_empty() {
        input["tags"] = tags.into();
    }
    input
}

/// `POST /console/repositories`: CreateRepository from the form.
pub async fn create(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, form) = match Ctx::posted::<CreateForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match ctx.call(Operation::CreateRepository, create_input(&form)).await {
        Ok(_) => Redirect::to(&format!("/console/repository?name={}", views::q(form.name.trim()))).into_response(),
        Err(e) if e.kind == "AccessDeniedException" => ctx.error(&e),
        Err(e) => list_page(&ctx, &ListQuery::default(), &form, Some(e.message)).await,
    }
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: String,
}

/// The confirmation page of a deletion: what goes with the repository.
async fn confirm_page(ctx: &Ctx, name: &str, error: Option<String>) -> Response {
    if let Err(e) = ctx
        .call(Operation::DescribeRepositories, json!({ "repositoryNames": [name] }))
        .await
    {
        return ctx.error(&e);
    }
    if !ctx.may(Operation::DeleteRepository, name).await {
        return ctx.error(&EcrError::new(
            "AccessDeniedException",
            format!("You are not allowed to delete the repository '{name}'."),
        ));
    }
    let (images, bytes) = usage(ctx).await.get(name).copied().unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        status,
        render(&DeleteRepositoryPage {
            layout: Some(ctx.layout()),
            csrf: ctx.session.csrf.clone(),
            name: name.to_string(),
            images,
            size: views::bytes(bytes),
            error,
        }),
    )
        .into_response()
}

/// `GET /console/repository/delete?name=`.
pub async fn confirm_delete(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let Ok(Query(q)) = Query::<NameQuery>::try_from_uri(req.uri()) else {
        return (StatusCode::BAD_REQUEST, "name is required").into_response();
    };
    confirm_page(&ctx, &q.name, None).await
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    confirm: String,
}

impl super::PostedForm for DeleteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/repository/delete`: DeleteRepository (with its images)
/// once the name was typed again.
pub async fn delete(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, form) = match Ctx::posted::<DeleteForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if form.confirm.trim() != form.name {
        return confirm_page(&ctx, &form.name, Some("The name typed does not match.".into())).await;
    }
    match ctx
        .call(
            Operation::DeleteRepository,
            json!({ "repositoryName": form.name, "force": true }),
        )
        .await
    {
        Ok(_) => Redirect::to("/console/repositories").into_response(),
        Err(e) => ctx.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_create_repository_input() {
        let form = CreateForm {
            name: " team/app ".into(),
            mutability: "IMMUTABLE_WITH_EXCLUSION".into(),
            exclusions: "latest, dev-*".into(),
            scan_on_push: Some("true".into()),
            encryption: "KMS".into(),
            kms_key: "alias/app".into(),
            tags: "team=web, cost = 42".into(),
            ..Default::default()
        };
        assert_eq!(
            create_input(&form),
            json!({
                "repositoryName": "team/app",
                "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                "imageTagMutabilityExclusionFilters": [
                    {"filterType": "WILDCARD", "filter": "latest"},
                    {"filterType": "WILDCARD", "filter": "dev-*"}
                ],
                "imageScanningConfiguration": {"scanOnPush": true},
                "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "alias/app"},
                "tags": [{"Key": "team", "Value": "web"}, {"Key": "cost", "Value": "42"}]
            })
        );
        let defaults = create_input(&CreateForm {
            name: "a".into(),
            ..Default::default()
        });
        assert_eq!(defaults["imageTagMutability"], "MUTABLE");
        assert_eq!(defaults["encryptionConfiguration"], json!({"encryptionType": "AES256"}));
        assert!(defaults.get("tags").is_none());
    }
}
