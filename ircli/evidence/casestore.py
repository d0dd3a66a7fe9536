"""The case in the evidence bucket: its shared home, for every responder and the automation.

Layout under a case prefix (``cases/<case-id>/``, or ``cases/<account>/<case-id>/`` in the
central forensics bucket): ``case.json`` — the case record, created with ``If-None-Match: *``
and updated with ``If-Match: <ETag>`` — and ``audit/<seq:08d>.json``, one audit entry per
object (``seq``, ``time``, ``actor``, ``action``, ``detail``, ``prev``: the SHA-256 of the
previous entry's exact bytes), each created once with ``If-None-Match: *``. S3 refuses the
losing writer of a race (412 PreconditionFailed): it re-reads, merges or takes the next
sequence number, and tries again, so two writers never lose each other's lines.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ircli.core.awserrors import error_code
from ircli.core.errors import AccessDenied, NotFound, UserError
from ircli.evidence.merge import MISSING, merge

GENESIS = "0" * 64
CASE_JSON = "case.json"
AUDIT_DIR = "audit/"
ENTRY_KEY = re.compile(r"^audit/(\d{8})\.json$")
MAX_BYTES = 32 * 1024 * 1024  # a case record, never an archive
ATTEMPTS = 12

Sleep = Callable[[float], None]


class CaseConflict(UserError):
    """Another writer changed the case in the bucket in a way that cannot be merged."""


class _Lost(Exception):
    """A conditional write lost its race (412, or the object appeared/vanished meanwhile)."""


def actor() -> str:
    """``cli:<user@host>``: who wrote an entry (the automation writes ``automation:<arn>``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a container without a passwd entry
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def entry_key(prefix: str, seq: int) -> str:
    return f"{prefix}{AUDIT_DIR}{seq:08d}.json"


def entry_bytes(entry: dict[str, Any]) -> bytes:
    """How the CLI writes an entry (readers hash whatever bytes a writer stored)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lost(err: botocore.exceptions.ClientError) -> bool:
    return error_code(err) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409",
                               "NoSuchKey")


def bucket_error(err: botocore.exceptions.ClientError, bucket: str, what: str) -> UserError:
    """One sentence for a bucket the caller cannot use."""
    code = error_code(err)
    if code == "NoSuchBucket":
        return NotFound(f"The evidence bucket {bucket} does not exist.",
                        "Check --evidence-bucket (or IRCLI_EVIDENCE_BUCKET, the config file) and "
                        "the account you are in.")
    if code in ("403", "Forbidden", "AccessDenied"):
        return AccessDenied(f"This identity may not {what} in s3://{bucket} ({code}).",
                            "Run with the responder or analyst role (--role-arn), or check "
                            "--evidence-bucket: the bucket may belong to another account.")
    return UserError(f"Could not {what} in s3://{bucket}: {code}.",
                     "Check the bucket (`ircli evidence check`) and try again.")


# -- reading and writing one case ----------------------------------------------------------

@dataclass
class Remote:
    """``case.json`` as read from the bucket: parsed, its ETag and its exact bytes."""

    data: dict[str, Any]
    etag: str
    raw: bytes


class CaseStore:
    """One case's prefix in one bucket (``s3`` is the caller's client, with its retries)."""

    def __init__(self, s3: Any, bucket: str, prefix: str, *, sleep: Sleep = time.sleep,
                 attempts: int = ATTEMPTS) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.sleep = sleep
        self.attempts = attempts

    def _retrying(self) -> Retrying:
        return Retrying(stop=stop_after_attempt(self.attempts),
                        wait=wait_random_exponential(multiplier=0.05, max=2),
                        retry=retry_if_exception_type(_Lost), sleep=self.sleep, reraise=True)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as err:
            if error_code(err) in ("NoSuchKey", "404"):
                return None
            raise
        data = bytes(resp["Body"].read(MAX_BYTES + 1))
        if len(data) > MAX_BYTES:
            raise UserError(f"s3://{self.bucket}/{key} is larger than a case record can be.",
                            "Look at the object: it is not what ircli or the automation write.")
        return data, str(resp.get("ETag") or "")

    def read_case(self) -> Remote | None:
        """The bucket's ``case.json`` (None when there is none)."""
        got = self._get(self.prefix + CASE_JSON)
        if got is None:
            return None
        raw, etag = got
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CaseConflict(f"s3://{self.bucket}/{self.prefix}{CASE_JSON} is not a case "
                               "record (not a JSON object), so this writer cannot merge into it.",
                               "Run `ircli evidence verify` on the case and look at the "
                               "object's versions before writing to it again.")
        return Remote(data, etag, raw)

    def write_case(self, local: dict[str, Any], base: dict[str, Any] | None,
                   render: Callable[[dict[str, Any]], bytes], etag: str | None = None
                   ) -> tuple[dict[str, Any], str, str]:
        """Write ``local`` over the bucket's ``case.json``: created once, then updated only
        from the version read (``If-Match``); a lost race re-reads and merges. With ``etag``
        (that of ``base``, the version this writer wrote last) the first try writes without
        reading. Returns (the record written, its version id, its ETag). ``render`` makes
        the bytes (the caller keeps its local file identical to them)."""
        case_id = str(local.get("case_id"))
        # The first try assumes nobody else wrote: the version this writer wrote last is
        # current (its ETag), or, never having written, there is no case.json yet.
        known: dict[str, Any] = {"first": True}

        def attempt() -> tuple[dict[str, Any], str, str]:
            remote: Remote | None
            if known.pop("first", False) and (etag is None) == (base is None):
                remote = Remote(base, etag, b"") if base is not None and etag else None
            else:  # a lost race, or a base without its ETag (a fetched case): read
                remote = self.read_case()
            if remote is None:
                data, condition = local, {"IfNoneMatch": "*"}
            else:
                if str(remote.data.get("case_id")) != case_id:
                    raise CaseConflict(
                        f"s3://{self.bucket}/{self.prefix}{CASE_JSON} records case "
                        f"{remote.data.get('case_id')!s:.64}, not {case_id}.",
                        "Check the case id and --evidence-bucket; do not write over it.")
                try:
                    data = merge(MISSING if base is None else base, local, remote.data)
                except ValueError as err:
                    raise CaseConflict(
                        f"Case {case_id} in s3://{self.bucket} was changed by another writer "
                        f"at {err} in a way that cannot be merged with this run's change.",
                        f"Compare `ircli case show {case_id} --bucket {self.bucket}` with the "
                        "local case, then settle it before `ircli evidence sync`.") from err
                condition = {"IfMatch": remote.etag}
            body = render(data)
            try:
                resp = self.s3.put_object(Bucket=self.bucket, Key=self.prefix + CASE_JSON,
                                          Body=body, **_checksums(body), **condition)
            except botocore.exceptions.ClientError as err:
                if _lost(err):
                    raise _Lost() from err
                raise
            return data, str(resp.get("VersionId") or "null"), str(resp.get("ETag") or "")

        try:
            return self._retrying()(attempt)
        except _Lost as err:
            raise CaseConflict(f"Case {case_id} in s3://{self.bucket} kept changing under this "
                               f"writer ({self.attempts} tries).",
                               "Run `ircli evidence sync` again once the other writer is done."
                               ) from err

    # -- the audit entries ------------------------------------------------------------------
    def entry_keys(self, start_after: int | None = None) -> list[tuple[int, str]]:
        """(seq, key) of the entries in the bucket, in order; keys that are not entries are
        left out here (verify names them)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + AUDIT_DIR}
        if start_after is not None:
            kwargs["StartAfter"] = entry_key(self.prefix, start_after)
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                match = ENTRY_KEY.match(str(obj["Key"])[len(self.prefix):])
                if match:
                    found.append((int(match.group(1)), str(obj["Key"])))
        return sorted(found)

    def read_entries(self) -> list[tuple[int, bytes]]:
        """Every entry's (seq, exact bytes), in order (read 8 at a time: one object each)."""
        from concurrent.futures import ThreadPoolExecutor

        keys = self.entry_keys()
        with ThreadPoolExecutor(max_workers=8) as pool:
            bodies = list(pool.map(lambda item: self._get(item[1]), keys))
        return [(seq, got[0]) for (seq, _key), got in zip(keys, bodies, strict=True)
                if got is not None]

    def tail(self, known: tuple[int, str] | None = None) -> tuple[int, str]:
        """(next seq, sha256 of the last entry): from ``known`` on, what the bucket holds."""
        seq, prev = known or (0, GENESIS)
        keys = self.entry_keys(seq - 1 if seq else None)
        if keys:
            last, key = keys[-1]
            got = self._get(key)
            if got is None:
                raise _Lost()
            return last + 1, digest(got[0])
        return seq, prev

    def append(self, entry: dict[str, Any], known: tuple[int, str] | None = None
               ) -> tuple[int, str]:
        """Write ``entry`` (time, actor, action, detail) as the next one; ``known`` is where
        this writer believes the chain ends. Returns the new tail (next seq, its sha256)."""
        state = {"tail": known}

        def attempt() -> tuple[int, str]:
            seq, prev = state["tail"] or self.tail()
            body = entry_bytes({"seq": seq, **entry, "prev": prev})
            try:
                self.s3.put_object(Bucket=self.bucket, Key=entry_key(self.prefix, seq),
                                   Body=body, IfNoneMatch="*", **_checksums(body))
            except botocore.exceptions.ClientError as err:
                if _lost(err):
                    state["tail"] = None  # someone took that seq: re-read the chain's end
                    raise _Lost() from err
                raise
            return seq + 1, digest(body)

        try:
            return self._retrying()(attempt)
        except _Lost as err:
            raise CaseConflict(f"Could not add to the audit of s3://{self.bucket}/{self.prefix}: "
                               f"other writers took every sequence number ({self.attempts} "
                               "tries).", "Run `ircli evidence sync` again.") from err


def _checksums(body: bytes) -> dict[str, str]:
    """Content-MD5 (a locked bucket accepts no PUT without it) and an S3 SHA-256 checksum."""
    return {"ContentMD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
