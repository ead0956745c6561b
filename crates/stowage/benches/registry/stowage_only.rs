//! Stowage-only measurements, which docker-registry has no equivalent of; each
//! is reported as a ratio to a baseline measured in the same run:
//!
//! - token verification: `GET /v2/` (authentication and nothing else) under the
//!   same closed-loop load as the manifest GETs, against manifest GET by tag;
//!   plus the server CPU time per request of each, and the latency of a signed
//!   `GetAuthorizationToken` called back to back;
//! - listing a big repository: `STOWAGE_BENCH_IMAGES` images pushed through
//!   `/v2/` (timed, as images/s), then `DescribeImages` (first page, a late page
//!   reached with a `nextToken`, the last page) and `ListImages` with
//!   `maxResults` 1000, sequential, against `DescribeImages` on a 100-image
//!   repository.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::{StreamExt as _, TryStreamExt as _};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};
use stowage_core::sigv4::{Credentials, SignedRequest, sign};

use crate::client::{ImageParts, put_manifest};
use crate::load::{Load, LoadResult};
use crate::servers::Server;

/// Concurrent clients pushing manifests when populating a repository.
const POPULATE_CONCURRENCY: usize = 4;
/// Images in the baseline repository.
const BASELINE_IMAGES: u64 = 100;
/// `DescribeImages` page size.
const PAGE: u64 = 100;
/// The page whose `nextToken` is timed as "deep in the listing" (1-based;
/// capped at the last full page).
const DEEP_PAGE: u64 = 50;
/// `ListImages` page size.
const LIST_PAGE: u64 = 1000;

/// Latency percentiles of sequential calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub calls: usize,
    pub p50: Duration,
    pub p99: Duration,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let n = samples.len();
        let at = |pct: usize| match n {
            0 => Duration::ZERO,
            _ => samples[(n * pct).div_ceil(100).max(1) - 1],
        };
        Latency {
            calls: n,
            p50: at(50),
            p99: at(99),
        }
    }
}

/// What the Stowage-only phases measured.
#[derive(Default)]
pub struct StowageOnly {
    /// `GET /v2/` under load.
    pub auth: LoadResult,
    /// `GET /v2/` without credentials (the 401 challenge) under the same load:
    /// the same HTTP work minus verifying the password.
    pub anonymous: LoadResult,
    /// `GetAuthorizationToken`, sequential.
    pub get_token: Latency,
    pub images: u64,
    pub populate: Duration,
    /// `DescribeImages` first page on the `BASELINE_IMAGES` repository.
    pub baseline_describe: Latency,
    pub describe_first: Latency,
    /// (1-based page number, latency).
    pub describe_deep: (u64, Latency),
    pub describe_last: (u64, Latency),
    pub list_images: Latency,
    /// `ListImages` ids on the first page (`min(LIST_PAGE, images)`).
    pub list_len: u64,
}

/// Signed ECR control-plane calls as the administrator.
pub struct Ecr {
    client: Client,
    url: Url,
    host: String,
    creds: Credentials,
}

/// A signed call ready to send: headers and body.
struct Prepared {
    headers: Vec<(String, String)>,
    body: String,
}

impl Ecr {
    pub fn new(server: &Server) -> anyhow::Result<Ecr> {
        Ok(Ecr {
            // No default `Authorization`: the SigV4 one is per request.
            client: Client::builder().connect_timeout(Duration::from_secs(10)).build()?,
            url: server.url("/"),
            host: server.addr.to_string(),
            creds: server.admin_credentials()?,
        })
    }

    /// Signs `operation` with `input` (untimed part of a call).
    fn prepare(&self, operation: &str, input: &Value) -> Prepared {
        let body = input.to_string();
        let mut headers = vec![
            ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
            ("host".to_string(), self.host.clone()),
            (
                "x-amz-target".to_string(),
                format!("AmazonEC2ContainerRegistry_V20150921.{operation}"),
            ),
        ];
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let extra = sign(&req, &self.creds, "us-east-1", "ecr", now);
        headers.extend(extra);
        // reqwest sets Host itself, to the same value.
        headers.retain(|(k, _)| k != "host");
        Prepared { headers, body }
    }

