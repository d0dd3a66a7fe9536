"""On a terminal, contain shows the plan and asks; "no" changes nothing, "yes" contains."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from typing import Any

import pytest

from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import aws_state

pytestmark = pytest.mark.e2e


def _on_a_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run ircli with a pseudo-terminal on stdin and type ``answer`` at the prompt."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "ircli", *args], stdin=follower,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(leader, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_no_at_the_prompt_changes_nothing(server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    state = aws_state(server_clients)
    result = _on_a_terminal(["contain", lab.suspect], "n")
    assert result.returncode == 2, result.stderr
    assert "Contain" in result.stderr and "Cancelled; nothing was changed." in result.stderr
    assert "PLAN (dry-run: nothing was changed)" in result.stdout  # the plan came first
    assert aws_state(server_clients) == state


def test_yes_at_the_prompt_contains_under_the_planned_case(server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    result = _on_a_terminal(["contain", lab.suspect, "--no-snapshot"], "y")
    assert result.returncode == 0, result.stderr
    planned = [line for line in result.stdout.splitlines() if line.startswith("Case:")]
    assert len(planned) == 2 and planned[0] == planned[1]  # the approved case is the one used
    assert "CONTAINED" in result.stdout
