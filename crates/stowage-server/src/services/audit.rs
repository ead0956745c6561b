//! The audit trail's write side. Every authorization decision is noted in the
//! request's scope (set up by `ops::observe`); when the request ends, its
//! mutating actions and its denials become entries on a bounded queue that a
//! background writer drains into the database in batches. A full queue drops
//! the entry and counts it: auditing never blocks or fails a request.

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stowage_meta::{AuditEntry, AuditResult};
use tokio::sync::{mpsc, watch};

use crate::AppState;
use crate::auth::{Principal, Resource};

/// Entries waiting for the writer before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Most entries written in one transaction.
pub const BATCH: usize = 500;
/// Longest an entry waits for its batch to fill.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Longest text kept of any field (resource ARNs come from request bodies).
const MAX_FIELD: usize = 2048;

/// The queue between requests and the writer.
pub struct AuditQueue {
    tx: mpsc::Sender<AuditEntry>,
    rx: Mutex<Option<mpsc::Receiver<AuditEntry>>>,
}

impl Default for AuditQueue {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        AuditQueue {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

/// Queues an entry for the writer; when the queue is full it is dropped and counted.
pub fn record(state: &AppState, entry: AuditEntry) {
    if state.audit.tx.try_send(entry).is_err() {
        state.metrics.audit_dropped.inc();
        let dropped = state.metrics.audit_dropped.get();
        // Once, then every thousandth: an overloaded writer should not also flood the log.
        if dropped == 1 || dropped.is_multiple_of(1000) {
            tracing::warn!(audit.dropped = dropped, "audit queue full: entries dropped");
        }
    }
}

/// One authorization decision of a request.
#[derive(Clone, Debug)]
pub struct Decision {
    pub principal: String,
    pub account: String,
    pub action: String,
    pub resource: String,
    pub allowed: bool,
}

/// The decisions of the request in flight.
type Decisions = Arc<Mutex<Vec<Decision>>>;

tokio::task_local! {
    static CURRENT: Decisions;
}

/// Notes an authorization decision in the current request's audit scope
/// (`services::authz` calls this for every decision; outside a request it does nothing).
pub fn authorized(principal: &Principal, action: &str, resource: &Resource<'_>, allowed: bool) {
    let _ = CURRENT.try_with(|decisions| {
        let decision = Decision {
            principal: principal.arn().to_string(),
            account: resource.account_id.to_string(),
            action: action.to_string(),
            resource: resource.arn.to_string(),
            allowed,
        };
        decisions.lock().unwrap_or_else(|e| e.into_inner()).push(decision);
    });
}

/// Runs a request with an audit scope; returns its output and its decisions.
pub async fn scope<F: Future>(request: F) -> (F::Output, Vec<Decision>) {
    let decisions = Decisions::default();
    let out = CURRENT.scope(decisions.clone(), request).await;
    let decisions = std::mem::take(&mut *decisions.lock().unwrap_or_else(|e| e.into_inner()));
    (out, decisions)
}

/// What the request log knows about a finished request.
pub struct Finished<'a> {
    /// The endpoint or operation, e.g. `PutManifest`.
    pub operation: &'a str,
    pub status: u16,
    pub error_code: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
    /// Set when no decision was made: the action the request asked for, if
    /// it can be told (`/v2/` endpoints, `X-Amz-Target`), with its resource.
    pub attempted: Option<(String, String)>,
    /// The request carried credentials (an `Authorization` header).
    pub had_credentials: bool,
}

/// Queues the entries of a finished request: each denial, each allowed
/// mutating action, and a refused authentication of a mutating request or of
/// one that carried credentials.
pub fn finish(state: &AppState, request: Finished<'_>, decisions: Vec<Decision>) {
    let at = stowage_meta::now_ms();
    let entry = |principal: &str, account: &str, action: &str, resource: &str, result| AuditEntry {
        at,
        principal_arn: clip(principal),
        account_id: clip(account),
        action: clip(action),
        operation: clip(request.operation),
        resource_arn: clip(resource),
        source_ip: request.source_ip.map(|ip| ip.to_string()),
        result,
        status: request.status,
        error_code: request.error_code.map(clip),
    };
    if decisions.is_empty() {
        let refused = matches!(request.status, 401 | 403);
        if let Some((action, resource)) = &request.attempted
            && refused
            && (request.had_credentials || is_mutating(action))
        {
            let account = account_of(resource).unwrap_or(&state.config.account_id);
            record(
                state,
                entry("anonymous", account, action, resource, AuditResult::Denied),
            );
        }
        return;
    }
    let mut seen: Vec<(&str, &str, bool)> = Vec::new();
    for d in &decisions {
        if d.allowed && !is_mutating(&d.action) {
            continue;
        }
        let key = (d.action.as_str(), d.resource.as_str(), d.allowed);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let result = if d.allowed {
            AuditResult::Allowed
        } else {
            AuditResult::Denied
        };
        record(state, entry(&d.principal, &d.account, &d.action, &d.resource, result));
    }
}

/// Whether an action changes something: anything but reads (`Describe*`,
/// `List*`, `Get*`, `BatchGet*`, `BatchCheck*`).
pub fn is_mutating(action: &str) -> bool {
    let op = action.split_once(':').map_or(action, |(_, op)| op);
    !["Describe", "List", "Get", "BatchGet", "BatchCheck"]
        .iter()
        .any(|read| op.starts_with(read))
}

/// The account of an ARN (`arn:aws:ecr:<region>:<account>:…`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The background writer: batches entries (up to [`BATCH`], or whatever
/// arrived within [`FLUSH_EVERY`] of the first) into one transaction each;
/// when told to stop, writes what is queued and returns.
pub async fn write_until_stopped(state: AppState, mut stopped: watch::Receiver<bool>) {
    let Some(mut rx) = state.audit.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return; // another writer has the queue
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => if n == 0 { break },
            _ = stopped.changed() => break,
        }
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        flush(&state, &mut batch).await;
    }
    while let Ok(entry) = rx.try_recv() {
        batch.push(entry);
        if batch.len() == BATCH {
            flush(&state, &mut batch).await;
        }
    }
    flush(&state, &mut batch).await;
}

