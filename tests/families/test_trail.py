"""CloudTrail tampering on the emulator: the attacker stops the trail and narrows its
selectors with plain API calls; the runbook starts it and restores management logging,
converges, a dry-run changes nothing, release puts back only the selectors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ircli.ops.triage import finding_target
from ircli.runbook.library import all_runbooks
from ircli.triage.finding import parse_finding
from ircli.triage.match import match_runbook
from tests.families.conftest import sample
from tests.helpers import ircli

TRAIL = "org-trail"


@pytest.fixture
def tampered(clients: Any) -> Any:
    s3 = clients("s3")
    s3.create_bucket(Bucket="acme-trail-logs")
    trail = clients("cloudtrail")
    trail.create_trail(Name=TRAIL, S3BucketName="acme-trail-logs")
    trail.start_logging(Name=TRAIL)
    # the attacker, as plain API calls: stop it, and log only read-only events
    trail.stop_logging(Name=TRAIL)
    trail.put_event_selectors(TrailName=TRAIL, EventSelectors=[
        {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])
    return trail


def state(trail: Any) -> dict[str, Any]:
    selectors = trail.get_event_selectors(TrailName=TRAIL).get("EventSelectors", [])
    return {"logging": trail.get_trail_status(Name=TRAIL)["IsLogging"],
            "selectors": [(s.get("ReadWriteType"), s.get("IncludeManagementEvents"))
                          for s in selectors]}


def test_triage_picks_the_trail_runbook_and_the_trail() -> None:
    finding = parse_finding(sample("cloudtrail-stopped"))
    match = match_runbook(finding, all_runbooks())
    assert match is not None and match.runbook.name == "cloudtrail-tampering"
    assert finding_target(finding, match.runbook) == TRAIL


def test_logging_restarts_and_selectors_come_back(capsys, tampered, cli_clock,
                                                  aws_env) -> None:
    before = state(tampered)
    assert before == {"logging": False, "selectors": [("ReadOnly", True)]}
    dry = ircli(capsys, "runbook", "run", "cloudtrail-tampering", "--target", TRAIL,
                "--dry-run")
    assert dry.code == 0, dry.err
    assert state(tampered) == before and not (aws_env / "cases").exists()

    result = ircli(capsys, "runbook", "run", "cloudtrail-tampering", "--target", TRAIL,
                   "--yes", "--case-id", "case-trail")
    assert result.code == 0, result.err
    assert state(tampered) == {"logging": True, "selectors": [("All", True)]}
    assert any("disable-keys" in f for f in result.data["manual_follow_up"])
    case = json.loads((aws_env / "cases" / "case-trail" / "case.json").read_text())
    recorded = case["targets"][f"trail/{TRAIL}"]["pre_state"]
    assert recorded["is_logging"] is False
    assert recorded["selectors"]["EventSelectors"][0]["ReadWriteType"] == "ReadOnly"

    again = ircli(capsys, "runbook", "run", "cloudtrail-tampering", "--target", TRAIL,
                  "--yes", "--case-id", "case-trail")
    assert {s["name"]: s["status"] for s in again.data["steps"]} == {
        "record-trail": "already-done", "start-logging": "already-done",
        "restore-trail-selectors": "already-done"}

    released = ircli(capsys, "release", "--trail", TRAIL, "--yes")
    assert released.code == 0, released.err
    # exactly the recorded selectors again; logging is never stopped by ircli
    assert state(tampered) == {"logging": True, "selectors": [("ReadOnly", True)]}


def test_an_unknown_trail_is_one_sentence(capsys, clients) -> None:
    result = ircli(capsys, "runbook", "run", "cloudtrail-tampering", "--target", "ghost-trail",
                   "--dry-run")
    assert result.code == 2 and "was not found" in result.err
