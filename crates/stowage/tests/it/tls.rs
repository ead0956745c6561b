//! HTTPS serving: HTTP/2 through ALPN, the AWS CLI and docker over TLS with a
//! test CA made here (rcgen), certificate reload on SIGHUP, `aws:SecureTransport`
//! in policy conditions, settings checked at start; TLS to PostgreSQL; and the
//! master key check that stops a start with a key the database was not created with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

use crate::clients::{Docker, describe, unique};
use crate::support::*;

/// A certificate authority made for one test.
struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

/// A server certificate the test CA issued, and its key.
struct Issued {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Stowage test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { params, key, cert }
    }

    /// A certificate for 127.0.0.1 (and localhost) with common name `cn`.
    fn issue(&self, cn: &str) -> Issued {
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }
}

/// The server's certificate and key files, and the CA's, in a temp dir.
struct TlsFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl TlsFiles {
    fn new(ca: &Ca, issued: &Issued) -> TlsFiles {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("server.crt"),
            key: dir.path().join("server.key"),
            ca: dir.path().join("ca.pem"),
            _dir: dir,
        };
        std::fs::write(&files.ca, ca.pem()).unwrap();
        files.replace(issued);
        files
    }

    /// Writes a certificate and key over the files, each with one rename (as an
    /// operator's tooling would), so the server never reads half a file.
    fn replace(&self, issued: &Issued) {
        write_atomically(&self.cert, &issued.cert_pem);
        write_atomically(&self.key, &issued.key_pem);
    }

    /// `serve` flags that turn TLS on with these files.
    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".to_string(),
            self.cert.display().to_string(),
            "--tls-key".to_string(),
            self.key.display().to_string(),
        ]
    }
}

