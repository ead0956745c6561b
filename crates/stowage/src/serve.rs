//! `stowage serve`: bind, serve until SIGTERM/SIGINT, drain, exit.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::Config;

/// Runs the server until a shutdown signal, then lets in-flight requests finish.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let state = crate::open(&config, Some(public_url)).await?;
    if let Some(key) = crate::bootstrap_admin(&state, &config).await? {
        // Shown once, on stdout, never through the log.
        println!(
            "Created the administrator access key for account {}.\n  aws_access_key_id = {}\n  aws_secret_access_key = {}\nSaved to {} (AWS credentials-file format, mode 0600).",
            state.config.account_id,
            key.access_key_id,
            key.secret_access_key,
            config.data_dir.join("credentials").display()
        );
    }
    tracing::info!(
        listen = %addr,
        data_dir = %config.data_dir.display(),
        account = %state.config.account_id,
        public_url = %state.config.public_url,
        database = if config.database_url.is_some() { "postgres" } else { "sqlite" },
        "stowage listening"
    );
    let meta = state.meta.clone();
    let workers = stowage_server::workers::spawn(state.clone());
    let app = stowage_server::router(state);
    // Peer addresses feed `aws:SourceIp` and the audit trail.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    workers.stop().await;
    meta.close().await;
    tracing::info!("stowage stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}
