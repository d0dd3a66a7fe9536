"""The append-only, hash-chained audit log of a case (``audit.jsonl``).

Each line carries ``prev``: the sha256 of the line before it, so a removed, reordered or
edited line breaks the chain and ``verify_chain`` names where.

A line is appended only under the case lock (the ``guard`` a :class:`~ircli.core.case.Case`
passes in: re-entered by the run that holds it, taken for the one line otherwise), and the
tail of the chain is re-read under that lock, so a line written meanwhile by another process
is chained to, never forked from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

GENESIS = "0" * 64

Guard = Callable[[], AbstractContextManager[Any]]


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


class AuditLog:
    """Appends JSON lines, each chained to the last one in the file; safe across threads and,
    with a ``guard``, across processes."""

    def __init__(self, path: Path, guard: Guard | None = None) -> None:
        self.path = path
        self._guard: Guard = guard or contextlib.nullcontext
        self._lock = threading.Lock()
        self._prev = GENESIS
        self._seq = 0
        self._size = -1  # the file size the cached tail belongs to (-1: not read yet)

    def _read_tail(self) -> None:
        """Where the chain ends now: the cached tail while the file is as this object left
        it, else the file read again (another process appended, or the log is new)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == self._size:
            return
        prev, seq = GENESIS, 0
        if size:
            for raw in self.path.read_bytes().splitlines():
                if raw.strip():
                    prev = _digest(raw)
                    seq += 1
        self._prev, self._seq, self._size = prev, seq, size

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock, self._guard():
            self._read_tail()
            record = {"seq": self._seq, **entry, "prev": self._prev}
            line = json.dumps(record, sort_keys=True, default=str).encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line + b"\n")
                os.fsync(fd)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            expected = max(self._size, 0) + len(line) + 1
            self._prev = _digest(line)
            self._seq += 1
            self._size = size if size == expected else -1  # someone else wrote: re-read


def verify_chain(path: Path) -> list[str]:
    """Problems with the chain of ``path`` (empty when every line links to the one before)."""
    problems: list[str] = []
    prev = GENESIS
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            problems.append(f"line {number} is not JSON")
            prev = _digest(raw)
            continue
        if record.get("prev") != prev:
            problems.append(f"line {number} does not follow the line before it (edited or removed)")
        if record.get("seq") != number - 1:
            problems.append(
                f"line {number} has sequence {record.get('seq')}, expected {number - 1}")
        prev = _digest(raw)
    return problems
