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

from ircli.evidence.ship import MANIFEST, case_prefix

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


def remote_case(s3: Any, bucket: str, case_id: str) -> dict[str, Any] | None:
    """The bucket's ``case.json`` of ``case_id`` (None when absent, unreadable or not a case)."""
    raw = _get(s3, bucket, case_prefix(case_id) + "case.json")
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("case_id") == case_id else None


def fetch_case(s3: Any, bucket: str, case_id: str, dest: Path) -> list[str]:
    """Copy the case's record files from the bucket into ``dest``; returns what came down."""
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    fetched = []
    for name in CASE_FILES:
        data = _get(s3, bucket, case_prefix(case_id) + name)
        if data is None:
            continue
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=".fetch.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest / name)
        fetched.append(name)
    return fetched
