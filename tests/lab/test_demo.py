"""The README's first command: `ircli lab demo` runs the main job end to end and cleans up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ircli.lab.server import responds

pytestmark = pytest.mark.e2e


def test_lab_demo_end_to_end(aws_env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ircli", "lab", "demo", "--sections", "system,processes,sockets",
         "-o", "json"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    summary = result["summary"]
    assert summary["status"] == "contained"
    assert summary["runbook"] == "ec2-compromise"
    assert summary["compromised"]["finding"] == "Backdoor:EC2/C&CActivity.B"
    assert summary["api_calls_to_isolation"] > 0 and summary["seconds_to_isolation"] >= 0
    assert summary["evidence"]["verified"] is True and summary["evidence"]["mismatches"] == []
    assert summary["collection"]["sha256"] and summary["collection"]["size"] > 0
    assert [s["name"] for s in result["run"]["steps"]][-1] == "collect"
    advice = ("dns-resolver-warning", "kubernetes-actions")  # change nothing: "skipped"
    assert all(s["status"] == "done" for s in result["run"]["steps"] if s["name"] not in advice)
    copy = Path(summary["evidence"]["local_copy"])
    assert (copy / "manifest.json").exists() and (copy / "audit.jsonl").exists()
    assert any(copy.glob("collect/*.tar.gz"))
    assert Path(summary["case_dir"], "case.json").exists()
    endpoint = re.search(r"http://127\.0\.0\.1:\d+", result["stages"][0]["detail"])
    assert endpoint and not responds(endpoint.group(0))  # the emulator is gone


def test_lab_demo_text_summary_speaks_plainly(aws_env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ircli", "lab", "demo", "--sections", "system"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for words in ("Compromised:", "What ircli did:", "Time to isolation:", "verified",
                  "nothing is left running"):
        assert words in proc.stdout
    assert "▶ triage" in proc.stderr  # progress goes to stderr
