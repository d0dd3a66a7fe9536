"""End-to-end fixtures: the installed `ircli` command (the moto server is in tests/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _ircli_command() -> list[str]:
    exe = shutil.which("ircli", path=str(Path(sys.executable).parent)) or shutil.which("ircli")
    return [exe] if exe else [sys.executable, "-m", "ircli"]


@pytest.fixture
def ircli() -> Any:
    """Run the real `ircli` command in a subprocess, without a terminal on stdin."""
    def run(*args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()
            ) -> CliResult:
        environ = {**os.environ, **(env or {})}
        for key in unset:
            environ.pop(key, None)
        proc = subprocess.run([*_ircli_command(), *args], capture_output=True, text=True,
                              env=environ, stdin=subprocess.DEVNULL, timeout=120)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
