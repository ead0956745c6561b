//! The ECR control plane driven by the real AWS CLI (v1, from the venv
//! `scripts/test` installs): every served operation at least once, through the
//! CLI's own argument parsing, SigV4 signing, pagination and error printing.
//!
//! Each test starts its own server and runs `aws` with the server's bootstrap
//! admin credentials file, `--endpoint-url http://<host> --region us-east-1
//! --output json`, a throwaway `HOME`, `AWS_CONFIG_FILE=/dev/null` and no other
//! `AWS_*` variable from the environment. Commands are written as one line
//! split on whitespace (no argument here contains a space).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::*;

/// How long one `aws` invocation may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// A failed `aws` call: the CLI exits 255 and prints
/// `An error occurred (<code>) when calling the <op> operation: <message>`.
#[derive(Debug)]
pub(crate) struct CliError {
    pub code: String,
    pub operation: String,
    pub message: String,
}

/// The AWS CLI bound to one test server.
pub(crate) struct Aws {
    bin: String,
    endpoint: String,
    credentials: PathBuf,
    home: tempfile::TempDir,
}

impl Aws {
    /// The CLI with the admin's credentials file.
    pub(crate) fn new(s: &TestServer) -> Aws {
        Self::with_credentials(s, &s.data_dir.join("credentials"))
    }

    /// The CLI with another credentials file (`[default]` profile).
    fn with_credentials(s: &TestServer, credentials: &Path) -> Aws {
        Aws {
            bin: require_env("STOWAGE_TEST_AWS"),
            endpoint: format!("http://{}", s.host()),
            credentials: credentials.to_path_buf(),
            home: tempfile::tempdir().expect("temp HOME for the aws CLI"),
        }
    }

