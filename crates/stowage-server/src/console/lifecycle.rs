//! Console: a repository's lifecycle policy as JSON and as readable rules,
//! a small editor that adds rules to the text, a preview (which images would
//! expire and the bytes freed) through StartLifecyclePolicyPreview, and
//! saving through PutLifecyclePolicy — so the API's validation and messages apply.

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views::{self, LifecyclePage, PreviewImage, PreviewView};
use super::{Ctx, render};
use crate::AppState;
use crate::ecr::operation::Operation;

/// A rule in words: `1. Expire untagged images when more than 10 exist`.
pub fn describe_rule(rule: &Value) -> String {
    let s = &rule["selection"];
    let which = match s["tagStatus"].as_str().unwrap_or("any") {
        "untagged" => "untagged images".to_string(),
        "tagged" => {
            let list = |key: &str| {
                s[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    .filter(|l| !l.is_empty())
            };
            match (list("tagPrefixList"), list("tagPatternList")) {
                (Some(p), _) => format!("images tagged with a prefix in [{p}]"),
                (None, Some(p)) => format!("images with a tag matching [{p}]"),
                (None, None) => "tagged images".to_string(),
            }
        }
        _ => "any images".to_string(),
    };
    let n = s["countNumber"].as_u64().unwrap_or(0);
    let when = match s["countType"].as_str().unwrap_or_default() {
        "imageCountMoreThan" => format!("when more than {n} exist (the oldest first)"),
        "sinceImagePushed" => format!("pushed more than {n} {} ago", s["countUnit"].as_str().unwrap_or("days")),
        "sinceImagePulled" => format!(
            "not pulled for more than {n} {}",
            s["countUnit"].as_str().unwrap_or("days")
        ),
        other => format!("by {other} {n}"),
    };
    let description = rule["description"].as_str().filter(|d| !d.is_empty());
    format!(
        "Priority {}: expire {which} {when}{}",
        rule["rulePriority"].as_u64().unwrap_or(0),
        description.map(|d| format!(" — {d}")).unwrap_or_default()
    )
}

fn rules_of(text: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["rules"].as_array().cloned())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: String,
}

/// Renders the page for `text` (the saved policy, or what the user sent).
async fn page(
    ctx: &Ctx,
    name: &str,
    text: String,
    saved: bool,
    message: Option<String>,
    error: Option<String>,
    preview: Option<PreviewView>,
) -> Response {
    let rules = rules_of(&text);
    let next_priority = rules
        .iter()
        .filter_map(|r| r["rulePriority"].as_u64())
        .max()
        .unwrap_or(0)
        + 1;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let view = LifecyclePage {
        layout: Some(ctx.layout()),
        csrf: ctx.session.csrf.clone(),
        repository_href: format!("/console/repository?name={}", views::q(name)),
        name: name.to_string(),
        rules: rules.iter().map(describe_rule).collect(),
        saved,
        text,
        message,
        error,
        preview,
        can_save: ctx.may(Operation::PutLifecyclePolicy, name).await,
        next_priority,
    };
    (status, render(&view)).into_response()
}

/// `GET /console/lifecycle?name=`.
pub async fn show(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let Ok(Query(q)) = Query::<NameQuery>::try_from_uri(req.uri()) else {
        return (StatusCode::BAD_REQUEST, "name is required").into_response();
    };
    match ctx
        .call(Operation::GetLifecyclePolicy, json!({ "repositoryName": q.name }))
        .await
    {
        Ok(v) => {
            let text = v["lifecyclePolicyText"].as_str().unwrap_or_default();
            let pretty = serde_json::from_str::<Value>(text)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| text.to_string());
            page(&ctx, &q.name, pretty, true, None, None, None).await
        }
        Err(e) if e.kind == "LifecyclePolicyNotFoundException" => {
            page(&ctx, &q.name, "{\n  \"rules\": []\n}".into(), false, None, None, None).await
        }
        Err(e) => ctx.error(&e),
    }
}

#[derive(Deserialize)]
pub struct LifecycleForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tag_status: String,
    #[serde(default)]
    tag_prefixes: String,
    #[serde(default)]
    count_type: String,
    #[serde(default)]
    count_number: String,
}