    async fn send(&self, call: Prepared) -> anyhow::Result<Value> {
        let mut builder = self.client.post(self.url.clone());
        for (k, v) in &call.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let resp = builder.body(call.body).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status != StatusCode::OK {
            bail!("ECR call answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        serde_json::from_slice(&bytes).context("ECR answer is not JSON")
    }

    pub async fn call(&self, operation: &str, input: &Value) -> anyhow::Result<Value> {
        let call = self.prepare(operation, input);
        self.send(call).await.with_context(|| format!("{operation} {input}"))
    }

    /// Times `calls` sequential calls (signing excluded); each answer's array
    /// `key` must have `len` entries.
    async fn time(&self, operation: &str, input: &Value, calls: usize, key: &str, len: u64) -> anyhow::Result<Latency> {
        let mut samples = Vec::with_capacity(calls);
        for _ in 0..calls {
            let call = self.prepare(operation, input);
            let start = Instant::now();
            let out = self.send(call).await.with_context(|| format!("{operation} {input}"))?;
            samples.push(start.elapsed());
            let got = out[key].as_array().map_or(0, Vec::len) as u64;
            ensure!(got == len, "{operation} {input}: {got} {key}, expected {len}");
        }
        Ok(Latency::of(samples))
    }
}

/// `GET /v2/` under the same load as the manifest GETs, then sequential
/// `GetAuthorizationToken` calls.
pub async fn auth_phase(
    server: &Server,
    client: &Client,
    template: &Load,
    token_calls: usize,
    out: &mut StowageOnly,
) -> anyhow::Result<()> {
    let probe = client.get(server.url("/v2/")).send().await?;
    ensure!(probe.status() == StatusCode::OK, "GET /v2/ answered {}", probe.status());
    let body_len = probe.bytes().await?.len();
    let load = Load {
        path: "/v2/".into(),
        accept: "application/json",
        body_len,
        ..template.clone()
    };
    crate::progress(
        "stowage",
        &format!("GET /v2/ (auth only), {} connections, hyper", load.conns),
    );
    let anonymous = Load {
        authorization: None,
        expect_status: StatusCode::UNAUTHORIZED,
        body_len: "Not Authorized\n".len(),
        ..load.clone()
    };
    out.auth = tokio::task::spawn_blocking(move || load.run()).await??;
    crate::progress(
        "stowage",
        &format!(
            "GET /v2/ without credentials (401), {} connections, hyper",
            anonymous.conns
        ),
    );
    out.anonymous = tokio::task::spawn_blocking(move || anonymous.run()).await??;

    crate::progress(
        "stowage",
        &format!("{token_calls} sequential GetAuthorizationToken calls"),
    );
    let ecr = Ecr::new(server)?;
    ecr.call("GetAuthorizationToken", &json!({})).await?; // warm the connection
    out.get_token = ecr
        .time("GetAuthorizationToken", &json!({}), token_calls, "authorizationData", 1)
        .await?;
    Ok(())
}

/// Populates a `BASELINE_IMAGES` repository and an `images` repository, then
/// times the listings.
pub async fn listing_phase(
    server: &Server,
    client: &Client,
    images: u64,
    calls: usize,
    out: &mut StowageOnly,
) -> anyhow::Result<()> {
    let ecr = Ecr::new(server)?;
    let small = "bench/hundred";
    let big = "bench/many";
    for repo in [small, big] {
        server.create_repo(repo)?;
    }
    crate::progress("stowage", &format!("pushing {BASELINE_IMAGES} images (baseline repo)"));
    populate(client, server, small, BASELINE_IMAGES, 11).await?;
    crate::progress(
        "stowage",
        &format!("pushing {images} images, {POPULATE_CONCURRENCY} concurrent clients"),
    );
    out.images = images;
    out.populate = populate(client, server, big, images, 12).await?;

    let first_len = PAGE.min(images);
    let describe = |repo: &str, token: Option<&str>| {
        let mut input = json!({ "repositoryName": repo, "maxResults": PAGE });
        if let Some(t) = token {
            input["nextToken"] = t.into();
        }
        input
    };
    crate::progress("stowage", "walking the DescribeImages pages (untimed)");
    let tokens = page_tokens(&ecr, big, images).await?;
    let full_pages = (images / PAGE).max(1);
    let deep = DEEP_PAGE.min(full_pages);
    let last = full_pages;
    let token_of = |page: u64| (page > 1).then(|| tokens[(page - 2) as usize].as_str());
    let page_len = |page: u64| if page == 1 { first_len } else { PAGE };

    crate::progress("stowage", &format!("timing DescribeImages, {calls} calls each"));
    let time_describe = |repo: &'static str, page: u64, len: u64| {
        let input = describe(repo, token_of(page));
        let ecr = &ecr;
        async move { ecr.time("DescribeImages", &input, calls, "imageDetails", len).await }
    };
    // The baseline's one page is its first; tokens are not needed.
    let baseline_input = describe(small, None);
    out.baseline_describe = ecr
        .time(
            "DescribeImages",
            &baseline_input,
            calls,
            "imageDetails",
            BASELINE_IMAGES.min(PAGE),
        )
        .await?;
    out.describe_first = time_describe(big, 1, page_len(1)).await?;
    out.describe_deep = (deep, time_describe(big, deep, page_len(deep)).await?);
    out.describe_last = (last, time_describe(big, last, page_len(last)).await?);

    out.list_len = LIST_PAGE.min(images);
    let list_input = json!({ "repositoryName": big, "maxResults": LIST_PAGE });
    out.list_images = ecr
        .time("ListImages", &list_input, calls, "imageIds", out.list_len)
        .await?;
    Ok(())
}

/// Pushes one config and one layer, then `count` distinct manifests (each its
/// own tag) with `POPULATE_CONCURRENCY` requests in flight; returns the time
/// the manifests took.
async fn populate(client: &Client, server: &Server, repo: &str, count: u64, seed: u64) -> anyhow::Result<Duration> {
    let parts = ImageParts::push(client, server, repo, seed).await?;
    let parts = &parts;
    let start = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| async move {
            let manifest = parts.manifest(i);
            put_manifest(client, server, repo, &format!("t{i:06}"), &manifest).await
        })
        .buffer_unordered(POPULATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(start.elapsed())
}

/// The `nextToken` of every page after the first, walking `DescribeImages`
/// once; checks the pages add up to `images`.
async fn page_tokens(ecr: &Ecr, repo: &str, images: u64) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    let mut seen = 0u64;
    let mut next: Option<String> = None;
    loop {
        let mut input = json!({ "repositoryName": repo, "maxResults": PAGE });
        if let Some(t) = &next {
            input["nextToken"] = t.as_str().into();
        }
        let out = ecr.call("DescribeImages", &input).await?;
        seen += out["imageDetails"].as_array().map_or(0, Vec::len) as u64;
        match out["nextToken"].as_str() {
            Some(t) => {
                tokens.push(t.to_string());
                next = Some(t.to_string());
            }
            None => break,
        }
    }
    ensure!(
        seen == images,
        "DescribeImages pages held {seen} images, expected {images}"
    );
    Ok(tokens)
}
