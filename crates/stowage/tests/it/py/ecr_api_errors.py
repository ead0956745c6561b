"""The modelled ECR exceptions through boto3: missing / duplicate / non-empty
repositories, tag immutability on PutImage, and the image and layer API's
input errors."""

from ecr_support import (
    CONFIG,
    client,
    done,
    expect_error,
    manifest,
    ok,
    sha256_digest,
    upload_blob,
)

ecr = client()
account = ecr.describe_registry()["registryId"]

# --- Repositories --------------------------------------------------------------
e = expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=["nosuch"])
expected = f"The repository with name 'nosuch' does not exist in the registry with id '{account}'"
assert e.response["Error"]["Message"] == expected, e.response["Error"]
expect_error("RepositoryNotFoundException", ecr.list_images, repositoryName="nosuch")
expect_error("RepositoryNotFoundException", ecr.describe_images, repositoryName="nosuch")
expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName="nosuch")
expect_error("RepositoryNotFoundException", ecr.initiate_layer_upload, repositoryName="nosuch")
expect_error("RepositoryNotFoundException", ecr.put_image, repositoryName="nosuch", imageManifest="{}")
ok("missing repository -> RepositoryNotFoundException (describe, list, delete, upload, put)")

ecr.create_repository(repositoryName="dup")
e = expect_error("RepositoryAlreadyExistsException", ecr.create_repository, repositoryName="dup")
expected = f"The repository with name 'dup' already exists in the registry with id '{account}'"
assert e.response["Error"]["Message"] == expected, e.response["Error"]
ok("duplicate repository -> RepositoryAlreadyExistsException")

expect_error("InvalidParameterException", ecr.create_repository, repositoryName="Bad_Name!")
ok("invalid repository name -> InvalidParameterException")

# --- Images in a mutable repository -----------------------------------------------
repo = "images"
ecr.create_repository(repositoryName=repo)
config = upload_blob(ecr, repo, CONFIG)
layer_a, layer_b = b"layer a" * 64, b"layer b" * 64
digest_a, digest_b = upload_blob(ecr, repo, layer_a), upload_blob(ecr, repo, layer_b)
m1 = manifest(config, digest_a, len(layer_a))
m2 = manifest(config, digest_b, len(layer_b))
put = ecr.put_image(repositoryName=repo, imageManifest=m1, imageTag="v1")
d1 = put["image"]["imageId"]["imageDigest"]
assert d1 == sha256_digest(m1.encode()), f"digest {d1} is not sha256 of the manifest bytes"
e = expect_error("ImageAlreadyExistsException", ecr.put_image, repositoryName=repo, imageManifest=m1, imageTag="v1")
assert d1 in e.response["Error"]["Message"] and "'v1'" in e.response["Error"]["Message"], e.response["Error"]
ok("re-putting the same manifest and tag -> ImageAlreadyExistsException")

moved = ecr.put_image(repositoryName=repo, imageManifest=m2, imageTag="v1")["image"]["imageId"]["imageDigest"]
ids = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"]
assert ids == [{"imageDigest": d1}], f"after moving v1 the first image should be untagged: {ids}"
now = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]["imageDigest"]
assert now == moved, f"v1 names {now}, expected the new manifest {moved}"
ok("a mutable tag moves to a new manifest; the old image becomes untagged")

expect_error(
    "ImageDigestDoesNotMatchException",
    ecr.put_image,
    repositoryName=repo,
    imageManifest=m1,
    imageTag="v2",
    imageDigest=sha256_digest(b"other"),
)
ok("PutImage with a wrong imageDigest -> ImageDigestDoesNotMatchException")

missing_layer = manifest(config, sha256_digest(b"never uploaded"), 14)
expect_error("LayersNotFoundException", ecr.put_image, repositoryName=repo, imageManifest=missing_layer, imageTag="x")
ok("PutImage over a missing layer -> LayersNotFoundException")

expect_error("InvalidParameterException", ecr.put_image, repositoryName=repo, imageManifest="not json", imageTag="x")
ok("PutImage of a non-JSON manifest -> InvalidParameterException")

e = expect_error("ImageNotFoundException", ecr.describe_images, repositoryName=repo, imageIds=[{"imageTag": "nosuch"}])
assert "nosuch" in e.response["Error"]["Message"], e.response["Error"]
got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "nosuch"}])
assert got["images"] == [] and got["failures"][0]["failureCode"] == "ImageNotFound", got
ok("unknown image: DescribeImages -> ImageNotFoundException, BatchGetImage -> failure ImageNotFound")

e = expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=repo)
assert f"'{repo}'" in e.response["Error"]["Message"], e.response["Error"]
assert ecr.describe_repositories(repositoryNames=[repo])["repositories"], "repository survives a refused delete"
ok("non-empty delete without force -> RepositoryNotEmptyException")

