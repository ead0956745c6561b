//! The web console (`/console/`) end to end in a real browser: Debian's headless
//! Chromium driven through its `chromedriver` (WebDriver) with fantoccini. A
//! user signs in through the form, creates a repository, pushes an image with
//! vulnerable packages with the real docker CLI, watches its scan complete,
//! reads the findings and filters them by severity, deletes the repository and
//! signs out; a read-only IAM user sees no create form nor delete link, and
//! the forms it forges are refused by the same authorization as the API. What
//! the pages show is compared with what the ECR API answers for the same
//! things. Screenshots of the main pages go to `$STOWAGE_TEST_ARTIFACTS/console/`
//! (else `target/console-screenshots/`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::aws_cli::{Cli, Keys};
use crate::clients::{Docker, scratch_dir, unique};
use crate::scanning;
use crate::support::*;

/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(20);
/// How long the scan of a pushed image may take to show up as COMPLETE.
const SCAN_DEADLINE: Duration = Duration::from_secs(60);
/// Severities, most severe first (the console's order).
const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];
/// The session cookie.
const COOKIE: &str = "stowage_console";
/// The message of a form refused for its CSRF token.
const CSRF_REFUSED: &str = "The form has expired or did not come from this console.";
/// The message of a refused sign-in.
const WRONG_KEY: &str = "The credentials are not correct.";

// ---------------------------------------------------------------------------
// chromedriver + headless Chromium
// ---------------------------------------------------------------------------

/// A `chromedriver` of this test on a loopback port it picked itself
/// (`--port=0`), in a process group of its own: on drop the whole group
/// (chromedriver and the Chromium it started) is killed. (Chromium's crashpad
/// handlers leave the group, and exit by themselves when the browser is gone.)
struct Chromedriver {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        let dir = scratch_dir();
        let mut child = Command::new(require_env("STOWAGE_TEST_CHROMEDRIVER"))
            .arg("--port=0")
            .arg(format!("--log-path={}", dir.path().join("chromedriver.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("starting chromedriver");
        // "ChromeDriver was started successfully on port 40969."
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim_end_matches('.').trim().parse::<u16>().ok())
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let mut driver = Chromedriver {
            child,
            url: String::new(),
            dir,
        };
        let port = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("chromedriver did not report its port: {}", driver.log()));
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group chromedriver leads (process_group(0)): it and the browser.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One headless Chromium window on a test server's console.
struct Browser {
    c: Client,
    base: String,
    /// Screenshot file names start with this (the test's name).
    prefix: &'static str,
    driver: Chromedriver,
}

impl Browser {
    async fn start(s: &TestServer, prefix: &'static str) -> Browser {
        let driver = Chromedriver::start();
        let profile = driver.dir.path().join("profile");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": require_env("STOWAGE_TEST_CHROMIUM"),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}\n{}", driver.log()));
        Browser {
            c,
            base: format!("http://{}", s.host()),
            prefix,
            driver,
        }
    }

    /// Ends the browser session (the drop of the driver kills what is left).
    async fn close(self) {
        let _ = self.c.clone().close().await;
        drop(self.driver);
    }

