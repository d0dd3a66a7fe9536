"""``evidence verify``: is every object the manifest lists the one collected, untouched, retained?

Reads only the bucket (a verifier months later may not have the responder's disk): the
manifest names each key's version and sha256; the object is streamed and re-hashed, its
version must still be the current one (anything written later by anyone shows as a newer
version or a delete marker), it must be under Object Lock retention, and ``audit.jsonl``'s
hash chain must hold. Objects in the case prefix the manifest does not list are mismatches.

Object Lock keeps every version, so the history is read too: each version of ``audit.jsonl``
must extend the one before (append-only), each version of ``manifest.json`` must keep every
entry of the one before (an entry may only move to a newer version of its key), and a delete
marker on either is tampering. Last, the anchors (:mod:`ircli.evidence.anchor`): each must
verify with the verifier's KMS key and sign a manifest version the bucket holds, and the
newest must sign the current manifest and audit head — which a chain recomputed by someone
without the key cannot match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from ircli.core.audit import verify_chain
from ircli.core.awserrors import error_code
from ircli.core.errors import AccessDenied, NotFound
from ircli.evidence import anchor as anc
from ircli.evidence import casestore as cs
from ircli.evidence import verify_shared as shared
from ircli.evidence.bucket_cases import locate
from ircli.evidence.ship import AUDIT, MANIFEST, case_prefix


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
    signing_key: str | None = None
    anchored: bool = False
    anchors: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.objects)

    @property
    def mismatches(self) -> list[str]:
        return [f"{o.key}: {p}" for o in self.objects for p in o.problems]

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "bucket": self.bucket, "ok": self.ok,
                "anchored": self.anchored, "anchors": self.anchors,
                "signing_key": self.signing_key, "warnings": self.warnings,
                "objects": [o.to_dict() for o in self.objects], "mismatches": self.mismatches}


@dataclass
class Listing:
    """Every version and delete marker under a prefix; versions oldest first, as stored."""

    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    markers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    def order(self, key: str) -> dict[str, int]:
        return {str(v.get("VersionId")): i for i, v in enumerate(self.versions.get(key, []))}

    def all_keys(self) -> set[str]:
        return set(self.versions) | set(self.markers)


def list_versions(s3: Any, bucket: str, prefix: str) -> Listing:
    """S3 lists each key's versions newest first ("in the order they were stored, most
    recent first"); the listing keeps them oldest first."""
    listing = Listing()
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                      Prefix=prefix):
            for version in page.get("Versions", []):
                listing.versions.setdefault(version["Key"], []).insert(0, version)
                if version.get("IsLatest"):
                    listing.latest[version["Key"]] = version
            for marker in page.get("DeleteMarkers", []):
                listing.markers.setdefault(marker["Key"], []).append(marker)
                if marker.get("IsLatest"):
                    listing.latest[marker["Key"]] = {**marker, "DeleteMarker": True}
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchBucket":
            raise NotFound(f"The evidence bucket {bucket} does not exist.",
                           "Check --evidence-bucket (or IRCLI_EVIDENCE_BUCKET, the config file) "
                           "and the account you are in.") from err
        if error_code(err) in ("403", "Forbidden", "AccessDenied"):
            raise AccessDenied(f"This identity may not list s3://{bucket}/{prefix} "
                               f"({error_code(err)}).",
                               "Run with the responder or analyst role (--role-arn), or check "
                               "--evidence-bucket: the bucket may belong to another account.") \
                from err
        raise
    return listing


def _marker_problems(listing: Listing, key: str) -> list[str]:
    return [f"tampering: a delete marker (version {m.get('VersionId')}, "
            f"{_when(m)}) was put on it; ircli never deletes evidence"
            for m in listing.markers.get(key, [])]


def _when(item: dict[str, Any]) -> str:
    stamp = item.get("LastModified")
    return stamp.isoformat() if isinstance(stamp, datetime) else str(stamp)


def _read(s3: Any, bucket: str, key: str, version: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read())


