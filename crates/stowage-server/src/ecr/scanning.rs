//! Scanning operations: the repository and registry scanning configuration,
//! `StartImageScan`, `DescribeImageScanFindings` (basic `findings` or
//! `enhancedFindings`, by the scan's type), and the scan summary that
//! `DescribeImages` shows (spec §6).

use serde::Deserialize;
use serde_json::{Value, json};
use stowage_core::Digest;
use stowage_meta::{Repository, ScanRecord, scan_status};
use stowage_scan::catalog::PackageKind;

use super::images::{ImageId, image_not_found, resolve};
use super::paging::Page;
use super::{ApiCtx, EcrError, parse, repository_name, timestamp};
use crate::auth;
use crate::services::scans::config::{self, PutError, RegistryScanning};
use crate::services::scans::matching::StoredFinding;
use crate::services::scans::{self, StartError, image};

/// Most names `BatchGetRepositoryScanningConfiguration` takes [model].
const MAX_BATCH_NAMES: usize = 25;

/// The validated repository of a request.
async fn repository(ctx: &ApiCtx, name: &str) -> Result<Repository, EcrError> {
    repository_name(name)?;
    ctx.repository(name).await
}

/// The image an `imageId` names, or the matching exception.
async fn image_digest(ctx: &ApiCtx, repo: &Repository, id: &ImageId) -> Result<Digest, EcrError> {
    match resolve(ctx, repo, id).await? {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(image_not_found(id, repo, &ctx.account)),
        Err(f) => Err(EcrError::invalid_parameter(
            f["failureReason"].as_str().unwrap_or("invalid imageId").to_string(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageScanningConfiguration {
    #[serde(default)]
    scan_on_push: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageScanningRequest {
    repository_name: String,
    image_scanning_configuration: ImageScanningConfiguration,
}

/// `PutImageScanningConfiguration`: the repository's legacy `scanOnPush` flag.
pub async fn put_image_scanning_configuration(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutImageScanningRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let on = req.image_scanning_configuration.scan_on_push;
    ctx.state.meta.set_scan_on_push(repo.id, on).await?;
    ctx.state.repositories.invalidate(&ctx.account, &repo.name);
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageScanningConfiguration": { "scanOnPush": on },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRegistryScanningRequest {
    scan_type: Option<String>,
    #[serde(default)]
    rules: Vec<Value>,
}

/// `PutRegistryScanningConfiguration`: BASIC or ENHANCED, with rules.
pub async fn put_registry_scanning_configuration(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: PutRegistryScanningRequest = parse(input)?;
    let scan_type = match req.scan_type.as_deref() {
        None | Some("BASIC") => config::ScanType::Basic,
        Some("ENHANCED") => config::ScanType::Enhanced,
        Some(other) => {
            return Err(EcrError::invalid_parameter(format!(
                "Invalid parameter at 'scanType' failed to satisfy constraint: 'Member must satisfy enum value set: [BASIC, ENHANCED]' (got '{other}')"
            )));
        }
    };
    let rules = req
        .rules
        .into_iter()
        .map(|r| {
            serde_json::from_value(r).map_err(|e| {
                EcrError::invalid_parameter(format!(
                    "Invalid parameter at 'rules': {e} (scanFrequency must be one of [SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL])"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let configuration = RegistryScanning { scan_type, rules };
    config::put_registry(&ctx.state, &ctx.account, &configuration)
        .await
        .map_err(|e| match e {
            PutError::Invalid(e) => EcrError::invalid_parameter(e.to_string()),
            PutError::Meta(e) => e.into(),
        })?;
    Ok(json!({ "registryScanningConfiguration": configuration }))
}

/// `GetRegistryScanningConfiguration` (default: BASIC, no rules).
pub async fn get_registry_scanning_configuration(ctx: &ApiCtx, _input: Value) -> Result<Value, EcrError> {
    let configuration = config::registry(&ctx.state, &ctx.account).await?;
    Ok(json!({ "registryId": ctx.account, "scanningConfiguration": configuration }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchGetScanningRequest {
    repository_names: Vec<String>,
}

/// `BatchGetRepositoryScanningConfiguration`: each repository's frequency
/// and the filters that gave it.
pub async fn batch_get_repository_scanning_configuration(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: BatchGetScanningRequest = parse(input)?;
    if req.repository_names.is_empty() || req.repository_names.len() > MAX_BATCH_NAMES {
        return Err(EcrError::invalid_parameter(format!(
            "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length between 1 and {MAX_BATCH_NAMES}'"
        )));
    }
    let configuration = config::registry(&ctx.state, &ctx.account).await?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for name in &req.repository_names {
        repository_name(name)?;
        let Some(repo) =
            crate::services::repositories::lookup_in(&ctx.state, ctx.namespace, &ctx.account, name).await?
        else {
            failures.push(json!({
                "repositoryName": name,
                "failureCode": "REPOSITORY_NOT_FOUND",
                "failureReason": "REPOSITORY_NOT_FOUND",
            }));
            continue;
        };
        let effective = configuration.effective(&repo);
        found.push(json!({
            "repositoryArn": auth::repository_arn(&ctx.state.config.region, &repo.account_id, &repo.name),
            "repositoryName": repo.name,
            "scanOnPush": effective.frequency != config::Frequency::Manual,
            "scanFrequency": effective.frequency.as_str(),
            "appliedScanFilters": effective.applied_filters,
        }));
    }
    Ok(json!({ "scanningConfigurations": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartImageScanRequest {
    repository_name: String,
    image_id: ImageId,
}

/// `StartImageScan`: queues a scan; at most one per image per 24 hours.
pub async fn start_image_scan(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: StartImageScanRequest = parse(input)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let digest = image_digest(ctx, &repo, &req.image_id).await?;
    scans::start(&ctx.state, &repo, &digest).await.map_err(|e| match e {
        StartError::ImageNotFound => image_not_found(&req.image_id, &repo, &ctx.account),
        StartError::Unsupported(why) => EcrError::new("UnsupportedImageTypeException", why),
        StartError::LimitExceeded => EcrError::new("LimitExceededException", e.to_string()),
        StartError::Meta(e) => e.into(),
        StartError::Image(e) => EcrError::server(e),
    })?;
    let mut image_id = req.image_id.json();
    image_id["imageDigest"] = digest.to_string().into();
    Ok(json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageId": image_id,
        "imageScanStatus": { "status": scan_status::IN_PROGRESS, "description": "The scan is in progress." },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeFindingsRequest {
    repository_name: String,
    image_id: ImageId,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// `DescribeImageScanFindings`: the scan's status and, once complete, a page
/// of its findings in the shape of its type.
pub async fn describe_image_scan_findings(ctx: &ApiCtx, input: Value) -> Result<Value, EcrError> {
    let req: DescribeFindingsRequest = parse(input)?;
    let page = Page::from_input(req.next_token.as_deref(), req.max_results)?;
    let repo = repository(ctx, &req.repository_name).await?;
    let digest = image_digest(ctx, &repo, &req.image_id).await?;
    let Some(record) = scans::record(&ctx.state, &repo, &digest).await? else {
        return Err(EcrError::new(
            "ScanNotFoundException",
            format!(
                "Image scan does not exist for the image with '{{imageDigest:'{digest}', imageTag:'{}'}}' in the repository with name '{}' in the registry with id '{}'",
                req.image_id.json()["imageTag"].as_str().unwrap_or("null"),
                repo.name,
                ctx.account
            ),
        ));
    };
    let mut image_id = req.image_id.json();
    image_id["imageDigest"] = digest.to_string().into();
    let mut out = json!({
        "registryId": ctx.account,
        "repositoryName": repo.name,
        "imageId": image_id,
        "imageScanStatus": status_json(&record),
    });
    if record.status != scan_status::COMPLETE {
        return Ok(out);
    }
    let all = scans::findings_of(&record);
    let chosen: Vec<&StoredFinding> = all.iter().skip(page.offset).take(page.limit).collect();
    let more = page.offset + chosen.len() < all.len();
    let mut findings = summary_json(&record);
    if record.scan_type == config::ScanType::Enhanced.as_str() {
        let layers = layer_digests(ctx, &repo, &digest).await;
        let tags = ctx.state.meta.images_by_digest(repo.id, &[digest]).await?;
        let context = EnhancedContext {
            ctx,
            repo: &repo,
            digest: &digest,
            layers: &layers,
            tags: tags.first().map(|i| i.tags.clone()).unwrap_or_default(),
            pushed_at: tags.first().map(|i| i.pushed_at),
        };
        findings["enhancedFindings"] = chosen.iter().map(|f| context.finding(f)).collect();
    } else {
        findings["findings"] = chosen.iter().map(|f| basic_finding(f)).collect();
    }
    out["imageScanFindings"] = findings;
    page.finish(&mut out, chosen.len(), more);
    Ok(out)
}

/// `imageScanStatus` of a scan.
fn status_json(record: &ScanRecord) -> Value {
    let description = record
        .description
        .clone()
        .unwrap_or_else(|| match record.status.as_str() {
            scan_status::IN_PROGRESS => "The scan is in progress.".to_string(),
            other => other.to_string(),
        });
    json!({ "status": record.status, "description": description })
}

/// `imageScanFindingsSummary` (and the head of `imageScanFindings`): when
/// the scan completed, the advisory data's age, and counts by severity.
fn summary_json(record: &ScanRecord) -> Value {
    let mut v = json!({});
    if let Some(at) = record.completed_at {
        v["imageScanCompletedAt"] = timestamp(at);
    }
    if let Some(at) = record.source_updated_at {
        v["vulnerabilitySourceUpdatedAt"] = timestamp(at);
    }
    let counts = record
        .counts
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .unwrap_or_else(|| json!({}));
    v["findingSeverityCounts"] = counts;
    v
}

/// Adds `imageScanStatus` and, once complete, `imageScanFindingsSummary` to
/// an `imageDetails` entry.
pub fn add_scan_summary(detail: &mut Value, record: &ScanRecord) {
    detail["imageScanStatus"] = status_json(record);
    if record.status == scan_status::COMPLETE {
        detail["imageScanFindingsSummary"] = summary_json(record);
    }
}

/// A basic finding: the vulnerability, its advisory and the package as attributes.
fn basic_finding(f: &StoredFinding) -> Value {
    let finding = &f.finding;
    let mut attributes = vec![
        json!({ "key": "package_name", "value": finding.package.display_name }),
        json!({ "key": "package_version", "value": finding.package.version }),
    ];
    if let (Some(score), Some(vector), Some(version)) = (
        finding.severity.score,
        &finding.severity.vector,
        &finding.severity.version,
    ) {
        let prefix = format!("CVSS{}", version.split('.').next().unwrap_or("3"));
        attributes.push(json!({ "key": format!("{prefix}_SCORE"), "value": format!("{score:.1}") }));
        attributes.push(json!({ "key": format!("{prefix}_VECTOR"), "value": vector }));
    }
    let mut v = json!({
        "name": finding.vulnerability_id,
        "uri": finding.uri,
        "severity": finding.severity.level.as_str(),
        "attributes": attributes,
    });
    if let Some(d) = finding.description.as_ref().or(finding.summary.as_ref()) {
        v["description"] = d.clone().into();
    }
    v
}

/// The image's layer digests in manifest order (empty if it cannot be read).
async fn layer_digests(ctx: &ApiCtx, repo: &Repository, digest: &Digest) -> Vec<Digest> {
    match image::load_manifest(&ctx.state, repo, digest).await {
        Ok(Some(m)) => m.layers.iter().map(|l| l.digest).collect(),
        _ => Vec::new(),
    }
}

/// What an enhanced finding says about the image it is in.
struct EnhancedContext<'a> {
    ctx: &'a ApiCtx,
    repo: &'a Repository,
    digest: &'a Digest,
    layers: &'a [Digest],
    tags: Vec<String>,
    pushed_at: Option<i64>,
}

impl EnhancedContext<'_> {
    /// An `EnhancedImageScanFinding` in Amazon Inspector's shape.
    fn finding(&self, f: &StoredFinding) -> Value {
        let finding = &f.finding;
        let package = &finding.package;
        let region = &self.ctx.state.config.region;
        let account = &self.ctx.account;
        let id_hash = Digest::of(
            format!(
                "{}|{}|{}|{}|{}",
                self.digest, finding.advisory_id, package.name, package.version, package.path
            )
            .as_bytes(),
        );
        let (epoch, version, release) = split_version(package.kind, &package.version);
        let mut vulnerable = json!({
            "name": package.display_name,
            "version": version,
            "packageManager": package_manager(package.kind),
            "filePath": package.path,
        });
        if let Some(e) = epoch {
            vulnerable["epoch"] = e.into();
        }
        if let Some(r) = release {
            vulnerable["release"] = r.into();
        }
        if let Some(layer) = self.layers.get(package.layer) {
            vulnerable["sourceLayerHash"] = layer.to_string().into();
        }
        if let Some(fixed) = &finding.fixed_in {
            vulnerable["fixedInVersion"] = fixed.clone().into();
        }
        let mut details = json!({
            "vulnerabilityId": finding.vulnerability_id,
            "source": package.ecosystem.split(':').next().unwrap_or(&package.ecosystem),
            "sourceUrl": finding.uri,
            "referenceUrls": f.references,
            "relatedVulnerabilities": finding.aliases.iter().filter(|a| **a != finding.vulnerability_id)
                .chain(std::iter::once(&finding.advisory_id).filter(|a| **a != finding.vulnerability_id))
                .collect::<Vec<_>>(),
            "vulnerablePackages": [vulnerable],
        });
        if let Some(at) = f.published.as_deref().and_then(rfc3339_ms) {
            details["vendorCreatedAt"] = timestamp(at);
        }
        if let Some(at) = f.modified.as_deref().and_then(rfc3339_ms) {
            details["vendorUpdatedAt"] = timestamp(at);
        }
        if finding.severity.source == Some(stowage_scan::osv::SeveritySource::Vendor) {
            details["vendorSeverity"] = finding.severity.level.as_str().into();
        }
        let mut v = json!({
            "awsAccountId": account,
            "findingArn": format!("arn:aws:inspector2:{region}:{account}:finding/{}", &id_hash.hex()[..32]),
            "title": format!("{} - {}", finding.vulnerability_id, package.display_name),
            "type": "PACKAGE_VULNERABILITY",
            "severity": finding.severity.level.as_str(),
            "status": "ACTIVE",
            "firstObservedAt": timestamp(f.first_observed_at),
            "lastObservedAt": timestamp(f.last_observed_at),
            "updatedAt": timestamp(f.updated_at),
            "fixAvailable": if finding.fix_available { "YES" } else { "NO" },
            "remediation": { "recommendation": { "text": match &finding.fixed_in {
                Some(v) => format!("Upgrade {} to {v} or later.", package.display_name),
                None => "None Provided".to_string(),
            }, "url": finding.uri } },
            "resources": [{
                "id": format!("arn:aws:ecr:{region}:{account}:repository/{}/{}", self.repo.name, self.digest),
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "details": { "awsEcrContainerImage": {
                    "registry": account,
                    "repositoryName": self.repo.name,
                    "imageHash": self.digest.to_string(),
                    "imageTags": self.tags,
                    "pushedAt": self.pushed_at.map(timestamp),
                } },
            }],
        });
        if let Some(d) = finding.description.as_ref().or(finding.summary.as_ref()) {
            v["description"] = d.clone().into();
        }
        if let (Some(score), Some(vector), Some(version)) = (
            finding.severity.score,
            &finding.severity.vector,
            &finding.severity.version,
        ) {
            v["score"] = score.into();
            v["scoreDetails"] = json!({ "cvss": {
                "score": score, "scoreSource": details["source"], "scoringVector": vector,
                "version": version, "adjustments": [],
            } });
            details["cvss"] = json!([{ "baseScore": score, "scoringVector": vector, "source": details["source"], "version": version }]);
        }
        v["packageVulnerabilityDetails"] = details;
        v
    }
}

/// Inspector's `packageManager` for a package kind.
fn package_manager(kind: PackageKind) -> String {
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match name.as_str() {
        "deb" | "apk" | "rpm" => "OS".to_string(),
        "python" => "PYTHONPKG".to_string(),
        "npm" => "NODEPKG".to_string(),
        "maven" => "JAR".to_string(),
        "go" | "golang" => "GOBINARY".to_string(),
        "cargo" | "rust" => "CARGO".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

/// An OS package's version as Inspector splits it: epoch, version, release.
fn split_version(kind: PackageKind, full: &str) -> (Option<i64>, String, Option<String>) {
    if !matches!(package_manager(kind).as_str(), "OS") {
        return (None, full.to_string(), None);
    }
    let (epoch, rest) = match full.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => (e.parse().ok(), rest),
        _ => (None, full),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) if !v.is_empty() && !r.is_empty() => (epoch, v.to_string(), Some(r.to_string())),
        _ => (epoch, rest.to_string(), None),
    }
}

/// Epoch milliseconds of an RFC 3339 time.
fn rfc3339_ms(s: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(s.trim())
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_versions_split_like_inspector() {
        assert_eq!(
            split_version(PackageKind::Deb, "1:2.36-9+deb12u4"),
            (Some(1), "2.36".to_string(), Some("9+deb12u4".to_string()))
        );
        assert_eq!(
            split_version(PackageKind::Apk, "3.1.4-r5"),
            (None, "3.1.4".to_string(), Some("r5".to_string()))
        );
        assert_eq!(
            split_version(PackageKind::Python, "1.2-3"),
            (None, "1.2-3".to_string(), None)
        );
    }
}
