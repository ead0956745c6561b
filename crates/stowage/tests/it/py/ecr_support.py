"""Shared helpers for the boto3 checks against a running Stowage server.

The scripts in this directory are run by `tests/it/ecr_boto3.rs` with the venv
python that `scripts/test` exports as STOWAGE_TEST_PYTHON, and these variables:

  STOWAGE_ENDPOINT          http://127.0.0.1:<port> of the server under test
  STOWAGE_CREDENTIALS_FILE  the admin's AWS credentials file ([default] profile)
  STOWAGE_REGION            the signing region (us-east-1)

Each check asserts with a message saying what was expected, then prints
`ok: <what>`; a script ends by printing `ALL CHECKS PASSED (<n> checks)`.
"""

import configparser
import datetime
import hashlib
import json
import os
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["STOWAGE_ENDPOINT"]
REGION = os.environ.get("STOWAGE_REGION", "us-east-1")
CREDENTIALS_FILE = os.environ["STOWAGE_CREDENTIALS_FILE"]
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
JSON_11 = "application/x-amz-json-1.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

_checks = 0
_responses_checked = 0


def ok(what):
    """Records a passed check."""
    global _checks
    _checks += 1
    print(f"ok: {what}", flush=True)


def done():
    assert _responses_checked > 0, "the RequestId hook never ran"
    print(f"every boto3 response carried a RequestId ({_responses_checked} responses)", flush=True)
    print(f"ALL CHECKS PASSED ({_checks} checks)", flush=True)


def admin_keys():
    """(access key id, secret) of the admin, from the server's credentials file."""
    cp = configparser.ConfigParser()
    assert cp.read(CREDENTIALS_FILE), f"cannot read {CREDENTIALS_FILE}"
    section = cp["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def _check_request_id(http_response, parsed, model, **_):
    """Every response, success or error, carries a RequestId."""
    global _responses_checked
    _responses_checked += 1
    request_id = parsed.get("ResponseMetadata", {}).get("RequestId")
    assert request_id, (
        f"{model.name}: HTTP {http_response.status_code} response has no RequestId "
        f"(x-amzn-RequestId header); headers {dict(http_response.headers)}"
    )


def client(access_key=None, secret_key=None, session_token=None, region=REGION):
    """A boto3 ECR client for the server (admin keys unless given), no retries,
    checking every response for a RequestId."""
    if access_key is None:
        access_key, secret_key = admin_keys()
    ecr = boto3.session.Session().client(
        "ecr",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    ecr.meta.events.register("after-call.ecr", _check_request_id)
    return ecr


def expect_error(code, call, *args, **kwargs):
    """Calls `call`, which must fail with the error `code`; returns the ClientError."""
    try:
        result = call(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{call.__name__}: expected {code}, got {got}: {e.response['Error'].get('Message')}"
        assert e.response["ResponseMetadata"].get("RequestId"), f"{code} without a RequestId"
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 400, f"{code} should be HTTP 400, was {status}"
        return e
    raise AssertionError(f"{call.__name__} succeeded, expected {code}: {result}")


def request(target, body, headers=None):
    """An unsigned `POST /` with any X-Amz-Target and body bytes."""
    hdrs = {"Content-Type": JSON_11, "X-Amz-Target": target}
    hdrs.update(headers or {})
    return botocore.awsrequest.AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=hdrs)


def signed(target, body, access_key=None, secret_key=None, headers=None):
    """A SigV4-signed (admin keys unless given) `POST /`, prepared for `send`."""
    if access_key is None:
        access_key, secret_key = admin_keys()
    req = request(target, body, headers)
    creds = botocore.credentials.Credentials(access_key, secret_key)
    botocore.auth.SigV4Auth(creds, "ecr", REGION).add_auth(req)
    return req.prepare()


def raw_post(target, body, access_key=None, secret_key=None, headers=None):
    """Sends a signed `POST /`; returns (status, response headers, parsed JSON body)."""
    return send(signed(target, body, access_key, secret_key, headers))


def send(prepared):
    """Sends a prepared request; returns (status, headers, parsed JSON body)."""
    req = urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers.items()), method=prepared.method
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, data = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, data = e.code, e.headers, e.read()
    try:
        parsed = json.loads(data)
    except ValueError:
        raise AssertionError(f"HTTP {status}: body is not JSON: {data[:200]!r}")
    assert headers.get("x-amzn-RequestId"), f"HTTP {status} response without x-amzn-RequestId"
    return status, headers, parsed


def expect_raw_error(code, status, parsed):
    """A raw response must be HTTP 400 with `__type` == code."""
    assert status == 400, f"expected HTTP 400 {code}, got {status}: {parsed}"
    assert parsed.get("__type") == code, f"expected __type {code}, got {parsed}"
    assert parsed.get("message"), f"{code} without a message: {parsed}"


class skewed_clock:
    """Makes botocore sign requests as if its clock were `offset` off."""

    def __init__(self, offset):
        self.offset = offset

    def __enter__(self):
        self.real = botocore.auth.get_current_datetime
        offset = self.offset
        botocore.auth.get_current_datetime = lambda *a, **k: self.real(*a, **k) + offset

    def __exit__(self, *exc):
        botocore.auth.get_current_datetime = self.real


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_blob(ecr, repo, data):
    """Uploads bytes with InitiateLayerUpload / UploadLayerPart / CompleteLayerUpload."""
    up = ecr.initiate_layer_upload(repositoryName=repo)
    part = ecr.upload_layer_part(
        repositoryName=repo,
        uploadId=up["uploadId"],
        partFirstByte=0,
        partLastByte=len(data) - 1,
        layerPartBlob=data,
    )
    assert part["lastByteReceived"] == len(data) - 1, f"lastByteReceived {part['lastByteReceived']}"
    digest = sha256_digest(data)
    completed = ecr.complete_layer_upload(repositoryName=repo, uploadId=up["uploadId"], layerDigests=[digest])
    assert completed["layerDigest"] == digest, f"completed {completed['layerDigest']}, expected {digest}"
    return digest


CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def manifest(config_digest, layer_digest, layer_size, note=None):
    """An OCI image manifest (as the exact string to put) over a config and one layer."""
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(CONFIG),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}
        ],
    }
    if note is not None:
        m["annotations"] = {"org.example.note": note}
    return json.dumps(m, separators=(",", ":"))


def ten_minutes():
    return datetime.timedelta(minutes=10)
