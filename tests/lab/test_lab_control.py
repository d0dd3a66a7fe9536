"""`ircli lab up|status|env|down` as a user runs them: real background process, real port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def _ircli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ircli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120, env=os.environ)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def lab_port() -> Any:
    port = free_port()
    yield port
    _ircli("lab", "down")


def test_up_reuses_and_down_leaves_nothing(lab_port: int, aws_env: Path) -> None:
    first = _ircli("lab", "up", "--port", str(lab_port), "--scenario", "leaked-key",
                   "-o", "json")
    assert first.returncode == 0, first.stderr
    state = json.loads(first.stdout)
    assert state["reused"] is False and state["port"] == lab_port
    assert Path(state["scenarios"][0]["finding_files"][0]).exists()

    again = _ircli("lab", "up", "--port", str(lab_port), "--scenario", "leaked-key",
                   "-o", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["reused"] is True
    assert json.loads(again.stdout)["pid"] == state["pid"]
    assert len(json.loads(again.stdout)["scenarios"]) == 1  # not seeded twice

    env = _ircli("lab", "env").stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{lab_port}" in env

    down = _ircli("lab", "down")
    assert down.returncode == 0 and "Stopped" in down.stdout
    assert not _alive(state["pid"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", lab_port))  # the port is free again
    status = json.loads(_ircli("lab", "status", "-o", "json").stdout)
    assert status["running"] is False


def test_busy_port_is_a_clear_error(aws_env: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _ircli("lab", "up", "--port", str(port))
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_without_a_lab_says_how_to_start_one(aws_env: Path) -> None:
    result = _ircli("lab", "env")
    assert result.returncode == 2
    assert "ircli lab up" in result.stderr
