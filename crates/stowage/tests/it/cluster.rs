//! Many nodes: three `stowage serve` processes on one PostgreSQL database and
//! one folder of the test S3 bucket (Garage), on distinct loopback ports. An
//! upload moves from node to node, docker pushes to one node and pulls from
//! another, nginx (`deploy/nginx.conf`) balances a push across the nodes while
//! one is killed, a background job runs on one node at a time and moves when
//! its node dies, and readiness follows the database.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio::process::Command;

use crate::aws_cli::{Cli, Keys};
use crate::clients::*;
use crate::private_postgres::PrivatePostgres;
use crate::support::*;

/// Three nodes sharing a fresh database and a fresh folder of the bucket; the
/// first one bootstraps the registry (its data dir has the admin's credentials).
async fn three_nodes(serve_args: &[&str]) -> (Storage, Vec<TestServer>) {
    let db = Db::postgres().await;
    let storage = Storage::s3();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start_node(db.clone(), &storage, serve_args).await);
    }
    (storage, nodes)
}

fn s3_prefix(storage: &Storage) -> &str {
    match storage {
        Storage::S3 { prefix } => prefix,
        Storage::Files => panic!("not an S3 store"),
    }
}

/// `py/s3_objects.py <prefix>/<under> [mode]` with the test bucket's settings.
fn s3_objects_cmd(storage: &Storage, under: &str, mode: Option<&str>) -> Command {
    let mut cmd = Command::new(require_env("STOWAGE_TEST_PYTHON"));
    cmd.arg(repo_root().join("crates/stowage/tests/it/py/s3_objects.py"))
        .arg(format!("{}/{under}", s3_prefix(storage)))
        .args(mode);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true);
    cmd
}

