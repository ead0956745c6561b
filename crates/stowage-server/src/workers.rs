//! Background work every node runs on a timer: lifecycle policies, garbage
//! collection and the key service's deletions and rotations (a database lease
//! makes sure only one node does each at a time), and image scans (each scan
//! claimed by one node).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::AppState;

/// Between key-service sweeps (deletions due, automatic rotations due).
const KEY_SERVICE_INTERVAL: Duration = Duration::from_secs(3600);

/// The running background workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Workers {
    /// Asks every worker to stop and waits for the work in hand to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts the background workers of a serving node.
pub fn spawn(state: AppState) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let timing = state.config.housekeeping;
    let holder = uuid::Uuid::new_v4().to_string();
    {
        let (state, holder) = (state.clone(), holder.clone());
        tasks.spawn(every(timing.gc_interval, stopped.clone(), move || {
            let (state, holder) = (state.clone(), holder.clone());
            async move {
                leased(&state, "gc", &holder, timing.gc_interval, async {
                    if let Err(e) = crate::services::gc::pass(&state, false).await {
                        tracing::warn!(error = %e, "garbage collection pass failed");
                    }
                })
                .await
            }
        }));
    }
    {
        let (state, holder) = (state.clone(), holder.clone());
        tasks.spawn(every(timing.lifecycle_interval, stopped.clone(), move || {
            let (state, holder) = (state.clone(), holder.clone());
            async move {
                leased(&state, "lifecycle", &holder, timing.lifecycle_interval, async {
                    run_lifecycle(&state).await;
                })
                .await
            }
        }));
    }
    {
        // The key service: keys past their deletion date are destroyed (also
        // lazily, on their next use) and due automatic rotations made.
        let (state, holder) = (state.clone(), holder.clone());
        tasks.spawn(every(KEY_SERVICE_INTERVAL, stopped.clone(), move || {
            let (state, holder) = (state.clone(), holder.clone());
            async move {
                leased(&state, "kms", &holder, KEY_SERVICE_INTERVAL, async {
                    if let Err(e) = crate::services::kms::destroy_due_keys(&state).await {
                        tracing::warn!(error = %e, "destroying keys past their deletion date failed");
                    }
                    if let Err(e) = crate::services::kms::rotate_due_keys(&state).await {
                        tracing::warn!(error = %e, "automatic key rotation failed");
                    }
                })
                .await
            }
        }));
    }
    // Scans: every node claims due scans (one at a time) under a per-scan lease.
    tasks.spawn(crate::services::scans::run_until_stopped(
        state.clone(),
        timing.scan_poll,
        stopped.clone(),
    ));
    tasks.spawn(crate::services::audit::write_until_stopped(
        state.clone(),
        stopped.clone(),
    ));
    Workers { stop, tasks }
}

/// One scheduled lifecycle run over every repository with a policy.
async fn run_lifecycle(state: &AppState) {
    let runs = match crate::services::lifecycle::run_all(state).await {
        Ok(runs) => runs,
        Err(e) => return tracing::warn!(error = %e, "listing repositories with a lifecycle policy failed"),
    };
    for (repo, outcome) in runs {
        if let Err(e) = outcome {
            tracing::warn!(repo.name = %repo.name, error = %e, "lifecycle policy run failed");
        }
    }
}

/// Runs `job` now and then every `interval` until told to stop.
async fn every<F, Fut>(interval: Duration, mut stopped: watch::Receiver<bool>, job: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => job().await,
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// How long a lease outlives its interval, and how often a running job renews
/// it: a node that dies holding a lease blocks the job for at most this long
/// after the interval it was due in.
const LEASE_SLACK: Duration = Duration::from_secs(10);

/// Runs `work` only if this node takes the named lease. The lease is held for
/// the interval (plus [`LEASE_SLACK`]) and renewed while the work runs, so one
/// run per interval happens across all nodes; if the holder dies, another node
/// takes the job over once the lease expires.
async fn leased(state: &AppState, name: &str, holder: &str, interval: Duration, work: impl Future<Output = ()>) {
    let ttl = (interval + LEASE_SLACK).as_millis() as i64;
    match state.meta.try_lease(name, holder, ttl).await {
        Ok(true) => {}
        Ok(false) => return tracing::debug!(job = name, "another node holds the lease"),
        Err(e) => return tracing::warn!(job = name, error = %e, "taking a worker lease failed"),
    }
    state
        .metrics
        .job_runs
        .get_or_create(&crate::ops::JobLabel { job: name.to_string() })
        .inc();
    let mut work = std::pin::pin!(work);
    let mut renew = tokio::time::interval(LEASE_SLACK / 2);
    renew.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = &mut work => return,
            _ = renew.tick() => {
                if let Err(e) = state.meta.try_lease(name, holder, ttl).await {
                    tracing::warn!(job = name, error = %e, "renewing a worker lease failed");
                }
            }
        }
    }
}
