"""A case: one incident's directory with ``case.json`` (state and results) and ``audit.jsonl``.

The case is written to local disk before any change reaches AWS, so whatever happens to the
run (Ctrl-C, kill, a lost network), the pre-change state that ``release`` needs survives.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from ircli.core.audit import AuditLog
from ircli.core.clock import iso
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.filelock import lock, unlock

CASE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def ircli_home() -> Path:
    """``IRCLI_HOME``, or ``~/.ircli``."""
    return Path(os.environ.get("IRCLI_HOME") or Path.home() / ".ircli")


def cases_root(home: Path | None = None) -> Path:
    return (home or ircli_home()) / "cases"


def new_case_id(now: datetime) -> str:
    return f"ir-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_case_id(case_id: str) -> str:
    if not CASE_ID_PATTERN.match(case_id):
        raise InvalidInput(
            f"'{case_id}' is not a valid case id.",
            "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return case_id


def render_case(data: dict[str, Any]) -> bytes:
    """The bytes of ``case.json``, here and in the evidence bucket."""
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def _holding(acquire: Callable[[Case], AbstractContextManager[None]]
             ) -> Callable[[Case], AbstractContextManager[None]]:
    """What holding the case lock means for the case's files (``acquire`` takes the lock).

    The holder re-reads ``case.json`` first (another process may have changed it since this
    one read it), may append audit lines while it holds the lock (:attr:`Case.held`), and may
    re-enter it (an audit line taken inside a run's hold); a process refused the lock has
    written nothing.
    """
    @functools.wraps(acquire)
    @contextlib.contextmanager
    def hold(case: Case) -> Iterator[None]:
        if case.held:
            yield
            return
        with acquire(case):
            case.held = True
            try:
                case.reload()
                yield
            finally:
                case.held = False

    return hold


class Case:
    """The files of one case. Open with :func:`open_case`; hold :meth:`locked` while changing."""

    def __init__(self, case_id: str, path: Path, data: dict[str, Any]) -> None:
        self.case_id = case_id
        self.path = path
        self.data = data
        self.held = False  # this process holds the case lock (see _holding)
        self.audit = AuditLog(path / "audit.jsonl", guard=self.locked)

    @property
    def json_path(self) -> Path:
        return self.path / "case.json"

    def target(self, target_id: str) -> dict[str, Any]:
        """The record of one target (instance, user, role), created empty on first use."""
        targets: dict[str, dict[str, Any]] = self.data.setdefault("targets", {})
        return targets.setdefault(target_id, {"steps": {}})

    def has_target(self, target_id: str) -> bool:
        return target_id in self.data.get("targets", {})

    def reload(self) -> None:
        """Read ``case.json`` again (when there is one: a dry-run's case lives in memory)."""
        if self.json_path.exists():
            self.data = json.loads(self.json_path.read_text())

    def save(self) -> None:
        """Write ``case.json`` atomically: a crash leaves the old or the new file, never half."""
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".case.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(render_case(self.data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.json_path)

    @_holding
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Refuse a second ircli process working on the same case at the same time."""
        fh = open(self.path / ".lock", "w")  # noqa: SIM115 - held for the block
        try:
            try:
                lock(fh)
            except BlockingIOError as err:
                raise UserError(
                    f"Another ircli process is working on case {self.case_id}.",
                    "Wait for it to finish, then run the command again.",
                ) from err
            yield
        finally:
            unlock(fh)
            fh.close()


def open_case(case_id: str, now: datetime, *, create: bool = True,
              home: Path | None = None) -> Case:
    """Open (or create) the case directory ``<home>/cases/<case_id>``."""
    check_case_id(case_id)
    path = cases_root(home) / case_id
    if (path / "case.json").exists():
        data = json.loads((path / "case.json").read_text())
        return Case(case_id, path, data)
    if not create:
        raise NotFound(
            f"There is no case '{case_id}' under {cases_root(home)}.",
            "Run `ircli case list` to see the cases on this machine.",
        )
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    case = Case(case_id, path, {"case_id": case_id, "created_at": iso(now), "targets": {}})
    case.save()
    return case


def list_cases(home: Path | None = None) -> list[dict[str, Any]]:
    """Every case on this machine, newest first."""
    root = cases_root(home)
    found = []
    for path in sorted(root.glob("*/case.json")) if root.exists() else []:
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return sorted(found, key=lambda c: str(c.get("created_at", "")), reverse=True)


def find_open_case(target_id: str, home: Path | None = None) -> str | None:
    """The newest local case holding ``target_id`` that was not released."""
    for case in list_cases(home):
        target = case.get("targets", {}).get(target_id)
        if target and target.get("status") != "released":
            return str(case["case_id"])
    return None


def find_any_case(target_id: str, home: Path | None = None) -> str | None:
    """The newest local case holding ``target_id``, released or not."""
    for case in list_cases(home):
        if target_id in case.get("targets", {}):
            return str(case["case_id"])
    return None