fn write_atomically(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Starts a server with TLS on (and extra flags).
async fn start_tls(files: &TlsFiles, extra: &[&str]) -> TestServer {
    let args = files.args();
    let args: Vec<&str> = args.iter().map(String::as_str).chain(extra.iter().copied()).collect();
    TestServer::start_configured(Db::Sqlite, &args).await
}

/// A rustls client configuration that trusts only `ca` and offers `alpn`.
fn client_config(ca: &Ca, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr` verified against `ca`: the stream, the protocol
/// ALPN settled on and the certificate the server presented.
async fn tls_connect(
    addr: SocketAddr,
    ca: &Ca,
    alpn: &[&[u8]],
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Option<Vec<u8>>,
    CertificateDer<'static>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_config(ca, alpn))
        .connect(ServerName::from(addr.ip()), tcp)
        .await
        .expect("TLS handshake with a client that trusts the test CA");
    let (_, session) = tls.get_ref();
    let negotiated = session.alpn_protocol().map(<[u8]>::to_vec);
    let presented = session.peer_certificates().expect("a server certificate")[0].clone();
    (tls, negotiated, presented)
}

fn basic(password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"))
    )
}

/// One HTTP/2 connection over TLS, kept open across requests.
struct H2 {
    addr: SocketAddr,
    send: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    alpn: Option<Vec<u8>>,
    server_cert: CertificateDer<'static>,
}

impl H2 {
    async fn connect(addr: SocketAddr, ca: &Ca) -> H2 {
        let (tls, alpn, server_cert) = tls_connect(addr, ca, &[b"h2", b"http/1.1"]).await;
        let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(conn);
        H2 {
            addr,
            send,
            alpn,
            server_cert,
        }
    }

    /// GET `path` with the admin's registry password: status and body.
    async fn get(&mut self, path: &str, password: &str) -> (u16, Bytes) {
        let req = hyper::Request::get(format!("https://{}{path}", self.addr))
            .header(hyper::header::AUTHORIZATION, basic(password))
            .header(hyper::header::ACCEPT, [OCI_MANIFEST, DOCKER_MANIFEST].join(", "))
            .body(Empty::new())
            .unwrap();
        self.send.ready().await.expect("the HTTP/2 connection is open");
        let resp = self.send.send_request(req).await.expect("HTTP/2 request");
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let status = resp.status().as_u16();
        (status, resp.into_body().collect().await.unwrap().to_bytes())
    }
}

/// Waits until the server has logged `message` at least `count` times.
async fn wait_for_log(s: &TestServer, message: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.log().matches(message).count() < count {
        assert!(
            Instant::now() < deadline,
            "the server did not log {message:?} {count} times:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first value a server logged under `field` (e.g. `plain_listen`).
fn logged(s: &TestServer, field: &str) -> String {
    s.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get(field).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| panic!("the server did not log {field}:\n{}", s.log()))
}

#[tokio::test]
async fn https_serves_http2_through_alpn_and_http1_too() {
    let ca = Ca::new();
    let files = TlsFiles::new(&ca, &ca.issue("stowage-a"));
    let s = start_tls(&files, &["--public-listen", "127.0.0.1:0"]).await;

    let mut h2 = H2::connect(s.addr, &ca).await;
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    let (status, _) = h2.get("/v2/", &s.password).await;
    assert_eq!(status, 200);
    // The public registry (ECR Public) is served over TLS too, and says so.
    let public = s.public_addr.expect("the server logs its public address");
    assert_eq!(logged(&s, "public_registry_url"), format!("https://{public}"));
    let mut public_h2 = H2::connect(public, &ca).await;
    assert_eq!(public_h2.alpn.as_deref(), Some(&b"h2"[..]));
    let (status, body) = public_h2.get("/v2/", "").await;
    assert!(
        status == 200 || status == 401,
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );

    // A client offering only HTTP/1.1 gets it.
    let (tls, alpn, _) = tls_connect(s.addr, &ca, &[b"http/1.1"]).await;
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("/v2/")
        .header(hyper::header::HOST, s.host())
        .header(hyper::header::AUTHORIZATION, basic(&s.password))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.version()), (200, hyper::Version::HTTP_11));

    // The listener speaks TLS only: plain HTTP gets no HTTP answer.
    let plain = s.anon.get(s.url("/v2/")).send().await;
    assert!(plain.is_err(), "plain HTTP on the TLS port answered: {plain:?}");
    // A client that does not trust the CA fails the handshake.
    let other = Ca::new();
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(client_config(&other, &[b"h2"]))
        .connect(ServerName::from(s.addr.ip()), tcp)
        .await;
    assert!(refused.is_err(), "a certificate from another CA was accepted");

    // SIGTERM still drains and stops with HTTP/2 connections open: the server
    // sends GOAWAY and waits for the clients' answers, so this runtime must keep
    // driving the connections while the server stops.
    let mut s = s;
    let s = tokio::task::spawn_blocking(move || {
        s.stop();
        s
    });
    let s = tokio::time::timeout(Duration::from_secs(30), s)
        .await
        .expect("the server stopped within 30 s")
        .unwrap();
    wait_for_log(&s, "stowage stopped", 1).await;
    drop((h2, public_h2));
}

/// Runs the AWS CLI (`aws <line> --endpoint-url <endpoint> [--ca-bundle <ca>]`)
/// with the admin's credentials; returns (exit code, stdout, stderr).
async fn aws(s: &TestServer, endpoint: &str, ca_bundle: Option<&Path>, line: &str) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(require_env("STOWAGE_TEST_AWS"));
    cmd.args(line.split_whitespace())
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]);
    if let Some(ca) = ca_bundle {
        cmd.arg("--ca-bundle").arg(ca);
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", s.data_dir.join("credentials"))
        .env("AWS_CONFIG_FILE", "/dev/null");
    let out = crate::clients::run(&mut cmd).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn aws_ok(s: &TestServer, endpoint: &str, ca_bundle: Option<&Path>, line: &str) -> Value {
    let (code, stdout, stderr) = aws(s, endpoint, ca_bundle, line).await;
    assert_eq!(code, 0, "aws {line}:\n{stdout}\n{stderr}");
    if stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test]
async fn the_aws_cli_works_over_https_with_the_ca_bundle() {
    let ca = Ca::new();
    let files = TlsFiles::new(&ca, &ca.issue("stowage-cli"));
    let s = start_tls(&files, &[]).await;
    let endpoint = format!("https://{}", s.host());

    let v = aws_ok(
        &s,
        &endpoint,
        Some(&files.ca),
        "ecr create-repository --repository-name tls/app",
    )
    .await;
    assert_eq!(v["repository"]["repositoryUri"], format!("{}/tls/app", s.host()));
    // With TLS on, the public URL (what `docker login` is told) says https.
    let v = aws_ok(&s, &endpoint, Some(&files.ca), "ecr get-authorization-token").await;
    assert_eq!(v["authorizationData"][0]["proxyEndpoint"], endpoint);
    let v = aws_ok(
        &s,
        &endpoint,
        Some(&files.ca),
        "ecr describe-repositories --repository-names tls/app",
    )
    .await;
    assert_eq!(v["repositories"][0]["repositoryName"], "tls/app");

    // Without the CA the CLI refuses the certificate: it really verifies.
    let (code, _, stderr) = aws(&s, &endpoint, None, "ecr describe-repositories").await;
    assert_ne!(code, 0);
    assert!(stderr.contains("SSL") || stderr.contains("certificate"), "{stderr}");
}

/// `/etc/docker/certs.d/<host:port>/ca.crt`, removed again on drop.
struct DockerCa(PathBuf);

impl DockerCa {
    fn install(host: &str, ca: &Ca) -> DockerCa {
        let dir = Path::new("/etc/docker/certs.d").join(host);
        std::fs::create_dir_all(&dir).expect("creating /etc/docker/certs.d/<host:port> (the suite runs as root)");
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        DockerCa(dir)
    }
}

impl Drop for DockerCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn docker_pushes_and_pulls_over_tls() {
    let ca = Ca::new();
    let files = TlsFiles::new(&ca, &ca.issue("stowage-docker"));
    let s = start_tls(&files, &[]).await;
    // The engine reads certs.d at each push and pull. Docker counts 127.0.0.0/8
    // as an insecure registry, so it may try HTTPS without verifying (and would
    // fall back to plain HTTP); the CA file is what a real host name needs. What
    // proves TLS here is the port: it speaks nothing else.
    let _trusted = DockerCa::install(&s.host(), &ca);
    let docker = Docker::new();
    docker.login(&s).await;
    let repo = unique("e2e-tls");
    s.create_repo(&repo);
    let (local, built_id) = docker.build_busybox("hello over tls").await;
    let remote = format!("{}/{repo}:v1", s.host());
    docker.tag(&local, &remote).await;
    let pushed = docker.push(&remote).await;

    let mut h2 = H2::connect(s.addr, &ca).await;
    let (status, manifest) = h2.get(&format!("/v2/{repo}/manifests/v1"), &s.password).await;
    assert_eq!(status, 200);
    assert_eq!(digest(&manifest), pushed, "the registry holds another manifest");

    docker.rmi(&[&local, &remote]).await;
    docker.pull(&remote).await;
    assert_eq!(docker.image_id(&remote).await, built_id);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_for_new_connections_only() {
    let ca = Ca::new();
    let first = ca.issue("stowage-first");
    let second = ca.issue("stowage-second");
    let files = TlsFiles::new(&ca, &first);
    let s = start_tls(&files, &[]).await;
    let hup = || {
        let pid = s.pid().expect("the server is running").to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    };

    let mut old = H2::connect(s.addr, &ca).await;
    assert_eq!(old.server_cert, first.der);
    assert_eq!(old.get("/v2/", &s.password).await.0, 200);

    files.replace(&second);
    hup();
    wait_for_log(&s, "TLS certificate reloaded", 1).await;
    let mut new = H2::connect(s.addr, &ca).await;
    assert_eq!(
        new.server_cert, second.der,
        "a new connection still gets the old certificate"
    );
    assert_eq!(new.get("/v2/", &s.password).await.0, 200);
    // The connection opened before the reload is untouched.
    assert_eq!(old.get("/v2/", &s.password).await.0, 200);

    // A reload that fails (a key that is not the certificate's) keeps the
    // certificate in use, and the server keeps serving.
    write_atomically(&files.key, &first.key_pem);
    hup();
    wait_for_log(&s, "TLS certificate reload failed", 1).await;
    assert!(s.log().contains("does not fit the certificate"), "{}", s.log());
    let mut after = H2::connect(s.addr, &ca).await;
    assert_eq!(after.server_cert, second.der);
    assert_eq!(after.get("/v2/", &s.password).await.0, 200);
    assert_eq!(old.get("/v2/", &s.password).await.0, 200);
}

#[tokio::test]
async fn secure_transport_condition_tells_the_tls_and_plain_listeners_apart() {
    let ca = Ca::new();
    let files = TlsFiles::new(&ca, &ca.issue("stowage-policy"));
    let s = start_tls(&files, &["--plain-listen", "127.0.0.1:0"]).await;
    let plain: SocketAddr = logged(&s, "plain_listen").parse().unwrap();
    assert!(plain.ip().is_loopback());
    let https = format!("https://{}", s.host());
    let http = format!("http://{plain}");
    s.create_repo("tls/only");
    let tags = "/v2/tls/only/tags/list";
    let basic_client = authenticated_client(&s.password);
    let mut h2 = H2::connect(s.addr, &ca).await;
    let r = basic_client.get(format!("{http}{tags}")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the plain listener serves before the policy");

    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "ecr:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
    let path = s.data_dir.join("tls-only.json");
    std::fs::write(&path, policy.to_string()).unwrap();
    // --force: the lock-out check assumes a plain request, which this policy denies.
    aws_ok(
        &s,
        &https,
        Some(&files.ca),
        &format!(
            "ecr set-repository-policy --repository-name tls/only --force --policy-text file://{}",
            path.display()
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the policy cache's TTL

    // Registry API: denied in plain HTTP, allowed over TLS.
    let r = basic_client.get(format!("{http}{tags}")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "DENIED");
    let (status, body) = h2.get(tags, &s.password).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // Control plane: the same through the AWS CLI.
    let describe = "ecr describe-images --repository-name tls/only";
    let (code, _, stderr) = aws(&s, &http, None, describe).await;
    assert_eq!(code, 255, "{stderr}");
    assert!(stderr.contains("AccessDeniedException"), "{stderr}");
    aws_ok(&s, &https, Some(&files.ca), describe).await;
}

fn with<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().map(String::as_str).chain(extra.iter().copied()).collect()
}

#[test]
fn tls_settings_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let ca = Ca::new();
    let files = TlsFiles::new(&ca, &ca.issue("stowage-settings"));
    let (cert, key) = (files.cert.display().to_string(), files.key.display().to_string());

    let err = serve_refused(&["--data-dir", &data, "--tls-cert", &cert]);
    assert!(err.contains("tls_cert and tls_key go together"), "{err}");
    let err = serve_refused(&[
        "--data-dir",
        &data,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--plain-listen",
        "0.0.0.0:0",
    ]);
    assert!(err.contains("plain_listen must be a loopback address"), "{err}");
    let err = serve_refused(&["--data-dir", &data, "--plain-listen", "127.0.0.1:0"]);
    assert!(
        err.contains("plain_listen adds a plain-HTTP listener beside HTTPS"),
        "{err}"
    );
    let missing = dir.path().join("missing.crt").display().to_string();
    let err = serve_refused(&["--data-dir", &data, "--tls-cert", &missing, "--tls-key", &key]);
    assert!(err.contains("reading the TLS certificate"), "{err}");
    let other = dir.path().join("other.key");
    std::fs::write(&other, ca.issue("other").key_pem).unwrap();
    let other = other.display().to_string();
    let err = serve_refused(&["--data-dir", &data, "--tls-cert", &cert, "--tls-key", &other]);
    assert!(err.contains("does not fit the certificate"), "{err}");
}

const WRONG_KEY_MESSAGE: &str = "the master key does not match the one this registry was created with";

both_dbs!(
    async fn a_wrong_master_key_stops_the_server_at_start(s: TestServer) {
        let mut s = s;
        let original = std::fs::read_to_string(s.data_dir.join("master.key")).unwrap();
        s.stop();
        let base = server_args(&s);

        let wrong = s.data_dir.join("wrong.key");
        std::fs::write(&wrong, "11".repeat(32)).unwrap();
        let wrong = wrong.display().to_string();
        let err = serve_refused(&with(&base, &["--master-key-file", &wrong]));
        assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
        // The admin commands open the same way.
        let out = s.admin(&["admin", "get-login-password", "--master-key-file", &wrong]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(WRONG_KEY_MESSAGE),
            "{}",
            describe(&out)
        );

        // The original key works from a file of its own, without master.key.
        let kept = s.data_dir.join("kept.key");
        std::fs::write(&kept, &original).unwrap();
        std::fs::remove_file(s.data_dir.join("master.key")).unwrap();
        let out = s.admin(&[
            "admin",
            "get-login-password",
            "--master-key-file",
            kept.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(!s.data_dir.join("master.key").exists());

        // And from master.key again after a restart.
        std::fs::write(s.data_dir.join("master.key"), &original).unwrap();
        s.restart();
        let r = s.get("/v2/").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
);

both_dbs!(
    async fn a_missing_master_key_is_never_replaced_by_a_new_one(s: TestServer) {
        let mut s = s;
        s.stop();
        let master = s.data_dir.join("master.key");
        std::fs::remove_file(&master).unwrap();
        let err = serve_refused(&with(&server_args(&s), &[]));
        assert!(err.contains("master.key is missing"), "{err}");
        assert!(err.contains("will not make a new key"), "{err}");
        assert!(!master.exists(), "a new master key was written");
    }
);

/// Runs one SQL statement on a server's metadata database.
async fn execute_sql(s: &TestServer, sql: &str) {
    let url = match &s.db {
        Db::Sqlite => format!("sqlite://{}", s.data_dir.join("stowage.db").display()),
        Db::Postgres(url) => url.clone(),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url)
        .await
        .expect("connecting to the metadata database");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .expect("running SQL");
    pool.close().await;
}

both_dbs!(
    /// A database from before the master key check: the admin key's sealed
    /// secret tells a wrong key apart, and the right one records the check.
    async fn a_database_without_the_check_is_checked_through_its_admin_key(s: TestServer) {
        let mut s = s;
        s.stop();
        execute_sql(&s, "DELETE FROM server_settings WHERE name = 'master_key_check'").await;
        let base = server_args(&s);
        let wrong = s.data_dir.join("wrong.key");
        std::fs::write(&wrong, "33".repeat(32)).unwrap();
        let err = serve_refused(&with(&base, &["--master-key-file", wrong.to_str().unwrap()]));
        assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
        s.restart();
        assert_eq!(s.get("/v2/").send().await.unwrap().status(), 200);
        s.stop();
        let err = serve_refused(&with(&base, &["--master-key-file", wrong.to_str().unwrap()]));
        assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
    }
);

/// A second node on the same PostgreSQL database with a key of its own (here:
/// none, so it would make one) is refused too.
#[tokio::test]
async fn a_node_without_the_shared_master_key_is_refused() {
    let s = TestServer::start_with(Db::postgres().await).await;
    let Db::Postgres(url) = &s.db else { unreachable!() };
    let other = tempfile::tempdir().unwrap();
    let data = other.path().display().to_string();
    let err = serve_refused(&["--data-dir", &data, "--database-url", url]);
    assert!(err.contains("master.key is missing"), "{err}");
    let key = other.path().join("other.key");
    std::fs::write(&key, "22".repeat(32)).unwrap();
    let err = serve_refused(&[
        "--data-dir",
        &data,
        "--database-url",
        url,
        "--master-key-file",
        key.to_str().unwrap(),
    ]);
    assert!(err.contains(WRONG_KEY_MESSAGE), "{err}");
    // With the shared key it starts (the admin commands open the same way).
    let shared = other.path().join("shared.key");
    std::fs::copy(s.data_dir.join("master.key"), &shared).unwrap();
    let out = Command::new(BIN)
        .args([
            "admin",
            "get-login-password",
            "--data-dir",
            &data,
            "--database-url",
            url,
        ])
        .args(["--master-key-file", shared.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

/// `stowage repo create` against `url`: the admin commands open the database
/// the way `serve` does.
fn repo_create_on(url: &str, name: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(["repo", "create", name, "--data-dir", dir.path().to_str().unwrap()])
        .args(["--database-url", url])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

#[test]
fn postgres_is_reached_over_tls_and_its_certificate_checked() {
    let ca = Ca::new();
    let issued = ca.issue("postgres");
    // A server that accepts TLS connections only.
    let pg = crate::private_postgres::PrivatePostgres::start_with_setup("-c ssl=on", |data| {
        std::fs::write(data.join("server.crt"), &issued.cert_pem).unwrap();
        std::fs::write(data.join("server.key"), &issued.key_pem).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let hba = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap();
        let tls_only: String = hba
            .lines()
            .map(|l| {
                l.strip_prefix("host ")
                    .map_or(l.to_string(), |rest| format!("hostssl {rest}"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(data.join("pg_hba.conf"), tls_only + "\n").unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let verified = format!("{}?sslmode=verify-full&sslrootcert={}", pg.url(), ca_file.display());
    let out = repo_create_on(&verified, "over-tls");
    assert!(
        out.status.success(),
        "verify-full with the right CA: {}",
        describe(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("over-tls"));

    // Plain connections are refused by this server: the one above was TLS.
    let out = repo_create_on(&format!("{}?sslmode=disable", pg.url()), "plain");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no encryption"),
        "{}",
        describe(&out)
    );

    // Another CA's server certificate is not trusted.
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, Ca::new().pem()).unwrap();
    let out = repo_create_on(
        &format!("{}?sslmode=verify-full&sslrootcert={}", pg.url(), other.display()),
        "untrusted",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate"),
        "{}",
        describe(&out)
    );
}