    async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// The current page's path and query.
    async fn at(&self) -> String {
        let url = self.c.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Polls `f` until it gives a value, for at most `within`.
    async fn until_within<T, F, Fut>(&self, within: Duration, what: &str, mut f: F) -> T
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = f(self.c.clone()).await {
                return v;
            }
            if Instant::now() > deadline {
                let source = self.c.source().await.unwrap_or_default();
                panic!("waited {within:?} for {what}; at {}:\n{source}", self.at().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn until<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        self.until_within(WAIT, what, f).await
    }

    /// Waits until the browser shows a loaded page at `path` (path and query,
    /// or a prefix of them ending in `*`).
    async fn wait_at(&self, path: &str) {
        let want = path.to_string();
        self.until(&format!("the page {path}"), |c| {
            let want = want.clone();
            async move {
                let url = c.current_url().await.ok()?;
                let at = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_string(),
                };
                let matches = match want.strip_suffix('*') {
                    Some(prefix) => at.starts_with(prefix),
                    None => at == want,
                };
                let ready = c.execute("return document.readyState", vec![]).await.ok()? == "complete";
                (matches && ready).then_some(())
            }
        })
        .await
    }

    /// Waits until an element matching `css` is on the page; returns its text.
    async fn wait_text(&self, css: &str) -> String {
        let css = css.to_string();
        self.until(&format!("an element {css}"), |c| {
            let css = css.clone();
            async move { c.find(Locator::Css(&css)).await.ok()?.text().await.ok() }
        })
        .await
    }

    /// Waits until the page's `<h1>` reads `text`.
    async fn wait_h1(&self, text: &str) {
        let text = text.to_string();
        self.until(&format!("the heading {text:?}"), |c| {
            let text = text.clone();
            async move {
                let h1 = c.find(Locator::Css("h1")).await.ok()?.text().await.ok()?;
                (h1 == text).then_some(())
            }
        })
        .await
    }

    /// The text of the first element matching `css` (which must exist).
    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!(
                "no element {css} at {}: {e}\n{}",
                self.at().await,
                self.c.source().await.unwrap_or_default()
            ),
        }
    }

    /// Whether an element matches `css`.
    async fn has(&self, css: &str) -> bool {
        !self.c.find_all(Locator::Css(css)).await.expect("find_all").is_empty()
    }

    async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn click_link(&self, text: &str) {
        let link = match self.c.find(Locator::LinkText(text)).await {
            Ok(link) => link,
            Err(e) => panic!("no link {text:?} at {}: {e}", self.at().await),
        };
        link.click()
            .await
            .unwrap_or_else(|e| panic!("clicking the link {text:?}: {e}"));
    }

    /// Types into an input, as a user would (after clearing it).
    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.expect("clearing an input");
        e.send_keys(text)
            .await
            .unwrap_or_else(|err| panic!("typing into {css}: {err}"));
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.c
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// The body rows of the table with id `id`, each cell's text with its
    /// whitespace collapsed; `None` when the page has no such table.
    async fn table(&self, id: &str) -> Option<Vec<Vec<String>>> {
        let v = self
            .js(
                "const t = document.getElementById(arguments[0]);
                 if (!t) { return null; }
                 return Array.from(t.tBodies[0].rows).map(r =>
                   Array.from(r.cells).map(c => c.textContent.replace(/\\s+/g, ' ').trim()));",
                vec![id.into()],
            )
            .await;
        serde_json::from_value(v).expect("table rows")
    }

    /// `href`s (as written in the page) of the links matching `css`.
    async fn hrefs(&self, css: &str) -> Vec<String> {
        let v = self
            .js(
                "return Array.from(document.querySelectorAll(arguments[0])).map(a => a.getAttribute('href'));",
                vec![css.into()],
            )
            .await;
        serde_json::from_value(v).expect("hrefs")
    }

    /// The `dt` → `dd` pairs of the page's `dl.facts`.
    async fn facts(&self) -> BTreeMap<String, String> {
        let v = self
            .js(
                "return Array.from(document.querySelectorAll('dl.facts dt')).map(dt =>
                   [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]);",
                vec![],
            )
            .await;
        let pairs: Vec<(String, String)> = serde_json::from_value(v).expect("facts");
        pairs.into_iter().collect()
    }

    /// The signed-in page's CSRF token (the sign-out form's).
    async fn csrf(&self) -> String {
        self.find("form.signout input[name=csrf]")
            .await
            .attr("value")
            .await
            .expect("csrf value")
            .expect("a csrf value")
    }

    /// The session cookie's value, if the browser has one.
    async fn session_cookie(&self) -> Option<String> {
        self.c
            .get_named_cookie(COOKIE)
            .await
            .ok()
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Fills and sends the sign-in form.
    async fn sign_in(&self, access_key_id: &str, secret: &str) {
        self.type_into("#access_key_id", access_key_id).await;
        self.type_into("#secret_access_key", secret).await;
        self.click("form[action='/console/sign-in'] button[type=submit]").await;
    }

    /// Saves a PNG of the whole page as `<dir>/<prefix>-<name>.png`.
    async fn shot(&self, name: &str) {
        let height = self
            .js("return Math.ceil(document.documentElement.scrollHeight);", vec![])
            .await
            .as_f64()
            .unwrap_or(900.0);
        self.c
            .set_window_size(1280, height.clamp(720.0, 8000.0) as u32)
            .await
            .expect("resizing the window");
        let png = self.c.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = screenshot_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("screenshot {}", path.display());
        self.c.set_window_size(1280, 900).await.expect("resizing the window");
    }
}

