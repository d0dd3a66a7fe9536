"""Where the collector's archive goes and how ircli checks that it arrived unchanged.

The host gets no credentials: one presigned PUT URL for one key, valid only for the time the
collection may take plus a margin. ``If-None-Match: *`` is signed into the URL (S3 conditional
write), so the URL writes once: a second PUT finds the key taken (412 Precondition Failed),
and a PUT without that header does not match the signature (403). After the run ircli reads
the object back itself and compares its size and sha256 with what the host reported, lists
the key's versions (more than one: not verified, whatever the emulator let through), and
reads the archive's head: a gzip'd tar whose first members are ``manifest.jsonl`` and
``collection.log``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe, error_code
from ircli.core.config import how_to_set_bucket
from ircli.core.session import AwsSession
from ircli.evidence.ship import case_prefix
from ircli.liveresponse.errors import CollectError
from ircli.liveresponse.result import archive_head_problems

URL_MARGIN_SECONDS = 300
MAX_URL_SECONDS = 7 * 24 * 3600  # SigV4's limit for a presigned URL
_MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
_CHUNK = 1024 * 1024


def archive_key(case_id: str, instance_id: str, now: datetime,
                taken: Iterable[str] = (), account: str | None = None) -> str:
    """``cases/<case-id>/collect/<instance-id>-<UTC timestamp>.tar.gz``: one key per run.

    The upload writes a key once (``If-None-Match: *``), so a second run in the same second
    must not reuse a key the case already holds (``taken``): it gets ``-2``, ``-3``…
    """
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{case_prefix(case_id, account)}collect/{instance_id}-{stamp}"  # account: central
    used, key, n = set(taken), f"{base}.tar.gz", 2
    while key in used:
        key, n = f"{base}-{n}.tar.gz", n + 1
    return key


def require_bucket(bucket: str | None) -> str:
    if not bucket:
        raise CollectError("no-bucket", "No evidence bucket is configured to receive the "
                           "collector's archive.", how_to_set_bucket(), started=False)
    return bucket


def bucket_region(aws: AwsSession, bucket: str) -> tuple[str, list[str]]:
    """The bucket's region (a presigned URL must be signed for it); refuse a missing bucket."""
    try:
        resp = aws.client("s3").head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in _MISSING:
            raise CollectError(
                "bucket-missing", f"The evidence bucket {bucket} does not exist.",
                f"Create it with `ircli evidence init --bucket {bucket}`, or pass the right "
                "--evidence-bucket.", started=False) from err
        return aws.region, [f"could not check evidence bucket {bucket} ({describe(err)}); "
                            f"signing the upload URL for {aws.region}"]
    headers = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return str(resp.get("BucketRegion") or headers.get("x-amz-bucket-region") or
               aws.region), []


# The header the collector must send with its PUT: it is one of the URL's signed headers.
ONCE_HEADER = ("If-None-Match", "*")


def presign_put(aws: AwsSession, region: str, bucket: str, key: str, seconds: int) -> str:
    """A PUT URL for exactly ``bucket/key``, good for one write; it carries no credentials
    beyond its signature (``X-Amz-SignedHeaders`` names ``if-none-match``)."""
    url: str = aws.s3_presigner(region).generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "IfNoneMatch": ONCE_HEADER[1]},
        ExpiresIn=min(seconds, MAX_URL_SECONDS))
    return url


@dataclass(frozen=True)
class StoredObject:
    version_id: str
    size: int
    sha256: str


def read_back(aws: AwsSession, bucket: str, key: str) -> StoredObject | None:
    """The object's current version, size and sha256 as S3 serves it; None when absent."""
    s3 = aws.client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in _MISSING:
            return None
        raise
    version = head.get("VersionId")
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        params["VersionId"] = version  # hash exactly the version HEAD saw
    body = s3.get_object(**params)["Body"]
    sha, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(_CHUNK):
        sha.update(chunk)
        size += len(chunk)
    return StoredObject(str(version or "null"), size, sha.hexdigest())


def key_versions(aws: AwsSession, bucket: str, key: str) -> list[str]:
    """Every version and delete marker of exactly ``key`` (a prefix listing, filtered)."""
    found: list[str] = []
    pages = aws.client("s3").get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=key)
    for page in pages:
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if item.get("Key") == key:
                found.append(str(item.get("VersionId")))
    return found


def check_single_upload(aws: AwsSession, bucket: str, key: str, stored: StoredObject,
                        result: dict[str, Any], instance_id: str) -> None:
    """The host wrote its key once, and what it wrote is a collector archive; else not
    verified (exit 5). Call after the size and sha256 matched."""
    where = f"s3://{bucket}/{key}"
    versions = key_versions(aws, bucket, key)
    if len(versions) > 1:
        raise CollectError(
            "uploaded-twice", f"{where} holds {len(versions)} versions: its one-write upload "
            "URL was used more than once, so ircli cannot tell which upload is the "
            "collector's.", "Treat every version as untrusted (Object Lock keeps them for "
            "the investigation) and run collect again for a fresh key.", collector=result,
            versions=versions)
    body = aws.client("s3").get_object(Bucket=bucket, Key=key,
                                       VersionId=stored.version_id)["Body"]
    try:
        problems = archive_head_problems(body.iter_chunks(_CHUNK))
    finally:
        body.close()
    if problems:
        raise CollectError(
            "not-an-archive", f"{where} from {instance_id} is not a collector archive: "
            f"{problems[0]}.", "Treat the object as untrusted (the host may be hostile) and "
            "run collect again; the object stays in the bucket as evidence.",
            collector=result, archive_problems=problems)
