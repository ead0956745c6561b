//! End to end with skopeo: OCI image layouts built here (an image, and a
//! two-platform index) are copied to the registry and back, and every manifest
//! and blob digest must survive the round trip.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::clients::*;
use crate::support::*;

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Runs `skopeo args…`, asserting success; returns stdout.
async fn skopeo(args: &[&str]) -> String {
    run_ok(Command::new(require_env("STOWAGE_TEST_SKOPEO")).args(args)).await
}

/// An OCI image layout directory.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// An empty layout at `dir` (skopeo fills it when copying into it).
    fn at(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    /// A new layout with the `oci-layout` marker and an empty blob store.
    fn create(dir: PathBuf) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout { dir }
    }

    /// `oci:<dir>:<tag>` for skopeo.
    fn image(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    /// Stores a blob; returns its descriptor.
    fn add_blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let d = digest(bytes);
        let hex = d.strip_prefix("sha256:").unwrap();
        std::fs::write(self.dir.join("blobs/sha256").join(hex), bytes).unwrap();
        json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
    }

    /// Stores a JSON document as a blob; returns its descriptor.
    fn add_json(&self, media_type: &str, value: &Value) -> Value {
        self.add_blob(media_type, &serde_json::to_vec(value).unwrap())
    }

    /// Writes `index.json` naming one manifest (or index) as `tag`.
    fn set_tag(&self, tag: &str, mut descriptor: Value) {
        descriptor["annotations"] = json!({ REF_NAME: tag });
        let index = json!({"schemaVersion": 2, "manifests": [descriptor]});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }

    /// The digest `index.json` names as `tag`.
    fn tagged(&self, tag: &str) -> String {
        let index: Value = serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap()).unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"][REF_NAME] == tag)
            .unwrap_or_else(|| panic!("no {tag} in {index}"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The bytes of a blob.
    fn blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(
            self.dir
                .join("blobs/sha256")
                .join(digest.strip_prefix("sha256:").unwrap()),
        )
        .unwrap()
    }

    /// Digests of every blob in the layout.
    fn blob_digests(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.dir.join("blobs/sha256"))
            .unwrap()
            .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
            .collect()
    }

    /// Adds a linux image for `arch` whose one gzip layer holds `/hello.txt`
    /// with `content`; returns the manifest descriptor with its platform.
    async fn add_image(&self, arch: &str, content: &str) -> Value {
        let (layer, diff_id) = gzip_layer(content).await;
        let layer = self.add_blob("application/vnd.oci.image.layer.v1.tar+gzip", &layer);
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let config = self.add_json("application/vnd.oci.image.config.v1+json", &config);
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]});
        let mut descriptor = self.add_json(OCI_MANIFEST, &manifest);
        descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
        descriptor
    }
}

/// A gzip-compressed tar of one file `hello.txt`, made with the system's tar
/// and gzip; returns the compressed bytes and the uncompressed tar's digest.
async fn gzip_layer(content: &str) -> (Vec<u8>, String) {
    let work = scratch_dir();
    let root = work.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), content).unwrap();
    let tar = work.path().join("layer.tar");
    run_ok(
        Command::new("tar")
            .arg("--create")
            .arg("--file")
            .arg(&tar)
            .arg("--directory")
            .arg(&root)
            .arg("hello.txt"),
    )
    .await;
    let diff_id = digest(&std::fs::read(&tar).unwrap());
    run_ok(Command::new("gzip").arg("--no-name").arg(&tar)).await;
    (std::fs::read(work.path().join("layer.tar.gz")).unwrap(), diff_id)
}

/// `docker://host/repo:tag` of the server, for skopeo.
fn remote(s: &TestServer, repo: &str, tag: &str) -> String {
    format!("docker://{}/{repo}:{tag}", s.host())
}

/// `skopeo inspect [flags…] <image>` of an image on the server, with the admin's login.
async fn inspect(s: &TestServer, image: &str, flags: &[&str]) -> String {
    let creds = format!("--creds=AWS:{}", s.password);
    skopeo(&[&["inspect", "--tls-verify=false", &creds], flags, &[image]].concat()).await
}

/// Copies `source`'s `v1` to `repo:v1` on the server and back into a new
/// layout (`skopeo copy`, plus `--all` for indexes), and asserts the registry,
/// skopeo and the copied layout all agree on the digests. Returns the registry's
/// `v1` digest.
async fn round_trip(s: &TestServer, repo: &str, source: &Layout, extra: &[&str], scratch: &Path) -> String {
    let remote = remote(s, repo, "v1");
    let dest_creds = format!("--dest-creds=AWS:{}", s.password);
    let push = [
        &["copy", "--dest-tls-verify=false", &dest_creds],
        extra,
        &[&source.image("v1"), &remote],
    ];
    skopeo(&push.concat()).await;
    let copy = Layout::at(scratch.join("copied"));
    let src_creds = format!("--src-creds=AWS:{}", s.password);
    let pull = [
        &["copy", "--src-tls-verify=false", &src_creds],
        extra,
        &[&remote, &copy.image("v1")],
    ];
    skopeo(&pull.concat()).await;

    let expected = source.tagged("v1");
    assert_eq!(registry_digest(s, repo, "v1").await, expected, "registry digest");
    assert_eq!(copy.tagged("v1"), expected, "digest of the copied-back layout");
    assert_eq!(
        copy.blob_digests(),
        source.blob_digests(),
        "blobs of the copied-back layout"
    );
    let raw = inspect(s, &remote, &["--raw"]).await;
    assert_eq!(raw.as_bytes(), source.blob(&expected), "skopeo inspect --raw");
    expected
}

#[tokio::test]
async fn skopeo_copies_an_oci_image_with_digests_preserved() {
    let s = TestServer::start().await;
    let repo = unique("e2e-skopeo");
    s.create_repo(&repo);
    let scratch = scratch_dir();
    let source = Layout::create(scratch.path().join("source"));
    let manifest = source.add_image("amd64", "hello from stowage\n").await;
    source.set_tag("v1", manifest);

    let expected = round_trip(&s, &repo, &source, &[], scratch.path()).await;
    let inspected: Value = serde_json::from_str(&inspect(&s, &remote(&s, &repo, "v1"), &[]).await).unwrap();
    assert_eq!(inspected["Digest"], expected.as_str());
    assert_eq!(inspected["RepoTags"], json!(["v1"]));
    assert_eq!(inspected["Architecture"], "amd64");
}

#[tokio::test]
async fn skopeo_copy_all_round_trips_an_oci_index() {
    let s = TestServer::start().await;
    let repo = unique("e2e-skopeo-index");
    s.create_repo(&repo);
    let scratch = scratch_dir();
    let source = Layout::create(scratch.path().join("source"));
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        manifests.push(source.add_image(arch, &format!("hello from {arch}\n")).await);
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    source.set_tag("v1", source.add_json(OCI_INDEX, &index));

    round_trip(&s, &repo, &source, &["--all"], scratch.path()).await;
    let r = s
        .head(&format!("/v2/{repo}/manifests/v1"))
        .header("accept", OCI_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    for m in &manifests {
        let d = m["digest"].as_str().unwrap();
        assert_eq!(registry_digest(&s, &repo, d).await, d, "platform manifest by digest");
    }
}
