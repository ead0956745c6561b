//! `docker-credential-stowage`: a Docker credential helper, like
//! amazon-ecr-credential-helper, that answers `get` with a fresh registry
//! password from the control plane's `GetAuthorizationToken`, signed with
//! SigV4 using the standard AWS credential chain ([`aws_config`]).
//!
//! The helper protocol (docker/docker-credential-helpers): one argument,
//! `get` (server URL on stdin → `{"ServerURL","Username","Secret"}` on
//! stdout), `store` (credentials JSON on stdin, ignored), `erase` (server URL
//! on stdin, ignored), `list` (→ `{}`), `version`. Errors are printed on
//! stdout with exit status 1; `get` reports every failure as
//! [`NOT_FOUND`] so the docker CLI falls back to anonymous access, and
//! explains the real cause on stderr.

pub mod aws_config;

use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use stowage_core::sigv4::{self, SignedRequest};

use aws_config::AwsCredentials;

/// What `get` prints when it has nothing to offer; the docker CLI recognises
/// exactly this text and then proceeds without credentials.
pub const NOT_FOUND: &str = "credentials not found in native keychain";
/// The protocol's message for a missing server URL.
pub const MISSING_SERVER_URL: &str = "no credentials server URL";
/// Overrides the control-plane endpoint derived from the server URL.
pub const ENDPOINT_VAR: &str = "STOWAGE_ENDPOINT";
/// The operation selector of `GetAuthorizationToken`.
pub const GET_AUTHORIZATION_TOKEN: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
/// The SigV4 signing name of the ECR control plane.
pub const SIGNING_NAME: &str = "ecr";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// How long one call to the control plane may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A registry login, as `get` returns it.
#[derive(Clone, PartialEq)]
pub struct Login {
    pub username: String,
    pub password: String,
    /// When the password expires (epoch seconds), if the server said.
    pub expires_at: Option<f64>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whether a host name is a loopback address (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    lower == "localhost" || lower.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`, `user@host`).
fn authority_host(authority: &str) -> &str {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &authority[..h.len() + 1]);
    }
    if authority.matches(':').count() > 1 {
        return authority; // a bare IPv6 address
    }
    authority.split_once(':').map_or(authority, |(h, _)| h)
}

/// The control-plane endpoint (`scheme://authority`, no path) for a server
/// URL as docker passes it: `127.0.0.1:5000`, `registry.example.com`,
/// `https://registry.example.com/v2/`. A URL with a scheme keeps it; a bare
/// host gets `http://` when it is a loopback host and `https://` otherwise.
pub fn endpoint_from_server_url(server_url: &str) -> anyhow::Result<String> {
    let s = server_url.trim();
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, s),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        bail!("cannot derive an endpoint from the server URL '{server_url}'");
    }
    let host = authority_host(authority);
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]") // bare IPv6 without a port
    } else {
        authority.to_owned()
    };
    let scheme = match scheme {
        Some(scheme) if scheme == "http" || scheme == "https" => scheme,
        Some(scheme) => bail!("unsupported scheme '{scheme}' in the server URL '{server_url}'"),
        None if is_loopback_host(host) => "http".to_owned(),
        None => "https".to_owned(),
    };
    Ok(format!("{scheme}://{authority}"))
}

/// The endpoint to call: `STOWAGE_ENDPOINT` when set (a bare host there gets
/// the same scheme rule), else derived from the server URL.
pub fn endpoint(server_url: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    match env(ENDPOINT_VAR).map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) {
        Some(configured) => {
            let configured = configured.trim_end_matches('/');
            if configured.contains("://") {
                // Validate the scheme and host, but keep any path the user gave.
                endpoint_from_server_url(configured).with_context(|| format!("{ENDPOINT_VAR}={configured}"))?;
                Ok(configured.to_owned())
            } else {
                endpoint_from_server_url(configured).with_context(|| format!("{ENDPOINT_VAR}={configured}"))
            }
        }
        None => endpoint_from_server_url(server_url),
    }
}