# --- Immutable tags ------------------------------------------------------------
frozen = "frozen"
created = ecr.create_repository(repositoryName=frozen, imageTagMutability="IMMUTABLE")
assert created["repository"]["imageTagMutability"] == "IMMUTABLE", created
config = upload_blob(ecr, frozen, CONFIG)
digest_a, digest_b = upload_blob(ecr, frozen, layer_a), upload_blob(ecr, frozen, layer_b)
f1 = manifest(config, digest_a, len(layer_a))
f2 = manifest(config, digest_b, len(layer_b))
ecr.put_image(repositoryName=frozen, imageManifest=f1, imageTag="v1")
e = expect_error("ImageTagAlreadyExistsException", ecr.put_image, repositoryName=frozen, imageManifest=f2, imageTag="v1")
message = e.response["Error"]["Message"]
assert "'v1'" in message and "immutable" in message, f"message {message!r}"
ok("immutable tag overwrite via PutImage -> ImageTagAlreadyExistsException")

expect_error("ImageAlreadyExistsException", ecr.put_image, repositoryName=frozen, imageManifest=f1, imageTag="v1")
ok("re-putting the same manifest under the same immutable tag -> ImageAlreadyExistsException")

ecr.put_image(repositoryName=frozen, imageManifest=f2, imageTag="v2")
ecr.put_image(repositoryName=frozen, imageManifest=f2)  # untagged re-put of an existing image is fine
tags = ecr.describe_images(repositoryName=frozen, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]["imageTags"]
assert tags == ["v1"], f"v1 still names the first image: {tags}"
ok("immutable repository still takes new tags")

ecr.put_image_tag_mutability(
    repositoryName=frozen,
    imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
    imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
)
ecr.put_image(repositoryName=frozen, imageManifest=f1, imageTag="latest")
ecr.put_image(repositoryName=frozen, imageManifest=f2, imageTag="latest")
expect_error("ImageTagAlreadyExistsException", ecr.put_image, repositoryName=frozen, imageManifest=f1, imageTag="v2")
ok("IMMUTABLE_WITH_EXCLUSION: excluded tags move, others stay immutable")

# Deleting a tag and re-putting it is allowed.
ecr.batch_delete_image(repositoryName=frozen, imageIds=[{"imageTag": "v2"}])
ecr.put_image(repositoryName=frozen, imageManifest=f1, imageTag="v2")
ok("an immutable tag may be re-put after it was deleted")

deleted = ecr.delete_repository(repositoryName=frozen, force=True)
assert deleted["repository"]["repositoryName"] == frozen, deleted
expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[frozen])
ok("delete_repository force=True removes a non-empty repository")

# --- Repository boundaries and parameter combinations ---------------------------
ecr.create_repository(repositoryName="elsewhere")
only_here = upload_blob(ecr, repo, b"only in images" * 8)
layers = ecr.batch_check_layer_availability(repositoryName="elsewhere", layerDigests=[only_here])["layers"]
assert [x["layerAvailability"] for x in layers] == ["UNAVAILABLE"], f"a blob of another repository: {layers}"
expect_error("LayersNotFoundException", ecr.get_download_url_for_layer, repositoryName="elsewhere", layerDigest=only_here)
ok("a layer of another repository is UNAVAILABLE / LayersNotFoundException here")

expect_error("AccessDeniedException", ecr.describe_repositories, registryId="000000000000")
ok("another account's registry without any policy -> AccessDeniedException")

expect_error("InvalidParameterException", ecr.describe_repositories, repositoryNames=[repo], maxResults=1)
expect_error("InvalidParameterException", ecr.describe_images, repositoryName=repo, imageIds=[{"imageTag": "v1"}], nextToken="x")
expect_error("InvalidParameterException", ecr.list_images, repositoryName=repo, nextToken="not-a-token")
ok("repositoryNames+maxResults, imageIds+nextToken, a forged nextToken -> InvalidParameterException")

expect_error(
    "InvalidParameterException",
    ecr.create_repository,
    repositoryName="aes-with-key",
    encryptionConfiguration={"encryptionType": "AES256", "kmsKey": "k"},
)
arn = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryArn"]
expect_error("TooManyTagsException", ecr.tag_resource, resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
expect_error("InvalidTagParameterException", ecr.tag_resource, resourceArn=arn, tags=[{"Key": "aws:reserved", "Value": "v"}])
ok("kmsKey with AES256 -> InvalidParameterException; 51 tags -> TooManyTags; aws: key -> InvalidTagParameter")

# --- Layer upload errors ---------------------------------------------------------
expect_error(
    "UploadNotFoundException",
    ecr.upload_layer_part,
    repositoryName=repo,
    uploadId="00000000-0000-0000-0000-000000000000",
    partFirstByte=0,
    partLastByte=0,
    layerPartBlob=b"x",
)
up = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
expect_error("EmptyUploadException", ecr.complete_layer_upload, repositoryName=repo, uploadId=up, layerDigests=[sha256_digest(b"")])
e = expect_error(
    "InvalidLayerPartException",
    ecr.upload_layer_part,
    repositoryName=repo,
    uploadId=up,
    partFirstByte=5,
    partLastByte=5,
    layerPartBlob=b"x",
)
assert e.response.get("lastValidByteReceived") == -1, f"lastValidByteReceived in {e.response}"
assert e.response.get("uploadId") == up, f"uploadId in {e.response}"
expect_error(
    "LayerAlreadyExistsException",
    lambda: upload_blob(ecr, repo, layer_a),
)
ok("layer API: UploadNotFound, EmptyUpload, InvalidLayerPart, LayerAlreadyExists")

done()