/// The objects (key, size) in the bucket under `<prefix>/<under>`.
async fn s3_objects(storage: &Storage, under: &str) -> Vec<(String, u64)> {
    let out = run(&mut s3_objects_cmd(storage, under, None)).await;
    assert!(out.status.success(), "listing the bucket: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(object_line).collect()
}

fn object_line(line: &str) -> (String, u64) {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (v["key"].as_str().unwrap().to_string(), v["size"].as_u64().unwrap())
}

/// The digest a blob object is named after (`…/blobs/<scope>/sha256/<2 hex>/<64 hex>`).
fn object_digest(key: &str) -> String {
    let hex = key.rsplit('/').next().unwrap();
    assert!(
        hex.len() == 64 && key.contains("/blobs/") && key.contains("/sha256/"),
        "not a blob object: {key}"
    );
    format!("sha256:{hex}")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {r:?}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// The path of a `Location` header (absolute or not).
fn location_path(r: &reqwest::Response) -> String {
    let location = header(r, "location");
    match location.strip_prefix("http://") {
        Some(rest) => rest[rest.find('/').unwrap()..].to_string(),
        None => location,
    }
}

async fn assert_blob_unknown_everywhere(nodes: &[TestServer], path: &str, when: &str) {
    for (i, n) in nodes.iter().enumerate() {
        let r = n.head(path).send().await.unwrap();
        assert_eq!(r.status(), 404, "HEAD {path} on node {} {when}", i + 1);
    }
}

#[tokio::test]
async fn a_chunked_upload_moves_across_three_nodes() {
    let (storage, nodes) = three_nodes(&[]).await;
    let repo = unique("cluster-chunks");
    nodes[0].create_repo(&repo);
    // Chunks far below S3's 5 MiB part minimum; the first ends inside a 64 KiB segment.
    let first = bytes(1, 100_000);
    let second = bytes(2, 150_001);
    let whole = [first.as_slice(), second.as_slice()].concat();
    let digest = digest(&whole);
    let blob = format!("/v2/{repo}/blobs/{digest}");

    let r = nodes[0]
        .post(&format!("/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "POST upload on node 1");
    assert_eq!(header(&r, "range"), "0-0");
    let location = location_path(&r);
    assert_blob_unknown_everywhere(&nodes, &blob, "after the POST").await;

    let r = nodes[1]
        .patch(&location)
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("0-{}", first.len() - 1))
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        202,
        "PATCH of the first chunk on node 2: {:?}",
        r.text().await
    );
    assert_eq!(header(&r, "range"), format!("0-{}", first.len() - 1));
    let location = location_path(&r);
    assert_blob_unknown_everywhere(&nodes, &blob, "after the first chunk").await;

    // Node 3 sees how far the session got on node 2.
    let r = nodes[2].get(&location).send().await.unwrap();
    assert_eq!(r.status(), 204, "GET upload status on node 3");
    assert_eq!(header(&r, "range"), format!("0-{}", first.len() - 1));

    let r = nodes[2]
        .patch(&location)
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{}-{}", first.len(), whole.len() - 1))
        .body(second.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        202,
        "PATCH of the second chunk on node 3: {:?}",
        r.text().await
    );
    assert_eq!(header(&r, "range"), format!("0-{}", whole.len() - 1));
    let location = location_path(&r);

    // The first chunk again (a client or proxy retrying it) is refused with the
    // session's real offset, on any node: nothing is recorded twice. (A client
    // of its own: the node answers before reading the body and drops the
    // connection.)
    let r = authenticated_client(&nodes[0].password)
        .patch(nodes[0].url(&location))
        .header("content-range", format!("0-{}", first.len() - 1))
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416, "replayed first chunk on node 1");
    assert_eq!(header(&r, "range"), format!("0-{}", whole.len() - 1));
    assert_blob_unknown_everywhere(&nodes, &blob, "before the final PUT").await;

    let sep = if location.contains('?') { '&' } else { '?' };
    let r = nodes[0]
        .put(&format!("{location}{sep}digest={digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "final PUT on node 1: {:?}", r.text().await);
    assert_eq!(header(&r, "docker-content-digest"), digest);

    for (i, n) in nodes.iter().enumerate().skip(1) {
        let r = n.get(&blob).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET the blob on node {}", i + 1);
        assert_eq!(header(&r, "docker-content-digest"), digest);
        let body = r.bytes().await.unwrap();
        assert!(body[..] == whole[..], "node {} served other bytes", i + 1);
    }
    let r = nodes[0].head(&blob).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), whole.len().to_string());

    // In the bucket: the one blob, whole (sealed), and no staged piece left over.
    let objects = s3_objects(&storage, "").await;
    let blobs: Vec<_> = objects.iter().filter(|(k, _)| k.contains("/blobs/")).collect();
    assert_eq!(blobs.len(), 1, "{objects:?}");
    assert_eq!(object_digest(&blobs[0].0), digest);
    assert_eq!(
        blobs[0].1,
        stowage_crypto::sealed_len(whole.len() as u64),
        "{objects:?}"
    );
    assert!(
        !objects.iter().any(|(k, _)| k.contains("/uploads/")),
        "staged pieces left after the upload finished: {objects:?}"
    );
}

#[tokio::test]
async fn docker_push_one_node_pull_another_describe_a_third() {
    let (_storage, nodes) = three_nodes(&[]).await;
    let docker = Docker::new();
    docker.login(&nodes[0]).await;
    docker.login(&nodes[1]).await;
    let repo = unique("cluster-docker");
    nodes[0].create_repo(&repo);
    let (local, built_id) = docker.build_busybox("hello from three nodes").await;

    let pushed_ref = format!("{}/{repo}:v1", nodes[0].host());
    docker.tag(&local, &pushed_ref).await;
    let pushed = docker.push(&pushed_ref).await;
    docker.rmi(&[&local, &pushed_ref]).await;
    assert!(
        !docker.has_image(&built_id).await,
        "the image is still in the engine after rmi"
    );

    let pulled_ref = format!("{}/{repo}:v1", nodes[1].host());
    docker.pull(&pulled_ref).await;
    assert_eq!(
        docker.image_id(&pulled_ref).await,
        built_id,
        "the image pulled from node 2 differs from the one pushed to node 1"
    );
    assert_eq!(docker.run_image(&pulled_ref).await, "hello from three nodes\n");

    let described = Cli::new(&nodes[2])
        .ok(
            &Keys::admin(&nodes[0]),
            &["ecr", "describe-images", "--repository-name", &repo],
        )
        .await;
    let details = described["imageDetails"].as_array().expect("imageDetails");
    assert_eq!(details.len(), 1, "{described}");
    assert_eq!(details[0]["imageDigest"], pushed.as_str(), "{described}");
    assert_eq!(details[0]["imageTags"], serde_json::json!(["v1"]), "{described}");
}

/// nginx running `deploy/nginx.conf`, rendered for loopback.
struct Nginx {
    child: std::process::Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Nginx {
    fn start(upstreams: &[SocketAddr]) -> Nginx {
        let template = std::fs::read_to_string(repo_root().join("deploy/nginx.conf")).expect("deploy/nginx.conf");
        let dir = scratch_dir();
        let addr = free_addr();
        let conf = render_nginx(&template, upstreams, addr, dir.path());
        std::fs::write(dir.path().join("nginx.conf"), &conf).unwrap();
        let error_log = dir.path().join("error.log");
        let mut child = StdCommand::new(require_env("STOWAGE_TEST_NGINX"))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(&error_log)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            let log = || std::fs::read_to_string(&error_log).unwrap_or_default();
            if let Some(status) = child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}\n--- config ---\n{conf}", log());
            }
            assert!(Instant::now() < deadline, "nginx did not listen on {addr}:\n{}", log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, dir, addr }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and exits.
        let _ = StdCommand::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address nothing listens on right now.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `deploy/nginx.conf` with the nodes' addresses in its three `server` lines,
/// `listen` on `addr`, and pid, logs and temp files in `dir` (workers as root,
/// who owns `dir`).
fn render_nginx(template: &str, upstreams: &[SocketAddr], addr: SocketAddr, dir: &Path) -> String {
    let d = dir.display();
    let mut out = format!("user root;\npid {d}/nginx.pid;\n");
    let mut servers = upstreams.iter();
    let (mut replaced, mut listens) = (0, 0);
    for line in template.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("server 10.0.0.") {
            let node = servers
                .next()
                .expect("deploy/nginx.conf names more servers than there are nodes");
            let params = rest.split_once(' ').map_or(";", |(_, p)| p);
            out.push_str(&format!("        server {node} {params}\n"));
            replaced += 1;
        } else if t == "listen 80;" {
            out.push_str(&format!("        listen {addr};\n"));
            listens += 1;
        } else {
            out.push_str(line);
            out.push('\n');
            if t == "http {" {
                out.push_str(&format!(
                    "    access_log {d}/access.log;\n    client_body_temp_path {d}/client_body;\n    \
                     proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
                     uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n"
                ));
            }
        }
    }
    assert_eq!(
        (replaced, listens),
        (upstreams.len(), 1),
        "deploy/nginx.conf should have {} `server 10.0.0.x:5000 …;` lines and one `listen 80;`",
        upstreams.len()
    );
    out
}

/// The most bytes one open connection to `node` has received (TCP_INFO's
/// `bytes_received`, through `ss`): what shows which node a request body is
/// streaming to while it streams.
fn most_received(node: SocketAddr) -> u64 {
    let out = StdCommand::new("ss")
        .args([
            "-tinH",
            "state",
            "established",
            "(",
            "sport",
            "=",
            &format!(":{}", node.port()),
            ")",
        ])
        .output()
        .expect("running ss (iproute2)");
    assert!(out.status.success(), "ss: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_received:")?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// Writes `len` random bytes to `path`; returns their SHA-256 in hex.
fn random_file(path: &Path, len: usize) -> String {
    use sha2::Digest as _;
    use std::io::{Read as _, Write as _};
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hasher = sha2::Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        random.read_exact(&mut block[..n]).unwrap();
        hasher.update(&block[..n]);
        file.write_all(&block[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a HEAD of a blob answered during the push.
#[derive(Debug)]
struct Seen {
    digest: String,
    status: u16,
    length: Option<u64>,
    served_digest: Option<String>,
}

/// Size of the big layer: enough that its upload takes seconds.
const BIG: usize = 150 << 20;
/// A connection to a node that has carried this much is streaming the big layer.
const RECEIVING: u64 = 24 << 20;

#[tokio::test]
async fn a_node_killed_mid_push_loses_nothing() {
    let (storage, mut nodes) = three_nodes(&[]).await;
    let nginx = Nginx::start(&nodes.iter().map(|n| n.addr).collect::<Vec<_>>());
    let lb = nginx.addr.to_string();
    let password = nodes[0].password.clone();
    let docker = Docker::new();
    let mut login = docker.cmd(&["login", "--username", "AWS", "--password-stdin", &lb]);
    let out = run_with_input(&mut login, Some(password.as_bytes())).await;
    assert!(out.status.success(), "docker login through nginx: {}", describe(&out));
    let repo = unique("cluster-kill");
    nodes[0].create_repo(&repo);

    let mut big_sha = String::new();
    let (local, built_id) = docker
        .build_busybox_with("survived a crash", |dir| {
            big_sha = random_file(&dir.join("big.bin"), BIG);
            vec!["big.bin".to_string()]
        })
        .await;
    let remote = format!("{lb}/{repo}:v1");
    docker.tag(&local, &remote).await;

    // The push; a killer that watches which node receives the big layer and
    // kills it with SIGKILL; and an observer that HEADs (through nginx) every
    // blob that appears in the bucket, for as long as the push runs.
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let push = async {
        let out = run(&mut docker.cmd(&["push", &remote])).await;
        done.store(true, Ordering::SeqCst);
        (out, started.elapsed())
    };
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let killer = async {
        while !done.load(Ordering::SeqCst) {
            for (i, addr) in addrs.iter().enumerate() {
                let received = most_received(*addr);
                if received > RECEIVING {
                    nodes[i].crash();
                    return Some((i, received, started.elapsed()));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    };
    let client = authenticated_client(&password);
    let observer = async {
        let mut watcher = s3_objects_cmd(&storage, "blobs/", Some("--watch"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the bucket watcher");
        let mut lines = tokio::io::BufReader::new(watcher.stdout.take().unwrap()).lines();
        let (mut objects, mut seen) = (Vec::new(), Vec::new());
        let mut tick = tokio::time::interval(Duration::from_millis(300));
        while !done.load(Ordering::SeqCst) {
            tokio::select! {
                line = lines.next_line() => match line.unwrap() {
                    Some(line) => objects.push(object_line(&line)),
                    None => panic!("the bucket watcher stopped: {:?}", watcher.wait().await),
                },
                _ = tick.tick() => {
                    let mut digests: Vec<String> = objects.iter().map(|(k, _)| object_digest(k)).collect();
                    digests.sort();
                    digests.dedup();
                    for digest in digests {
                        let r = client
                            .head(format!("http://{lb}/v2/{repo}/blobs/{digest}"))
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("HEAD {digest} through nginx during the push: {e}"));
                        let h = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string());
                        seen.push(Seen {
                            status: r.status().as_u16(),
                            length: h("content-length").and_then(|l| l.parse().ok()),
                            served_digest: h("docker-content-digest"),
                            digest,
                        });
                    }
                }
            }
        }
        let _ = watcher.kill().await;
        (objects, seen)
    };
    let ((out, took), killed, (objects_seen, heads)) = tokio::join!(push, killer, observer);

    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let retry_lines = stdout.lines().filter(|l| l.contains("Retrying in")).count();
    let retries = stdout
        .lines()
        .filter(|l| l.trim_end().ends_with("Retrying in 1 second"))
        .count();
    eprintln!(
        "docker push took {took:.1?}; killed (node index, bytes it had received, at): {killed:?}; \
         {retries} retries ({retry_lines} 'Retrying in' lines); {} HEADs during the push\n{stdout}\n\
         --- nginx error log ---\n{}",
        heads.len(),
        nginx.error_log()
    );
    let (victim, _, _) = killed.unwrap_or_else(|| {
        panic!(
            "no connection to a node carried {RECEIVING} bytes while the push ran ({took:.1?}): nothing was killed\n{}",
            describe(&out)
        )
    });
    assert!(
        out.status.success(),
        "docker push failed after node {} was killed: {}\n--- nginx ---\n{}",
        victim + 1,
        describe(&out),
        nginx.error_log()
    );
    assert!(
        retry_lines > 0,
        "docker did not retry although the node receiving the layer was killed:\n{stdout}"
    );
    let pushed = pushed_digest(&stdout);
    let live = nodes
        .iter()
        .enumerate()
        .find(|(i, _)| *i != victim)
        .map(|(_, n)| n)
        .unwrap();

    // The manifest's blobs, each stored whole once and served by every live node.
    let r = live
        .get(&format!("/v2/{repo}/manifests/{pushed}"))
        .header("accept", [DOCKER_MANIFEST, OCI_MANIFEST].join(", "))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET the pushed manifest");
    let manifest: Value = r.json().await.unwrap();
    let descriptors: Vec<(String, u64)> = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().expect("layers"))
        .map(|d| (d["digest"].as_str().unwrap().to_string(), d["size"].as_u64().unwrap()))
        .collect();
    assert!(
        descriptors.iter().any(|(_, size)| *size as usize > BIG / 2),
        "no big layer in {manifest}"
    );
    let size_of = |digest: &str| descriptors.iter().find(|(d, _)| d == digest).map(|(_, s)| *s);

    let mut stored = s3_objects(&storage, "blobs/").await;
    stored.sort();
    let mut stored_digests: Vec<String> = stored.iter().map(|(k, _)| object_digest(k)).collect();
    stored_digests.sort();
    let mut wanted: Vec<String> = descriptors.iter().map(|(d, _)| d.clone()).collect();
    wanted.sort();
    assert_eq!(stored_digests, wanted, "blob objects in the bucket: {stored:?}");
    for (key, size) in stored.iter().chain(objects_seen.iter()) {
        let blob = size_of(&object_digest(key)).unwrap_or_else(|| panic!("{key} is no blob of the image"));
        assert_eq!(
            *size,
            stowage_crypto::sealed_len(blob),
            "blob object {key} does not hold the whole {blob}-byte blob"
        );
    }
    for (i, n) in nodes.iter().enumerate().filter(|(i, _)| *i != victim) {
        for (digest, size) in &descriptors {
            let r = n.head(&format!("/v2/{repo}/blobs/{digest}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "HEAD {digest} on node {}", i + 1);
            assert_eq!(
                header(&r, "content-length"),
                size.to_string(),
                "HEAD {digest} on node {}",
                i + 1
            );
        }
    }
    // No answer during the push announced a blob that was not whole.
    for h in heads.iter().filter(|h| h.status == 200) {
        assert_eq!(h.length, size_of(&h.digest), "during the push: {h:?}");
        assert_eq!(
            h.served_digest.as_deref(),
            Some(h.digest.as_str()),
            "during the push: {h:?}"
        );
    }

    // Pulled back through nginx, the image runs and the big file is intact.
    docker.rmi(&[&local, &remote]).await;
    assert!(
        !docker.has_image(&built_id).await,
        "the image is still in the engine after rmi"
    );
    docker.pull(&remote).await;
    assert_eq!(docker.image_id(&remote).await, built_id);
    assert_eq!(docker.run_image(&remote).await, "survived a crash\n");
    let sum = docker
        .ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &remote,
            "/busybox",
            "sha256sum",
            "/big.bin",
        ])
        .await;
    assert_eq!(sum.split_whitespace().next(), Some(big_sha.as_str()));

    drop(docker);
    let out = run(&mut s3_objects_cmd(&storage, "", Some("--delete"))).await;
    assert!(out.status.success(), "emptying the test's folder: {}", describe(&out));
}

const GC_RUNS: &str = "stowage_job_runs_total{job=\"gc\"}";

/// Each node's count of gc runs (`None` for a node that is not running).
async fn gc_runs(nodes: &[TestServer]) -> Vec<Option<u64>> {
    let mut runs = Vec::new();
    for n in nodes {
        runs.push(match n.pid() {
            Some(_) => Some(n.metric(GC_RUNS).await.unwrap_or(0.0) as u64),
            None => None,
        });
    }
    runs
}

#[tokio::test]
async fn a_job_runs_once_across_three_nodes_and_survives_its_node() {
    let (_storage, mut nodes) = three_nodes(&["--gc-interval", "1s"]).await;
    let before = gc_runs(&nodes).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after = gc_runs(&nodes).await;
    let window = started.elapsed().as_secs_f64();
    let ran: Vec<u64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| a.unwrap() - b.unwrap())
        .collect();
    let total: u64 = ran.iter().sum();
    eprintln!("gc runs in {window:.1}s per node: {ran:?} (totals {after:?})");
    let holders: Vec<usize> = (0..3).filter(|i| after[*i].unwrap() > 0).collect();
    assert_eq!(holders.len(), 1, "gc ran on several nodes: {after:?}");
    assert!(
        total >= 3 && total as f64 <= window + 2.0,
        "{total} gc runs in {window:.1}s with a 1s interval across three nodes: {ran:?}"
    );
    let holder = holders[0];
    for (i, n) in nodes.iter().enumerate().filter(|(i, _)| *i != holder) {
        let passes = n.metric("stowage_gc_passes_total").await.unwrap_or(0.0);
        assert_eq!(passes, 0.0, "node {} made gc passes without the lease", i + 1);
    }

    nodes[holder].crash();
    let killed = Instant::now();
    // The lease outlives the interval by 10 s; then another node takes the job.
    let limit = Duration::from_secs(1 + 10 + 5);
    let took_over = loop {
        let runs = gc_runs(&nodes).await;
        if runs.iter().flatten().any(|r| *r > 0) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < limit,
            "no node ran gc within {limit:?} of node {} dying: {runs:?}",
            holder + 1
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = gc_runs(&nodes).await;
    eprintln!("another node took gc over {took_over:.1?} after the kill; runs now {runs:?}");
    let running: Vec<u64> = runs.iter().flatten().copied().filter(|r| *r > 0).collect();
    assert_eq!(running.len(), 1, "after the takeover gc runs on: {runs:?}");
    assert!(running[0] >= 2, "the new holder ran gc once and stopped: {runs:?}");
}

/// `GET path` within 10 s: status and body.
async fn probe(s: &TestServer, path: &str) -> (u16, String) {
    let r = s
        .anon
        .get(s.url(path))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn readiness_follows_postgres() {
    let pg = PrivatePostgres::start();
    let db = Db::postgres_at(&pg.url()).await;
    let s = TestServer::start_node(db, &Storage::s3(), &[]).await;
    let repo = unique("cluster-ready");
    s.create_repo(&repo);
    assert_eq!(probe(&s, "/readyz").await, (200, "ready\n".to_string()));

    pg.stop();
    let stopped = Instant::now();
    let (status, body) = loop {
        let (status, body) = probe(&s, "/readyz").await;
        if status != 200 || stopped.elapsed() > Duration::from_secs(10) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let noticed = stopped.elapsed();
    assert_eq!(status, 503, "/readyz with PostgreSQL stopped ({noticed:.1?}): {body}");
    assert!(noticed < Duration::from_secs(8), "/readyz took {noticed:.1?} to notice");
    assert!(body.contains("metadata"), "/readyz does not name the database: {body}");
    assert!(!body.contains("storage"), "/readyz blames the object store too: {body}");
    assert_eq!(probe(&s, "/healthz").await.0, 200, "/healthz with PostgreSQL stopped");

    pg.run();
    let restarted = Instant::now();
    loop {
        let (status, body) = probe(&s, "/readyz").await;
        if status == 200 {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "/readyz still {status} {:.1?} after PostgreSQL came back: {body}",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = restarted.elapsed();
    eprintln!(
        "/readyz: 503 {noticed:.1?} after the stop ({}), 200 {recovered:.1?} after the restart",
        body.trim()
    );
    assert_eq!(probe(&s, "/healthz").await.0, 200);
    // And it serves again: a push and a pull.
    let blob = bytes(7, 70_000);
    let digest = s.push_blob(&repo, &blob).await;
    let r = s.get(&format!("/v2/{repo}/blobs/{digest}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap()[..] == blob[..]);
}
