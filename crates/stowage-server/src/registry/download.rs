//! `GET /_blobs/<name>/<digest>?exp=…&sig=…`: the signed download URLs that
//! `GetDownloadUrlForLayer` hands out, valid without other credentials.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use stowage_core::{OciErrorCode, RepositoryName};

use super::{Ctx, OciError, blobs, parse_digest};
use crate::AppState;
use crate::auth::Principal;
use crate::ops::RequestInfo;
use crate::services::downloads;

/// Serves a blob named by a valid, unexpired signed URL.
pub async fn signed_download(State(state): State<AppState>, req: Request) -> Response {
    let mut resp = serve(state, req).await.unwrap_or_else(IntoResponse::into_response);
    resp.extensions_mut().insert(RequestInfo {
        endpoint: "SignedDownload",
        repository: None,
    });
    resp
}

async fn serve(state: AppState, req: Request) -> Result<Response, OciError> {
    let denied = || OciError::new(OciErrorCode::Denied, "the download URL is invalid or has expired");
    let path = req.uri().path().strip_prefix("/_blobs/").ok_or_else(denied)?;
    let (name, digest) = path.rsplit_once('/').ok_or_else(denied)?;
    let name: RepositoryName = name.parse().map_err(|e| OciError::name_invalid(&format!("{e}")))?;
    let digest = parse_digest(digest)?;
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let exp = query
        .get("exp")
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or_else(denied)?;
    let sig = query.get("sig").ok_or_else(denied)?;
    if !downloads::verify(&state, name.as_str(), &digest, exp, sig).await? {
        return Err(denied());
    }
    let account = state.config.account_id.clone();
    let repo = state
        .meta
        .repository(&account, name.as_str())
        .await?
        .ok_or_else(|| OciError::name_unknown(name.as_str(), &account))?;
    let ctx = Ctx {
        state,
        principal: Principal::Anonymous,
        facts: Default::default(),
        namespace: crate::services::repositories::Namespace::Private,
        repo,
        query,
        headers: req.headers().clone(),
    };
    blobs::get_blob(ctx, &digest.to_string(), false).await
}