    /// Runs `aws <line> --endpoint-url … --region us-east-1 --output json`;
    /// returns (exit code, stdout, stderr).
    pub(crate) async fn exec(&self, line: &str) -> (i32, String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(line.split_whitespace());
        cmd.args(["--endpoint-url", &self.endpoint]);
        cmd.args(["--region", "us-east-1", "--output", "json"]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("AWS_SHARED_CREDENTIALS_FILE", &self.credentials)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(CLI_TIMEOUT, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("aws {line} did not finish within {CLI_TIMEOUT:?}"))
            .expect("running the aws CLI");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs an `aws` command: its parsed JSON output (`Null` when it prints
    /// nothing), or the error the CLI reported.
    async fn call(&self, line: &str) -> Result<Value, CliError> {
        let (code, stdout, stderr) = self.exec(line).await;
        if code == 0 {
            if stdout.trim().is_empty() {
                return Ok(Value::Null);
            }
            return Ok(serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("aws {line} printed non-JSON ({e}):\n{stdout}\nstderr:\n{stderr}")));
        }
        assert_eq!(code, 255, "aws {line}: exit code\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Err(parse_cli_error(&stderr).unwrap_or_else(|| panic!("aws {line} failed without an AWS error:\n{stderr}")))
    }

    /// Runs an `aws` command that must succeed.
    pub(crate) async fn ok(&self, line: &str) -> Value {
        self.call(line)
            .await
            .unwrap_or_else(|e| panic!("aws {line} failed: {e:?}"))
    }

    /// Runs an `aws` command that must fail with `code` when calling `operation`.
    pub(crate) async fn fails(&self, line: &str, operation: &str, code: &str) -> CliError {
        match self.call(line).await {
            Ok(v) => panic!("aws {line} succeeded, expected {code}: {v}"),
            Err(e) => {
                assert_eq!(
                    (e.code.as_str(), e.operation.as_str()),
                    (code, operation),
                    "aws {line}: {e:?}"
                );
                e
            }
        }
    }

    /// `initiate-layer-upload` then one `upload-layer-part` with the whole file;
    /// returns the upload id, ready for `complete-layer-upload`.
    async fn upload_file(&self, repo: &str, path: &Path) -> String {
        let len = std::fs::metadata(path).unwrap().len();
        let v = self
            .ok(&format!("ecr initiate-layer-upload --repository-name {repo}"))
            .await;
        let id = str_at(&v, "/uploadId").to_string();
        let v = self.ok(&upload_part(repo, &id, 0, path)).await;
        assert_eq!(v["lastByteReceived"].as_u64(), Some(len - 1), "{v}");
        id
    }
}

/// The `upload-layer-part` command sending a whole file from byte `first`.
fn upload_part(repo: &str, upload_id: &str, first: u64, path: &Path) -> String {
    let last = first + std::fs::metadata(path).unwrap().len() - 1;
    format!(
        "ecr upload-layer-part --repository-name {repo} --upload-id {upload_id} \
         --part-first-byte {first} --part-last-byte {last} --layer-part-blob fileb://{}",
        path.display()
    )
}

/// The `complete-layer-upload` command for one upload of one layer.
fn complete_upload(repo: &str, upload_id: &str, layer_digest: &str) -> String {
    format!("ecr complete-layer-upload --repository-name {repo} --upload-id {upload_id} --layer-digests {layer_digest}")
}

/// The `put-image` command tagging a manifest (compact JSON, no whitespace).
fn put_image(repo: &str, tag: &str, manifest: &str) -> String {
    format!("ecr put-image --repository-name {repo} --image-tag {tag} --image-manifest {manifest}")
}

/// `GET /v2/<repo>/manifests/<reference>` over the registry API, accepting an
/// OCI image manifest.
async fn get_manifest(s: &TestServer, repo: &str, reference: &str) -> reqwest::Response {
    s.get(&format!("/v2/{repo}/manifests/{reference}"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
}

/// The status of `GET /v2/` with `Basic AWS:<password>`.
async fn v2_status(s: &TestServer, password: &str) -> reqwest::StatusCode {
    authenticated_client(password)
        .get(s.url("/v2/"))
        .send()
        .await
        .unwrap()
        .status()
}

/// Parses the CLI's one-line error report.
fn parse_cli_error(stderr: &str) -> Option<CliError> {
    let line = stderr.lines().find(|l| l.starts_with("An error occurred ("))?;
    let rest = line.strip_prefix("An error occurred (")?;
    let (code, rest) = rest.split_once(") when calling the ")?;
    let (operation, message) = rest.split_once(" operation: ")?;
    Some(CliError {
        code: code.to_string(),
        operation: operation.to_string(),
        message: message.to_string(),
    })
}

/// The string at a JSON pointer, or a panic naming it.
fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// The `repositoryName`s of a `describe-repositories` answer.
fn repository_names(v: &Value) -> Vec<String> {
    v["repositories"]
        .as_array()
        .unwrap_or_else(|| panic!("no repositories in {v}"))
        .iter()
        .map(|r| str_at(r, "/repositoryName").to_string())
        .collect()
}

/// Resource tags of a `list-tags-for-resource` answer, sorted.
fn tag_pairs(v: &Value) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = v["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags in {v}"))
        .iter()
        .map(|t| (str_at(t, "/Key").to_string(), str_at(t, "/Value").to_string()))
        .collect();
    tags.sort();
    tags
}

/// The resource tags of `arn`, sorted, from `list-tags-for-resource`.
async fn resource_tags(aws: &Aws, arn: &str) -> Vec<(String, String)> {
    tag_pairs(
        &aws.ok(&format!("ecr list-tags-for-resource --resource-arn {arn}"))
            .await,
    )
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `list-images` of a repository with extra arguments, as sorted ids.
async fn list_images(aws: &Aws, repo: &str, extra: &str) -> Vec<Id> {
    image_ids(
        &aws.ok(&format!("ecr list-images --repository-name {repo} {extra}"))
            .await,
    )
}

/// An image id as `(digest, tag)`.
type Id = (String, Option<String>);

fn id(digest: &str, tag: Option<&str>) -> Id {
    (digest.to_string(), tag.map(str::to_string))
}

/// The `imageIds` of a `list-images` / `batch-delete-image` answer, sorted.
fn image_ids(v: &Value) -> Vec<Id> {
    let mut ids: Vec<Id> = v["imageIds"]
        .as_array()
        .unwrap_or_else(|| panic!("no imageIds in {v}"))
        .iter()
        .map(|i| id(str_at(i, "/imageDigest"), i.get("imageTag").and_then(Value::as_str)))
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Id>) -> Vec<Id> {
    ids.sort();
    ids
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The pushed manifest with an annotation added: a new digest over the same
/// blobs (compact JSON, so it holds no whitespace).
fn annotated(manifest: &[u8], value: &str) -> String {
    let mut m: Value = serde_json::from_slice(manifest).unwrap();
    m["annotations"] = json!({ "org.example.note": value });
    m.to_string()
}

#[tokio::test]
async fn repositories_and_tags() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);

    // A KMS repository names a key of the built-in key service.
    let key = aws.ok("kms create-key --description team-app").await;
    let key_id = str_at(&key, "/KeyMetadata/KeyId").to_string();
    let created = aws
        .ok(&format!(
            "ecr create-repository --repository-name team/app --tags Key=team,Value=core Key=env,Value=dev \
             --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true \
             --encryption-configuration encryptionType=KMS,kmsKey={key_id}"
        ))
        .await;
    let repo = &created["repository"];
    let account = str_at(repo, "/registryId").to_string();
    assert!(is_account_id(&account), "{repo}");
    let arn = format!("arn:aws:ecr:us-east-1:{account}:repository/team/app");
    assert_eq!(str_at(repo, "/repositoryArn"), arn);
    assert_eq!(str_at(repo, "/repositoryName"), "team/app");
    assert_eq!(str_at(repo, "/repositoryUri"), format!("{}/team/app", s.host()));
    assert_eq!(str_at(repo, "/imageTagMutability"), "IMMUTABLE");
    assert_eq!(repo["imageScanningConfiguration"], json!({ "scanOnPush": true }));
    assert_eq!(
        repo["encryptionConfiguration"],
        json!({ "encryptionType": "KMS", "kmsKey": key_id })
    );
    let created_at = repo["createdAt"].as_f64().expect("createdAt is epoch seconds");
    assert!((created_at - now_secs()).abs() < 120.0, "createdAt {created_at}");

    let err = aws
        .fails(
            "ecr create-repository --repository-name team/app",
            "CreateRepository",
            "RepositoryAlreadyExistsException",
        )
        .await;
    assert_eq!(
        err.message,
        format!("The repository with name 'team/app' already exists in the registry with id '{account}'")
    );

    for n in ["r1", "r2", "r3", "r4"] {
        let r = aws.ok(&format!("ecr create-repository --repository-name {n}")).await;
        assert_eq!(str_at(&r, "/repository/imageTagMutability"), "MUTABLE", "{r}");
        assert_eq!(
            r["repository"]["encryptionConfiguration"],
            json!({ "encryptionType": "AES256" })
        );
        assert_eq!(
            r["repository"]["imageScanningConfiguration"],
            json!({ "scanOnPush": false })
        );
    }
    let all = ["team/app", "r1", "r2", "r3", "r4"];

    // All, in creation order (one server page).
    assert_eq!(repository_names(&aws.ok("ecr describe-repositories").await), all);
    // By name, in the order asked.
    let v = aws.ok("ecr describe-repositories --repository-names r3 team/app").await;
    assert_eq!(repository_names(&v), ["r3", "team/app"]);
    assert_eq!(v["repositories"][1]["repositoryArn"], arn.as_str());
    // Server pages of 2: the CLI follows nextToken over three pages.
    let v = aws.ok("ecr describe-repositories --page-size 2").await;
    assert_eq!(repository_names(&v), all);
    // --max-items hands out a resume token; --starting-token continues from it.
    let v = aws.ok("ecr describe-repositories --page-size 2 --max-items 3").await;
    assert_eq!(repository_names(&v), all[..3]);
    let token = str_at(&v, "/NextToken");
    let v = aws
        .ok(&format!(
            "ecr describe-repositories --page-size 2 --max-items 3 --starting-token {token}"
        ))
        .await;
    assert_eq!(repository_names(&v), all[3..]);
    assert!(v.get("NextToken").is_none(), "nothing follows the last item: {v}");
    // Raw pages: nextToken while more follow, none on an exactly full last page.
    let v = aws.ok("ecr describe-repositories --no-paginate --max-results 2").await;
    assert_eq!(repository_names(&v), all[..2]);
    assert!(v["nextToken"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    let v = aws.ok("ecr describe-repositories --no-paginate --max-results 5").await;
    assert_eq!(repository_names(&v), all);
    assert!(v.get("nextToken").is_none(), "the last page has no nextToken: {v}");

    let err = aws
        .fails(
            "ecr describe-repositories --repository-names r1 nosuch",
            "DescribeRepositories",
            "RepositoryNotFoundException",
        )
        .await;
    assert_eq!(
        err.message,
        format!("The repository with name 'nosuch' does not exist in the registry with id '{account}'")
    );

    // Tag mutability, echoed and stored.
    let v = aws
        .ok("ecr put-image-tag-mutability --repository-name r1 --image-tag-mutability IMMUTABLE")
        .await;
    assert_eq!(
        v,
        json!({ "registryId": account, "repositoryName": "r1", "imageTagMutability": "IMMUTABLE" })
    );
    let v = aws
        .ok("ecr put-image-tag-mutability --repository-name r1 --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
             --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest filterType=WILDCARD,filter=dev-*")
        .await;
    let filters = json!([
        { "filterType": "WILDCARD", "filter": "latest" },
        { "filterType": "WILDCARD", "filter": "dev-*" },
    ]);
    assert_eq!(v["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(v["imageTagMutabilityExclusionFilters"], filters);
    let v = aws.ok("ecr describe-repositories --repository-names r1").await;
    assert_eq!(v["repositories"][0]["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(v["repositories"][0]["imageTagMutabilityExclusionFilters"], filters);
    aws.fails(
        "ecr put-image-tag-mutability --repository-name r2 --image-tag-mutability MUTABLE \
         --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest",
        "PutImageTagMutability",
        "InvalidParameterException",
    )
    .await;
    aws.fails(
        "ecr put-image-tag-mutability --repository-name nosuch --image-tag-mutability MUTABLE",
        "PutImageTagMutability",
        "RepositoryNotFoundException",
    )
    .await;

    // Resource tags.
    assert_eq!(
        resource_tags(&aws, &arn).await,
        pairs(&[("env", "dev"), ("team", "core")])
    );
    let v = aws
        .ok(&format!(
            "ecr tag-resource --resource-arn {arn} --tags Key=env,Value=prod Key=owner,Value=alice"
        ))
        .await;
    assert!(v.is_null() || v == json!({}), "tag-resource output: {v}");
    assert_eq!(
        resource_tags(&aws, &arn).await,
        pairs(&[("env", "prod"), ("owner", "alice"), ("team", "core")])
    );
    aws.ok(&format!(
        "ecr untag-resource --resource-arn {arn} --tag-keys team nosuchkey"
    ))
    .await;
    assert_eq!(
        resource_tags(&aws, &arn).await,
        pairs(&[("env", "prod"), ("owner", "alice")])
    );
    aws.fails(
        &format!("ecr tag-resource --resource-arn {arn} --tags Key=aws:x,Value=y"),
        "TagResource",
        "InvalidTagParameterException",
    )
    .await;
    aws.fails(
        "ecr list-tags-for-resource --resource-arn not-an-arn",
        "ListTagsForResource",
        "InvalidParameterException",
    )
    .await;
    aws.fails(
        &format!("ecr list-tags-for-resource --resource-arn arn:aws:ecr:us-east-1:{account}:repository/nosuch"),
        "ListTagsForResource",
        "RepositoryNotFoundException",
    )
    .await;

    // Deleting an empty repository returns it.
    let v = aws.ok("ecr delete-repository --repository-name r4").await;
    assert_eq!(str_at(&v, "/repository/repositoryName"), "r4");
    aws.fails(
        "ecr delete-repository --repository-name r4",
        "DeleteRepository",
        "RepositoryNotFoundException",
    )
    .await;
    assert_eq!(repository_names(&aws.ok("ecr describe-repositories").await), all[..4]);
}

#[tokio::test]
async fn login_registry_and_account_settings() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);

    // get-login-password prints only the password; it logs in to /v2/.
    let (code, stdout, stderr) = aws.exec("ecr get-login-password").await;
    assert_eq!(code, 0, "get-login-password: {stderr}");
    let password = stdout.strip_suffix('\n').expect("the password ends with a newline");
    assert!(
        !password.is_empty() && !password.contains(char::is_whitespace),
        "{stdout:?}"
    );
    assert_eq!(v2_status(&s, password).await, 200);
    assert_eq!(
        v2_status(&s, &format!("{password}x")).await,
        401,
        "a tampered password is refused"
    );

    // The token behind it: base64("AWS:" + password), 12 hours, this registry's URL.
    let v = aws.ok("ecr get-authorization-token").await;
    let data = &v["authorizationData"][0];
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD
        .decode(str_at(data, "/authorizationToken"))
        .expect("authorizationToken is base64");
    let token = String::from_utf8(token).unwrap();
    let (user, token_password) = token.split_once(':').expect("the token is AWS:<password>");
    assert_eq!(user, "AWS");
    assert!(
        !token_password.contains(':'),
        "the CLI splits the token on ':': {token}"
    );
    assert_eq!(v2_status(&s, token_password).await, 200);
    assert_eq!(str_at(data, "/proxyEndpoint"), format!("http://{}", s.host()));
    let expires = data["expiresAt"].as_f64().expect("expiresAt is epoch seconds");
    assert!(
        (expires - now_secs() - 12.0 * 3600.0).abs() < 120.0,
        "expiresAt {expires}"
    );

    // Temporary credentials in the credentials file: the CLI signs X-Amz-Security-Token.
    let out = s.admin(&[
        "admin",
        "create-access-key",
        "--user",
        "cli-temp",
        "--session-seconds",
        "900",
    ]);
    assert!(
        out.status.success(),
        "create-access-key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: Value = serde_json::from_slice(&out.stdout).expect("create-access-key prints JSON");
    let dir = tempfile::tempdir().unwrap();
    let credentials = |name: &str, token: &str| {
        let path = dir.path().join(name);
        let text = format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {token}\n",
            str_at(&key, "/AccessKeyId"),
            str_at(&key, "/SecretAccessKey"),
        );
        std::fs::write(&path, text).unwrap();
        Aws::with_credentials(&s, &path)
    };
    let temp = credentials("temp", str_at(&key, "/SessionToken"));
    assert_eq!(
        temp.ok("ecr describe-repositories").await,
        json!({ "repositories": [] })
    );
    let (code, stdout, stderr) = temp.exec("ecr get-login-password").await;
    assert_eq!(code, 0, "get-login-password with temporary credentials: {stderr}");
    assert_eq!(v2_status(&s, stdout.trim_end()).await, 200);
    credentials("bad", "not-the-session-token")
        .fails(
            "ecr describe-repositories",
            "DescribeRepositories",
            "UnrecognizedClientException",
        )
        .await;

    let v = aws.ok("ecr describe-registry").await;
    assert!(is_account_id(str_at(&v, "/registryId")), "{v}");
    assert_eq!(v["replicationConfiguration"], json!({ "rules": [] }));

    let get = "ecr get-account-setting --name BLOB_MOUNTING";
    assert_eq!(
        aws.ok(get).await,
        json!({ "name": "BLOB_MOUNTING", "value": "ENABLED" })
    );
    let v = aws
        .ok("ecr put-account-setting --name BLOB_MOUNTING --value DISABLED")
        .await;
    assert_eq!(v, json!({ "name": "BLOB_MOUNTING", "value": "DISABLED" }));
    assert_eq!(
        aws.ok(get).await,
        json!({ "name": "BLOB_MOUNTING", "value": "DISABLED" })
    );
    let v = aws.ok("ecr get-account-setting --name BASIC_SCAN_TYPE_VERSION").await;
    assert_eq!(v["value"], "AWS_NATIVE");
    aws.fails(
        "ecr get-account-setting --name NO_SUCH_SETTING",
        "GetAccountSetting",
        "InvalidParameterException",
    )
    .await;
    aws.fails(
        "ecr put-account-setting --name BLOB_MOUNTING --value MAYBE",
        "PutAccountSetting",
        "InvalidParameterException",
    )
    .await;
}

#[tokio::test]
async fn images_pushed_over_v2_and_the_image_api() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);
    aws.ok("ecr create-repository --repository-name app").await;

    let before = now_secs();
    let layer1 = bytes(1, 2048);
    let (manifest1, digest1) = s.push_image("app", "v1", &layer1).await;
    let after = now_secs();
    let manifest1_text = String::from_utf8(manifest1.clone()).unwrap();

    // describe-images: size, tags, push time, media types; no pull yet.
    let parsed: Value = serde_json::from_slice(&manifest1).unwrap();
    assert_eq!(parsed["layers"][0]["size"].as_u64(), Some(layer1.len() as u64));
    let blob_sizes = parsed["config"]["size"].as_u64().unwrap() + layer1.len() as u64;
    let v = aws.ok("ecr describe-images --repository-name app").await;
    assert_eq!(v["imageDetails"].as_array().map(Vec::len), Some(1), "{v}");
    let detail = &v["imageDetails"][0];
    assert_eq!(str_at(detail, "/imageDigest"), digest1);
    assert_eq!(detail["imageTags"], json!(["v1"]));
    assert_eq!(detail["imageSizeInBytes"].as_u64(), Some(blob_sizes), "{detail}");
    assert_eq!(str_at(detail, "/imageManifestMediaType"), OCI_MANIFEST);
    assert_eq!(
        str_at(detail, "/artifactMediaType"),
        "application/vnd.oci.image.config.v1+json"
    );
    assert!(is_account_id(str_at(detail, "/registryId")), "{detail}");
    let pushed_at = detail["imagePushedAt"]
        .as_f64()
        .expect("imagePushedAt is epoch seconds");
    assert!(
        pushed_at >= before - 2.0 && pushed_at <= after + 2.0,
        "imagePushedAt {pushed_at} not within [{before}, {after}]"
    );
    assert!(detail.get("lastRecordedPullTime").is_none(), "never pulled: {detail}");

    // A pull over /v2/ is recorded (asynchronously) as lastRecordedPullTime.
    let resp = get_manifest(&s, "app", "v1").await;
    assert_eq!(resp.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let pulled_at = loop {
        let v = aws
            .ok("ecr describe-images --repository-name app --image-ids imageTag=v1")
            .await;
        if let Some(t) = v["imageDetails"][0]["lastRecordedPullTime"].as_f64() {
            break t;
        }
        assert!(Instant::now() < deadline, "no lastRecordedPullTime after a pull: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        pulled_at >= pushed_at && pulled_at <= now_secs() + 2.0,
        "lastRecordedPullTime {pulled_at}, pushed at {pushed_at}"
    );

    // batch-get-image returns the exact manifest bytes; misses are failures.
    let v = aws
        .ok("ecr batch-get-image --repository-name app --image-ids imageTag=v1")
        .await;
    assert_eq!(v["failures"], json!([]), "{v}");
    let image = &v["images"][0];
    assert_eq!(str_at(image, "/imageManifest"), manifest1_text);
    assert_eq!(str_at(image, "/imageId/imageDigest"), digest1);
    assert_eq!(str_at(image, "/imageId/imageTag"), "v1");
    assert_eq!(str_at(image, "/imageManifestMediaType"), OCI_MANIFEST);
    assert_eq!(str_at(image, "/repositoryName"), "app");
    let v = aws
        .ok(&format!(
            "ecr batch-get-image --repository-name app --image-ids imageDigest={digest1} imageTag=nosuch"
        ))
        .await;
    assert_eq!(str_at(&v, "/images/0/imageManifest"), manifest1_text);
    assert_eq!(str_at(&v, "/failures/0/failureCode"), "ImageNotFound");
    assert_eq!(str_at(&v, "/failures/0/imageId/imageTag"), "nosuch");

    // Re-pushing v1 with new content leaves the first image untagged.
    let (_, digest2) = s.push_image("app", "v1", &bytes(2, 1024)).await;
    assert_eq!(
        list_images(&aws, "app", "--filter tagStatus=UNTAGGED").await,
        [id(&digest1, None)]
    );
    assert_eq!(
        list_images(&aws, "app", "--filter tagStatus=TAGGED").await,
        [id(&digest2, Some("v1"))]
    );
    assert_eq!(
        list_images(&aws, "app", "").await,
        sorted(vec![id(&digest1, None), id(&digest2, Some("v1"))])
    );

    // put-image under a new tag; the registry API serves it.
    let manifest3 = annotated(&manifest1, "put-image");
    let digest3 = digest(manifest3.as_bytes());
    let v = aws.ok(&put_image("app", "v3", &manifest3)).await;
    assert_eq!(str_at(&v, "/image/imageId/imageDigest"), digest3);
    assert_eq!(str_at(&v, "/image/imageId/imageTag"), "v3");
    assert_eq!(str_at(&v, "/image/imageManifest"), manifest3);
    assert_eq!(str_at(&v, "/image/imageManifestMediaType"), OCI_MANIFEST);
    let resp = get_manifest(&s, "app", "v3").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["docker-content-digest"].to_str().unwrap(), digest3);
    assert_eq!(resp.bytes().await.unwrap(), manifest3.as_bytes());
    // A second tag on the same image.
    aws.ok(&put_image("app", "v3-extra", &manifest3)).await;
    let v = aws
        .ok(&format!(
            "ecr describe-images --repository-name app --image-ids imageDigest={digest3}"
        ))
        .await;
    let mut tags: Vec<&str> = v["imageDetails"][0]["imageTags"]
        .as_array()
        .unwrap_or_else(|| panic!("no imageTags in {v}"))
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["v3", "v3-extra"]);
    aws.fails(
        "ecr describe-images --repository-name app --image-ids imageTag=nosuch",
        "DescribeImages",
        "ImageNotFoundException",
    )
    .await;

    // Immutability with an exclusion: `lat*` tags may move, `v3` may not.
    aws.ok(
        "ecr put-image-tag-mutability --repository-name app --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
            --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=lat*",
    )
    .await;
    let manifest4 = annotated(&manifest1, "four");
    let digest4 = digest(manifest4.as_bytes());
    for m in [&manifest3, &manifest4] {
        aws.ok(&put_image("app", "latest", m)).await;
    }
    let err = aws
        .fails(
            &put_image("app", "v3", &manifest4),
            "PutImage",
            "ImageTagAlreadyExistsException",
        )
        .await;
    assert!(err.message.contains("'v3'"), "{err:?}");

    // batch-delete-image: a tag removes only that tag; a digest removes the image.
    let v = aws
        .ok("ecr batch-delete-image --repository-name app --image-ids imageTag=v3-extra")
        .await;
    assert_eq!(image_ids(&v), [id(&digest3, Some("v3-extra"))]);
    assert_eq!(v["failures"], json!([]));
    let v = aws
        .ok(&format!(
            "ecr batch-delete-image --repository-name app \
             --image-ids imageDigest={digest1} imageDigest={digest3} imageTag=nosuch"
        ))
        .await;
    assert_eq!(
        image_ids(&v),
        sorted(vec![id(&digest1, None), id(&digest3, Some("v3"))])
    );
    assert_eq!(str_at(&v, "/failures/0/failureCode"), "ImageNotFound");
    assert_eq!(str_at(&v, "/failures/0/imageId/imageTag"), "nosuch");
    assert_eq!(
        list_images(&aws, "app", "").await,
        sorted(vec![id(&digest2, Some("v1")), id(&digest4, Some("latest"))])
    );
    let resp = get_manifest(&s, "app", "v3").await;
    assert_eq!(resp.status(), 404);

    // Deleting a repository with images needs --force.
    let err = aws
        .fails(
            "ecr delete-repository --repository-name app",
            "DeleteRepository",
            "RepositoryNotEmptyException",
        )
        .await;
    assert!(err.message.contains("'app'"), "{err:?}");
    let v = aws.ok("ecr delete-repository --repository-name app --force").await;
    assert_eq!(str_at(&v, "/repository/repositoryName"), "app");
    aws.fails(
        "ecr list-images --repository-name app",
        "ListImages",
        "RepositoryNotFoundException",
    )
    .await;
}

#[tokio::test]
async fn layer_upload_api_and_download_url() {
    let s = TestServer::start().await;
    let aws = Aws::new(&s);
    aws.ok("ecr create-repository --repository-name layers").await;
    let dir = tempfile::tempdir().unwrap();
    let layer = bytes(7, 3000);
    let layer_digest = digest(&layer);
    let part = dir.path().join("part.bin");
    std::fs::write(&part, &layer).unwrap();

    let v = aws.ok("ecr initiate-layer-upload --repository-name layers").await;
    let upload_id = str_at(&v, "/uploadId").to_string();
    assert!(uuid::Uuid::parse_str(&upload_id).is_ok(), "uploadId is a UUID: {v}");
    assert_eq!(v["partSize"].as_u64(), Some(10 * 1024 * 1024));

    // A part that does not start at byte 0 is not contiguous.
    aws.fails(
        &upload_part("layers", &upload_id, 10, &part),
        "UploadLayerPart",
        "InvalidLayerPartException",
    )
    .await;
    let v = aws.ok(&upload_part("layers", &upload_id, 0, &part)).await;
    assert_eq!(v["lastByteReceived"].as_u64(), Some(2999), "{v}");
    assert_eq!(str_at(&v, "/uploadId"), upload_id);
    assert_eq!(str_at(&v, "/repositoryName"), "layers");
    let v = aws.ok(&complete_upload("layers", &upload_id, &layer_digest)).await;
    assert_eq!(str_at(&v, "/layerDigest"), layer_digest);
    assert_eq!(str_at(&v, "/uploadId"), upload_id);
    // The session is over once completed.
    aws.fails(
        &upload_part("layers", &upload_id, 3000, &part),
        "UploadLayerPart",
        "UploadNotFoundException",
    )
    .await;

    // Availability: stored here, absent, malformed.
    let absent = digest(b"never uploaded");
    let v = aws
        .ok(&format!(
            "ecr batch-check-layer-availability --repository-name layers \
             --layer-digests {layer_digest} {absent} sha256:not-hex"
        ))
        .await;
    let layers = v["layers"].as_array().unwrap_or_else(|| panic!("no layers in {v}"));
    assert_eq!(layers.len(), 2, "{v}");
    assert_eq!(str_at(&layers[0], "/layerDigest"), layer_digest);
    assert_eq!(str_at(&layers[0], "/layerAvailability"), "AVAILABLE");
    assert_eq!(layers[0]["layerSize"].as_u64(), Some(3000));
    assert_eq!(str_at(&layers[1], "/layerDigest"), absent);
    assert_eq!(str_at(&layers[1], "/layerAvailability"), "UNAVAILABLE");
    assert_eq!(str_at(&v, "/failures/0/layerDigest"), "sha256:not-hex");
    assert_eq!(str_at(&v, "/failures/0/failureCode"), "InvalidLayerDigest");

    // The download URL serves the bytes without credentials.
    let v = aws
        .ok(&format!(
            "ecr get-download-url-for-layer --repository-name layers --layer-digest {layer_digest}"
        ))
        .await;
    assert_eq!(str_at(&v, "/layerDigest"), layer_digest);
    let url = str_at(&v, "/downloadUrl");
    assert!(url.starts_with(&format!("http://{}/", s.host())), "{url}");
    let resp = s.anon.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    assert_eq!(resp.bytes().await.unwrap(), layer);
    let tampered = format!("{url}0");
    let status = s.anon.get(&tampered).send().await.unwrap().status();
    assert!(status.is_client_error(), "tampered URL {tampered}: {status}");
    aws.fails(
        &format!("ecr get-download-url-for-layer --repository-name layers --layer-digest {absent}"),
        "GetDownloadUrlForLayer",
        "LayersNotFoundException",
    )
    .await;

    // Completion errors: a digest that does not match the bytes, a layer already here.
    let wrong = aws.upload_file("layers", &part).await;
    aws.fails(
        &complete_upload("layers", &wrong, &digest(b"something else")),
        "CompleteLayerUpload",
        "InvalidLayerException",
    )
    .await;
    let again = aws.upload_file("layers", &part).await;
    aws.fails(
        &complete_upload("layers", &again, &layer_digest),
        "CompleteLayerUpload",
        "LayerAlreadyExistsException",
    )
    .await;

    // The layer makes an image with a config uploaded the same way.
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config).unwrap();
    let config_digest = digest(config);
    let upload = aws.upload_file("layers", &config_path).await;
    aws.ok(&complete_upload("layers", &upload, &config_digest)).await;
    let manifest = String::from_utf8(image_manifest(&config_digest, config.len(), &layer_digest, layer.len())).unwrap();
    let v = aws.ok(&put_image("layers", "api", &manifest)).await;
    assert_eq!(str_at(&v, "/image/imageId/imageDigest"), digest(manifest.as_bytes()));
    let resp = get_manifest(&s, "layers", "api").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), manifest.as_bytes());
    // A manifest over a layer this repository does not have.
    let dangling = String::from_utf8(image_manifest(&config_digest, config.len(), &absent, 14)).unwrap();
    aws.fails(
        &put_image("layers", "bad", &dangling),
        "PutImage",
        "LayersNotFoundException",
    )
    .await;
}