def _load_manifests(s3: Any, bucket: str, case_id: str, listing: Listing, prefix: str
                    ) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(version id, sha256, parsed or None) of every manifest version, oldest first."""
    key = prefix + MANIFEST
    versions = listing.versions.get(key, [])
    if not versions:
        marked = " (only a delete marker is there: tampering)" if listing.markers.get(key) \
            else ""
        raise NotFound(f"s3://{bucket}/{key} does not exist{marked}: case {case_id} was never "
                       "shipped to this bucket.",
                       f"Run `ircli evidence sync {case_id}` on the responder's machine, "
                       "or check --evidence-bucket.")
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for version in versions:
        vid = str(version.get("VersionId"))
        body = _read(s3, bucket, key, vid)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        out.append((vid, hashlib.sha256(body).hexdigest(), doc if isinstance(doc, dict)
                    else None))
    return out


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


def _manifest_history(manifests: list[tuple[str, str, dict[str, Any] | None]],
                      listing: Listing) -> list[str]:
    """Each manifest version keeps every entry of the one before; an entry changes only by
    moving to a newer version of its own key."""
    problems: list[str] = []
    prev: tuple[str, dict[str, Any]] | None = None
    for vid, _sha, doc in manifests:
        if doc is None:
            problems.append(f"version {vid} is not a JSON manifest")
            continue
        if prev is not None:
            prev_vid, before = prev
            if doc.get("case_id") != before.get("case_id"):
                problems.append(f"version {vid} names case {doc.get('case_id')}, version "
                                f"{prev_vid} named {before.get('case_id')}")
            now = {str(e.get("path")): e for e in doc.get("objects", []) if isinstance(e, dict)}
            for old in before.get("objects", []):
                path = str(old.get("path"))
                new = now.get(path)
                if new is None:
                    problems.append(f"version {vid} drops {path}, which version {prev_vid} "
                                    "listed (entries are never removed)")
                elif new.get("key") != old.get("key"):
                    problems.append(f"version {vid} moves {path} to another key")
                elif new.get("version_id") == old.get("version_id"):
                    if (new.get("sha256"), new.get("size")) != (old.get("sha256"),
                                                                old.get("size")):
                        problems.append(f"version {vid} changes the recorded sha256 or size "
                                        f"of {path} version {old.get('version_id')}")
                else:
                    rank = listing.order(str(old.get("key")))
                    if rank.get(str(new.get("version_id")), -1) <= \
                            rank.get(str(old.get("version_id")), -1):
                        problems.append(f"version {vid} points {path} back from version "
                                        f"{old.get('version_id')} to the older or unknown "
                                        f"{new.get('version_id')}")
        prev = (vid, doc)
    return problems


def _audit_history(s3: Any, bucket: str, key: str, listing: Listing
                   ) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """Each stored version of the audit log must start with the one before (append-only);
    also the (lines, head) of each version, for the anchors."""
    problems: list[str] = []
    heads: dict[str, tuple[int, str]] = {}
    prev: tuple[str, bytes] | None = None
    for version in listing.versions.get(key, []):
        vid = str(version.get("VersionId"))
        data = _read(s3, bucket, key, vid)
        heads[vid] = anc.audit_head(data)
        if prev is not None and not data.startswith(prev[1]):
            problems.append(f"version {vid} does not extend version {prev[0]}: lines were "
                            "removed or changed, and the log is append-only")
        prev = (vid, data)
    return problems, heads


@dataclass
class _History:
    """What the anchors are checked against."""

    manifests: list[tuple[str, str, dict[str, Any] | None]]
    audit_heads: dict[str, tuple[int, str]]


def _check_anchors(s3: Any, kms: Any, bucket: str, prefix: str, listing: Listing,
                   history: _History, key_id: str | None, report: VerifyReport) -> None:
    keys = sorted(k for k in listing.all_keys() if k.startswith(prefix + anc.ANCHORS))
    report.anchors = len(keys)
    check = ObjectCheck(prefix + anc.ANCHORS)
    if not keys:
        if key_id:
            check.problems.append("no anchor: the chain head was never signed, so a chain "
                                  "recomputed without the key cannot be told apart")
            report.objects.append(check)
        else:
            report.warnings.append(
                "the chain is not anchored (no signing key, no anchors): verify proves the "
                "objects match the manifest, not that the manifest is the responder's")
        return
    if key_id is None:
        report.warnings.append(
            "no --signing-key given: the anchors were checked with the key each names, which "
            "anyone could have made; pass the signing key's ARN to prove who signed")
    elif key_id.startswith("alias/"):
        report.warnings.append(f"{key_id} is an alias, and an alias can be moved to another "
                               "key: pin the signing key by its ARN")
    manifests = {vid: (sha, doc) for vid, sha, doc in history.manifests}
    manifest_rank = {vid: i for i, (vid, _s, _d) in enumerate(history.manifests)}
    prev_sha, last_rank, payload = anc.GENESIS, -1, None
    for seq, key in enumerate(keys, start=1):
        where = key[len(prefix):]
        check.problems += [f"{where}: {p}" for p in _marker_problems(listing, key)]
        versions = listing.versions.get(key, [])
        if not versions:
            check.problems.append(f"{where}: missing")
            continue
        if len(versions) > 1:
            check.problems.append(f"{where}: written {len(versions)} times (an anchor is "
                                  "written once)")
        body = _read(s3, bucket, key, str(versions[0].get("VersionId")))
        try:
            document = json.loads(body)
            payload = document["payload"]
            assert isinstance(payload, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            check.problems.append(f"{where}: not an anchor document")
            payload = None
            continue
        if key != anc.anchor_key(prefix, seq) or payload.get("seq") != seq:
            check.problems.append(f"{where}: out of sequence (expected anchor {seq})")
        if payload.get("case_id") != report.case_id:
            check.problems.append(f"{where}: signs case {payload.get('case_id')}")
        if payload.get("prev_anchor_sha256") != prev_sha:
            check.problems.append(f"{where}: does not chain to the anchor before it")
        prev_sha = hashlib.sha256(body).hexdigest()
        verify_with = key_id or str(document.get("key_id"))
        try:
            valid = anc.signature_valid(kms, verify_with, document)
        except botocore.exceptions.ClientError as err:
            check.problems.append(f"{where}: cannot be verified with {verify_with} "
                                  f"({error_code(err)})")
            continue
        if not valid:
            check.problems.append(f"{where}: the signature does not verify with {verify_with}: "
                                  "the head it names was not signed by that key")
            continue
        mvid = str(payload.get("manifest_version_id"))
        stored = manifests.get(mvid)
        if stored is None or stored[0] != payload.get("manifest_sha256"):
            check.problems.append(f"{where}: signs manifest version {mvid}, which the bucket "
                                  "does not hold with that sha256")
            continue
        if manifest_rank[mvid] < last_rank:
            check.problems.append(f"{where}: signs an older manifest than the anchor before it")
        last_rank = manifest_rank[mvid]
        audit = next((e for e in (stored[1] or {}).get("objects", [])
                      if isinstance(e, dict) and e.get("path") == AUDIT), {})
        head = history.audit_heads.get(str(audit.get("version_id")))
        if head != (payload.get("audit_lines"), payload.get("audit_head")):
            check.problems.append(f"{where}: the audit head it signs ({payload.get('audit_lines')}"
                                  f" lines) is not the audit log that manifest version lists")
    current = history.manifests[-1][0]
    if payload is not None and not check.problems and \
            payload.get("manifest_version_id") != current:
        check.problems.append(
            f"the current manifest (version {current}) is not signed; the newest anchor signs "
            f"version {payload.get('manifest_version_id')} (written by someone without the "
            "key, or a ship cut short before signing: `evidence sync` on the responder's "
            "machine signs its own)")
    check.version_id = keys[-1][len(prefix):]
    report.anchored = key_id is not None and not check.problems
    report.objects.append(check)


def verify_case(s3: Any, bucket: str, case_id: str, now: datetime, *, kms: Any = None,
                signing_key: str | None = None, account: str | None = None) -> VerifyReport:
    """Check every manifest entry, every object under the case prefix, the history of the
    manifest and the audit log, the shared audit entries and ``case.json``'s history, and
    the anchors (with ``kms``). A case no CLI shipped (the automation opened it) has no
    manifest: its entries and case record are checked, and the report says what that leaves
    unproven. ``account``: a member account's case in the central forensics bucket
    (``cases/<account>/<case-id>/``)."""
    prefix = case_prefix(case_id, account)
    if account is None:
        with contextlib.suppress(NotFound, AccessDenied):  # list_versions names the problem
            prefix = locate(s3, bucket, case_id) or prefix
    listing = list_versions(s3, bucket, prefix)
    if not listing.versions.get(prefix + MANIFEST) and listing.versions.get(prefix + cs.CASE_JSON):
        return _verify_unmanifested(s3, bucket, case_id, prefix, listing, now)
    manifests = _load_manifests(s3, bucket, case_id, listing, prefix)
    manifest_version, _sha, parsed = manifests[-1]
    manifest = parsed or {}
    latest = listing.latest
    entries: list[dict[str, Any]] = [e for e in manifest.get("objects", [])
                                     if isinstance(e, dict)]
    report = VerifyReport(case_id, bucket, [], signing_key=signing_key)
    manifest_check = ObjectCheck(prefix + MANIFEST, manifest_version)
    if latest.get(prefix + MANIFEST, {}).get("DeleteMarker"):
        manifest_check.problems.append("deleted: a delete marker hides it (verified the "
                                       "newest version under it)")
    manifest_check.problems += _marker_problems(listing, prefix + MANIFEST)
    try:
        head = s3.head_object(Bucket=bucket, Key=prefix + MANIFEST, VersionId=manifest_version)
        if problem := _retention_problem(head, now):
            manifest_check.problems.append(problem)
    except botocore.exceptions.ClientError as err:
        manifest_check.problems.append(f"cannot be read ({error_code(err)})")
    if parsed is None:
        manifest_check.problems.append("is not a JSON manifest")
    elif manifest.get("case_id") != case_id:
        manifest_check.problems.append(f"names case {manifest.get('case_id')}, not {case_id}")
    if not any(str(e.get("key")).endswith("/" + AUDIT) for e in entries):
        manifest_check.problems.append("lists no audit.jsonl")
    manifest_check.problems += _manifest_history(manifests, listing)
    report.objects.append(manifest_check)
    listed = {str(e.get("key")) for e in entries}
    for entry in entries:
        report.objects.append(_check_object(s3, bucket, entry, latest.get(str(entry.get("key"))),
                                            now))
    audit_key = prefix + AUDIT
    history_problems, heads = _audit_history(s3, bucket, audit_key, listing)
    history_problems += _marker_problems(listing, audit_key)
    if history_problems:
        audit_check = next((o for o in report.objects if o.key == audit_key), None)
        if audit_check is None:
            audit_check = ObjectCheck(audit_key)
            report.objects.append(audit_check)
        audit_check.problems += history_problems
    _check_shared(s3, bucket, case_id, prefix, listing, report,
                  audit_key if audit_key in listing.latest else None)
    for key, version in sorted(latest.items()):
        if key not in listed and key != prefix + MANIFEST and not version.get("DeleteMarker") \
                and not key.startswith((prefix + anc.ANCHORS, prefix + cs.AUDIT_DIR)):
            report.objects.append(ObjectCheck(key, version.get("VersionId"),
                                              problems=["in the bucket but not in the manifest"]))
    if kms is not None:
        _check_anchors(s3, kms, bucket, prefix, listing, _History(manifests, heads),
                       signing_key, report)
    return report


def _check_shared(s3: Any, bucket: str, case_id: str, prefix: str, listing: Listing,
                  report: VerifyReport, audit_key: str | None) -> int:
    """The shared audit entries (one check) and ``case.json``'s history (added to its own
    check); returns how many entries there are."""
    # Each entry is its own object: read the first version of all of them at once.
    wanted = [(k, str(v[0].get("VersionId"))) for k, v in listing.versions.items()
              if k.startswith(prefix + cs.AUDIT_DIR) and v]
    with ThreadPoolExecutor(max_workers=8) as pool:
        cache = dict(zip(wanted, pool.map(lambda kv: _read(s3, bucket, *kv), wanted),
                         strict=True))

    def read(key: str, version: str) -> bytes:
        got = cache.get((key, version))
        return got if got is not None else _read(s3, bucket, key, version)

    lines = None
    if audit_key is not None and not listing.latest[audit_key].get("DeleteMarker"):
        lines = [raw for raw in read(audit_key, str(listing.latest[audit_key]["VersionId"]))
                 .splitlines() if raw.strip()]
    problems, count = shared.entry_problems(read, prefix, listing.versions, listing.markers,
                                            lines)
    if count or problems:
        report.objects.append(ObjectCheck(prefix + cs.AUDIT_DIR, f"{count} entries",
                                          problems=problems))
    record_problems = shared.case_record_problems(read, prefix, case_id, listing.versions,
                                                  listing.markers)
    if record_problems:
        key = prefix + cs.CASE_JSON
        check = next((o for o in report.objects if o.key == key), None)
        if check is None:
            check = ObjectCheck(key)
            report.objects.append(check)
        check.problems += [p for p in record_problems if p not in check.problems]
    return count


def _verify_unmanifested(s3: Any, bucket: str, case_id: str, prefix: str, listing: Listing,
                         now: datetime) -> VerifyReport:
    """A case with ``case.json`` and audit entries but no CLI manifest (the automation's)."""
    report = VerifyReport(case_id, bucket, [])
    key = prefix + cs.CASE_JSON
    latest = listing.latest.get(key, {})
    check = ObjectCheck(key, latest.get("VersionId"))
    report.objects.append(check)
    if latest.get("DeleteMarker"):
        check.problems.append("deleted (a delete marker is its current version)")
    else:
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=str(latest.get("VersionId")))
        if problem := _retention_problem(head, now):
            check.problems.append(problem)
    count = _check_shared(s3, bucket, case_id, prefix, listing, report, None)
    if not count:
        report.objects.append(ObjectCheck(prefix + cs.AUDIT_DIR,
                                          problems=["no audit entries: the case has no record "
                                                    "of what was done"]))
    others = sorted(k for k in listing.latest if k != key and k != prefix + AUDIT
                    and not k.startswith(prefix + cs.AUDIT_DIR))
    if others:
        report.warnings.append(f"{len(others)} other object(s) under {prefix} are not covered "
                               "by any manifest and were not checked: " + ", ".join(
                                   k[len(prefix):] for k in others[:5]))
    report.warnings.append(
        "no manifest: no CLI shipped this case (the automation opened it), so no anchor "
        "signs its head. Verified: the audit entries run without a gap, each written once and "
        "chained to the exact bytes of the one before, and no version of case.json dropped a "
        "record or changed a pre-change state or step record. Not proven: who wrote them — "
        "anyone allowed to write the case prefix could have written a well-formed chain or "
        "case record")
    return report
