//! Console: registry settings — storage by repository (a bar chart drawn
//! server-side as SVG), the registry scanning configuration, and the account
//! settings, each read and changed through its ECR operation.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views::{self, Bar, ScanningView, SettingsPage};
use super::{Ctx, render};
use crate::AppState;
use crate::ecr::operation::Operation;

/// The account settings the console shows.
const ACCOUNT_SETTINGS: [&str; 3] = ["BASIC_SCAN_TYPE_VERSION", "BLOB_MOUNTING", "REGISTRY_POLICY_SCOPE"];
/// Repositories drawn in the chart (the largest).
const MAX_BARS: usize = 20;
const LABEL_WIDTH: u64 = 220;
const BAR_SPACE: u64 = 420;
const ROW: u64 = 24;

/// The chart's bars: the largest repositories, widths scaled to the largest.
pub fn bars(mut usage: Vec<(String, u64, u64)>) -> Vec<Bar> {
    usage.retain(|(_, _, bytes)| *bytes > 0);
    usage.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    usage.truncate(MAX_BARS);
    let max = usage.first().map_or(1, |u| u.2.max(1));
    usage
        .into_iter()
        .enumerate()
        .map(|(i, (name, _, bytes))| Bar {
            label: name,
            value: views::bytes(bytes),
            y: i as u64 * ROW + 4,
            width: (bytes as u128 * BAR_SPACE as u128 / max as u128).max(1) as u64,
        })
        .collect()
}

async fn page(ctx: &Ctx, message: Option<String>, error: Option<String>, status: StatusCode) -> Response {
    let usage = ctx
        .state
        .meta
        .repository_usage(&ctx.session.identity.account_id)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading repository usage failed");
            Vec::new()
        });
    // Usage rides on DescribeRepositories: a user who may not list repositories sees no chart.
    let may_list = ctx
        .call(Operation::DescribeRepositories, json!({ "maxResults": 1 }))
        .await
        .is_ok();
    let bars = if may_list { bars(usage) } else { Vec::new() };
    let scanning = ctx
        .call(Operation::GetRegistryScanningConfiguration, json!({}))
        .await
        .ok()
        .map(|v| ScanningView {
            scan_type: v["scanningConfiguration"]["scanType"]
                .as_str()
                .unwrap_or("BASIC")
                .to_string(),
            rules: serde_json::to_string_pretty(&v["scanningConfiguration"]["rules"]).unwrap_or_default(),
        });
    let mut account_settings = Vec::new();
    for name in ACCOUNT_SETTINGS {
        let value = match ctx.call(Operation::GetAccountSetting, json!({ "name": name })).await {
            Ok(v) => v["value"].as_str().unwrap_or_default().to_string(),
            Err(_) => "(not allowed)".to_string(),
        };
        account_settings.push((name.to_string(), value));
    }
    let view = SettingsPage {
        layout: Some(ctx.layout()),
        csrf: ctx.session.csrf.clone(),
        message,
        error,
        chart_width: LABEL_WIDTH + BAR_SPACE + 90,
        chart_height: bars.len() as u64 * ROW + 8,
        label_width: LABEL_WIDTH,
        bars,
        scanning,
        can_edit_scanning: ctx.may(Operation::PutRegistryScanningConfiguration, "*").await,
        account_settings,
        can_edit_account: ctx.may(Operation::PutAccountSetting, "*").await,
    };
    (status, render(&view)).into_response()
}

/// `GET /console/settings`.
pub async fn show(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, _) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    page(&ctx, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    scan_type: String,
    #[serde(default)]
    rules: String,
    #[serde(default)]
    setting: String,
    #[serde(default)]
    value: String,
}

impl super::PostedForm for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/settings`: `action` = `scanning` or `account`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, form) = match Ctx::posted::<SettingsForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let outcome = if form.action == "account" {
        ctx.call(
            Operation::PutAccountSetting,
            json!({ "name": form.setting, "value": form.value.trim() }),
        )
        .await
        .map(|_| "Account setting changed.")
    } else {
        let rules: Value = match serde_json::from_str(if form.rules.trim().is_empty() {
            "[]"
        } else {
            &form.rules
        }) {
            Ok(r) => r,
            Err(e) => {
                return page(
                    &ctx,
                    None,
                    Some(format!("The rules are not valid JSON: {e}")),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
        };
        ctx.call(
            Operation::PutRegistryScanningConfiguration,
            json!({ "scanType": form.scan_type, "rules": rules }),
        )
        .await
        .map(|_| "Scanning configuration saved.")
    };
    match outcome {
        Ok(message) => page(&ctx, Some(message.into()), None, StatusCode::OK).await,
        Err(e) if e.kind == "AccessDeniedException" => ctx.error(&e),
        Err(e) => page(&ctx, None, Some(e.message), StatusCode::BAD_REQUEST).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_the_largest_scaled_to_the_largest() {
        let usage = vec![
            ("small".to_string(), 1, 1_000),
            ("empty".to_string(), 0, 0),
            ("big".to_string(), 3, 4_000),
        ];
        let b = bars(usage);
        let got: Vec<(&str, u64, &str)> = b
            .iter()
            .map(|b| (b.label.as_str(), b.width, b.value.as_str()))
            .collect();
        assert_eq!(got, [("big", BAR_SPACE, "4.0 KB"), ("small", BAR_SPACE / 4, "1.0 KB")]);
        assert_eq!(b[1].y, ROW + 4);
        let many: Vec<_> = (0..50).map(|i| (format!("r{i}"), 1, 10 + i)).collect();
        assert_eq!(bars(many).len(), MAX_BARS);
    }
}
