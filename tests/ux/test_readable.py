"""Names beside ids, ids never cut, steps in run order, summaries instead of dicts and JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ircli.lab import findings
from ircli.lab.control import LabProbe, LabState
from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import ircli

LONG_CASE = "ir-2026-12-01-web-tier-c2-beaconing-acme-prod-eu-west-1-incident"


@pytest.fixture
def lab(clients: Any) -> Any:
    return seed_web_compromise(clients, "us-east-1")


def test_case_list_never_cuts_a_case_id_at_80_columns(
        lab: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert ircli(capsys, "contain", lab.suspect, "--yes", "--case-id", LONG_CASE).code == 0
    shown = ircli(capsys, "case", "list", json_output=False)
    assert shown.code == 0
    [row] = [line for line in shown.out.splitlines() if "contained" in line]
    assert LONG_CASE in row and "…" not in row
    assert f"{lab.suspect} (web-1)" in row  # the Name tag beside the id


def test_case_show_lists_steps_in_run_order_with_when_each_took_effect(
        lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert ircli(capsys, "contain", lab.suspect, "--yes", "--case-id", "ir-order").code == 0
    assert ircli(capsys, "contain", lab.suspect, "--yes").code == 0  # a rerun: already-done
    out = ircli(capsys, "case", "show", "ir-order", json_output=False).out
    steps = [line.split()[0] for line in out.splitlines() if "took effect" in line]
    assert steps == ["record", "leave-asg", "isolate", "cut-tracked-paths", "disassociate-eips",
                     "protect", "remove-from-service", "cut-credentials", "tag", "snapshot"]
    audit = [json.loads(line) for line in
             (_case_dir("ir-order") / "audit.jsonl").read_text().splitlines()]
    first_done = next(e["time"] for e in audit if e["event"] == "step-end"
                      and e["step"] == "isolate" and e["status"] == "done")
    [isolate] = [line for line in out.splitlines() if line.split()[:1] == ["isolate"]]
    assert isolate.split()[1] == "already-done" and isolate.endswith(first_done)


def _case_dir(case_id: str) -> Path:
    from ircli.core.case import cases_root

    return cases_root() / case_id


def test_a_name_tag_with_markup_is_shown_as_text(clients: Any,
                                                 capsys: pytest.CaptureFixture[str],
                                                 lab: Any) -> None:
    clients("ec2").create_tags(Resources=[lab.suspect],  # the attacker renames the host
                               Tags=[{"Key": "Name", "Value": "[link=http://x]web[/link]"}])
    assert ircli(capsys, "contain", lab.suspect, "--yes", "--case-id", "ir-tag").code == 0
    out = ircli(capsys, "case", "show", "ir-tag", json_output=False).out
    assert f"{lab.suspect} ([link=http://x]web[/link])" in out


def _when() -> datetime:
    return datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def test_a_tabletop_alert_is_a_summary_and_the_finding_a_file(tmp_path: Path) -> None:
    from ircli.cli.cmd_tabletop import alert_summary

    instance = {"InstanceId": "i-0abc", "InstanceType": "t3.medium",
                "State": {"Name": "running"}, "Tags": [{"Key": "Name", "Value": "web-1"}]}
    lines = alert_summary(findings.c2_activity(instance, "us-east-1", _when()),
                          tmp_path / "a.json")
    assert len(lines) <= 8 and not any(line.lstrip().startswith("{") for line in lines)
    text = "\n".join(lines)
    assert "Backdoor:EC2/C&CActivity.B — severity 8.0" in text
    assert "Resource: instance i-0abc (web-1), t3.medium, running" in text
    assert "Remote: 185.220.101.66:443 (Netherlands, Example Bulletproof Hosting)" in text
    assert f"Triage it:    ircli triage {tmp_path / 'a.json'}" in text
    key = alert_summary(findings.leaked_key("ci-deployer", "AKIAEXAMPLE", "185.220.101.45",
                                            "us-east-1", _when()), "k.json")
    assert "  Resource: access key AKIAEXAMPLE of IAMUser ci-deployer" in key


def test_lab_status_prints_resources_by_role_not_a_dict(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    state = LabState(pid=1, port=4510, started_at="2026-12-01T03:00:00Z", scenarios=[{
        "scenario": "web-compromise", "finding_files": ["/lab/findings/web-compromise-1.json"],
        "resources": {"suspect": "i-0abc", "subnet_ids": ["subnet-1", "subnet-2"]}}])
    # `lab status` asks probe() (process identity, then one request); this is a rendering test
    monkeypatch.setattr("ircli.lab.control.probe", lambda: LabProbe(state, True, True, 1.0))
    out = ircli(capsys, "lab", "status", json_output=False).out
    assert "{" not in out
    assert "    suspect            i-0abc" in out
    assert "    subnet ids         subnet-1, subnet-2" in out
    assert "    alert              /lab/findings/web-compromise-1.json" in out



def test_release_names_the_groups_it_restores(lab: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert ircli(capsys, "contain", lab.suspect, "--yes").code == 0
    plan = ircli(capsys, "release", lab.suspect, "--dry-run").data
    [undo] = [s for s in plan["steps"] if s["name"] == "isolate"]
    assert any(f"restore groups {lab.web_sg} (web)" in change for change in undo["changes"])
