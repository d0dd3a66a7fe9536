"""The README's first command: `ircli lab demo` runs the main job end to end and cleans up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ircli.lab.server import responds

# one demo run for the module: --dist loadfile keeps its tests on one pytest-xdist worker
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lab-demo")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One demo run for the module (it is the suite's longest command): JSON on stdout,
    progress on stderr."""
    home = tmp_path_factory.mktemp("demo") / "ircli-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IRCLI_"))}
    return subprocess.run(
        [sys.executable, "-m", "ircli", "lab", "demo", "--sections", "system,processes,sockets",
         "-o", "json"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        env={**env, "IRCLI_HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"})


def test_lab_demo_end_to_end(demo: subprocess.CompletedProcess[str]) -> None:
    proc = demo
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    summary = result["summary"]
    assert summary["status"] == "contained"
    assert summary["runbook"] == "ec2-compromise"
    assert summary["compromised"]["finding"] == "Backdoor:EC2/C&CActivity.B"
    assert summary["api_calls_to_isolation"] > 0 and summary["seconds_to_isolation"] >= 0
    assert summary["evidence"]["verified"] is True and summary["evidence"]["mismatches"] == []
    assert summary["collection"]["sha256"] and summary["collection"]["size"] > 0
    assert [s["name"] for s in result["run"]["steps"]][-2:] == ["collect",
                                                                "share-forensic-copies"]
    # change nothing: "skipped" (and no forensics account in the lab: skipped too)
    advice = ("dns-resolver-warning", "kubernetes-actions", "share-forensic-copies")
    assert all(s["status"] == "done" for s in result["run"]["steps"] if s["name"] not in advice)
    copy = Path(summary["evidence"]["local_copy"])
    assert (copy / "manifest.json").exists() and (copy / "audit.jsonl").exists()
    assert any(copy.glob("collect/*.tar.gz"))
    assert Path(summary["case_dir"], "case.json").exists()
    endpoint = re.search(r"http://127\.0\.0\.1:\d+", result["stages"][0]["detail"])
    assert endpoint and not responds(endpoint.group(0))  # the emulator is gone


def test_lab_demo_text_summary_speaks_plainly(demo: subprocess.CompletedProcess[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The text summary the demo prints without -o json, from the same run's summary."""
    from ircli.cli.cmd_lab import _print_summary

    assert demo.returncode == 0, demo.stderr
    _print_summary(json.loads(demo.stdout)["summary"])
    out = capsys.readouterr().out
    for words in ("Compromised:", "What ircli did:", "Time to isolation:", "verified",
                  "nothing is left running"):
        assert words in out
    assert "▶ triage" in demo.stderr  # progress goes to stderr
