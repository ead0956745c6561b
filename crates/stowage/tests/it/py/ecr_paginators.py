"""boto3 paginators over DescribeRepositories, ListImages and DescribeImages,
with images pushed through the layer-upload API and PutImage."""

import datetime

from ecr_support import CONFIG, OCI_MANIFEST, client, done, manifest, ok, upload_blob

ecr = client()

# --- DescribeRepositories: 5 repositories in pages of 2 -------------------------
names = [f"pages/repo-{i}" for i in range(5)]
for n in names:
    ecr.create_repository(repositoryName=n)
pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2}))
sizes = [len(p["repositories"]) for p in pages]
assert sizes == [2, 2, 1], f"page sizes {sizes}, expected [2, 2, 1]"
got = [r["repositoryName"] for p in pages for r in p["repositories"]]
assert got == names, f"repositories {got}, expected creation order {names}"
for p in pages[:-1]:
    assert p.get("nextToken"), f"a non-final page lacks nextToken: {p}"
assert "nextToken" not in pages[-1], f"the last page carries nextToken {pages[-1].get('nextToken')!r}"
ok("describe_repositories paginates 5 repositories as 2+2+1, nextToken absent on the last page")

first = ecr.get_paginator("describe_repositories").paginate(
    PaginationConfig={"PageSize": 2, "MaxItems": 3}
).build_full_result()
assert [r["repositoryName"] for r in first["repositories"]] == names[:3], first
resume = first["NextToken"]
rest = ecr.get_paginator("describe_repositories").paginate(
    PaginationConfig={"PageSize": 2, "MaxItems": 3, "StartingToken": resume}
).build_full_result()
assert [r["repositoryName"] for r in rest["repositories"]] == names[3:], rest
assert "NextToken" not in rest, f"unexpected NextToken after the last item: {rest}"
ok("MaxItems=3 then StartingToken resumes at the 4th repository")

page = ecr.describe_repositories(maxResults=2)
token = page["nextToken"]
page2 = ecr.describe_repositories(maxResults=2, nextToken=token)
assert [r["repositoryName"] for r in page2["repositories"]] == names[2:4], page2
ok("a raw nextToken fetches the next page")

# --- Images through the API ------------------------------------------------------
repo = "pages/images"
ecr.create_repository(repositoryName=repo)
config_digest = upload_blob(ecr, repo, CONFIG)
before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
tagged = {}  # tag -> (digest, size)
for i in range(5):
    layer = f"layer {i} ".encode() * (100 + i)
    layer_digest = upload_blob(ecr, repo, layer)
    body = manifest(config_digest, layer_digest, len(layer))
    put = ecr.put_image(repositoryName=repo, imageManifest=body, imageTag=f"t{i}")
    assert put["image"]["imageManifest"] == body, "PutImage echoes the manifest"
    assert put["image"]["imageManifestMediaType"] == OCI_MANIFEST, put["image"]
    tagged[f"t{i}"] = (put["image"]["imageId"]["imageDigest"], len(CONFIG) + len(layer))
untagged = set()
for i in range(2):
    layer = f"untagged {i} ".encode() * 50
    layer_digest = upload_blob(ecr, repo, layer)
    put = ecr.put_image(repositoryName=repo, imageManifest=manifest(config_digest, layer_digest, len(layer)))
    assert "imageTag" not in put["image"]["imageId"], put["image"]["imageId"]
    untagged.add(put["image"]["imageId"]["imageDigest"])
after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
ok("5 tagged and 2 untagged images put through InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload/PutImage")


def list_all(**filter_):
    pages = list(
        ecr.get_paginator("list_images").paginate(repositoryName=repo, PaginationConfig={"PageSize": 2}, **filter_)
    )
    assert "nextToken" not in pages[-1], "the last ListImages page carries nextToken"
    return pages, [(i["imageDigest"], i.get("imageTag")) for p in pages for i in p["imageIds"]]


