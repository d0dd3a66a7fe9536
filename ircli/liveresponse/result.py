"""Read what a collector returns: its JSON result line and its archive.

The caller trusts neither blindly: the result line's archive hash is compared with the uploaded
object, and the archive's manifest is checked against its own members.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ircli.liveresponse.errors import LiveResponseError

STATUSES = ("complete", "partial", "upload_failed", "fatal")
EXIT_CODES = {"complete": 0, "partial": 2, "upload_failed": 3, "fatal": 4}


class ResultError(LiveResponseError):
    """The collector's output or archive is not what the contract promises."""


def parse_result_line(stdout: str) -> dict[str, Any]:
    """Parse the first stdout line as the collector's JSON result."""
    first = stdout.lstrip("\ufeff").split("\n", 1)[0].strip()
    try:
        result = json.loads(first)
    except json.JSONDecodeError as exc:
        raise ResultError(
            f"The collector's first stdout line is not JSON: {first[:200]!r}.",
            "Read the invocation's stderr and the collector's exit code.",
        ) from exc
    if not isinstance(result, dict) or result.get("status") not in STATUSES:
        raise ResultError(
            "The collector's result line has no known status.",
            "Check that the document is an ircli live-response document.",
        )
    return result


@dataclass
class ArchiveReport:
    """What ``verify_archive`` found; ``problems`` is empty when the archive is consistent."""

    members: list[str]
    manifest: list[dict[str, Any]]
    log: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8", errors="surrogateescape")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def open_archive(data: bytes | Path) -> tarfile.TarFile:
    """Open a collector archive (tar.gz) from bytes or a path."""
    if isinstance(data, Path):
        return tarfile.open(data, mode="r:gz")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def verify_archive(data: bytes | Path) -> ArchiveReport:
    """Check member order (manifest, log first) and every manifest hash against the files.

    One sequential pass: random access into a gzip stream re-decompresses from the start.
    """
    names: list[str] = []
    digests: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    with open_archive(data) as tar:
        for member in tar:
            names.append(member.name)
            f = tar.extractfile(member) if (member.isfile() or member.islnk()) else None
            if f is None:
                continue
            content = f.read()
            digests[member.name] = hashlib.sha256(content).hexdigest()
            if member.name in ("manifest.jsonl", "collection.log"):
                blobs[member.name] = content
    problems: list[str] = []
    if names[:2] != ["manifest.jsonl", "collection.log"]:
        problems.append(f"first members are {names[:2]}, not manifest.jsonl, collection.log")
    manifest = _jsonl(blobs.get("manifest.jsonl", b""))
    log = _jsonl(blobs.get("collection.log", b""))
    listed = set()
    for entry in manifest:
        if "skipped" in entry:
            continue
        path = str(entry["path"])
        listed.add(path)
        if path not in digests:
            problems.append(f"manifest lists {path} but the archive lacks it")
        elif digests[path] != entry.get("sha256"):
            problems.append(f"sha256 mismatch for {path}")
    for name in sorted(set(digests) - listed - {"manifest.jsonl"}):
        problems.append(f"{name} is in the archive but not in the manifest")
    return ArchiveReport(members=names, manifest=manifest, log=log, problems=problems)