/// Where screenshots go: `$STOWAGE_TEST_ARTIFACTS/console/`, else
/// `target/console-screenshots/` (created).
fn screenshot_dir() -> PathBuf {
    let dir = match std::env::var_os("STOWAGE_TEST_ARTIFACTS") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("console"),
        _ => repo_root().join("target/console-screenshots"),
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

// ---------------------------------------------------------------------------
// What the API says
// ---------------------------------------------------------------------------

/// Bytes as the console writes them: decimal units, one decimal (`1.5 MB`).
fn decimal_size(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < 3 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", ["KB", "MB", "GB", "TB"][unit])
}

/// `DescribeImages` of one tag, as the admin.
async fn image_detail(s: &TestServer, repo: &str, tag: &str) -> Value {
    let (status, v) = s
        .ecr(
            "DescribeImages",
            json!({ "repositoryName": repo, "imageIds": [{ "imageTag": tag }] }),
        )
        .await;
    assert_eq!(status, 200, "DescribeImages: {v}");
    v["imageDetails"][0].clone()
}

/// Whether a repository exists (`DescribeRepositories`, as the admin).
async fn repository_exists(s: &TestServer, repo: &str) -> bool {
    let (status, v) = s
        .ecr("DescribeRepositories", json!({ "repositoryNames": [repo] }))
        .await;
    match status {
        200 => true,
        400 if v["__type"] == "RepositoryNotFoundException" => false,
        _ => panic!("DescribeRepositories {repo}: {status} {v}"),
    }
}

/// A finding as the console lists it: (vulnerability, severity, package, version).
type Finding = (String, String, String, String);

/// Every basic finding of an image through the API, with its advisory link.
async fn api_findings(s: &TestServer, repo: &str, tag: &str) -> Vec<(Finding, String)> {
    let (status, v) = s
        .ecr(
            "DescribeImageScanFindings",
            json!({ "repositoryName": repo, "imageId": { "imageTag": tag }, "maxResults": 1000 }),
        )
        .await;
    assert_eq!(status, 200, "DescribeImageScanFindings: {v}");
    assert!(v.get("nextToken").is_none(), "more than 1000 findings: {v}");
    let attr = |f: &Value, key: &str| {
        f["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == key))
            .and_then(|x| x["value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    v["imageScanFindings"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                (
                    f["name"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                    attr(f, "package_name"),
                    attr(f, "package_version"),
                ),
                f["uri"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `#findings` rows as (vulnerability, severity, package, version).
fn console_findings(rows: &[Vec<String>]) -> BTreeSet<Finding> {
    rows.iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()))
        .collect()
}

/// A reqwest client that sends a console session cookie and follows no redirect.
fn with_cookie(cookie: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(c) = cookie {
        headers.insert(reqwest::header::COOKIE, format!("{COOKIE}={c}").parse().unwrap());
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A form POST; returns status, `Location` and body.
async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// The admin, in the browser: a page without a session leads to sign-in; a
/// wrong secret shows the error; signing in lands on the page asked for;
/// the create form (scan on push checked, IMMUTABLE) makes the repository;
/// after `docker push` of an image with vulnerable packages the list shows
/// its image count and size, and the repository page its scan going to
/// COMPLETE with the API's severity counts; the image page shows its facts,
/// layers, manifest and every finding with its advisory link, and the
/// severity filter keeps only that severity; the delete confirmation names
/// the image count and size, refuses a forged CSRF token and a wrong name,
/// and then deletes; signing out leads back to sign-in.
#[tokio::test]
async fn a_user_signs_in_creates_pushes_browses_and_signs_out() {
    let started = Instant::now();
    let s = TestServer::start().await;
    let admin = s.admin_credentials();
    let docker = Docker::new();
    let report = scanning::import(&s, &scanning::advisories());
    assert_eq!(report["failed"], 0, "{report}");
    // The image (pip packages with advisories, in /usr and /opt) builds while
    // the browser starts.
    let (b, local) = tokio::join!(Browser::start(&s, "admin"), async {
        docker.login(&s).await;
        let content = scanning::content().await;
        scanning::build_image(&docker, &content, &["usr", "opt"]).await
    });
    eprintln!("console screenshots go to {}", screenshot_dir().display());

    // No session: the console sends the browser to sign in, then back.
    b.goto("/console/repositories").await;
    b.wait_at("/console/sign-in?next=%2Fconsole%2Frepositories").await;
    assert_eq!(b.text("h1").await, "Sign in");
    assert!(!b.has("form.signout").await, "no sign-out button without a session");
    b.shot("01-sign-in").await;

    // A wrong secret: the error, and still no session.
    b.sign_in(&admin.access_key_id, "not-the-secret").await;
    assert_eq!(b.wait_text("p.error").await, WRONG_KEY);
    assert_eq!(b.at().await, "/console/sign-in");
    assert_eq!(b.session_cookie().await, None, "a refused sign-in sets no cookie");
    b.shot("02-sign-in-error").await;

    b.sign_in(&admin.access_key_id, &admin.secret_access_key).await;
    b.wait_at("/console/repositories").await;
    let (status, registry) = s.ecr("DescribeRegistry", json!({})).await;
    assert_eq!(status, 200, "{registry}");
    let account = registry["registryId"].as_str().unwrap();
    assert_eq!(b.text(".who").await, format!("admin · {account}"));
    assert!(
        b.session_cookie().await.is_some(),
        "signed in, the browser has a session"
    );

    // Create a repository through the form.
    let repo = unique("console");
    assert!(b.has("#create-h").await, "the admin sees the create form");
    b.type_into("#name", &repo).await;
    b.find("#mutability")
        .await
        .select_by_value("IMMUTABLE")
        .await
        .expect("choosing IMMUTABLE");
    b.click("input[name=scan_on_push]").await;
    b.find("#encryption")
        .await
        .select_by_value("AES256")
        .await
        .expect("choosing AES256");
    b.click("form[action='/console/repositories'][method=post] button[type=submit]")
        .await;
    b.wait_at(&format!("/console/repository?name={repo}")).await;
    assert_eq!(b.text("h1").await, repo);
    assert_eq!(b.table("images").await, Some(vec![]), "a new repository has no images");
    let (status, described) = s
        .ecr("DescribeRepositories", json!({ "repositoryNames": [repo] }))
        .await;
    assert_eq!(status, 200, "{described}");
    let created = &described["repositories"][0];
    assert_eq!(created["imageTagMutability"], "IMMUTABLE", "{created}");
    assert_eq!(created["imageScanningConfiguration"]["scanOnPush"], true, "{created}");
    assert_eq!(
        created["encryptionConfiguration"]["encryptionType"], "AES256",
        "{created}"
    );
    let uri = created["repositoryUri"].as_str().unwrap();
    let commands = b.text("section[aria-labelledby=push-h]").await;
    assert!(
        commands.contains(&format!("docker push {uri}:latest")),
        "push commands name the repository: {commands}"
    );
    assert!(
        b.has("a[href^='/console/repository/delete']").await,
        "the admin sees the delete link"
    );

    // Push with docker.
    let remote = format!("{}/{repo}:v1", s.host());
    docker.tag(&local, &remote).await;
    let digest = docker.push(&remote).await;

    // The list: one image, its size; the options chosen.
    b.goto("/console/repositories").await;
    let detail = image_detail(&s, &repo, "v1").await;
    let size = decimal_size(detail["imageSizeInBytes"].as_u64().expect("imageSizeInBytes"));
    let row = b
        .table("repositories")
        .await
        .expect("the repositories table")
        .into_iter()
        .find(|r| r[0] == repo)
        .unwrap_or_else(|| panic!("{repo} is not listed"));
    assert_eq!(row[2], "1", "image count: {row:?}");
    assert_eq!(row[3], size, "size: {row:?}");
    assert!(row[4].ends_with(" UTC"), "created: {row:?}");
    assert_eq!(row[5..], ["IMMUTABLE", "yes", "AES256"], "{row:?}");
    assert_eq!(
        b.text(&format!("tr[data-name='{repo}'] code")).await,
        uri,
        "the URI column"
    );
    b.shot("03-repositories").await;

    // The repository page, reloaded until the scan is COMPLETE.
    b.click_link(&repo).await;
    b.wait_at(&format!("/console/repository?name={repo}")).await;
    let row = b
        .until_within(SCAN_DEADLINE, "the scan to be COMPLETE", |c| async move {
            c.refresh().await.ok()?;
            let v = c
                .execute(
                    "const r = document.querySelector('#images tbody tr');
                     return r ? Array.from(r.cells).map(c => c.textContent.replace(/\\s+/g, ' ').trim()) : null;",
                    vec![],
                )
                .await
                .ok()?;
            let row: Vec<String> = serde_json::from_value(v).ok()?;
            (row[5] == "COMPLETE").then_some(row)
        })
        .await;
    eprintln!("scan COMPLETE on the repository page after {:?}", started.elapsed());
    let detail = image_detail(&s, &repo, "v1").await;
    assert_eq!(detail["imageScanStatus"]["status"], "COMPLETE", "{detail}");
    let counts = &detail["imageScanFindingsSummary"]["findingSeverityCounts"];
    let counts: BTreeMap<String, u64> = serde_json::from_value(counts.clone()).expect("severity counts");
    let want_counts = SEVERITIES
        .iter()
        .filter_map(|sev| counts.get(*sev).filter(|n| **n > 0).map(|n| format!("{sev} {n}")))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(!want_counts.is_empty(), "the image has findings: {detail}");
    assert_eq!(row[0], "v1", "tags: {row:?}");
    assert_eq!(
        row[1],
        format!("sha256:{}", &digest["sha256:".len()..][..12]),
        "{row:?}"
    );
    assert_eq!(row[2], size, "size: {row:?}");
    assert!(row[3].ends_with(" UTC"), "pushed: {row:?}");
    assert_eq!(row[4], "—", "never pulled: {row:?}");
    assert_eq!(row[6], want_counts, "severity counts: {row:?}");
    b.shot("04-repository").await;

    // The image page: facts, layers, manifest, every finding.
    b.click("#images tbody tr td a").await;
    let image_path = format!("/console/image?repository={repo}&digest={}", digest.replace(':', "%3A"));
    b.wait_at(&image_path).await;
    assert_eq!(b.text("h1").await, format!("{repo}:v1"));
    let facts = b.facts().await;
    assert_eq!(facts["Digest"], digest, "{facts:?}");
    assert_eq!(facts["Size"], size, "{facts:?}");
    assert_eq!(facts["Scan"], "COMPLETE", "{facts:?}");
    assert_eq!(
        facts["Media type"],
        detail["imageManifestMediaType"].as_str().unwrap(),
        "{facts:?}"
    );
    let shown: Value = serde_json::from_str(&b.text("pre.manifest").await).expect("the manifest is JSON");
    let layers: Vec<String> = shown["layers"]
        .as_array()
        .expect("manifest layers")
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    // busybox, message.txt, usr, opt.
    assert_eq!(layers.len(), 4, "{shown}");
    let layer_rows = b.table("layers").await.expect("the layers table");
    assert_eq!(
        layer_rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>(),
        layers,
        "the layers table lists the manifest's layers in order"
    );
    assert_eq!(b.table("platforms").await, None, "an image has no platforms table");
    assert_eq!(b.table("referrers").await, None, "no referrers");
    let r = s
        .get(&format!("/v2/{repo}/manifests/{digest}"))
        .header("accept", [OCI_MANIFEST, DOCKER_MANIFEST].join(", "))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        shown,
        r.json::<Value>().await.unwrap(),
        "the manifest shown is the registry's"
    );

    let api = api_findings(&s, &repo, "v1").await;
    let want: BTreeSet<Finding> = api.iter().map(|(f, _)| f.clone()).collect();
    let rows = b.table("findings").await.expect("the findings table");
    assert_eq!(rows.len(), api.len(), "one row per finding");
    assert_eq!(console_findings(&rows), want, "the findings are the API's");
    let links: BTreeSet<(String, String)> = b
        .js(
            "return Array.from(document.querySelectorAll('#findings tbody tr')).map(r =>
               [r.cells[0].textContent.trim(), r.cells[0].querySelector('a').getAttribute('href')]);",
            vec![],
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
        .collect();
    let want_links: BTreeSet<(String, String)> = api.iter().map(|(f, uri)| (f.0.clone(), uri.clone())).collect();
    assert_eq!(links, want_links, "each finding links to its advisory");
    assert!(links.iter().all(|(_, href)| href.starts_with("https://")), "{links:?}");
    assert_eq!(
        b.hrefs("nav[aria-label=Severity] a[aria-current]").await,
        [image_path.as_str()],
        "All is the current filter"
    );
    b.shot("05-image-findings").await;

    // Filter by the rarest severity (so the filter removes something).
    let (severity, n) = SEVERITIES
        .iter()
        .filter_map(|sev| counts.get(*sev).filter(|n| **n > 0).map(|n| (*sev, *n)))
        .min_by_key(|(_, n)| *n)
        .unwrap();
    assert!((n as usize) < api.len(), "more than one severity: {counts:?}");
    b.click_link(&format!("All ({})", api.len())).await; // the same page: the All link works
    b.wait_at(&image_path).await;
    b.click_link(&format!("{severity} ({n})")).await;
    b.wait_at(&format!("{image_path}&severity={severity}")).await;
    let rows = b.table("findings").await.expect("the findings table");
    let want_one: BTreeSet<Finding> = want.iter().filter(|f| f.1 == severity).cloned().collect();
    assert_eq!(rows.len(), n as usize, "{severity} rows: {rows:?}");
    assert!(rows.iter().all(|r| r[1] == severity), "only {severity}: {rows:?}");
    assert_eq!(console_findings(&rows), want_one);
    assert_eq!(
        b.find("nav[aria-label=Severity] a[aria-current]")
            .await
            .text()
            .await
            .unwrap(),
        format!("{severity} ({n})")
    );
    b.shot(&format!("06-image-findings-{}", severity.to_lowercase())).await;

    // Delete: the confirmation names what goes.
    b.click_link(&repo).await;
    b.wait_at(&format!("/console/repository?name={repo}")).await;
    b.click_link("Delete this repository…").await;
    b.wait_at(&format!("/console/repository/delete?name={repo}")).await;
    assert_eq!(b.text("h1").await, format!("Delete {repo}"));
    let said = b.text("main").await;
    assert!(
        said.contains(&format!("the repository {repo} with its 1 image ({size})")),
        "the confirmation names the image count and size: {said}"
    );
    b.shot("07-delete-confirmation").await;

    // A forged CSRF token is refused, and nothing is deleted.
    b.js(
        "document.querySelector(\"form[action='/console/repository/delete'] input[name=csrf]\").value = 'forged';",
        vec![],
    )
    .await;
    b.type_into("#confirm", &repo).await;
    b.click("form[action='/console/repository/delete'] button[type=submit]")
        .await;
    b.wait_h1("Not allowed").await;
    assert!(b.text("p.error").await.starts_with(CSRF_REFUSED));
    assert!(repository_exists(&s, &repo).await, "a forged form deleted nothing");

    // A name that does not match is refused.
    b.goto(&format!("/console/repository/delete?name={repo}")).await;
    b.type_into("#confirm", "not-the-name").await;
    b.click("form[action='/console/repository/delete'] button[type=submit]")
        .await;
    assert_eq!(b.wait_text("p.error").await, "The name typed does not match.");
    assert!(repository_exists(&s, &repo).await);

    // The name typed again: deleted, with its image.
    b.type_into("#confirm", &repo).await;
    b.click("form[action='/console/repository/delete'] button[type=submit]")
        .await;
    b.wait_at("/console/repositories").await;
    assert!(
        !b.has(&format!("tr[data-name='{repo}']")).await,
        "{repo} is still listed"
    );
    assert!(!repository_exists(&s, &repo).await, "{repo} still exists");

    // Sign out: back to the sign-in page, and pages want a session again.
    b.click("form.signout button[type=submit]").await;
    b.wait_at("/console/sign-in").await;
    assert_eq!(b.session_cookie().await, None, "signing out removes the cookie");
    b.goto(&format!("/console/repository?name={repo}")).await;
    b.wait_at("/console/sign-in?next=*").await;
    assert_eq!(b.text("h1").await, "Sign in");

    b.close().await;
    eprintln!(
        "console: signed in, created, pushed, browsed, deleted, signed out in {:?}",
        started.elapsed()
    );
}

/// A user with `AmazonEC2ContainerRegistryReadOnly` sees the
/// repositories, their images and sizes, but no create form and no delete
/// link; the delete confirmation is refused; forged POSTs of the delete and
/// create forms, with the user's own session and valid CSRF token, get 403
/// from the same authorization as the API, and change nothing.
#[tokio::test]
async fn a_read_only_user_may_look_but_not_create_or_delete() {
    // On PostgreSQL: its SUM is NUMERIC unless cast, which once showed every
    // repository as 0 images, 0 B.
    let s = TestServer::start_with(Db::postgres().await).await;
    let repo = unique("console-ro");
    let (status, v) = s.ecr("CreateRepository", json!({ "repositoryName": repo })).await;
    assert_eq!(status, 200, "{v}");
    s.push_image(&repo, "v1", &bytes(7, 4096)).await;
    let detail = image_detail(&s, &repo, "v1").await;
    let size = decimal_size(detail["imageSizeInBytes"].as_u64().unwrap());

    let aws = Cli::new(&s);
    let admin = Keys::admin(&s);
    aws.ok(&admin, &["iam", "create-user", "--user-name", "reader"]).await;
    aws.ok(
        &admin,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "reader",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    )
    .await;
    let reader = Keys::created(
        &aws.ok(&admin, &["iam", "create-access-key", "--user-name", "reader"])
            .await,
    );

    let b = Browser::start(&s, "read-only").await;
    b.goto("/console/").await;
    b.wait_at("/console/sign-in?next=%2Fconsole%2Frepositories").await;
    b.sign_in(&reader.id, &reader.secret).await;
    b.wait_at("/console/repositories").await;
    assert!(
        b.text(".who").await.starts_with("reader · "),
        "{}",
        b.text(".who").await
    );
    let row = b
        .table("repositories")
        .await
        .expect("the repositories table")
        .into_iter()
        .find(|r| r[0] == repo)
        .unwrap_or_else(|| panic!("{repo} is not listed"));
    assert_eq!(
        row[2..4],
        ["1".to_string(), size.clone()],
        "image count and size: {row:?}"
    );
    assert!(!b.has("#create-h").await, "a read-only user sees no create section");
    assert!(
        !b.has("form[action='/console/repositories'][method=post]").await,
        "a read-only user gets no create form"
    );
    b.shot("01-repositories").await;

    b.click_link(&repo).await;
    b.wait_at(&format!("/console/repository?name={repo}")).await;
    let images = b.table("images").await.expect("the images table");
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0][0], "v1");
    assert!(
        !b.has("a[href^='/console/repository/delete']").await,
        "a read-only user sees no delete link"
    );
    b.shot("02-repository").await;
    // The image page works for a reader (DescribeImages, DescribeImageScanFindings).
    b.click("#images tbody tr td a").await;
    b.wait_at("/console/image?*").await;
    assert_eq!(b.facts().await["Scan"], "not scanned");

    // The confirmation page is refused.
    b.goto(&format!("/console/repository/delete?name={repo}")).await;
    b.wait_h1("Not allowed").await;
    let said = b.text("p.error").await;
    assert!(said.contains(&repo), "{said}");

    // Forged POSTs with the reader's own session and CSRF token.
    let csrf = b.csrf().await;
    let cookie = b.session_cookie().await.expect("the reader's session");
    let client = with_cookie(Some(&cookie));
    let (status, _, body) = post_form(
        &client,
        &s.url("/console/repository/delete"),
        &[("csrf", &csrf), ("name", &repo), ("confirm", &repo)],
    )
    .await;
    assert_eq!(status, 403, "a forged delete: {body}");
    assert!(
        body.contains(":user/reader is not authorized to perform: ecr:DeleteRepository"),
        "the API's message: {body}"
    );
    assert!(repository_exists(&s, &repo).await, "the repository is still there");
    assert_eq!(
        image_detail(&s, &repo, "v1").await["imageDigest"],
        detail["imageDigest"],
        "with its image"
    );
    let other = unique("console-ro-new");
    let (status, _, body) = post_form(
        &client,
        &s.url("/console/repositories"),
        &[
            ("csrf", &csrf),
            ("name", &other),
            ("mutability", "MUTABLE"),
            ("encryption", "AES256"),
        ],
    )
    .await;
    assert_eq!(status, 403, "a forged create: {body}");
    assert!(
        body.contains("is not authorized to perform: ecr:CreateRepository"),
        "the API's message: {body}"
    );
    assert!(!repository_exists(&s, &other).await, "nothing was created");
    b.close().await;
}

/// Without a browser, the HTTP contract the pages rely on: every page and
/// form redirects to sign-in (with `next`) without a session; a wrong secret
/// or an unknown key is a 401 with the one error; a right one sets an
/// HttpOnly, SameSite=Strict cookie scoped to `/console`; every POST without
/// the session's CSRF token, or with another one, is a 403 that changes
/// nothing; signing out needs the token too.
#[tokio::test]
async fn pages_need_a_session_and_forms_the_csrf_token() {
    let s = TestServer::start().await;
    let admin = s.admin_credentials();
    let repo = unique("console-csrf");
    s.create_repo(&repo);
    let anon = with_cookie(None);

    for path in [
        "/console/repositories".to_string(),
        format!("/console/repository?name={repo}"),
        format!("/console/repository/delete?name={repo}"),
        format!("/console/image?repository={repo}&digest=sha256%3A00"),
    ] {
        let r = anon.get(s.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "GET {path} without a session");
        let location = r.headers()["location"].to_str().unwrap();
        assert_eq!(location, format!("/console/sign-in?next={}", form_encode(&path)));
    }
    let (status, location, _) = post_form(
        &anon,
        &s.url("/console/repository/delete"),
        &[("csrf", "x"), ("name", &repo), ("confirm", &repo)],
    )
    .await;
    // A form's page cannot be asked for again: after signing in, the list.
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/sign-in?next=%2Fconsole%2Frepositories")
    );
    assert!(repository_exists(&s, &repo).await);

    // Sign-in.
    let sign_in = s.url("/console/sign-in");
    for (id, secret) in [
        (admin.access_key_id.as_str(), "wrong"),
        ("AKIAUNKNOWN000000000", admin.secret_access_key.as_str()),
    ] {
        let (status, _, body) =
            post_form(&anon, &sign_in, &[("access_key_id", id), ("secret_access_key", secret)]).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains(WRONG_KEY), "{body}");
    }
    let r = anon
        .post(&sign_in)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "access_key_id={}&secret_access_key={}&next=%2Fconsole%2Frepository%3Fname%3D{repo}",
            form_encode(&admin.access_key_id),
            form_encode(&admin.secret_access_key)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/console/repository?name={repo}").as_str()
    );
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    let cookie = set_cookie
        .strip_prefix(&format!("{COOKIE}="))
        .and_then(|c| c.split(';').next())
        .expect("the session cookie")
        .to_string();
    // The session cookie is not a registry password (it is MAC'd under a key of its own).
    let as_password = anon
        .get(s.url("/v2/_catalog"))
        .basic_auth("AWS", Some(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(as_password.status(), 401, "a console cookie must not log in to /v2/");
    // `next` never leaves the console.
    let (status, location, _) = post_form(
        &anon,
        &sign_in,
        &[
            ("access_key_id", &admin.access_key_id),
            ("secret_access_key", &admin.secret_access_key),
            ("next", "//evil.example/console/"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/console/repositories"));

    let session = with_cookie(Some(&cookie));
    let page = session.get(s.url("/console/repositories")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf field")
        .to_string();

    // POSTs without, or with another, CSRF token: 403, nothing changes.
    let forged = "A".repeat(csrf.len());
    for token in [None, Some(""), Some(forged.as_str())] {
        let with = |mut form: Vec<(&'static str, String)>| {
            if let Some(t) = token {
                form.push(("csrf", t.to_string()));
            }
            form
        };
        let new_repo = unique("console-csrf-new");
        for (path, form) in [
            (
                "/console/repository/delete",
                with(vec![("name", repo.clone()), ("confirm", repo.clone())]),
            ),
            ("/console/repositories", with(vec![("name", new_repo.clone())])),
            ("/console/sign-out", with(vec![])),
        ] {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, _, body) = post_form(&session, &s.url(path), &form).await;
            assert_eq!(status, 403, "POST {path} with csrf {token:?}: {body}");
            assert!(body.contains(CSRF_REFUSED), "{body}");
        }
        assert!(repository_exists(&s, &repo).await, "csrf {token:?} deleted {repo}");
        assert!(
            !repository_exists(&s, &new_repo).await,
            "csrf {token:?} created {new_repo}"
        );
    }
    // The session survived the refused sign-outs.
    let page = session.get(s.url("/console/repositories")).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // With the token, signing out clears the cookie.
    let (status, location, _) = post_form(&session, &s.url("/console/sign-out"), &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/console/sign-in"));
}

/// An IAM user with a console password (`stowage iam set-console-password`,
/// read from stdin) signs in with it, as themselves; a wrong password, an
/// unknown user and a user without a password all get the same answer; a
/// password too short is refused by the command.
#[tokio::test]
async fn a_user_signs_in_with_a_console_password() {
    let s = TestServer::start().await;
    let out = s.admin(&["admin", "create-access-key", "--user", "carol"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = s.admin(&["admin", "create-access-key", "--user", "dave"]);
    assert!(out.status.success());
    let short = s.admin_with_input(&["iam", "set-console-password", "carol"], b"short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("8 to 128 characters"));
    let nobody = s.admin_with_input(&["iam", "set-console-password", "nobody"], b"long enough password\n");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no IAM user 'nobody'"));
    let set = s.admin_with_input(&["iam", "set-console-password", "carol"], b"correct horse battery\n");
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    let anon = with_cookie(None);
    let sign_in = s.url("/console/sign-in");
    for (user, password) in [
        ("carol", "correct horse batter"),
        ("nobody", "correct horse battery"),
        ("dave", "correct horse battery"),
    ] {
        let (status, _, body) = post_form(&anon, &sign_in, &[("user", user), ("password", password)]).await;
        assert_eq!(status, 401, "{user}");
        assert!(body.contains(WRONG_KEY), "{body}");
    }
    let (status, location, _) = post_form(
        &anon,
        &sign_in,
        &[
            ("user", "carol"),
            ("password", "correct horse battery"),
            ("next", "/console/settings"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/console/settings"));
    let r = anon
        .post(s.url("/console/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=carol&password=correct+horse+battery")
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = cookie
        .strip_prefix(&format!("{COOKIE}="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let page = with_cookie(Some(&cookie))
        .get(s.url("/console/repositories"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("carol · "), "signed in as carol: {html}");
}

/// The lifecycle page in the browser: a rule added with the editor reads as
/// a sentence, its preview names the image that would expire and the bytes
/// freed before anything is saved, and saving stores the policy the API then
/// returns.
#[tokio::test]
async fn a_lifecycle_rule_is_edited_previewed_and_saved() {
    let s = TestServer::start().await;
    let admin = s.admin_credentials();
    let repo = unique("console-lc");
    s.create_repo(&repo);
    let (old, new) = (bytes(21, 3000), bytes(22, 5000));
    s.push_image(&repo, "old", &old).await;
    s.push_image(&repo, "new", &new).await;

    let b = Browser::start(&s, "lifecycle").await;
    b.goto(&format!("/console/lifecycle?name={repo}")).await;
    b.sign_in(&admin.access_key_id, &admin.secret_access_key).await;
    b.wait_h1(&format!("Lifecycle policy of {repo}")).await;
    assert!(b.text("main").await.contains("No rules"));

    // The editor adds a rule to the text; nothing is saved yet.
    b.type_into("#description", "keep the newest").await;
    b.find("#tag_status option[value=any]").await.click().await.unwrap();
    b.type_into("#count_number", "1").await;
    b.click("button[value=add_rule]").await;
    let rule = b.wait_text("#rules li").await;
    assert_eq!(
        rule,
        "Priority 1: expire any images when more than 1 exist (the oldest first) — keep the newest"
    );
    let (status, _) = s.ecr("GetLifecyclePolicy", json!({ "repositoryName": repo })).await;
    assert_eq!(status, 400, "nothing saved by adding a rule");

    // Preview: the older image would go, freeing its layer (the config blob is
    // the same as the kept image's, so it is not freed).
    b.click("button[value=preview]").await;
    let summary = b.wait_text("#preview-summary").await;
    assert_eq!(
        summary,
        format!("1 image would expire, freeing {}.", decimal_size(old.len() as u64))
    );
    let rows = b.table("preview").await.expect("the preview table");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "old");
    b.shot("01-lifecycle-preview").await;

    // Save: the API has the policy, and the page lists it as saved.
    b.click("button[value=save]").await;
    assert_eq!(b.wait_text("p.note").await, "Policy saved.");
    let (status, v) = s.ecr("GetLifecyclePolicy", json!({ "repositoryName": repo })).await;
    assert_eq!(status, 200, "{v}");
    let saved: Value = serde_json::from_str(v["lifecyclePolicyText"].as_str().unwrap()).unwrap();
    assert_eq!(saved["rules"][0]["selection"]["countType"], "imageCountMoreThan");
    assert_eq!(saved["rules"][0]["selection"]["countNumber"], 1);
    assert_eq!(saved["rules"][0]["description"], "keep the newest");
    b.goto(&format!("/console/lifecycle?name={repo}")).await;
    assert_eq!(b.wait_text("#rules li").await, rule);
    b.shot("02-lifecycle-saved").await;
    b.close().await;
}
