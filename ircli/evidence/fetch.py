"""Read a case back from the evidence bucket, so a responder on another machine continues it.

The bucket is where a case outlives the laptop that opened it. When a run is to record under a
case that is not on this machine but is in the bucket, its ``case.json``, ``audit.jsonl`` and
``manifest.json`` come down first: the run then extends that record and its audit chain,
instead of starting a second, unrelated record under the same id.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import botocore.exceptions

from ircli.evidence import casestore as cs
from ircli.evidence.ship import MANIFEST, STATE, case_prefix

CASE_FILES = ("case.json", "audit.jsonl", MANIFEST)
MAX_BYTES = 32 * 1024 * 1024  # a case record, never an archive


def _get(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes (bounded), or None when it is not there or cannot be read."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        data: bytes = body.read(MAX_BYTES + 1)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return None
    return data if len(data) <= MAX_BYTES else None


def remote_case(s3: Any, bucket: str, case_id: str, account: str | None = None
                ) -> dict[str, Any] | None:
    """The bucket's ``case.json`` of ``case_id`` (None when absent, unreadable or not a case).
    One look-up at one depth (it runs before isolation): ``account`` for the central bucket."""
    raw = _get(s3, bucket, case_prefix(case_id, account) + "case.json")
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("case_id") == case_id else None


def fetch_case(s3: Any, bucket: str, case_id: str, dest: Path, prefix: str | None = None
               ) -> list[str]:
    """Copy the case's record files from the bucket (under ``prefix``, by default the own
    bucket's ``cases/<id>/``) into ``dest``; returns what came down. The case then ships back
    to the same prefix, its ``case.json`` merged from the version fetched, and its audit
    lines continue the shared chain (``.evidence.json`` says so)."""
    prefix = prefix or case_prefix(case_id)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    fetched = []
    base: dict[str, Any] | None = None
    for name in CASE_FILES:
        data = _get(s3, bucket, prefix + name)
        if data is None:
            continue
        if name == cs.CASE_JSON:
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or parsed.get("case_id") != case_id:
                continue  # not this case's record: nothing to continue from
            base = parsed
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=".fetch.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest / name)
        fetched.append(name)
    _write_state(dest / STATE, {"bucket": bucket, "files": {}, "manifest_sha256": None,
                                "prefix": prefix, "case_base": base})
    return fetched


def _write_state(path: Path, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
