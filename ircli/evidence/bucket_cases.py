"""Finding cases in an evidence bucket, at both depths: ``cases/<case-id>/`` (an account's own
bucket) and ``cases/<account>/<case-id>/`` (the central forensics bucket)."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.errors import NotFound, UserError
from ircli.evidence.casestore import AUDIT_DIR, CASE_JSON, CaseStore, bucket_error

ACCOUNT = re.compile(r"^\d{12}$")  # cases/<account>/ in the central bucket


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _children(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The "folders" directly under ``prefix``."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                             Delimiter="/"):
        found += [str(p["Prefix"]) for p in page.get("CommonPrefixes", [])]
    return found


def case_prefixes(s3: Any, bucket: str) -> list[str]:
    """Every case prefix in the bucket, at both depths (``cases/<id>/`` and, in the central
    bucket, ``cases/<account>/<id>/``)."""
    try:
        found = []
        for top in _children(s3, bucket, "cases/"):
            name = top[len("cases/"):-1]
            if ACCOUNT.match(name) and not _exists(s3, bucket, top + CASE_JSON):
                found += [p for p in _children(s3, bucket, top)
                          if not p.endswith(f"/{AUDIT_DIR}")]
            else:
                found.append(top)
        return found
    except botocore.exceptions.ClientError as err:
        raise bucket_error(err, bucket, "list the cases") from err


def locate(s3: Any, bucket: str, case_id: str) -> str | None:
    """The prefix holding ``case_id``'s ``case.json`` (own-bucket depth first), or None."""
    from ircli.evidence.ship import case_prefix

    try:
        if _exists(s3, bucket, case_prefix(case_id) + CASE_JSON):
            return case_prefix(case_id)
        for top in _children(s3, bucket, "cases/"):
            account = top[len("cases/"):-1]
            if ACCOUNT.match(account) and \
                    _exists(s3, bucket, case_prefix(case_id, account) + CASE_JSON):
                return case_prefix(case_id, account)
    except botocore.exceptions.ClientError as err:
        raise bucket_error(err, bucket, "read the cases") from err
    return None


def require(s3: Any, bucket: str, case_id: str) -> str:
    prefix = locate(s3, bucket, case_id)
    if prefix is None:
        raise NotFound(f"Case {case_id} is not in s3://{bucket} (neither cases/{case_id}/ nor "
                       f"cases/<account>/{case_id}/ holds a case.json).",
                       "Check the case id (`ircli case list --bucket …`) and the bucket.")
    return prefix


def read_remote(s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """The case record under ``prefix`` for display: a bad object is a one-sentence error."""
    try:
        remote = CaseStore(s3, bucket, prefix).read_case()
    except botocore.exceptions.ClientError as err:
        raise bucket_error(err, bucket, "read the case") from err
    if remote is None:
        raise NotFound(f"s3://{bucket}/{prefix}{CASE_JSON} does not exist.",
                       "Check the case id and the bucket.")
    return remote.data


def list_remote(s3: Any, bucket: str, workers: int = 8) -> list[tuple[str, dict[str, Any]]]:
    """(prefix, case record) of every case in the bucket, newest first; a prefix whose
    ``case.json`` is missing or not a case record is left out."""
    from concurrent.futures import ThreadPoolExecutor

    prefixes = case_prefixes(s3, bucket)

    def read(prefix: str) -> tuple[str, dict[str, Any]] | None:
        try:
            remote = CaseStore(s3, bucket, prefix).read_case()
        except (UserError, botocore.exceptions.ClientError):
            return None
        if remote is None or not isinstance(remote.data.get("case_id"), str):
            return None
        return prefix, remote.data

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = [r for r in pool.map(read, prefixes) if r is not None]
    return sorted(found, key=lambda r: str(r[1].get("created_at", "")), reverse=True)


def entries_as_lines(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """The shared audit entries in the shape of ``audit.jsonl`` lines (``event`` and the
    detail's fields), for ``case show`` of a case read from the bucket."""
    out = []
    for seq, raw in CaseStore(s3, bucket, prefix).read_entries():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        detail: dict[str, Any] = entry["detail"] if isinstance(entry.get("detail"), dict) \
            else {}
        out.append({**detail, "seq": seq, "time": entry.get("time"),
                    "event": entry.get("action"), "actor": entry.get("actor")})
    return out
