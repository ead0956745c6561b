//! Registry client operations used by the bench: monolithic blob push, blob
//! pull, and pushing a small image under a tag.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Body, Client, StatusCode};

use crate::data::{Blob, digest_of};
use crate::servers::Server;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The `Accept` header of manifest GETs: every manifest type a client takes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// Upper bound for one transfer of `len` bytes: a minute plus 1 s per MiB.
fn transfer_timeout(len: u64) -> Duration {
    Duration::from_secs(60 + len / (1 << 20))
}

/// Pushes a generated blob with an OCI monolithic upload (`POST` a session, then
/// one `PUT ?digest=` carrying the whole streamed body); returns the time taken.
pub async fn push_blob(
    client: &Client,
    server: &Server,
    repo: &str,
    blob: &Blob,
    digest: &str,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let body = Body::wrap_stream(blob.stream());
    let push = upload(client, server, repo, body, blob.len(), digest);
    tokio::time::timeout(transfer_timeout(blob.len()), push)
        .await
        .context("blob push timed out")??;
    Ok(start.elapsed())
}

/// Pushes small in-memory content (monolithic upload); returns its digest.
pub async fn push_bytes(client: &Client, server: &Server, repo: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let digest = digest_of(bytes);
    let len = bytes.len() as u64;
    upload(client, server, repo, Body::from(bytes.to_vec()), len, &digest).await?;
    Ok(digest)
}

async fn upload(
    client: &Client,
    server: &Server,
    repo: &str,
    body: Body,
    len: u64,
    digest: &str,
) -> anyhow::Result<()> {
    let resp = client
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await?;
    let resp = expect_status(resp, StatusCode::ACCEPTED, "starting an upload").await?;
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .context("upload response has no Location")?;
    // docker-registry's Location is absolute (with a `_state` query), Stowage's
    // is a path; joining onto the base handles both.
    let mut url = server.base().join(location)?;
    url.query_pairs_mut().append_pair("digest", digest);
    let resp = client
        .put(url)
        .header(CONTENT_LENGTH, len)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .send()
        .await?;
    let resp = expect_status(resp, StatusCode::CREATED, "finishing an upload").await?;
    let echoed = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|d| d.to_str().ok());
    ensure!(
        echoed == Some(digest),
        "upload answered digest {echoed:?}, expected {digest}"
    );
    Ok(())
}

/// Downloads a blob, discarding the bytes; checks its length; returns the time taken.
pub async fn pull_blob(
    client: &Client,
    server: &Server,
    repo: &str,
    digest: &str,
    len: u64,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let received = tokio::time::timeout(transfer_timeout(len), download(client, server, repo, digest))
        .await
        .context("blob pull timed out")??;
    let elapsed = start.elapsed();
    ensure!(received == len, "pulled {received} bytes of a {len}-byte blob");
    Ok(elapsed)
}

async fn download(client: &Client, server: &Server, repo: &str, digest: &str) -> anyhow::Result<u64> {
    let resp = client
        .get(server.url(&format!("/v2/{repo}/blobs/{digest}")))
        .send()
        .await?;
    let mut resp = expect_status(resp, StatusCode::OK, "pulling a blob").await?;
    let mut received = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        received += chunk.len() as u64;
    }
    Ok(received)
}

/// Pushes a config and a layer and an OCI image manifest referencing them under
/// `tag`; returns the manifest bytes.
pub async fn push_image(client: &Client, server: &Server, repo: &str, tag: &str) -> anyhow::Result<Vec<u8>> {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer: Vec<u8> = Blob::new(7, 4096).chunks().flatten().collect();
    let config_digest = push_bytes(client, server, repo, config).await?;
    let layer_digest = push_bytes(client, server, repo, &layer).await?;
    let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len(), None);
    put_manifest(client, server, repo, tag, &manifest).await?;
    Ok(manifest)
}

/// A config and a layer pushed once, which many manifests can reference.
pub struct ImageParts {
    config_digest: String,
    config_size: usize,
    layer_digest: String,
    layer_size: usize,
}

impl ImageParts {
    /// Pushes a small config and a small layer (seeded by `seed`) into `repo`.
    pub async fn push(client: &Client, server: &Server, repo: &str, seed: u64) -> anyhow::Result<ImageParts> {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let layer: Vec<u8> = Blob::new(seed, 4096).chunks().flatten().collect();
        Ok(ImageParts {
            config_digest: push_bytes(client, server, repo, config).await?,
            config_size: config.len(),
            layer_digest: push_bytes(client, server, repo, &layer).await?,
            layer_size: layer.len(),
        })
    }

    /// An OCI manifest of these parts, made distinct by the annotation
    /// `bench.index` = `index`.
    pub fn manifest(&self, index: u64) -> Vec<u8> {
        image_manifest(
            &self.config_digest,
            self.config_size,
            &self.layer_digest,
            self.layer_size,
            Some(index),
        )
    }
}

/// `PUT`s an OCI manifest under `tag`.
pub async fn put_manifest(
    client: &Client,
    server: &Server,
    repo: &str,
    tag: &str,
    manifest: &[u8],
) -> anyhow::Result<()> {
    let resp = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header(CONTENT_TYPE, OCI_MANIFEST)
        .body(manifest.to_vec())
        .send()
        .await?;
    expect_status(resp, StatusCode::CREATED, "pushing a manifest").await?;
    Ok(())
}

/// Fetches the manifest by tag once and checks it is the one pushed.
pub async fn check_manifest(
    client: &Client,
    server: &Server,
    repo: &str,
    tag: &str,
    want: &[u8],
) -> anyhow::Result<()> {
    let resp = client
        .get(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("accept", MANIFEST_ACCEPT)
        .send()
        .await?;
    let got = expect_status(resp, StatusCode::OK, "getting a manifest")
        .await?
        .bytes()
        .await?;
    ensure!(got == want, "GET manifest returned different bytes than were pushed");
    Ok(())
}

fn image_manifest(config: &str, config_size: usize, layer: &str, layer_size: usize, index: Option<u64>) -> Vec<u8> {
    let annotations = index.map_or(String::new(), |i| format!(r#","annotations":{{"bench.index":"{i}"}}"#));
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{layer_size}}}]{annotations}}}"#
    )
    .into_bytes()
}

/// Passes the response on if it has `want`, else fails with its body.
async fn expect_status(resp: reqwest::Response, want: StatusCode, what: &str) -> anyhow::Result<reqwest::Response> {
    if resp.status() == want {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    bail!("{what}: expected {want}, got {status}: {body}")
}
