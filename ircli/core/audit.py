"""The append-only, hash-chained audit log of a case (``audit.jsonl``).

Each line carries ``prev``: the sha256 of the line before it, so a removed, reordered or
edited line breaks the chain and ``verify_chain`` names where.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


class AuditLog:
    """Appends JSON lines, each chained to the previous one; safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._prev = GENESIS
        self._seq = 0
        if path.exists():
            for raw in path.read_bytes().splitlines():
                if raw.strip():
                    self._prev = _digest(raw)
                    self._seq += 1

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            record = {"seq": self._seq, **entry, "prev": self._prev}
            line = json.dumps(record, sort_keys=True, default=str).encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            self._prev = _digest(line)
            self._seq += 1


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