pages, ids = list_all()
assert len(pages) == 4, f"7 images in pages of 2 should be 4 pages, got {len(pages)}"
expected = {(d, t) for t, (d, _) in tagged.items()} | {(d, None) for d in untagged}
assert len(ids) == 7 and set(ids) == expected, f"list_images ids {ids}, expected {expected}"
sizes = [len(p["imageIds"]) for p in pages]
assert sizes == [2, 2, 2, 1], f"ListImages page sizes {sizes} with maxResults=2, expected [2, 2, 2, 1]"
ok("list_images paginator (PageSize=2) yields all 7 image ids in 4 pages")

_, ids = list_all(filter={"tagStatus": "TAGGED"})
assert set(ids) == {(d, t) for t, (d, _) in tagged.items()}, f"TAGGED ids {ids}"
_, ids = list_all(filter={"tagStatus": "UNTAGGED"})
assert set(ids) == {(d, None) for d in untagged}, f"UNTAGGED ids {ids}"
ok("list_images filter tagStatus TAGGED / UNTAGGED")

pages = list(
    ecr.get_paginator("describe_images").paginate(repositoryName=repo, PaginationConfig={"PageSize": 2})
)
assert [len(p["imageDetails"]) for p in pages] == [2, 2, 2, 1], [len(p["imageDetails"]) for p in pages]
details = [d for p in pages for d in p["imageDetails"]]
by_digest = {d["imageDigest"]: d for d in details}
assert len(by_digest) == 7, f"describe_images returned {len(details)} details, {len(by_digest)} distinct"
for tag, (digest, size) in tagged.items():
    d = by_digest[digest]
    assert d["imageTags"] == [tag], f"{digest}: tags {d.get('imageTags')}, expected [{tag}]"
    assert d["imageSizeInBytes"] == size, f"{tag}: imageSizeInBytes {d['imageSizeInBytes']}, expected {size}"
    assert d["imageManifestMediaType"] == OCI_MANIFEST, d
    assert before <= d["imagePushedAt"] <= after, f"{tag}: imagePushedAt {d['imagePushedAt']}"
    assert d["repositoryName"] == repo and d["registryId"], d
for digest in untagged:
    assert "imageTags" not in by_digest[digest] or by_digest[digest]["imageTags"] == [], by_digest[digest]
ok("describe_images paginator (PageSize=2): 7 details with tags, sizes, push times, media types")

full = ecr.get_paginator("describe_images").paginate(
    repositoryName=repo, filter={"tagStatus": "UNTAGGED"}, PaginationConfig={"PageSize": 1}
).build_full_result()
assert {d["imageDigest"] for d in full["imageDetails"]} == untagged, full["imageDetails"]
ok("describe_images paginator with filter UNTAGGED and PageSize=1")

# An image with two tags is listed once per tag.
two = tagged["t0"][0]
t0_manifest = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "t0"}])["images"][0]["imageManifest"]
ecr.put_image(repositoryName=repo, imageManifest=t0_manifest, imageTag="t0-alias")
_, ids = list_all()
assert sorted(ids, key=str) == sorted(set(ids), key=str), f"duplicate ids across pages: {ids}"
assert (two, "t0") in ids and (two, "t0-alias") in ids and len(ids) == 8, f"list_images after a second tag: {ids}"
full = ecr.get_paginator("list_images").paginate(
    repositoryName=repo, PaginationConfig={"PageSize": 2, "MaxItems": 5}
).build_full_result()
rest = ecr.get_paginator("list_images").paginate(
    repositoryName=repo, PaginationConfig={"PageSize": 2, "StartingToken": full["NextToken"]}
).build_full_result()
resumed = [(i["imageDigest"], i.get("imageTag")) for i in full["imageIds"] + rest["imageIds"]]
assert len(full["imageIds"]) == 5 and sorted(resumed, key=str) == sorted(ids, key=str), (
    f"MaxItems=5 + StartingToken gave {resumed}, expected {ids}"
)
ok("list_images lists a two-tag image under both tags; MaxItems/StartingToken resume loses nothing")

done()
