//! Operations: liveness, readiness, Prometheus metrics, and the per-request
//! log line and measurements.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

/// What a handler tells the request log about the request it served.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// Operation name, e.g. `PutManifest`.
    pub endpoint: &'static str,
    pub repository: Option<String>,
}

/// The wire error code of an error response (`DENIED`, `RepositoryNotFoundException`, …),
/// set by the error types for the request log and the audit trail.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointStatus {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

/// Labels of a background job's metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub job: String,
}

/// The server's metrics, in a registry of its own.
pub struct Metrics {
    registry: Registry,
    requests: Family<EndpointStatus, Counter>,
    latency: Family<EndpointLabel, Histogram>,
    /// Blob bytes accepted from clients.
    pub bytes_received: Counter,
    /// Blob and manifest bytes sent to clients.
    pub bytes_sent: Counter,
    uploads_in_progress: Gauge,
    /// Garbage collection: blobs deleted.
    pub gc_blobs_freed: Counter,
    /// Garbage collection: bytes of deleted blobs.
    pub gc_bytes_freed: Counter,
    /// Garbage collection: idle uploads removed.
    pub gc_uploads_removed: Counter,
    /// Garbage collection: passes completed.
    pub gc_passes: Counter,
    /// Background jobs this node ran (having taken the job's lease), by job.
    pub job_runs: Family<JobLabel, Counter>,
    /// Lifecycle policies: images expired.
    pub lifecycle_images_expired: Counter,
    /// Audit entries written to the database.
    pub audit_written: Counter,
    /// Audit entries dropped (queue full or database failing).
    pub audit_dropped: Counter,
}

