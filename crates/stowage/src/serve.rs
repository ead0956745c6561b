//! `stowage serve`: bind, serve until SIGTERM/SIGINT, drain, exit. With TLS the
//! listeners speak HTTPS only (plus an optional plain-HTTP loopback listener),
//! and SIGHUP re-reads the certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::serve::ListenerExt as _;
use stowage_server::services::authz::SecureTransport;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::Config;
use crate::tls::Tls;

/// Runs the server until a shutdown signal, then lets in-flight requests finish.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let tls = match config.tls_files() {
        Some((cert, key)) => Some(Arc::new(Tls::load(cert, key)?)),
        None => None,
    };
    let scheme = config.scheme();
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let public_listener = match config.public_listen {
        None => None,
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding the public registry to {a}"))?,
        ),
    };
    let public_addr = public_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let public_registry_url = public_addr.map(|a| public_registry_url(scheme, &public_url, a));
    let plain_listener = match config.plain_listen {
        None => None,
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding the plain-HTTP listener to {a}"))?,
        ),
    };
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
    if let Some(tls) = &tls {
        reload_on_sighup(tls.clone())?;
    }
    if let (Some(a), Some(url)) = (public_addr, &state.config.public_registry_url) {
        tracing::info!(public_listen = %a, public_registry_url = %url, "public registry listening");
    }
    if let Some(l) = &plain_listener {
        tracing::info!(plain_listen = %l.local_addr()?, "plain HTTP listening beside HTTPS (loopback only)");
    }
    tracing::info!(
        listen = %addr,
        tls = tls.is_some(),
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
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let mut servers = JoinSet::new();
    let mut serve = |listener: TcpListener, app: &Router, what: &'static str| -> anyhow::Result<()> {
        let stopped = stopped.clone();
        match &tls {
            None => {
                servers.spawn(serve_on(listener, app.clone(), stopped, what));
            }
            Some(tls) => {
                // `tap_io` only for its `SocketAddr: Connected` impl (axum has one
                // for `TcpListener` and `TapIo`): peer addresses feed `aws:SourceIp`.
                let listener = tls.listen(listener)?.tap_io(|_| {});
                let app = app.clone().layer(axum::Extension(SecureTransport));
                servers.spawn(serve_on(listener, app, stopped, what));
            }
        }
        Ok(())
    };
    serve(listener, &app, "serving")?;
    if let Some(l) = public_listener {
        serve(l, &public_app, "serving the public registry")?;
    }
    if let Some(l) = plain_listener {
        servers.spawn(serve_on(l, app.clone(), stopped.clone(), "serving plain HTTP"));
    }
    while let Some(done) = servers.join_next().await {
        done.context("a listener's task failed")??;
    }
    workers.stop().await;
    meta.close().await;
    tracing::info!("stowage stopped");
    Ok(())
}

/// Serves `app` on `listener` until `stopped` turns true, then drains.
async fn serve_on<L>(
    listener: L,
    app: Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    what: &'static str,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    SocketAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    // Peer addresses feed `aws:SourceIp` and the audit trail.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
        .context(what)
}

/// Re-reads the certificate and key on every SIGHUP; a failed reload keeps the
/// certificate in use.
fn reload_on_sighup(tls: Arc<Tls>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).context("installing a SIGHUP handler")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(tls_cert = %tls.cert_path().display(), "TLS certificate reloaded"),
                Err(e) => tracing::error!(
                    error = format!("{e:#}"),
                    "TLS certificate reload failed; still serving the previous certificate"
                ),
            }
        }
    });
    Ok(())
}

/// The public registry's URL: its bound address, or the host of `public_url` with
/// the bound port when it listens on every interface. `scheme` is the listener's
/// (`https` with TLS); without TLS `public_url`'s is kept, since a proxy may
/// terminate TLS in front of it.
fn public_registry_url(scheme: &str, public_url: &str, bound: SocketAddr) -> String {
    if !bound.ip().is_unspecified() {
        return format!("{scheme}://{bound}");
    }
    let (url_scheme, rest) = public_url.split_once("://").unwrap_or((scheme, public_url));
    let scheme = if scheme == "https" { scheme } else { url_scheme };
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

#[cfg(test)]
mod tests {
    use super::public_registry_url;

    #[test]
    fn the_public_registry_url_follows_its_listener() {
        let bound = "127.0.0.1:6000".parse().unwrap();
        assert_eq!(
            public_registry_url("https", "https://reg", bound),
            "https://127.0.0.1:6000"
        );
        assert_eq!(
            public_registry_url("http", "https://reg", bound),
            "http://127.0.0.1:6000"
        );
        let any = "0.0.0.0:6000".parse().unwrap();
        // Without TLS here, a proxy may terminate it: public_url's scheme stays.
        assert_eq!(
            public_registry_url("http", "https://reg.example.com:5000/", any),
            "https://reg.example.com:6000"
        );
        assert_eq!(
            public_registry_url("https", "http://reg.example.com", any),
            "https://reg.example.com:6000"
        );
    }
}
