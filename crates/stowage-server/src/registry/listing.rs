//! Listings: tags, the catalog, and referrers.

use std::collections::HashMap;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header;
use stowage_core::Digest;
use stowage_core::limits::MAX_PAGE_SIZE;

use super::{Ctx, OciError};
use crate::AppState;
use crate::services::repositories::Namespace;

/// Reads `n` (capped at the page maximum; all-up-to-the-cap when absent) and `last`.
fn page(query: &HashMap<String, String>) -> Result<(usize, Option<String>), OciError> {
    let n = match query.get("n") {
        None => MAX_PAGE_SIZE,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| {
                OciError::new(
                    stowage_core::OciErrorCode::Unsupported,
                    format!("invalid page size n={v}"),
                )
                .with_status(400)
            })?
            .min(MAX_PAGE_SIZE),
    };
    Ok((n, query.get("last").cloned()))
}

/// Adds `Link: <…?n=N&last=L>; rel="next"` when `items` filled the page and more may follow.
fn with_next(mut resp: Response, path: &str, n: usize, items: &[String], more: bool) -> Response {
    if more && let Some(last) = items.last() {
        let last: String = form_urlencoded::byte_serialize(last.as_bytes()).collect();
        if let Ok(v) = format!("<{path}?n={n}&last={last}>; rel=\"next\"").parse() {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

/// `GET /v2/<name>/tags/list`.
pub async fn list_tags(ctx: Ctx) -> Result<Response, OciError> {
    let (n, last) = page(&ctx.query)?;
    let mut tags = ctx.state.meta.tags(ctx.repo.id, last.as_deref(), n + 1).await?;
    let more = tags.len() > n;
    tags.truncate(n);
    let body = Json(serde_json::json!({ "name": ctx.repo.name, "tags": tags })).into_response();
    Ok(with_next(
        body,
        &format!("/v2/{}/tags/list", ctx.repo.name),
        n,
        &tags,
        more,
    ))
}

/// `GET /v2/_catalog`: the repositories of the registry (private or public).
pub async fn catalog(state: &AppState, ns: Namespace, query: &HashMap<String, String>) -> Result<Response, OciError> {
    let (n, last) = page(query)?;
    let account = &state.config.account_id;
    let mut names = match ns {
        Namespace::Private => state.meta.repository_names(account, last.as_deref(), n + 1).await?,
        Namespace::Public => {
            state
                .meta
                .public_repository_names(account, last.as_deref(), n + 1)
                .await?
        }
    };
    let more = names.len() > n;
    names.truncate(n);
    let body = Json(serde_json::json!({ "repositories": names })).into_response();
    Ok(with_next(body, "/v2/_catalog", n, &names, more))
}

/// `GET /v2/<name>/referrers/<digest>`: an OCI index of the manifests whose
/// subject is `digest`, filtered by `artifactType` when asked.
pub async fn get_referrers(ctx: Ctx, subject: Digest) -> Result<Response, OciError> {
    let filter = ctx.query("artifactType").map(str::to_string);
    let referrers = ctx
        .state
        .meta
        .referrers(ctx.repo.id, &subject, filter.as_deref())
        .await?;
    let manifests: Vec<serde_json::Value> = referrers
        .into_iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest.to_string(),
                "size": r.size,
            });
            if let Some(t) = r.artifact_type {
                d["artifactType"] = t.into();
            }
            if let Some(a) = r
                .annotations
                .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": stowage_core::manifest::OCI_INDEX,
        "manifests": manifests,
    });
    let mut resp = Json(index).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        stowage_core::manifest::OCI_INDEX.parse().expect("valid header"),
    );
    if filter.is_some() {
        resp.headers_mut()
            .insert("oci-filters-applied", "artifactType".parse().expect("valid header"));
    }
    Ok(resp)
}
