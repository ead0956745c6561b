//! The web console at `/console/`: server-rendered pages over the same ECR
//! operations the API serves. Every page and form calls an operation through
//! [`crate::ecr::invoke`], so the one authorization evaluator decides, with
//! the same messages; buttons for what the user may not do are not shown.
//! Read pages work without JavaScript; `console.js` only adds copy buttons
//! and a live filter.

mod images;
mod lifecycle;
mod permissions;
mod repositories;
mod session;
mod settings;
pub mod views;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use self::session::Session;
use self::views::{ErrorPage, Layout, SignInPage};
use crate::AppState;
use crate::auth::{self, Principal};
use crate::ecr::{EcrError, operation::Operation};
use crate::services::authz::{self, RequestFacts};

/// The console's routes, under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/repositories") }))
        .route("/console/", get(|| async { Redirect::to("/console/repositories") }))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route(
            "/console/repositories",
            get(repositories::list).post(repositories::create),
        )
        .route("/console/repository", get(images::repository))
        .route(
            "/console/repository/delete",
            get(repositories::confirm_delete).post(repositories::delete),
        )
        .route("/console/image", get(images::image))
        .route("/console/lifecycle", get(lifecycle::show).post(lifecycle::submit))
        .route("/console/permissions", get(permissions::show).post(permissions::submit))
        .route("/console/settings", get(settings::show).post(settings::submit))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
}

/// Most pages one listing reads (a page holds up to 1000 items).
const MAX_PAGES: usize = 1000;

/// A form a signed-in user posts: it carries the session's CSRF token.
pub trait PostedForm: serde::de::DeserializeOwned {
    fn csrf(&self) -> &str;
}

/// A signed-in request: who, from where, and the state.
pub struct Ctx {
    pub state: AppState,
    pub session: Session,
    pub facts: RequestFacts,
}

impl Ctx {
    /// The request's session, or a redirect to the sign-in page (back to the
    /// page asked for after); the request is handed back for its body.
    pub async fn from_request(state: &AppState, req: Request) -> Result<(Ctx, Request), Response> {
        // After signing in, a form's page is gone: go back to the list then.
        let path = if req.method() == axum::http::Method::GET {
            req.uri()
                .path_and_query()
                .map_or("/console/", |p| p.as_str())
                .to_string()
        } else {
            "/console/repositories".to_string()
        };
        let facts = RequestFacts::from_extensions(req.extensions());
        match session::current(state, req.headers()).await {
            Some(session) => Ok((
                Ctx {
                    state: state.clone(),
                    session,
                    facts,
                },
                req,
            )),
            None => Err(Redirect::to(&format!("/console/sign-in?next={}", views::q(&path))).into_response()),
        }
    }

    /// A signed-in POST's session and form, its CSRF token checked; else the
    /// sign-in redirect, or a 403 page for a missing or wrong token.
    pub async fn posted<F: PostedForm>(state: &AppState, req: Request) -> Result<(Ctx, F), Response> {
        let (ctx, req) = Ctx::from_request(state, req).await?;
        match axum::Form::<F>::from_request(req, state).await {
            Ok(axum::Form(form)) if ctx.session.csrf_ok(form.csrf()) => Ok((ctx, form)),
            _ => Err(csrf_refused(&ctx)),
        }
    }

    /// The header's view of the user.
    pub fn layout(&self) -> Layout {
        Layout {
            user: self.session.user().to_string(),
            account: self.session.identity.account_id.clone(),
            csrf: self.session.csrf.clone(),
        }
    }

    /// Runs an ECR operation as the user.
    pub async fn call(&self, op: Operation, input: Value) -> Result<Value, EcrError> {
        crate::ecr::invoke(
            &self.state,
            self.session.identity.clone(),
            op,
            input,
            self.facts.clone(),
        )
        .await
    }

    /// Every page of a paginated operation (following `nextToken`, at most
    /// [`MAX_PAGES`]), in order.
    pub async fn call_pages(&self, op: Operation, input: Value) -> Result<Vec<Value>, EcrError> {
        let mut pages: Vec<Value> = Vec::new();
        loop {
            let mut input = input.clone();
            if let Some(token) = pages.last().and_then(|p| p["nextToken"].as_str()) {
                input["nextToken"] = token.into();
            }
            let page = self.call(op, input).await?;
            let more = page["nextToken"].is_string();
            pages.push(page);
            if !more || pages.len() >= MAX_PAGES {
                return Ok(pages);
            }
        }
    }

