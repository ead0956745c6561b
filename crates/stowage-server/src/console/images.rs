//! Console: a repository's page (its images with scan status and severity
//! counts, sortable and paged; the push commands) and an image's page
//! (manifest, layers, an index's platforms, referrers, findings filterable by
//! severity).

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::Digest;

use super::views::{self, Choice, FindingRow, ImagePage, ImageRow, LayerRow, LinkedRow, RepositoryPage};
use super::{Ctx, render};
use crate::AppState;
use crate::ecr::EcrError;
use crate::ecr::operation::Operation;

/// Images per page.
const PAGE: usize = 50;
/// Severities, most severe first.
const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];
/// The sort orders of a repository's images: (key, label).
const SORTS: [(&str, &str); 4] = [
    ("newest", "Newest"),
    ("oldest", "Oldest"),
    ("largest", "Largest"),
    ("findings", "Most findings"),
];

#[derive(Deserialize)]
pub struct RepositoryQuery {
    name: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: Option<usize>,
}

/// Every image of a repository through DescribeImages.
async fn all_images(ctx: &Ctx, name: &str) -> Result<Vec<Value>, EcrError> {
    let pages = ctx
        .call_pages(
            Operation::DescribeImages,
            json!({ "repositoryName": name, "maxResults": 1000 }),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p["imageDetails"].as_array().cloned().unwrap_or_default())
        .collect())
}

/// Weighted findings count, for sorting by findings (critical first).
fn findings_weight(image: &Value) -> u64 {
    let counts = &image["imageScanFindingsSummary"]["findingSeverityCounts"];
    SEVERITIES
        .iter()
        .enumerate()
        .map(|(i, s)| counts[*s].as_u64().unwrap_or(0) * 1000u64.pow((SEVERITIES.len() - 1 - i) as u32))
        .sum()
}

fn secs_to_ms(v: &Value) -> Option<i64> {
    v.as_f64().map(|s| (s * 1000.0) as i64)
}

