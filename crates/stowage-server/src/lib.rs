//! Stowage's HTTP server. Requests to `/v2/…` are parsed into a
//! [`registry::Endpoint`], `POST /` into an [`ecr::operation::Operation`]; each
//! is authenticated and authorized once as its ECR action, then served by thin
//! handlers over the services in [`services`]. Health and metrics live in [`ops`].

pub mod auth;
pub mod ecr;
pub mod keys;
pub mod ops;
pub mod registry;
pub mod services;
mod state;
pub mod workers;

pub use state::{AppState, Housekeeping, ServerConfig};

use axum::Router;
use axum::routing::{any, get, post};

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2", any(registry::dispatch))
        .route("/v2/", any(registry::dispatch))
        .route("/v2/{*rest}", any(registry::dispatch))
        .route("/", post(ecr::dispatch))
        .route("/_blobs/{*rest}", get(registry::download::signed_download))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .with_state(state)
}