impl super::PostedForm for LifecycleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The rule the editor's fields describe, or why it cannot be made.
fn rule_from(form: &LifecycleForm) -> Result<Value, String> {
    let priority: u64 = form
        .priority
        .trim()
        .parse()
        .map_err(|_| "The priority must be a whole number.".to_string())?;
    let count: u64 = form
        .count_number
        .trim()
        .parse()
        .map_err(|_| "The count must be a whole number.".to_string())?;
    let mut selection = json!({ "tagStatus": form.tag_status, "countType": form.count_type, "countNumber": count });
    if form.count_type == "sinceImagePushed" {
        selection["countUnit"] = "days".into();
    }
    let prefixes: Vec<&str> = form
        .tag_prefixes
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !prefixes.is_empty() {
        selection["tagPrefixList"] = prefixes.into();
    }
    let mut rule = json!({ "rulePriority": priority, "selection": selection, "action": { "type": "expire" } });
    if !form.description.trim().is_empty() {
        rule["description"] = form.description.trim().into();
    }
    Ok(rule)
}

/// `POST /console/lifecycle`: `action` = `preview`, `save` or `add_rule`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, form) = match Ctx::posted::<LifecycleForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let name = form.name.clone();
    match form.action.as_str() {
        "add_rule" => {
            let added = rule_from(&form).and_then(|rule| {
                let mut doc: Value =
                    serde_json::from_str(&form.text).map_err(|e| format!("The policy text is not valid JSON: {e}"))?;
                let rules = doc
                    .as_object_mut()
                    .ok_or("The policy must be a JSON object.")?
                    .entry("rules")
                    .or_insert_with(|| json!([]));
                rules.as_array_mut().ok_or("'rules' must be a list.")?.push(rule);
                Ok(serde_json::to_string_pretty(&doc).expect("JSON serializes"))
            });
            match added {
                Ok(text) => {
                    page(
                        &ctx,
                        &name,
                        text,
                        false,
                        Some("Rule added; preview or save the policy.".into()),
                        None,
                        None,
                    )
                    .await
                }
                Err(e) => page(&ctx, &name, form.text, false, None, Some(e), None).await,
            }
        }
        "save" => match ctx
            .call(
                Operation::PutLifecyclePolicy,
                json!({ "repositoryName": name, "lifecyclePolicyText": form.text }),
            )
            .await
        {
            Ok(_) => page(&ctx, &name, form.text, true, Some("Policy saved.".into()), None, None).await,
            Err(e) if e.kind == "AccessDeniedException" => ctx.error(&e),
            Err(e) => page(&ctx, &name, form.text, false, None, Some(e.message), None).await,
        },
        _ => match preview(&ctx, &name, &form.text).await {
            Ok(p) => page(&ctx, &name, form.text, false, None, None, Some(p)).await,
            Err(e) if e.kind == "AccessDeniedException" => ctx.error(&e),
            Err(e) => page(&ctx, &name, form.text, false, None, Some(e.message), None).await,
        },
    }
}

/// Runs a preview of `text` and reads its results.
async fn preview(ctx: &Ctx, name: &str, text: &str) -> Result<PreviewView, crate::ecr::EcrError> {
    ctx.call(
        Operation::StartLifecyclePolicyPreview,
        json!({ "repositoryName": name, "lifecyclePolicyText": text }),
    )
    .await?;
    let pages = ctx
        .call_pages(
            Operation::GetLifecyclePolicyPreview,
            json!({ "repositoryName": name, "maxResults": 100 }),
        )
        .await?;
    let images: Vec<PreviewImage> = pages
        .iter()
        .flat_map(|p| p["previewResults"].as_array().cloned().unwrap_or_default())
        .map(|r| PreviewImage {
            tags: r["imageTags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|| "<untagged>".into()),
            digest: views::short_digest(r["imageDigest"].as_str().unwrap_or_default()),
            pushed: r["imagePushedAt"]
                .as_f64()
                .map_or_else(String::new, |s| views::time((s * 1000.0) as i64)),
            rule: r["appliedRulePriority"].as_u64().unwrap_or(0),
        })
        .collect();
    let summary = pages.last().map_or(Value::Null, |p| p["summary"].clone());
    Ok(PreviewView {
        count: summary["expiringImageTotalCount"]
            .as_u64()
            .unwrap_or(images.len() as u64),
        bytes: views::bytes(summary["reclaimableBytes"].as_u64().unwrap_or(0)),
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_sentences() {
        let rule = json!({"rulePriority": 1, "description": "keep ten",
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10},
            "action": {"type": "expire"}});
        assert_eq!(
            describe_rule(&rule),
            "Priority 1: expire untagged images when more than 10 exist (the oldest first) — keep ten"
        );
        let rule = json!({"rulePriority": 2,
            "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod", "v"], "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
            "action": {"type": "expire"}});
        assert_eq!(
            describe_rule(&rule),
            "Priority 2: expire images tagged with a prefix in [prod, v] pushed more than 14 days ago"
        );
    }
}