fn image_row(repo: &str, image: &Value) -> ImageRow {
    let digest = image["imageDigest"].as_str().unwrap_or_default();
    let tags: Vec<&str> = image["imageTags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let counts = &image["imageScanFindingsSummary"]["findingSeverityCounts"];
    ImageRow {
        tags: if tags.is_empty() {
            "<untagged>".into()
        } else {
            tags.join(", ")
        },
        short_digest: views::short_digest(digest),
        href: format!(
            "/console/image?repository={}&digest={}",
            views::q(repo),
            views::q(digest)
        ),
        size: views::bytes(image["imageSizeInBytes"].as_u64().unwrap_or(0)),
        pushed: secs_to_ms(&image["imagePushedAt"]).map_or_else(String::new, views::time),
        last_pulled: secs_to_ms(&image["lastRecordedPullTime"]).map_or_else(|| "—".into(), views::time),
        scan_status: image["imageScanStatus"]["status"].as_str().unwrap_or("—").to_string(),
        counts: SEVERITIES
            .iter()
            .filter_map(|s| counts[*s].as_u64().filter(|n| *n > 0).map(|n| (s.to_string(), n)))
            .collect(),
    }
}

/// `GET /console/repository?name=&sort=&page=`.
pub async fn repository(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let Ok(Query(q)) = Query::<RepositoryQuery>::try_from_uri(req.uri()) else {
        return (StatusCode::BAD_REQUEST, "name is required").into_response();
    };
    let described = match ctx
        .call(Operation::DescribeRepositories, json!({ "repositoryNames": [q.name] }))
        .await
    {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let repo = &described["repositories"][0];
    let mut images = match all_images(&ctx, &q.name).await {
        Ok(i) => i,
        Err(e) => return ctx.error(&e),
    };
    let sort = if SORTS.iter().any(|(k, _)| *k == q.sort) {
        q.sort.as_str()
    } else {
        "newest"
    };
    let pushed = |i: &Value| i["imagePushedAt"].as_f64().unwrap_or(0.0);
    match sort {
        "oldest" => images.sort_by(|a, b| pushed(a).total_cmp(&pushed(b))),
        "largest" => images.sort_by_key(|i| std::cmp::Reverse(i["imageSizeInBytes"].as_u64().unwrap_or(0))),
        "findings" => images.sort_by_key(|i| std::cmp::Reverse(findings_weight(i))),
        _ => images.sort_by(|a, b| pushed(b).total_cmp(&pushed(a))),
    }
    let pages = images.len().div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let href = |sort: &str, p: usize| format!("/console/repository?name={}&sort={sort}&page={p}", views::q(&q.name));
    let uri = repo["repositoryUri"].as_str().unwrap_or_default().to_string();
    let host = uri.split('/').next().unwrap_or_default().to_string();
    let config = &ctx.state.config;
    let view = RepositoryPage {
        layout: Some(ctx.layout()),
        short_name: q.name.rsplit('/').next().unwrap_or(&q.name).to_string(),
        login_command: format!(
            "aws ecr get-login-password --region {} --endpoint-url {} | docker login --username AWS --password-stdin {host}",
            config.region, config.public_url
        ),
        sorts: SORTS
            .iter()
            .map(|(key, label)| Choice {
                label: label.to_string(),
                href: href(key, 1),
                current: *key == sort,
            })
            .collect(),
        images: images
            .iter()
            .skip((page - 1) * PAGE)
            .take(PAGE)
            .map(|i| image_row(&q.name, i))
            .collect(),
        page,
        prev_href: (page > 1).then(|| href(sort, page - 1)),
        next_href: (page < pages).then(|| href(sort, page + 1)),
        can_delete: ctx.may(Operation::DeleteRepository, &q.name).await,
        delete_href: format!("/console/repository/delete?name={}", views::q(&q.name)),
        lifecycle_href: format!("/console/lifecycle?name={}", views::q(&q.name)),
        permissions_href: format!("/console/permissions?name={}", views::q(&q.name)),
        name: q.name,
        uri,
    };
    render(&view)
}

#[derive(Deserialize)]
pub struct ImageQuery {
    repository: String,
    digest: String,
    #[serde(default)]
    severity: String,
}

/// Every finding of an image's scan (basic or enhanced), or the scan's status alone.
async fn findings(ctx: &Ctx, repo: &str, digest: &str) -> Result<(String, Vec<FindingRow>), EcrError> {
    let input = json!({ "repositoryName": repo, "imageId": { "imageDigest": digest }, "maxResults": 1000 });
    let pages = match ctx.call_pages(Operation::DescribeImageScanFindings, input).await {
        Ok(p) => p,
        Err(e) if e.kind == "ScanNotFoundException" => return Ok(("not scanned".into(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut rows = Vec::new();
    for page in &pages {
        let found = &page["imageScanFindings"];
        for f in found["findings"].as_array().into_iter().flatten() {
            let attr = |key: &str| {
                f["attributes"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["key"] == key))
                    .and_then(|x| x["value"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            rows.push(FindingRow {
                name: f["name"].as_str().unwrap_or_default().into(),
                uri: views::safe_url(f["uri"].as_str().unwrap_or_default()),
                severity: f["severity"].as_str().unwrap_or("UNDEFINED").into(),
                package: attr("package_name"),
                version: attr("package_version"),
                fixed_in: String::new(),
                description: f["description"].as_str().unwrap_or_default().into(),
            });
        }
        for f in found["enhancedFindings"].as_array().into_iter().flatten() {
            let details = &f["packageVulnerabilityDetails"];
            let package = &details["vulnerablePackages"][0];
            rows.push(FindingRow {
                name: details["vulnerabilityId"].as_str().unwrap_or_default().into(),
                uri: views::safe_url(details["sourceUrl"].as_str().unwrap_or_default()),
                severity: f["severity"].as_str().unwrap_or("UNDEFINED").into(),
                package: package["name"].as_str().unwrap_or_default().into(),
                version: package["version"].as_str().unwrap_or_default().into(),
                fixed_in: package["fixedInVersion"].as_str().unwrap_or_default().into(),
                description: f["description"].as_str().unwrap_or_default().into(),
            });
        }
    }
    let status = pages
        .last()
        .and_then(|p| p["imageScanStatus"]["status"].as_str())
        .unwrap_or("—");
    Ok((status.to_string(), rows))
}

/// `GET /console/image?repository=&digest=&severity=`.
pub async fn image(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, req) = match Ctx::from_request(&state, req).await {
        Ok(found) => found,
        Err(redirect) => return redirect,
    };
    let Ok(Query(q)) = Query::<ImageQuery>::try_from_uri(req.uri()) else {
        return (StatusCode::BAD_REQUEST, "repository and digest are required").into_response();
    };
    // DescribeImages authorizes the page (and names a missing image).
    let described = match ctx
        .call(
            Operation::DescribeImages,
            json!({ "repositoryName": q.repository, "imageIds": [{ "imageDigest": q.digest }] }),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let detail = &described["imageDetails"][0];
    let (scan_status, mut findings) = match findings(&ctx, &q.repository, &q.digest).await {
        Ok(f) => f,
        Err(e) => return ctx.error(&e),
    };
    let severity = if SEVERITIES.contains(&q.severity.as_str()) {
        q.severity.clone()
    } else {
        String::new()
    };
    let base = format!(
        "/console/image?repository={}&digest={}",
        views::q(&q.repository),
        views::q(&q.digest)
    );
    let mut severities = vec![Choice {
        label: format!("All ({})", findings.len()),
        href: base.clone(),
        current: severity.is_empty(),
    }];
    for s in SEVERITIES {
        let n = findings.iter().filter(|f| f.severity == s).count();
        if n > 0 {
            severities.push(Choice {
                label: format!("{s} ({n})"),
                href: format!("{base}&severity={s}"),
                current: severity == s,
            });
        }
    }
    if !severity.is_empty() {
        findings.retain(|f| f.severity == severity);
    }
    let manifest = manifest_parts(&ctx, &q.repository, &q.digest).await;
    let tags: Vec<&str> = detail["imageTags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let view = ImagePage {
        layout: Some(ctx.layout()),
        repository_href: format!("/console/repository?name={}", views::q(&q.repository)),
        short_digest: views::short_digest(&q.digest),
        tags: tags.join(", "),
        media_type: detail["imageManifestMediaType"].as_str().unwrap_or_default().into(),
        artifact_type: detail["artifactMediaType"].as_str().map(str::to_string),
        size: views::bytes(detail["imageSizeInBytes"].as_u64().unwrap_or(0)),
        pushed: secs_to_ms(&detail["imagePushedAt"]).map_or_else(String::new, views::time),
        scan_status,
        layers: manifest.layers,
        platforms: manifest.platforms,
        referrers: manifest.referrers,
        severity,
        severities,
        findings,
        manifest: manifest.pretty,
        repository: q.repository,
        digest: q.digest,
    };
    render(&view)
}

/// What the image page shows of the manifest itself.
#[derive(Default)]
struct ManifestParts {
    pretty: String,
    layers: Vec<LayerRow>,
    platforms: Vec<LinkedRow>,
    referrers: Vec<LinkedRow>,
}

/// The manifest body (opened without counting as a pull), its layers, an
/// index's platforms and the image's referrers.
async fn manifest_parts(ctx: &Ctx, repository: &str, digest: &str) -> ManifestParts {
    let account = &ctx.session.identity.account_id;
    let (Ok(Some(repo)), Ok(digest)) = (
        crate::services::repositories::lookup(&ctx.state, account, repository).await,
        digest.parse::<Digest>(),
    ) else {
        return ManifestParts::default();
    };
    let Ok(Some(stored)) = ctx.state.meta.manifest_by_digest(repo.id, &digest).await else {
        return ManifestParts::default();
    };
    let Ok(body) = crate::services::encryption::open_manifest(&ctx.state, &repo, &stored).await else {
        return ManifestParts::default();
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let link = |d: &str| {
        format!(
            "/console/image?repository={}&digest={}",
            views::q(repository),
            views::q(d)
        )
    };
    let layers = json["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| LayerRow {
            digest: l["digest"].as_str().unwrap_or_default().into(),
            media_type: l["mediaType"].as_str().unwrap_or_default().into(),
            size: views::bytes(l["size"].as_u64().unwrap_or(0)),
        })
        .collect();
    let platforms = json["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let p = &m["platform"];
            let d = m["digest"].as_str().unwrap_or_default();
            LinkedRow {
                platform: format!(
                    "{}/{}{}",
                    p["os"].as_str().unwrap_or("?"),
                    p["architecture"].as_str().unwrap_or("?"),
                    p["variant"].as_str().map(|v| format!("/{v}")).unwrap_or_default()
                ),
                href: link(d),
                digest: d.into(),
                size: views::bytes(m["size"].as_u64().unwrap_or(0)),
            }
        })
        .collect();
    let referrers = ctx
        .state
        .meta
        .referrers(repo.id, &digest, None)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| LinkedRow {
            platform: r.artifact_type.unwrap_or_else(|| r.media_type.clone()),
            href: link(&r.digest.to_string()),
            digest: r.digest.to_string(),
            size: views::bytes(r.size),
        })
        .collect();
    ManifestParts {
        pretty: serde_json::to_string_pretty(&json).unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned()),
        layers,
        platforms,
        referrers,
    }
}
