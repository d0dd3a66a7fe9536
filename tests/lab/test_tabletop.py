"""A tabletop exercise as a team runs it: alert, ordinary ircli commands, scorecard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def _ircli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ircli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**os.environ, **(env or {})})


def _json(*args: str, env: dict[str, str] | None = None) -> Any:
    proc = _ircli(*args, "-o", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def exercise(aws_env: Path) -> Iterator[dict[str, Any]]:
    started = _json("tabletop", "start", "web-compromise", "--port", str(free_port()))
    yield started
    _ircli("lab", "down")


def _lab_env() -> dict[str, str]:
    """The lab's exports; a lab that is not found fails here, before any command could run
    with the environment's own AWS settings."""
    proc = _ircli("lab", "env")
    assert proc.returncode == 0, f"lab env failed: {proc.stderr}"
    env = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines()
               if line.startswith("export "))
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:"), env
    return env


def _objectives(card: dict[str, Any]) -> dict[str, bool]:
    return {o["name"]: o["met"] for o in card["objectives"]}


def test_start_shows_only_the_alert_and_without_a_response_all_is_missed(
        exercise: dict[str, Any]) -> None:
    # one exercise for both (starting one seeds a whole account): the alert, then the score
    assert exercise["alert"]["type"] == "Backdoor:EC2/C&CActivity.B"
    assert set(exercise) == {"scenario", "started_at", "alert"}
    card = _json("tabletop", "score")
    met = _objectives(card)
    assert not any(met[name] for name in ("suspect-isolated", "suspect-every-eni",
                                          "suspect-credentials-cut", "suspect-snapshots",
                                          "suspect-evidence", "suspect-out-of-service",
                                          "suspect-found-process", "suspect-found-persistence",
                                          "suspect-found-key"))
    assert met["bystanders-untouched"] is True
    assert card["seconds_to_isolation"] is None


def test_the_right_commands_meet_every_objective(exercise: dict[str, Any]) -> None:
    suspect = exercise["alert"]["resource"]["instanceDetails"]["instanceId"]
    env = _lab_env()
    contained = _ircli("contain", suspect, "--yes", env=env)
    assert contained.returncode == 0, contained.stderr
    collected = _ircli("collect", suspect, "--sections", "system,processes,sockets,persistence",
                       "--yes", env=env)
    assert collected.returncode == 0, collected.stderr
    card = _json("tabletop", "score")
    assert card["met"] == card["total"], card["objectives"]
    found = {o["name"]: o["detail"] for o in card["objectives"]}
    assert "beaconing to 185.220.101.66:443" in found["suspect-found-process"]
    assert "/etc/cron.d/kworkerd" in found["suspect-found-persistence"]
    assert "kworkerd@185.220.101.66" in found["suspect-found-key"]
    assert card["seconds_to_isolation"] is not None and card["seconds_to_isolation"] >= 0

    injected = _json("tabletop", "inject", "beaconing")
    after = _objectives(_json("tabletop", "score"))
    assert after["second-instance-isolated"] is False  # a new objective, not met yet
    assert injected["target"] != suspect
