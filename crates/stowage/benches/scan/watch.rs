//! Watching the server while it scans: its `scan finished` log lines, its
//! memory (peak-RSS reset and `VmRSS` sampling), its `/metrics` counters, and
//! the ECR scan calls polled until a scan is done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::servers::Server;
use crate::stowage_only::Ecr;

/// One `scan finished` line of the server's log.
#[derive(Clone, Debug)]
pub struct ScanEvent {
    pub digest: String,
    /// `scan` or `rematch`.
    pub kind: String,
    pub elapsed_ms: u64,
}

/// The `scan finished` lines seen so far, collected from the server's log
/// on a thread of their own.
#[derive(Clone, Default)]
pub struct ScanLog(Arc<Mutex<Vec<ScanEvent>>>);

impl ScanLog {
    /// Starts collecting from `lines` (the server's JSON log lines).
    pub fn collect(lines: std::sync::mpsc::Receiver<Value>) -> ScanLog {
        let log = ScanLog::default();
        let events = log.0.clone();
        std::thread::spawn(move || {
            for v in lines {
                if v["message"].as_str() != Some("scan finished") {
                    continue;
                }
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                let event = ScanEvent {
                    digest: text("image.digest"),
                    kind: text("kind"),
                    elapsed_ms: v["elapsed_ms"].as_u64().unwrap_or_default(),
                };
                events.lock().expect("scan log lock").push(event);
            }
        });
        log
    }

    /// The `nth` (from 0) event of `kind` for `digest`, waiting up to 2 s for
    /// it (the line is logged just before the result is stored, so it is
    /// normally there already once the API shows the result).
    pub async fn wait(&self, digest: &str, kind: &str, nth: usize) -> Option<ScanEvent> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let found = self
                .0
                .lock()
                .expect("scan log lock")
                .iter()
                .filter(|e| e.digest == digest && e.kind == kind)
                .nth(nth)
                .cloned();
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<ScanEvent> {
        self.0.lock().expect("scan log lock").clone()
    }
}

/// The server's memory while something runs: resets the kernel's peak-RSS
/// mark (`echo 5 > /proc/PID/clear_refs`) and samples `VmRSS` every 10 ms.
pub struct MemoryWatch {
    pid: u32,
    before_kib: u64,
    hwm_reset: bool,
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

/// What a [`MemoryWatch`] saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// `VmRSS` when the watch started.
    pub before_kib: u64,
    /// Highest `VmRSS` sample.
    pub sampled_peak_kib: u64,
    /// `VmHWM` at the end, when it could be reset at the start.
    pub hwm_kib: Option<u64>,
}

impl Memory {
    /// The peak: the kernel's mark if it was reset, else the samples'.
    pub fn peak_kib(&self) -> u64 {
        self.hwm_kib.unwrap_or(0).max(self.sampled_peak_kib)
    }

    /// How far RSS rose above where it started.
    pub fn growth_kib(&self) -> u64 {
        self.peak_kib().saturating_sub(self.before_kib)
    }
}

impl MemoryWatch {
    pub fn start(server: &Server) -> anyhow::Result<MemoryWatch> {
        let pid = server.pid();
        let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let before_kib = server.rss_kib()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        Ok(MemoryWatch {
            pid,
            before_kib,
            hwm_reset,
            stop,
            sampler,
        })
    }

    pub fn finish(self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.sampler.join().unwrap_or(0);
        Memory {
            before_kib: self.before_kib,
            sampled_peak_kib: sampled.max(status_kib(self.pid, "VmRSS").unwrap_or(0)),
            hwm_kib: if self.hwm_reset {
                status_kib(self.pid, "VmHWM")
            } else {
                None
            },
        }
    }
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `stowage_job_runs_total{job="<job>"}` from `/metrics` (0 when absent).
pub async fn job_runs(client: &reqwest::Client, server: &Server, job: &str) -> anyhow::Result<u64> {
    let text = client.get(server.url("/metrics")).send().await?.text().await?;
    let want = format!("stowage_job_runs_total{{job=\"{job}\"}}");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64))
}

/// An image's scan as `DescribeImageScanFindings` shows it.
#[derive(Clone, Debug, Default)]
pub struct ScanView {
    pub status: String,
    pub description: String,
    /// Sum of `findingSeverityCounts`.
    pub findings: u64,
    /// The enhanced findings read (see [`describe`]), once complete.
    pub list: Vec<Value>,
}

impl ScanView {
    /// The newest `lastObservedAt` of the findings (epoch seconds).
    pub fn last_observed(&self) -> f64 {
        self.list
            .iter()
            .filter_map(|f| f["lastObservedAt"].as_f64())
            .fold(0.0, f64::max)
    }
}

/// Reads an image's scan: the status and, when complete, all its findings
/// (`all`: every page of 1000) or the first 10 (enough to see a re-match:
/// it sets every finding's `lastObservedAt`).
pub async fn describe(ecr: &Ecr, repo: &str, tag: &str, all: bool) -> anyhow::Result<ScanView> {
    let mut view = ScanView::default();
    let mut token: Option<String> = None;
    let page = if all { 1000 } else { 10 };
    loop {
        let mut input = json!({ "repositoryName": repo, "imageId": { "imageTag": tag }, "maxResults": page });
        if let Some(t) = &token {
            input["nextToken"] = t.as_str().into();
        }
        let out = ecr.call("DescribeImageScanFindings", &input).await?;
        view.status = out["imageScanStatus"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        view.description = out["imageScanStatus"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let findings = &out["imageScanFindings"];
        if token.is_none() {
            view.findings = findings["findingSeverityCounts"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        }
        if let Some(list) = findings["enhancedFindings"]
            .as_array()
            .or_else(|| findings["findings"].as_array())
        {
            view.list.extend(list.iter().cloned());
        }
        match out["nextToken"].as_str() {
            Some(t) if all => token = Some(t.to_string()),
            _ => return Ok(view),
        }
    }
}

/// Polls the image's scan every `every` until it is no longer IN_PROGRESS;
/// returns it (all pages) and when that was first seen.
pub async fn wait_done(
    ecr: &Ecr,
    repo: &str,
    tag: &str,
    every: Duration,
    timeout: Duration,
) -> anyhow::Result<(ScanView, Instant)> {
    let deadline = Instant::now() + timeout;
    loop {
        let view = describe(ecr, repo, tag, false).await?;
        if view.status != "IN_PROGRESS" {
            let seen = Instant::now();
            return Ok((describe(ecr, repo, tag, true).await?, seen));
        }
        if Instant::now() > deadline {
            bail!("the scan of {repo}:{tag} was still IN_PROGRESS after {timeout:?}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls every `every` until the findings' newest `lastObservedAt` is past
/// `after`; `None` if that did not happen within `timeout`.
pub async fn wait_observed_after(
    ecr: &Ecr,
    repo: &str,
    tag: &str,
    after: f64,
    every: Duration,
    timeout: Duration,
) -> anyhow::Result<Option<(ScanView, Instant)>> {
    let deadline = Instant::now() + timeout;
    loop {
        let view = describe(ecr, repo, tag, false).await.context("polling the findings")?;
        if view.last_observed() > after {
            return Ok(Some((view, Instant::now())));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(every).await;
    }
}
