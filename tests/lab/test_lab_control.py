"""`ircli lab up|status|env|down` as a user runs them: real background process, real port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def _ircli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ircli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, **(env or {})})


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has stopped; only its entry remains)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _assert_nothing_listens(port: int) -> None:
    """Nothing listens on ``port`` any more (closed connections may linger in TIME_WAIT, which
    SO_REUSEADDR lets a new listener ignore, as the lab's own server does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


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
    _assert_nothing_listens(lab_port)
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
    assert result.stdout.startswith("false"), result.stdout


def _bash(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    ircli = f"'{sys.executable}' -m ircli"
    return subprocess.run(["bash", "-c", script.replace("IRCLI", ircli)], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, **env})


def test_eval_of_lab_env_without_a_lab_fails_and_keeps_nothing_silent(aws_env: Path) -> None:
    # the shell was pointed elsewhere before: eval must fail, not silently keep that setting
    before = {"AWS_ENDPOINT_URL": "https://before.example.invalid"}
    plain = _bash('eval "$(IRCLI lab env)"; echo "eval=$?"', **before)
    assert "eval=1" in plain.stdout, plain.stdout + plain.stderr
    assert "No ircli lab is running" in plain.stderr
    strict = _bash('set -e; eval "$(IRCLI lab env)"; echo reached', **before)
    assert strict.returncode != 0 and "reached" not in strict.stdout
    chained = _bash('eval "$(IRCLI lab env)" && echo "pointed at $AWS_ENDPOINT_URL"', **before)
    assert "pointed at" not in chained.stdout


def _state_file(home: Path) -> Path:
    return home / "lab" / "lab.json"


def _write_state(home: Path, **state: Any) -> None:
    _state_file(home).parent.mkdir(parents=True, exist_ok=True)
    _state_file(home).write_text(json.dumps({"started_at": "2026-01-01T00:00:00Z", **state}))


@pytest.mark.parametrize("recorded_start", ["1", ""])  # a mismatched start time, an old file
def test_a_recycled_pid_is_never_taken_for_the_lab(aws_env: Path, recorded_start: str) -> None:
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        _write_state(aws_env, pid=stranger.pid, port=free_port(), process_start=recorded_start)
        status = json.loads(_ircli("lab", "status", "-o", "json").stdout)
        assert status["running"] is False and status["process_alive"] is False
        assert _ircli("lab", "env").returncode == 2
        down = _ircli("lab", "down")
        assert down.returncode == 0 and "No ircli lab was running" in down.stdout
        assert stranger.poll() is None, "lab down signalled a process it did not start"
        assert not _state_file(aws_env).exists()  # a dead lab's record may go
    finally:
        stranger.kill()
        stranger.wait()


def test_a_slow_lab_is_still_the_lab(lab_port: int, aws_env: Path) -> None:
    """status, env, up, tabletop score and down through an emulator that answers late."""
    from tests.lab.slow_proxy import SlowProxy

    started = _ircli("tabletop", "start", "leaked-key", "--port", str(lab_port), "-o", "json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(_ircli("lab", "status", "-o", "json").stdout)["pid"]
    with SlowProxy(lab_port) as proxy:
        state = json.loads(_state_file(aws_env).read_text())
        _write_state(aws_env, **{**state, "port": proxy.port})  # the lab, seen through it

        status = _ircli("lab", "status", "-o", "json")
        assert json.loads(status.stdout)["running"] is True, status.stdout + status.stderr
        text = _ircli("lab", "status")
        assert str(pid) in text.stdout and "No ircli lab" not in text.stdout, text.stdout

        shell = _bash('eval "$(IRCLI lab env)" && echo "endpoint=$AWS_ENDPOINT_URL"')
        assert f"endpoint=http://127.0.0.1:{proxy.port}" in shell.stdout, shell.stderr

        again = _ircli("lab", "up", "--port", str(proxy.port), "--scenario",
                       "ssh-brute-force", "-o", "json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["reused"] is True
        assert json.loads(again.stdout)["pid"] == pid
        assert [s["scenario"] for s in json.loads(_state_file(aws_env).read_text())[
            "scenarios"]] == ["leaked-key", "ssh-brute-force"]  # the state file is kept

        score = _ircli("tabletop", "score", "-o", "json")
        assert score.returncode == 0, score.stderr
        assert json.loads(score.stdout)["scenario"] == "leaked-key"
        assert not any(p.startswith("/moto-api/data.json") for p in proxy.requests)

        down = _ircli("lab", "down")
    assert down.returncode == 0 and "Stopped" in down.stdout, down.stdout + down.stderr
    assert not _alive(pid)
    _assert_nothing_listens(lab_port)


def test_a_lab_that_does_not_answer_is_reported_not_forgotten(lab_port: int,
                                                              aws_env: Path) -> None:
    """A frozen emulator (SIGSTOP): alive, silent. Nothing may delete its record or start a
    second lab beside it, and `lab down` still stops it."""
    first = _ircli("lab", "up", "--port", str(lab_port), "--scenario", "leaked-key",
                   "-o", "json")
    assert first.returncode == 0, first.stderr
    pid = json.loads(first.stdout)["pid"]
    recorded = _state_file(aws_env).read_text()
    os.kill(pid, signal.SIGSTOP)
    quick = {"IRCLI_LAB_PROBE_SECONDS": "1"}
    try:
        status = json.loads(_ircli("lab", "status", "-o", "json", env=quick).stdout)
        assert (status["running"], status["process_alive"], status["answering"]) == (
            False, True, False)
        assert status["pid"] == pid
        text = _ircli("lab", "status", env=quick).stdout
        assert str(pid) in text and "No ircli lab" not in text, text

        env = _ircli("lab", "env", env=quick)
        assert env.returncode == 2 and env.stdout.startswith("false")
        assert "did not answer" in env.stderr and "ircli lab down" in env.stderr

        up = _ircli("lab", "up", "--port", str(free_port()), "--scenario", "web-compromise",
                    env=quick)
        assert up.returncode == 2 and "did not answer" in up.stderr, up.stderr
        assert _state_file(aws_env).read_text() == recorded  # kept, untouched
    finally:
        down = _ircli("lab", "down")
    assert down.returncode == 0 and "Stopped" in down.stdout, down.stdout + down.stderr
    assert not _alive(pid)


def test_a_lab_without_its_record_is_named_not_called_another_program(lab_port: int,
                                                                      aws_env: Path) -> None:
    first = _ircli("lab", "up", "--port", str(lab_port), "--scenario", "leaked-key",
                   "-o", "json")
    assert first.returncode == 0, first.stderr
    pid = json.loads(first.stdout)["pid"]
    _state_file(aws_env).unlink()  # what an older ircli did, or a wiped IRCLI_HOME
    try:
        again = _ircli("lab", "up", "--port", str(lab_port))
        assert again.returncode == 2
        assert f"used by an ircli lab emulator (pid {pid})" in again.stderr, again.stderr
        assert f"kill {pid}" in again.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:  # it is init's child, not ours
            time.sleep(0.1)
    assert not _alive(pid)
