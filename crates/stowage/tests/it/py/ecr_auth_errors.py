"""The generic AWS front-end errors as boto3 and raw signed requests see them:
bad signatures, unknown keys, clock skew, foreign regions, unknown or
not-yet-served operations, malformed bodies."""

import json

from ecr_support import (
    TARGET_PREFIX,
    admin_keys,
    client,
    done,
    expect_error,
    expect_raw_error,
    ok,
    raw_post,
    request,
    send,
    signed,
    skewed_clock,
    ten_minutes,
)

DESCRIBE = TARGET_PREFIX + "DescribeRepositories"
akid, secret = admin_keys()
ecr = client()

# Sanity: the admin keys work, and successful responses carry a RequestId.
resp = ecr.describe_repositories()
assert isinstance(resp["repositories"], list), resp
assert resp["ResponseMetadata"]["RequestId"], "describe_repositories without RequestId"
ok("admin keys sign a working request with a RequestId")

wrong_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
e = expect_error("InvalidSignatureException", client(akid, wrong_secret).describe_repositories)
assert "signature" in e.response["Error"]["Message"].lower(), e.response["Error"]
ok("wrong secret -> InvalidSignatureException")

e = expect_error("UnrecognizedClientException", client("AKIAUNKNOWNKEY000000", secret).describe_repositories)
message = e.response["Error"]["Message"]
assert message == "The security token included in the request is invalid.", f"message {message!r}"
ok("unknown access key -> UnrecognizedClientException")

with skewed_clock(-ten_minutes()):
    e = expect_error("InvalidSignatureException", ecr.describe_repositories)
message = e.response["Error"]["Message"]
assert message.startswith("Signature expired"), f"message {message!r} should start with 'Signature expired'"
ok("clock 10 minutes behind -> InvalidSignatureException 'Signature expired: ...'")

with skewed_clock(ten_minutes()):
    expect_error("InvalidSignatureException", ecr.describe_repositories)
ok("clock 10 minutes ahead -> InvalidSignatureException")

with skewed_clock(-ten_minutes() / 4):
    ecr.describe_repositories()
ok("clock 2.5 minutes behind is within the 5-minute window")

expect_error("InvalidSignatureException", client(region="eu-west-1").describe_repositories)
ok("credential scoped to another region -> InvalidSignatureException")

status, _, body = raw_post(TARGET_PREFIX + "NoSuchOp", b"{}")
expect_raw_error("UnknownOperationException", status, body)
ok("X-Amz-Target AmazonEC2ContainerRegistry_V20150921.NoSuchOp -> UnknownOperationException")

status, _, body = raw_post("SomethingElse_20200101.DescribeRepositories", b"{}")
expect_raw_error("UnknownOperationException", status, body)
ok("foreign target prefix -> UnknownOperationException")

expect_error("ValidationException", ecr.describe_pull_through_cache_rules)
e = expect_error("ValidationException", ecr.get_signing_configuration)
assert "not supported" in e.response["Error"]["Message"], e.response["Error"]
ok("modelled but not yet served ops (DescribePullThroughCacheRules, GetSigningConfiguration) -> ValidationException")

for bad in (b'{"repositoryNames": [', b"[]", b'{"repositoryNames": "notalist"}'):
    status, _, body = raw_post(DESCRIBE, bad)
    expect_raw_error("SerializationException", status, body)
ok("malformed JSON / non-object body / wrong member type -> SerializationException")

status, _, body = raw_post(DESCRIBE, json.dumps({"someFutureMember": 1}).encode())
assert status == 200 and "repositories" in body, f"unknown members should be ignored: {status} {body}"
ok("unknown input members are ignored")

status, _, body = send(request(DESCRIBE, b"{}").prepare())
expect_raw_error("MissingAuthenticationTokenException", status, body)
ok("no Authorization header -> MissingAuthenticationTokenException")

tampered = signed(DESCRIBE, b"{}")
tampered.body = b'{"maxResults": 1}'
tampered.headers["Content-Length"] = str(len(tampered.body))
status, _, body = send(tampered)
expect_raw_error("InvalidSignatureException", status, body)
ok("body altered after signing -> InvalidSignatureException")

done()