    /// Whether the user may perform `op` on repository `name` (what decides
    /// if its button is shown; the operation itself is authorized again).
    pub async fn may(&self, op: Operation, name: &str) -> bool {
        let account = &self.session.identity.account_id;
        let repo = crate::services::repositories::lookup(&self.state, account, name)
            .await
            .ok()
            .flatten();
        let arn = auth::repository_arn(&self.state.config.region, account, name);
        authz::authorize(
            &self.state,
            &Principal::Authenticated(self.session.identity.clone()),
            op.action().as_str(),
            auth::Resource {
                account_id: account,
                arn: &arn,
                repository: repo.as_ref(),
            },
            &self.facts,
        )
        .await
        .is_ok()
    }

    /// An error page for a failed operation, with its status: 403 when denied,
    /// 404 when what was named does not exist, 400 for other client mistakes.
    pub fn error(&self, e: &EcrError) -> Response {
        error_page(Some(self.layout()), e)
    }
}

/// Renders an error page for an operation's error.
fn error_page(layout: Option<Layout>, e: &EcrError) -> Response {
    let status = match e.kind {
        "AccessDeniedException" => StatusCode::FORBIDDEN,
        k if k.ends_with("NotFoundException") => StatusCode::NOT_FOUND,
        "ServerException" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        _ => "Something went wrong",
    };
    (
        status,
        render(&ErrorPage {
            layout,
            title: title.to_string(),
            message: e.message.clone(),
        }),
    )
        .into_response()
}

/// A rendered template as an HTML response (a template that fails to render is a 500).
pub fn render(page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The refusal of a form whose CSRF token is missing or wrong.
fn csrf_refused(ctx: &Ctx) -> Response {
    (
        StatusCode::FORBIDDEN,
        render(&ErrorPage {
            layout: Some(ctx.layout()),
            title: "Not allowed".into(),
            message: "The form has expired or did not come from this console. Reload the page and try again.".into(),
        }),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Where to go after signing in: a console path, never another site.
fn next_path(next: &str) -> String {
    if next.starts_with("/console/") && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/console/repositories".to_string()
    }
}

async fn sign_in_page(axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
    render(&SignInPage {
        layout: None,
        error: None,
        next: next_path(&q.next),
    })
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    /// Or an IAM user's console password.
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    next: String,
}

async fn sign_in(State(state): State<AppState>, req: Request) -> Response {
    let secure = RequestFacts::from_extensions(req.extensions()).secure_transport;
    let Ok(axum::Form(form)) = axum::Form::<SignInForm>::from_request(req, &state).await else {
        return (StatusCode::BAD_REQUEST, "malformed form").into_response();
    };
    let next = next_path(&form.next);
    let signed_in = if form.user.is_empty() {
        session::sign_in(&state, &form.access_key_id, &form.secret_access_key, secure).await
    } else {
        let account = if form.account.trim().is_empty() {
            &state.config.account_id
        } else {
            form.account.trim()
        };
        session::sign_in_with_password(&state, account, &form.user, &form.password, secure).await
    };
    match signed_in {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response(),
        Err(session::SignInError::Wrong) => (
            StatusCode::UNAUTHORIZED,
            render(&SignInPage {
                layout: None,
                error: Some(session::SignInError::Wrong.to_string()),
                next,
            }),
        )
            .into_response(),
        Err(session::SignInError::Meta(e)) => error_page(None, &EcrError::from(e)),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl PostedForm for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn sign_out(State(state): State<AppState>, req: Request) -> Response {
    let (ctx, _) = match Ctx::posted::<CsrfForm>(&state, req).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let cookie = session::sign_out(ctx.facts.secure_transport);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console/sign-in")).into_response()
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../../static/console.css"))
}

async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/console.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Security headers on every console response: no framing, no sniffing, and a
/// content policy that allows only this origin's own styles and scripts.
pub async fn security_headers(req: Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h: &mut HeaderMap = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    resp
}

use axum::extract::FromRequest as _;
