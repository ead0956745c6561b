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
    let public_listener = match config.public_listen {
        None => None,
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding the public registry to {a}"))?,
        ),
    };
    let public_addr = public_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let public_registry_url = public_addr.map(|a| public_registry_url(&public_url, a));
    let state = crate::open_serving(&config, Some(public_url), public_registry_url).await?;
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
    if let (Some(a), Some(url)) = (public_addr, &state.config.public_registry_url) {
        tracing::info!(public_listen = %a, public_registry_url = %url, "public registry listening");
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
    let public_app = stowage_server::public_router(state.clone());
    let app = stowage_server::router(state);
    // Peer addresses feed `aws:SourceIp` and the audit trail.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let main = axum::serve(listener, app).with_graceful_shutdown(until_stopped());
    match public_listener {
        None => main.await.context("serving")?,
        Some(public_listener) => {
            let public_app = public_app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let public = axum::serve(public_listener, public_app).with_graceful_shutdown(until_stopped());
            tokio::try_join!(async { main.await.context("serving") }, async {
                public.await.context("serving the public registry")
            },)?;
        }
    }
    workers.stop().await;
    meta.close().await;
    tracing::info!("stowage stopped");
    Ok(())
}

/// The public registry's URL: its bound address, or the host of `public_url` with
/// the bound port when it listens on every interface.
fn public_registry_url(public_url: &str, bound: std::net::SocketAddr) -> String {
    if !bound.ip().is_unspecified() {
        return format!("http://{bound}");
    }
    let (scheme, rest) = public_url.split_once("://").unwrap_or(("http", public_url));
    let host = rest.split('/').next().unwrap_or(rest);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    format!("{scheme}://{host}:{}", bound.port())
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
