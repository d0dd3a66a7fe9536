"""``evidence verify``: is every object the manifest lists the one collected, untouched, retained?

Reads only the bucket (a verifier months later may not have the responder's disk): the
manifest names each key's version and sha256; the object is streamed and re-hashed, its
version must still be the current one (anything written later by anyone shows as a newer
version or a delete marker), it must be under Object Lock retention, and ``audit.jsonl``'s
hash chain must hold. Objects in the case prefix the manifest does not list are mismatches.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from ircli.core.audit import verify_chain
from ircli.core.awserrors import error_code
from ircli.core.errors import AccessDenied, NotFound
from ircli.evidence.ship import MANIFEST, case_prefix

AUDIT = "audit.jsonl"


@dataclass
class ObjectCheck:
    key: str
    version_id: str | None = None
    sha256: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "ok": self.ok, "version_id": self.version_id,
                "sha256": self.sha256, "problems": self.problems}


@dataclass
class VerifyReport:
    case_id: str
    bucket: str
    objects: list[ObjectCheck]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.objects)

    @property
    def mismatches(self) -> list[str]:
        return [f"{o.key}: {p}" for o in self.objects for p in o.problems]

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "bucket": self.bucket, "ok": self.ok,
                "objects": [o.to_dict() for o in self.objects], "mismatches": self.mismatches}


def _latest_versions(s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """key -> its latest version (``DeleteMarker: True`` when a delete marker is latest)."""
    latest: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version.get("IsLatest"):
                latest[version["Key"]] = version
        for marker in page.get("DeleteMarkers", []):
            if marker.get("IsLatest"):
                latest[marker["Key"]] = {**marker, "DeleteMarker": True}
    return latest


def _load_manifest(s3: Any, bucket: str, case_id: str) -> tuple[dict[str, Any], str]:
    key = case_prefix(case_id) + MANIFEST
    try:
        resp = s3.get_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("NoSuchKey", "404"):
            raise NotFound(f"s3://{bucket}/{key} does not exist: case {case_id} was never "
                           "shipped to this bucket.",
                           f"Run `ircli evidence sync {case_id}` on the responder's machine, "
                           "or check --evidence-bucket.") from err
        if error_code(err) == "NoSuchBucket":
            raise NotFound(f"The evidence bucket {bucket} does not exist.",
                           "Check --evidence-bucket (or IRCLI_EVIDENCE_BUCKET, the config file) "
                           "and the account you are in.") from err
        if error_code(err) in ("403", "Forbidden", "AccessDenied"):
            raise AccessDenied(f"This identity may not read s3://{bucket}/{key} "
                               f"({error_code(err)}).",
                               "Run with the responder or analyst role (--role-arn), or check "
                               "--evidence-bucket: the bucket may belong to another account.") \
                from err
        raise
    return json.loads(resp["Body"].read()), str(resp.get("VersionId"))


def _retention_problem(head: dict[str, Any], now: datetime) -> str | None:
    until = head.get("ObjectLockRetainUntilDate")
    if until is None:
        return "not under Object Lock retention"
    if until <= now:
        return f"retention ended at {until.isoformat()}"
    return None


def _check_object(s3: Any, bucket: str, entry: dict[str, Any], latest: dict[str, Any] | None,
                  now: datetime) -> ObjectCheck:
    key, version = str(entry.get("key")), str(entry.get("version_id"))
    check = ObjectCheck(key, version)
    if latest is None:
        check.problems.append("not in the bucket")
        return check
    if latest.get("DeleteMarker"):
        check.problems.append("deleted (a delete marker is its current version)")
    elif latest.get("VersionId") != version:
        check.problems.append(f"overwritten: current version {latest.get('VersionId')} is not "
                              f"the recorded {version}")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=version)
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"]
    except botocore.exceptions.ClientError as err:
        check.problems.append(f"recorded version {version} cannot be read ({error_code(err)})")
        return check
    if problem := _retention_problem(head, now):
        check.problems.append(problem)
    sha, size, keep = hashlib.sha256(), 0, key.endswith("/" + AUDIT)
    kept = bytearray()
    for chunk in body.iter_chunks(1024 * 1024):
        sha.update(chunk)
        size += len(chunk)
        if keep:
            kept += chunk
    check.sha256 = sha.hexdigest()
    if check.sha256 != entry.get("sha256"):
        check.problems.append(f"sha256 {check.sha256} differs from the recorded "
                              f"{entry.get('sha256')}")
    if size != entry.get("size"):
        check.problems.append(f"size {size} differs from the recorded {entry.get('size')}")
    if keep:
        check.problems += [f"audit chain: {p}" for p in _chain_problems(bytes(kept))]
    return check


def _chain_problems(data: bytes) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / AUDIT
        path.write_bytes(data)
        return verify_chain(path)


def verify_case(s3: Any, bucket: str, case_id: str, now: datetime) -> VerifyReport:
    """Check every manifest entry and every object under the case prefix."""
    prefix = case_prefix(case_id)
    manifest, manifest_version = _load_manifest(s3, bucket, case_id)
    latest = _latest_versions(s3, bucket, prefix)
    entries: list[dict[str, Any]] = list(manifest.get("objects", []))
    report = VerifyReport(case_id, bucket, [])
    manifest_check = ObjectCheck(prefix + MANIFEST, manifest_version)
    try:
        head = s3.head_object(Bucket=bucket, Key=prefix + MANIFEST, VersionId=manifest_version)
        if problem := _retention_problem(head, now):
            manifest_check.problems.append(problem)
    except botocore.exceptions.ClientError as err:
        manifest_check.problems.append(f"cannot be read ({error_code(err)})")
    if manifest.get("case_id") != case_id:
        manifest_check.problems.append(f"names case {manifest.get('case_id')}, not {case_id}")
    if not any(str(e.get("key")).endswith("/" + AUDIT) for e in entries):
        manifest_check.problems.append("lists no audit.jsonl")
    report.objects.append(manifest_check)
    listed = {str(e.get("key")) for e in entries}
    for entry in entries:
        report.objects.append(_check_object(s3, bucket, entry, latest.get(str(entry.get("key"))),
                                            now))
    for key, version in sorted(latest.items()):
        if key not in listed and key != prefix + MANIFEST and not version.get("DeleteMarker"):
            report.objects.append(ObjectCheck(key, version.get("VersionId"),
                                              problems=["in the bucket but not in the manifest"]))
    return report
