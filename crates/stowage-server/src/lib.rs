//! Stowage's HTTP server. Requests to `/v2/…` are parsed into a
//! [`registry::Endpoint`], `POST /` into an [`ecr::operation::Operation`]; each
//! is authenticated and authorized once as its ECR action, then served by thin
//! handlers over the services in [`services`]. Health and metrics live in [`ops`].

/// Declares `Operation`, the operations of one AWS JSON-protocol service by
/// their AWS names (`X-Amz-Target` after the prefix), with `ALL`, `name()` and
/// `parse()`. Used by the ECR, ECR Public and key-service dispatchers.
macro_rules! json_operations {
    (#[doc = $doc:literal] $($op:ident),* $(,)?) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Operation { $($op),* }

        impl Operation {
            /// Every operation.
            pub const ALL: &[Operation] = &[$(Operation::$op),*];

            /// The AWS operation name.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$op => stringify!($op)),* }
            }

            /// Parses the operation name after the target prefix.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|op| op.name() == name)
            }
        }
    };
}

pub mod auth;
pub mod console;
pub mod ecr;
pub mod ecr_public;
pub mod iam;
pub mod keys;
pub mod kms;
pub mod ops;
pub mod registry;
pub mod services;
pub mod sigv4_auth;
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
        .route("/", post(control_plane))
        .route("/_blobs/{*rest}", get(registry::download::signed_download))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(console::router().layer(axum::middleware::from_fn(console::security_headers)))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .with_state(state)
}

/// The public registry's router (ECR Public's `/v2/` with the Bearer flow of
/// spec §3.3), served on its own listener.
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/v2", any(registry::dispatch_public))
        .route("/v2/", any(registry::dispatch_public))
        .route("/v2/{*rest}", any(registry::dispatch_public))
        .route("/token", get(registry::public::token))
        .route("/token/", get(registry::public::token))
        .route("/healthz", get(ops::healthz))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .with_state(state)
}

/// `POST /`: the query protocol (IAM, STS: form-encoded, no `X-Amz-Target`)
/// or the JSON control plane (ECR).
async fn control_plane(state: axum::extract::State<AppState>, req: axum::extract::Request) -> axum::response::Response {
    if iam::is_query_request(req.headers()) {
        iam::dispatch(state, req).await
    } else {
        ecr::dispatch(state, req).await
    }
}
