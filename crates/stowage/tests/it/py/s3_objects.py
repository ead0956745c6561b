"""The objects under a prefix of the test bucket (STOWAGE_TEST_S3_* from
scripts/test), one JSON line {"key": ..., "size": ...} each.

    s3_objects.py PREFIX            list once
    s3_objects.py PREFIX --watch    list every 0.2 s until killed, printing each
                                    (key, size) the first time it is seen
    s3_objects.py PREFIX --delete   delete them all
"""

import json
import os
import sys
import time

import boto3
from botocore.config import Config

e = os.environ
s3 = boto3.client(
    "s3",
    endpoint_url=e["STOWAGE_TEST_S3_ENDPOINT"],
    region_name=e["STOWAGE_TEST_S3_REGION"],
    aws_access_key_id=e["STOWAGE_TEST_S3_ACCESS_KEY_ID"],
    aws_secret_access_key=e["STOWAGE_TEST_S3_SECRET_ACCESS_KEY"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
)
bucket = e["STOWAGE_TEST_S3_BUCKET"]
prefix = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else ""


def objects():
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            yield o["Key"], o["Size"]


if mode == "--delete":
    for key, _ in list(objects()):
        s3.delete_object(Bucket=bucket, Key=key)
    sys.exit(0)

seen = set()
while True:
    for item in objects():
        if item not in seen:
            seen.add(item)
            print(json.dumps({"key": item[0], "size": item[1]}), flush=True)
    if mode != "--watch":
        break
    time.sleep(0.2)
