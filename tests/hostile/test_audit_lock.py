"""Issue 11 item 10: audit lines are written under the case lock, chained to the real tail.

A second responder (or a scheduler) that starts on a case while a run holds it must be
refused *before* it writes anything: its audit lines used to be appended ahead of the lock,
chained to a tail it had read earlier, and ``verify`` then reported the case as tampered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ircli.core.audit import AuditLog, verify_chain
from ircli.core.case import open_case
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from tests.fakes import FakeClock

REGION = "us-east-1"


def second_run(instance_id: str, case_id: str) -> subprocess.CompletedProcess[str]:
    """Another ircli process, started while the first one holds the case."""
    return subprocess.run(
        [sys.executable, "-m", "ircli", "contain", instance_id, "--case-id", case_id, "--yes",
         "-o", "json"], capture_output=True, text=True, env=dict(os.environ),
        stdin=subprocess.DEVNULL, timeout=120, check=False)


def test_a_run_refused_the_lock_writes_nothing(server_clients: Any, aws_env: Path) -> None:
    lab = seed_web_compromise(server_clients, REGION)
    refused: list[subprocess.CompletedProcess[str]] = []
    lines_before: list[int] = []

    def during_isolation(kind: str, data: dict[str, Any]) -> None:
        if kind == "step-start" and data["name"] == "isolate" and not refused:
            audit = aws_env / "cases" / "case-1" / "audit.jsonl"
            lines_before.append(len(audit.read_text().splitlines()))
            refused.append(second_run(lab.suspect, "case-1"))
            lines_before.append(len(audit.read_text().splitlines()))

    result = contain(AwsSession(AwsSettings()), FakeClock(),
                     ContainOptions(lab.suspect, case_id="case-1"), emit=during_isolation)
    assert result.exit_code == 0, result.data["steps"]
    [other] = refused
    assert other.returncode == 2, other.stderr
    assert "Another ircli process is working on case case-1" in json.loads(other.stdout)[
        "error"]["message"]
    assert lines_before[0] == lines_before[1]  # the refused run wrote no line

    path = aws_env / "cases" / "case-1" / "audit.jsonl"
    assert verify_chain(path) == []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines].count("run-start") == 1
    assert [(line["event"], line.get("step")) for line in lines].count(
        ("step-start", "resolve")) == 1


def test_two_writers_chain_to_each_others_lines(tmp_path: Path) -> None:
    """Two logs on one file (two processes' views): each append reads the real tail."""
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path), AuditLog(path)
    for n in range(3):
        first.append({"event": "a", "n": n})
        second.append({"event": "b", "n": n})
    assert verify_chain(path) == []
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == list(range(6))


def test_the_lock_holder_reads_the_case_again(aws_env: Path) -> None:
    """A case opened before another run changed it is read again once its lock is held."""
    clock = FakeClock()
    early = open_case("case-2", clock.now())
    other = open_case("case-2", clock.now())
    with other.locked():
        other.target("i-1")["status"] = "contained"
        other.save()
        other.audit.append({"event": "x"})
    with early.locked():
        assert early.data["targets"]["i-1"]["status"] == "contained"
        early.audit.append({"event": "y"})
    assert verify_chain(early.path / "audit.jsonl") == []


def test_an_audit_line_outside_a_run_takes_the_lock(aws_env: Path) -> None:
    case = open_case("case-3", FakeClock().now())
    case.audit.append({"event": "note"})  # no run holds it: the line takes the lock itself
    assert not case.held
    with case.locked():
        case.audit.append({"event": "in-run"})  # re-entered, not refused
        assert case.held
    assert verify_chain(case.path / "audit.jsonl") == []
