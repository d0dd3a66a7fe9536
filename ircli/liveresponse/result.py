"""Read what a collector returns: its JSON result line and its archive.

The caller trusts neither blindly: the result line's archive hash is compared with the uploaded
object, and the archive's manifest is checked against its own members.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ircli.liveresponse.errors import LiveResponseError

STATUSES = ("complete", "partial", "upload_failed", "fatal")
HEAD_MEMBERS = ("manifest.jsonl", "collection.log")
# What reading an uploaded archive's head may cost at most: a hostile host can upload a
# gzip bomb or a huge first member, so the read stops at these, whatever the object holds.
HEAD_COMPRESSED_LIMIT = 64 * 1024 * 1024
HEAD_DECOMPRESSED_LIMIT = 256 * 1024 * 1024
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


class _HeadLimit(Exception):
    pass


class _GunzipStream(io.RawIOBase):
    """Decompresses gzip chunks on demand, within the head limits."""

    def __init__(self, chunks: Iterable[bytes], compressed_limit: int,
                 decompressed_limit: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = b""
        self._read_in = self._read_out = 0
        self._limits = (compressed_limit, decompressed_limit)

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            pending = self._inflate.unconsumed_tail
            if not pending:
                if self._inflate.eof:
                    return 0
                pending = next(self._chunks, b"")
                if not pending:
                    return 0
                self._read_in += len(pending)
                if self._read_in > self._limits[0]:
                    raise _HeadLimit(f"its first members are not within the first "
                                     f"{self._limits[0] // 2**20} MiB")
            self._buffer = self._inflate.decompress(pending, 1024 * 1024)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self._read_out += size
        if self._read_out > self._limits[1]:
            raise _HeadLimit(f"its first members are not within the first "
                             f"{self._limits[1] // 2**20} MiB uncompressed")
        return size


def archive_head_problems(chunks: Iterable[bytes], *,
                          compressed_limit: int = HEAD_COMPRESSED_LIMIT,
                          decompressed_limit: int = HEAD_DECOMPRESSED_LIMIT) -> list[str]:
    """Is this stream a gzip'd tar whose first members are ``manifest.jsonl`` and
    ``collection.log`` (regular files)? Reads only as far as the second member's header."""
    chunks = iter(chunks)
    first = next(chunks, b"")
    if first[:2] != b"\x1f\x8b":
        return ["it is not gzip data"]
    stream = _GunzipStream(_chain(first, chunks),
                           compressed_limit, decompressed_limit)
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    return [f"member {len(names) + 1} ({member.name!r}) is not a regular file"]
                names.append(member.name)
                if len(names) == len(HEAD_MEMBERS):
                    break
    except _HeadLimit as err:
        return [str(err)]
    except zlib.error:
        return ["it is not a valid gzip stream"]
    except (tarfile.TarError, EOFError, OSError):
        return ["it is not a tar archive inside the gzip"]
    if tuple(names) != HEAD_MEMBERS:
        return [f"its first members are {names}, not {list(HEAD_MEMBERS)}"]
    return []


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