/// Splits `scheme://authority/path` into the authority and the path (`/` when none).
fn split_endpoint(endpoint: &str) -> anyhow::Result<(&str, &str)> {
    let (_, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| anyhow!("endpoint '{endpoint}' has no scheme"))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// Signs a `POST` to the control plane: returns the headers to send, which
/// are `content-type`, `host`, `x-amz-target`, `x-amz-date`, the session
/// token when there is one (all signed, as the AWS CLI does), and `authorization`.
pub fn sign_post(
    host: &str,
    path: &str,
    target: &str,
    body: &[u8],
    creds: &AwsCredentials,
    region: &str,
    epoch_secs: i64,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
        ("host".to_owned(), host.to_owned()),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    let request = SignedRequest {
        method: "POST",
        path,
        query: "",
        headers: &headers,
        body,
    };
    let credentials = sigv4::Credentials {
        access_key_id: creds.access_key_id.clone(),
        secret_access_key: creds.secret_access_key.clone(),
        session_token: creds.session_token.clone(),
    };
    let added = sigv4::sign(&request, &credentials, region, SIGNING_NAME, epoch_secs);
    headers.extend(added);
    headers
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    authorization_data: Vec<AuthorizationData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationData {
    authorization_token: String,
    expires_at: Option<f64>,
}

/// Reads a `GetAuthorizationToken` response: status and body.
pub fn parse_token_response(status: u16, body: &str) -> anyhow::Result<Login> {
    if status != 200 {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let code = v["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t));
        let message = v["message"].as_str().or(v["Message"].as_str());
        return Err(match (code, message) {
            (Some(code), Some(message)) => anyhow!("GetAuthorizationToken failed (HTTP {status}): {code}: {message}"),
            (Some(code), None) => anyhow!("GetAuthorizationToken failed (HTTP {status}): {code}"),
            _ => anyhow!(
                "GetAuthorizationToken failed (HTTP {status}): {}",
                body.chars().take(200).collect::<String>().trim()
            ),
        });
    }
    let resp: TokenResponse =
        serde_json::from_str(body).context("GetAuthorizationToken returned a response it could not read")?;
    let data = resp
        .authorization_data
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("GetAuthorizationToken returned no authorizationData"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token.trim())
        .context("authorizationToken is not base64")?;
    let decoded = String::from_utf8(decoded).context("authorizationToken is not UTF-8")?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| anyhow!("authorizationToken is not 'user:password'"))?;
    if username.is_empty() || password.is_empty() {
        bail!("authorizationToken has an empty user name or password");
    }
    Ok(Login {
        username: username.to_owned(),
        password: password.to_owned(),
        expires_at: data.expires_at,
    })
}

/// Calls `GetAuthorizationToken` on `endpoint` with `creds` in `region`.
pub fn fetch_login(endpoint: &str, creds: &AwsCredentials, region: &str) -> anyhow::Result<Login> {
    let (host, path) = split_endpoint(endpoint)?;
    let url = format!("{}://{host}{path}", &endpoint[..endpoint.find("://").unwrap_or(0)]);
    if url.starts_with("https:") && !cfg!(feature = "tls") {
        bail!(
            "{url} is HTTPS, but this build of docker-credential-stowage speaks plain HTTP only \
             (build it with `--features tls`, or set {ENDPOINT_VAR} to an http:// endpoint)"
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let body = b"{}";
    let headers = sign_post(host, path, GET_AUTHORIZATION_TOKEN, body, creds, region, now as i64);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("docker-credential-stowage/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent.post(&url);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let mut response = request.send(&body[..]).with_context(|| format!("calling {url}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the response from {url}"))?;
    parse_token_response(status, &text).with_context(|| format!("from {url} (region {region})"))
}

/// `get`: the login for a server URL, from the environment's AWS credentials.
pub fn get(server_url: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<Login>> {
    let endpoint = endpoint(server_url, env)?;
    let Some(creds) = aws_config::load_credentials(env)? else {
        return Ok(None);
    };
    let region = aws_config::load_region(env)?;
    fetch_login(&endpoint, &creds, &region)
        .map(Some)
        .with_context(|| format!("using the access key {} from {}", creds.access_key_id, creds.source))
}

/// Runs one helper command; returns the exit status. Protocol output goes to
/// `stdout`, explanations to `stderr`.
pub fn run(
    args: &[String],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    env: &dyn Fn(&str) -> Option<String>,
) -> i32 {
    let fail = |stdout: &mut dyn Write, message: &str| {
        let _ = writeln!(stdout, "{message}");
        1
    };
    let action = match args {
        [action] => action.as_str(),
        _ => {
            let _ = writeln!(
                stderr,
                "Usage: docker-credential-stowage <get|store|erase|list|version>\n\
                 A Docker credential helper for Stowage registries: configure it in ~/.docker/config.json as\n\
                 {{\"credHelpers\": {{\"<registry host:port>\": \"stowage\"}}}}."
            );
            return fail(
                stdout,
                "usage: docker-credential-stowage <get|store|erase|list|version>",
            );
        }
    };
    let mut input = String::new();
    if matches!(action, "get" | "store" | "erase")
        && let Err(e) = stdin.read_to_string(&mut input)
    {
        let _ = writeln!(stderr, "docker-credential-stowage: reading stdin: {e}");
        return fail(stdout, &format!("reading stdin: {e}"));
    }
    match action {
        "get" => {
            let server_url = input.trim();
            if server_url.is_empty() {
                return fail(stdout, MISSING_SERVER_URL);
            }
            match get(server_url, env) {
                Ok(Some(login)) => {
                    let out = json!({"ServerURL": server_url, "Username": login.username, "Secret": login.password});
                    let _ = writeln!(stdout, "{out}");
                    0
                }
                Ok(None) => {
                    let _ = writeln!(
                        stderr,
                        "docker-credential-stowage: no AWS credentials for {server_url}: set AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY, or put keys for profile '{}' in {}",
                        aws_config::profile_name(env),
                        aws_config::credentials_file(env)
                            .map_or_else(|| "~/.aws/credentials".to_owned(), |p| p.display().to_string())
                    );
                    fail(stdout, NOT_FOUND)
                }
                Err(e) => {
                    let _ = writeln!(
                        stderr,
                        "docker-credential-stowage: getting credentials for {server_url}: {e:#}"
                    );
                    fail(stdout, NOT_FOUND)
                }
            }
        }
        "store" => match serde_json::from_str::<serde_json::Value>(&input) {
            // Logins come from AWS credentials; there is nothing to keep.
            Ok(v) if v.is_object() => 0,
            _ => {
                let _ = writeln!(
                    stderr,
                    "docker-credential-stowage: store: expected a JSON credentials object"
                );
                fail(stdout, "store: expected a JSON credentials object")
            }
        },
        "erase" => {
            if input.trim().is_empty() {
                return fail(stdout, MISSING_SERVER_URL);
            }
            0
        }
        "list" => {
            let _ = writeln!(stdout, "{{}}");
            0
        }
        "version" | "--version" | "-v" => {
            let _ = writeln!(stdout, "docker-credential-stowage {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => {
            let _ = writeln!(stderr, "docker-credential-stowage: unknown action '{other}'");
            fail(stdout, &format!("docker-credential-stowage: unknown action: {other}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use stowage_core::sigv4::{Secret, verify};

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn creds(akid: &str, secret: &str, token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: akid.into(),
            secret_access_key: secret.into(),
            session_token: token.map(Into::into),
            source: "test".into(),
        }
    }

    #[test]
    fn endpoints_from_server_urls() {
        for (server, expected) in [
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("127.1.2.3:5000", "http://127.1.2.3:5000"),
            ("localhost:5000", "http://localhost:5000"),
            ("LOCALHOST", "http://LOCALHOST"),
            ("registry.localhost:80", "http://registry.localhost:80"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("::1", "http://[::1]"),
            ("registry.example.com", "https://registry.example.com"),
            ("registry.example.com:5000", "https://registry.example.com:5000"),
            ("10.0.0.7:5000", "https://10.0.0.7:5000"),
            ("[2001:db8::1]:5000", "https://[2001:db8::1]:5000"),
            ("registry.example.com/v2/", "https://registry.example.com"),
            ("  127.0.0.1:5000\n", "http://127.0.0.1:5000"),
            // An explicit scheme is kept whatever the host.
            ("http://registry.example.com:5000", "http://registry.example.com:5000"),
            ("https://127.0.0.1:5443/v2/", "https://127.0.0.1:5443"),
            ("HTTPS://Registry.Example.com", "https://Registry.Example.com"),
            ("http://127.0.0.1:5000?x=1", "http://127.0.0.1:5000"),
        ] {
            assert_eq!(endpoint_from_server_url(server).unwrap(), expected, "{server}");
        }
        for bad in ["", "   ", "https://", "ftp://host", "/v2/"] {
            assert!(endpoint_from_server_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stowage_endpoint_overrides_the_server_url() {
        let env = env_of(&[(ENDPOINT_VAR, "http://10.1.2.3:9000/")]);
        assert_eq!(endpoint("registry.example.com", &env).unwrap(), "http://10.1.2.3:9000");
        let env = env_of(&[(ENDPOINT_VAR, "https://proxy.example.com/ecr")]);
        assert_eq!(endpoint("x", &env).unwrap(), "https://proxy.example.com/ecr");
        let env = env_of(&[(ENDPOINT_VAR, "localhost:9000")]);
        assert_eq!(endpoint("registry.example.com", &env).unwrap(), "http://localhost:9000");
        let env = env_of(&[(ENDPOINT_VAR, "")]);
        assert_eq!(endpoint("localhost:1", &env).unwrap(), "http://localhost:1");
        let env = env_of(&[(ENDPOINT_VAR, "gopher://x")]);
        assert!(endpoint("localhost:1", &env).is_err());
        assert_eq!(split_endpoint("https://h:1/ecr").unwrap(), ("h:1", "/ecr"));
        assert_eq!(split_endpoint("http://h:1").unwrap(), ("h:1", "/"));
    }

    /// The captured AWS CLI request of the spec (ecr-api.md §1.5) signs to the same signature.
    #[test]
    fn signs_like_the_aws_cli() {
        let headers = sign_post(
            "127.0.0.1:9999",
            "/",
            "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            b"{}",
            &creds("AKIAEXAMPLE", "secret", None),
            "us-east-1",
            1_795_734_491,
        );
        let authz = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert_eq!(
            authz,
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261126/us-east-1/ecr/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=96cf5f11dc8574a788a81c6a5c63cfa9b0e26fdc4fd2d01bab34ddfc5e269d38"
        );
    }

    #[test]
    fn signed_requests_verify_with_and_without_session_tokens() {
        let now = 1_700_000_000;
        for token in [None, Some("the-session-token")] {
            let c = creds("ASIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token);
            let headers = sign_post(
                "reg.example:8443",
                "/",
                GET_AUTHORIZATION_TOKEN,
                b"{}",
                &c,
                "eu-west-1",
                now,
            );
            let req = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: b"{}",
            };
            let found = Secret {
                secret_access_key: c.secret_access_key.clone(),
                session_token: c.session_token.clone(),
            };
            let verified = verify(&req, "ecr", "eu-west-1", now + 10, |akid| {
                assert_eq!(akid, "ASIAEXAMPLE");
                Some(found)
            })
            .unwrap();
            assert_eq!(verified.region, "eu-west-1");
            let authz = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
            assert_eq!(authz.contains("x-amz-security-token"), token.is_some());
            // The wrong secret does not verify.
            let wrong = Secret {
                secret_access_key: "other".into(),
                session_token: c.session_token.clone(),
            };
            assert!(verify(&req, "ecr", "eu-west-1", now, |_| Some(wrong)).is_err());
        }
    }

    #[test]
    fn token_responses() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pa55-word_x");
        let body = format!(
            r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":1764241691.345,"proxyEndpoint":"http://127.0.0.1:5000"}}]}}"#
        );
        let login = parse_token_response(200, &body).unwrap();
        assert_eq!(
            login,
            Login {
                username: "AWS".into(),
                password: "pa55-word_x".into(),
                expires_at: Some(1764241691.345)
            }
        );
        assert!(!format!("{login:?}").contains("pa55"));

        let err = parse_token_response(
            400,
            r#"{"__type":"com.amazonaws.ecr#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "GetAuthorizationToken failed (HTTP 400): UnrecognizedClientException: The security token included in the request is invalid."
        );
        let err = parse_token_response(502, "Bad Gateway\n").unwrap_err().to_string();
        assert_eq!(err, "GetAuthorizationToken failed (HTTP 502): Bad Gateway");
        assert!(parse_token_response(200, r#"{"authorizationData":[]}"#).is_err());
        assert!(parse_token_response(200, r#"{"authorizationData":[{"authorizationToken":"!!"}]}"#).is_err());
        let no_colon = base64::engine::general_purpose::STANDARD.encode("AWSpassword");
        let body = format!(r#"{{"authorizationData":[{{"authorizationToken":"{no_colon}"}}]}}"#);
        assert!(parse_token_response(200, &body).is_err());
    }

    fn run_with(args: &[&str], input: &str, env: &dyn Fn(&str) -> Option<String>) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, &mut input.as_bytes(), &mut out, &mut err, env);
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn protocol_commands() {
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ]);
        assert_eq!(run_with(&["list"], "", &env), (0, "{}\n".into(), String::new()));
        assert_eq!(
            run_with(&["store"], r#"{"ServerURL":"h","Username":"AWS","Secret":"s"}"#, &env).0,
            0
        );
        assert_eq!(run_with(&["store"], "not json", &env).0, 1);
        assert_eq!(
            run_with(&["erase"], "127.0.0.1:5000", &env),
            (0, String::new(), String::new())
        );
        assert_eq!(
            run_with(&["erase"], "", &env),
            (1, format!("{MISSING_SERVER_URL}\n"), String::new())
        );
        assert_eq!(
            run_with(&["get"], " \n", &env),
            (1, format!("{MISSING_SERVER_URL}\n"), String::new())
        );
        let (code, out, _) = run_with(&["version"], "", &env);
        assert_eq!(code, 0);
        assert!(out.starts_with("docker-credential-stowage "));
        let (code, out, err) = run_with(&["frobnicate"], "", &env);
        assert_eq!(code, 1);
        assert!(out.contains("unknown action: frobnicate") && err.contains("frobnicate"));
        let (code, _, err) = run_with(&[], "", &env);
        assert_eq!(code, 1);
        assert!(err.contains("Usage"));

        // No credentials anywhere: the protocol's "not found", and why on stderr.
        let (code, out, err) = run_with(&["get"], "127.0.0.1:5000", &env);
        assert_eq!((code, out.as_str()), (1, "credentials not found in native keychain\n"));
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn get_reports_server_failures_as_not_found() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AKIAX"), ("AWS_SECRET_ACCESS_KEY", "s")]);
        let (code, out, err) = run_with(&["get"], &format!("127.0.0.1:{port}"), &env);
        assert_eq!((code, out.as_str()), (1, "credentials not found in native keychain\n"));
        assert!(
            err.contains(&format!("http://127.0.0.1:{port}/")) && err.contains("AKIAX"),
            "{err}"
        );

        // HTTPS without the `tls` feature is refused before any connection is made.
        if !cfg!(feature = "tls") {
            let (code, out, err) = run_with(&["get"], "registry.example.com", &env);
            assert_eq!((code, out.as_str()), (1, "credentials not found in native keychain\n"));
            assert!(
                err.contains("https://registry.example.com/") && err.contains("plain HTTP only"),
                "{err}"
            );
        }
    }
}
