"""The built-in key service through boto3's KMS client: keys and aliases with
their paginators, Encrypt / Decrypt / GenerateDataKey with bytes and
encryption contexts, KMS's exceptions, and ECR's KmsException carrying
`kmsError` for a repository whose key cannot be used."""

import boto3
from botocore.config import Config

import ecr_support
from ecr_support import ENDPOINT, REGION, admin_keys, client, done, expect_error, ok

access_key, secret_key = admin_keys()
kms = boto3.session.Session().client(
    "kms",
    endpoint_url=ENDPOINT,
    region_name=REGION,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
)
kms.meta.events.register("after-call.kms", ecr_support._check_request_id)
ecr = client()

# --- Keys and aliases, paginated ------------------------------------------------------
created = [kms.create_key(Description=f"key {i}")["KeyMetadata"] for i in range(3)]
meta = created[0]
assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True, meta
assert meta["KeyManager"] == "CUSTOMER" and meta["KeySpec"] == "SYMMETRIC_DEFAULT", meta
assert meta["Arn"].endswith(":key/" + meta["KeyId"]) and meta["Arn"].startswith("arn:aws:kms:"), meta
assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"], meta
assert meta["CreationDate"].year >= 2024, meta
ok("CreateKey -> KeyMetadata of an enabled symmetric customer managed key")

pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}))
assert len(pages) == 3, f"{len(pages)} pages of one key each, expected 3"
listed = [k["KeyId"] for p in pages for k in p["Keys"]]
assert sorted(listed) == sorted(k["KeyId"] for k in created), listed
ok("ListKeys paginator follows NextMarker through every key")

for i, k in enumerate(created):
    kms.create_alias(AliasName=f"alias/boto/{i}", TargetKeyId=k["KeyId"])
pages = list(kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2}))
names = [a["AliasName"] for p in pages for a in p["Aliases"]]
assert names == ["alias/boto/0", "alias/boto/1", "alias/boto/2"], names
assert len(pages) == 2, f"{len(pages)} pages"
ok("ListAliases paginator, aliases in name order")

described = kms.describe_key(KeyId="alias/boto/1")["KeyMetadata"]
assert described["KeyId"] == created[1]["KeyId"], described
e = expect_error("NotFoundException", kms.describe_key, KeyId="alias/boto/none")
e = expect_error("NotFoundException", kms.describe_key, KeyId="00000000-0000-0000-0000-000000000000")
assert "does not exist" in e.response["Error"]["Message"], e.response["Error"]
expect_error("AlreadyExistsException", kms.create_alias, AliasName="alias/boto/0", TargetKeyId=meta["KeyId"])
expect_error("InvalidAliasNameException", kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=meta["KeyId"])
expect_error("InvalidAliasNameException", kms.create_alias, AliasName="boto", TargetKeyId=meta["KeyId"])
ok("DescribeKey by alias; NotFound / AlreadyExists / InvalidAliasName")

# --- Encrypt, Decrypt, GenerateDataKey ---------------------------------------------------
secret = bytes(range(256)) * 4
context = {"purpose": "test", "tenant": "a"}
ct = kms.encrypt(KeyId="alias/boto/0", Plaintext=secret, EncryptionContext=context)
assert ct["KeyId"] == meta["Arn"] and ct["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", ct
blob = ct["CiphertextBlob"]
assert secret not in blob, "the ciphertext contains the plaintext"
out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(context.items()))))
assert out["Plaintext"] == secret and out["KeyId"] == meta["Arn"], out["KeyId"]
ok("Encrypt -> Decrypt without KeyId (context in any order) returns the bytes")

expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "x"})
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
tampered = bytearray(blob)
tampered[-1] ^= 1
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=context)
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"not a ciphertext blob")
expect_error(
    "IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, KeyId=created[1]["KeyId"]
)
expect_error("ValidationException", kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x" * 4097)
ok("wrong context, tampering, foreign blob -> InvalidCiphertext; other key -> IncorrectKey")

dk = kms.generate_data_key(KeyId=meta["KeyId"], KeySpec="AES_256")
assert len(dk["Plaintext"]) == 32, len(dk["Plaintext"])
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
dk = kms.generate_data_key(KeyId=meta["KeyId"], NumberOfBytes=64, EncryptionContext=context)
assert len(dk["Plaintext"]) == 64
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=context)["Plaintext"] == dk["Plaintext"]
bare = kms.generate_data_key_without_plaintext(KeyId=meta["KeyId"], KeySpec="AES_128")
assert "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 16
expect_error("ValidationException", kms.generate_data_key, KeyId=meta["KeyId"])
ok("GenerateDataKey (KeySpec, NumberOfBytes, without plaintext) decrypts to its data key")

# --- Key states --------------------------------------------------------------------
kms.disable_key(KeyId=meta["KeyId"])
e = expect_error("DisabledException", kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
assert meta["Arn"] in e.response["Error"]["Message"], e.response["Error"]
expect_error("DisabledException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=context)
kms.enable_key(KeyId=meta["KeyId"])
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == secret
ok("DisableKey stops Encrypt and Decrypt; EnableKey restores them")

# --- ECR: KmsException carries kmsError ------------------------------------------------
e = expect_error(
    "KmsException",
    ecr.create_repository,
    repositoryName="boto/missing-key",
    encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/boto/none"},
)
assert e.response.get("kmsError") == "NotFoundException", e.response
kms.disable_key(KeyId=created[2]["KeyId"])
e = expect_error(
    "KmsException",
    ecr.create_repository,
    repositoryName="boto/disabled-key",
    encryptionConfiguration={"encryptionType": "KMS_DSSE", "kmsKey": created[2]["Arn"]},
)
assert e.response.get("kmsError") == "DisabledException", e.response
repo = ecr.create_repository(
    repositoryName="boto/kms",
    encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/boto/1"},
)["repository"]
assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/boto/1"}, repo
ok("ECR CreateRepository: unknown / disabled key -> KmsException with kmsError; a usable alias is echoed")

done()
