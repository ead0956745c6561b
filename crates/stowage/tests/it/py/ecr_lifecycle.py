"""boto3 against the lifecycle policy operations: put/get, a preview followed
with the `lifecycle_policy_preview_complete` waiter, paging and filtering its
results, and the request errors."""

import json

from ecr_support import CONFIG, client, done, expect_error, manifest, ok, upload_blob

ecr = client()
repo = "lc/boto3"
ecr.create_repository(repositoryName=repo)
config_digest = upload_blob(ecr, repo, CONFIG)
digests = {}  # tag -> digest, in push order
for i in range(5):
    layer = f"lifecycle layer {i} ".encode() * (20 + i)
    layer_digest = upload_blob(ecr, repo, layer)
    put = ecr.put_image(repositoryName=repo, imageManifest=manifest(config_digest, layer_digest, len(layer)), imageTag=f"rel-{i}")
    digests[f"rel-{i}"] = put["image"]["imageId"]["imageDigest"]

text = json.dumps({"rules": [{
    "rulePriority": 1,
    "description": "keep the two newest releases",
    "selection": {"tagStatus": "tagged", "tagPatternList": ["rel-*"], "countType": "imageCountMoreThan", "countNumber": 2},
    "action": {"type": "expire"},
}]})
put = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
assert put["lifecyclePolicyText"] == text and put["repositoryName"] == repo, put
got = ecr.get_lifecycle_policy(repositoryName=repo)
assert got["lifecyclePolicyText"] == text, got
assert "lastEvaluatedAt" not in got, f"never evaluated, yet {got.get('lastEvaluatedAt')}"
ok("put_lifecycle_policy / get_lifecycle_policy round-trip the text")

expect_error("LifecyclePolicyPreviewNotFoundException", ecr.get_lifecycle_policy_preview, repositoryName=repo)
ok("get_lifecycle_policy_preview before any start -> LifecyclePolicyPreviewNotFoundException")

started = ecr.start_lifecycle_policy_preview(repositoryName=repo)
assert started["status"] == "IN_PROGRESS" and started["lifecyclePolicyText"] == text, started
expect_error("LifecyclePolicyPreviewInProgressException", ecr.start_lifecycle_policy_preview, repositoryName=repo)
ecr.get_waiter("lifecycle_policy_preview_complete").wait(repositoryName=repo, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
ok("start_lifecycle_policy_preview is IN_PROGRESS, a second start is refused, the waiter sees it complete")

preview = ecr.get_lifecycle_policy_preview(repositoryName=repo)
want = [digests["rel-0"], digests["rel-1"], digests["rel-2"]]
assert preview["status"] == "COMPLETE", preview["status"]
assert [r["imageDigest"] for r in preview["previewResults"]] == want, preview["previewResults"]
assert preview["summary"]["expiringImageTotalCount"] == 3, preview["summary"]
first = preview["previewResults"][0]
assert first["imageTags"] == ["rel-0"] and first["action"] == {"type": "EXPIRE"}, first
assert first["appliedRulePriority"] == 1 and first["imagePushedAt"].tzinfo is not None, first
ok("get_lifecycle_policy_preview: the three oldest releases, oldest first, as EXPIRE by rule 1")

pages = list(ecr.get_paginator("get_lifecycle_policy_preview").paginate(repositoryName=repo, PaginationConfig={"PageSize": 2}))
assert [len(p["previewResults"]) for p in pages] == [2, 1], [len(p["previewResults"]) for p in pages]
assert [r["imageDigest"] for p in pages for r in p["previewResults"]] == want
assert "nextToken" not in pages[-1], pages[-1].get("nextToken")
ok("the paginator pages the results 2 + 1, no nextToken on the last page")

untagged = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
assert untagged["previewResults"] == [], untagged["previewResults"]
by_id = ecr.get_lifecycle_policy_preview(repositoryName=repo, imageIds=[{"imageDigest": digests["rel-1"]}, {"imageTag": "rel-4"}])
assert [r["imageDigest"] for r in by_id["previewResults"]] == [digests["rel-1"]], by_id["previewResults"]
ok("filter tagStatus UNTAGGED and imageIds narrow the results")

token = ecr.get_lifecycle_policy_preview(repositoryName=repo, maxResults=1)["nextToken"]
expect_error("InvalidParameterException", ecr.get_lifecycle_policy_preview, repositoryName=repo, imageIds=[{"imageTag": "rel-0"}], nextToken=token)
expect_error("InvalidParameterException", ecr.get_lifecycle_policy_preview, repositoryName=repo, maxResults=101)
expect_error("InvalidParameterException", ecr.get_lifecycle_policy_preview, repositoryName=repo, filter={"tagStatus": "SOME"})
e = expect_error("InvalidParameterException", ecr.put_lifecycle_policy, repositoryName=repo, lifecyclePolicyText=text.replace('"tagged"', '"tagd"'))
message = e.response["Error"]["Message"]
assert message.startswith("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "), message
assert "instance value (tagd) not found in enum" in message, message
ok("imageIds with nextToken, maxResults 101, an unknown tagStatus, a bad policy -> InvalidParameterException")

# Nothing was deleted by the preview.
listed = ecr.list_images(repositoryName=repo)["imageIds"]
assert len(listed) == 5, listed
deleted = ecr.delete_lifecycle_policy(repositoryName=repo)
assert deleted["lifecyclePolicyText"] == text, deleted
expect_error("LifecyclePolicyNotFoundException", ecr.get_lifecycle_policy, repositoryName=repo)
ok("the preview deleted nothing; delete_lifecycle_policy returns the text, then it is gone")

done()