/// Writes a batch, retrying a failing database a few times before dropping it.
async fn flush(state: &AppState, batch: &mut Vec<AuditEntry>) {
    if batch.is_empty() {
        return;
    }
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=3 {
        match state.meta.insert_audit(batch).await {
            Ok(()) => {
                state.metrics.audit_written.inc_by(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, audit.entries = batch.len(), "writing audit entries failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
            Err(e) => tracing::error!(error = %e, audit.entries = batch.len(), "writing audit entries failed; dropped"),
        }
    }
    state.metrics.audit_dropped.inc_by(batch.len() as u64);
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_mutating() {
        for read in [
            "ecr:DescribeImages",
            "ecr:ListImages",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetAuthorizationToken",
            "sts:GetCallerIdentity",
            "iam:ListUsers",
        ] {
            assert!(!is_mutating(read), "{read}");
        }
        for write in [
            "ecr:PutImage",
            "ecr:InitiateLayerUpload",
            "ecr:BatchDeleteImage",
            "ecr:CreateRepository",
            "ecr:SetRepositoryPolicy",
            "iam:CreateAccessKey",
            "sts:AssumeRole",
            "ecr-public:PutImage",
        ] {
            assert!(is_mutating(write), "{write}");
        }
    }

    #[test]
    fn fields_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(MAX_FIELD);
        let c = clip(&long);
        assert!(c.len() <= MAX_FIELD && long.starts_with(&c));
        assert_eq!(
            account_of("arn:aws:ecr:us-east-1:123456789012:repository/a"),
            Some("123456789012")
        );
        assert_eq!(account_of("*"), None);
    }
}