impl Metrics {
    /// A fresh set of metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("stowage");
        let requests = Family::<EndpointStatus, Counter>::default();
        let latency = Family::<EndpointLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let bytes_received = Counter::default();
        let bytes_sent = Counter::default();
        let uploads_in_progress = Gauge::default();
        registry.register(
            "http_requests",
            "Requests served, by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by endpoint",
            latency.clone(),
        );
        registry.register("bytes_received", "Blob bytes received", bytes_received.clone());
        registry.register("bytes_sent", "Blob and manifest bytes sent", bytes_sent.clone());
        registry.register(
            "uploads_in_progress",
            "Open blob upload sessions",
            uploads_in_progress.clone(),
        );
        let gc_blobs_freed = Counter::default();
        let gc_bytes_freed = Counter::default();
        let gc_uploads_removed = Counter::default();
        let gc_passes = Counter::default();
        let job_runs = Family::<JobLabel, Counter>::default();
        let lifecycle_images_expired = Counter::default();
        registry.register(
            "gc_blobs_freed",
            "Blobs deleted by garbage collection",
            gc_blobs_freed.clone(),
        );
        registry.register(
            "gc_bytes_freed",
            "Bytes freed by garbage collection",
            gc_bytes_freed.clone(),
        );
        registry.register(
            "gc_uploads_removed",
            "Idle uploads removed by garbage collection",
            gc_uploads_removed.clone(),
        );
        registry.register("gc_passes", "Garbage-collection passes completed", gc_passes.clone());
        registry.register(
            "job_runs",
            "Background job runs on this node (lease taken), by job",
            job_runs.clone(),
        );
        registry.register(
            "lifecycle_images_expired",
            "Images expired by lifecycle policies",
            lifecycle_images_expired.clone(),
        );
        let audit_written = Counter::default();
        let audit_dropped = Counter::default();
        registry.register("audit_entries_written", "Audit entries written", audit_written.clone());
        registry.register(
            "audit_entries_dropped",
            "Audit entries dropped because the queue was full or the database failed",
            audit_dropped.clone(),
        );
        Metrics {
            audit_written,
            audit_dropped,
            gc_blobs_freed,
            gc_bytes_freed,
            gc_uploads_removed,
            gc_passes,
            job_runs,
            lifecycle_images_expired,
            registry,
            requests,
            latency,
            bytes_received,
            bytes_sent,
            uploads_in_progress,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: one log line and the request metrics for every request.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let source_ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let had_credentials = req.headers().contains_key(header::AUTHORIZATION);
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (resp, decisions) = crate::services::audit::scope(next.run(req)).await;
    let elapsed = start.elapsed();
    let info = resp.extensions().get::<RequestInfo>().cloned();
    let error_code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    let endpoint = info.as_ref().map_or_else(|| path_label(&path), |i| i.endpoint);
    let status = resp.status().as_u16();
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| HttpBody::size_hint(resp.body()).exact())
        .unwrap_or(0);
    state
        .metrics
        .requests
        .get_or_create(&EndpointStatus {
            endpoint: endpoint.to_string(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&EndpointLabel {
            endpoint: endpoint.to_string(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        http.method = %method,
        endpoint,
        repo.name = info.as_ref().and_then(|i| i.repository.as_deref()).unwrap_or("-"),
        http.status = status,
        size_bytes = bytes,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request served"
    );
    let attempted = if decisions.is_empty() && matches!(status, 401 | 403) {
        attempted_action(&state, &method, &path, target.as_deref())
    } else {
        None
    };
    let finished = crate::services::audit::Finished {
        operation: endpoint,
        status,
        error_code,
        source_ip,
        attempted,
        had_credentials,
    };
    crate::services::audit::finish(&state, finished, decisions);
    resp
}

/// For a request refused before authorization: the action and resource it
/// asked for, when the path or `X-Amz-Target` tells.
fn attempted_action(
    state: &AppState,
    method: &http::Method,
    path: &str,
    target: Option<&str>,
) -> Option<(String, String)> {
    let (region, account) = (&state.config.region, &state.config.account_id);
    if let Some(rest) = path.strip_prefix("/v2") {
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let endpoint = crate::registry::Endpoint::parse(method, rest).ok()?;
        let name = endpoint.repository().map_or("*", |r| r.as_str());
        let arn = crate::auth::repository_arn(region, account, name);
        return Some((endpoint.action().as_str().to_string(), arn));
    }
    let (prefix, op) = target?.split_once('.')?;
    let service = match prefix {
        "AmazonEC2ContainerRegistry_V20150921" => "ecr",
        "SpencerFrontendService" => "ecr-public",
        "TrentService" => "kms",
        _ => return None,
    };
    Some((format!("{service}:{op}"), "*".to_string()))
}

fn path_label(path: &str) -> &'static str {
    match path {
        "/healthz" => "Healthz",
        "/readyz" => "Readyz",
        "/metrics" => "Metrics",
        _ => "Other",
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for each of metadata and blob storage.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// `work`'s outcome, or an error naming the wait when it takes longer.
async fn bounded<T, E: std::fmt::Display>(
    limit: std::time::Duration,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, work).await {
        Ok(outcome) => outcome.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

/// `GET /readyz`: metadata and blob storage both answer.
pub async fn readyz(State(state): State<AppState>) -> Response {
    // A store that does not answer in time is as unready as one that fails:
    // a load balancer must not wait on a node whose database is gone.
    let (meta, store) = tokio::join!(
        bounded(READY_WITHIN, state.meta.ping()),
        bounded(READY_WITHIN, state.store.check())
    );
    match (meta, store) {
        (Ok(()), Ok(())) => "ready\n".into_response(),
        (meta, store) => {
            let mut why = String::new();
            if let Err(e) = meta {
                why.push_str(&format!("metadata: {e}\n"));
            }
            if let Err(e) = store {
                why.push_str(&format!("storage: {e}\n"));
            }
            tracing::warn!(reason = %why.trim(), "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(n) = state.meta.open_uploads().await {
        state.metrics.uploads_in_progress.set(n);
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &state.metrics.registry) {
        tracing::error!(error = %e, "metrics encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
