"""Temporary credentials (ASIA… key + session token, made by
`stowage admin create-access-key --session-seconds N`) through boto3.

Extra variables: STOWAGE_TEMP_KEY (the JSON printed for a 900 s key) and
STOWAGE_EXPIRING_KEY (the JSON printed for a 1 s key)."""

import base64
import json
import os
import time
import urllib.request

from ecr_support import ENDPOINT, admin_keys, client, done, expect_error, ok

temp = json.loads(os.environ["STOWAGE_TEMP_KEY"])
akid, secret, token = temp["AccessKeyId"], temp["SecretAccessKey"], temp["SessionToken"]
assert akid.startswith("ASIA"), f"temporary key id {akid} should start with ASIA"
assert token, "a temporary key comes with a session token"

ecr = client(akid, secret, token)
created = ecr.create_repository(repositoryName="temp/works")
assert created["repository"]["repositoryName"] == "temp/works", created
names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
assert names == ["temp/works"], names
ok("a temporary key with its session token signs working requests")

data = ecr.get_authorization_token()["authorizationData"][0]
user, password = base64.b64decode(data["authorizationToken"]).decode().split(":")
assert user == "AWS" and password, f"token user {user!r}"
req = urllib.request.Request(ENDPOINT + "/v2/", headers={"Authorization": "Basic " + data["authorizationToken"]})
with urllib.request.urlopen(req, timeout=30) as resp:
    assert resp.status == 200, f"GET /v2/ with the temporary principal's token: {resp.status}"
ok("GetAuthorizationToken with temporary credentials logs in to /v2/")

wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
e = expect_error("UnrecognizedClientException", client(akid, secret, wrong).describe_repositories)
message = e.response["Error"]["Message"]
assert message == "The security token included in the request is invalid.", f"message {message!r}"
ok("a wrong session token -> UnrecognizedClientException")

expect_error("UnrecognizedClientException", client(akid, secret).describe_repositories)
ok("a temporary key without its session token -> UnrecognizedClientException")

admin_akid, admin_secret = admin_keys()
expect_error("UnrecognizedClientException", client(admin_akid, admin_secret, token).describe_repositories)
ok("a long-term key sent with a session token -> UnrecognizedClientException")

expiring = json.loads(os.environ["STOWAGE_EXPIRING_KEY"])
short = client(expiring["AccessKeyId"], expiring["SecretAccessKey"], expiring["SessionToken"])
deadline = time.time() + 10
while True:
    try:
        short.describe_repositories()
    except Exception as e:  # noqa: BLE001 - the code is checked below
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        assert code == "ExpiredTokenException", f"an expired session should give ExpiredTokenException, got {e!r}"
        break
    assert time.time() < deadline, "a 1-second session still works after 10 s"
    time.sleep(0.5)
ok("an expired session -> ExpiredTokenException")

done()
