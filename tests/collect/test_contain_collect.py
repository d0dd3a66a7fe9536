"""`ircli contain --collect`: isolation first, then the same collect step, both in one case.

The agent substitute runs the collector on this machine, outside the emulated isolation: what
this shows is the ordering, the recording and the verified archive, not the network path (the
isolation group's egress to the SSM and S3 endpoints is checked in tests/contain).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ircli.liveresponse.collection import CollectSettings
from tests.collect.conftest import BUCKET, Lab
from tests.evidence.conftest import RunCli, cli_json
from tests.helpers import eni_groups, run_contain


def enis(lab: Lab) -> list[str]:
    assert lab.scenario is not None
    return lab.scenario.suspect_enis


def test_contain_collect_isolates_then_collects(cli: RunCli, contain_lab: Lab) -> None:
    """Through the operation, for the small collector settings (the CLI flag takes defaults,
    a full triage; its wiring is the dry-run test below)."""
    contain_lab.agent()
    settings = CollectSettings(sections="system,processes,sockets", max_total_mb=40,
                               max_file_mb=2, bucket=BUCKET)
    result = run_contain(contain_lab.suspect, contain_lab.clock, case_id="ir-cc",
                         snapshot=False, evidence_bucket=BUCKET, collect=settings)
    data = result.data
    assert result.exit_code == 0 and data["status"] == "contained", data
    assert [s["name"] for s in data["steps"]][-1] == "collect"
    assert data["steps"][-1]["status"] == "done"
    ec2 = contain_lab.clients("ec2")
    iso = data["isolation_group_id"]
    assert eni_groups(ec2, enis(contain_lab)) == {
        eni: [iso] for eni in enis(contain_lab)}

    collection = data["collection"]
    assert collection["status"] == "collected", collection
    body = contain_lab.clients("s3").get_object(Bucket=BUCKET, Key=collection["key"],
                                        VersionId=collection["version_id"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == collection["sha256"]
    assert collection["collector"]["steps_failed"] == 0
    case = json.loads((contain_lab.case("ir-cc") / "case.json").read_text())
    record = case["targets"][contain_lab.suspect]
    assert record["status"] == "contained"
    assert [c["sha256"] for c in record["collections"]] == [collection["sha256"]]
    code, report = cli_json(cli, "evidence", "verify", "ir-cc")
    assert code == 0 and report["ok"], report["mismatches"]


def test_contain_collect_plan_shows_the_collector_and_sends_nothing(cli: RunCli,
                                                                     contain_lab: Lab) -> None:
    contain_lab.agent()
    code, data = cli_json(cli, "contain", contain_lab.suspect, "--dry-run", "--collect")
    assert code == 0 and data["status"] == "planned", data
    step: dict[str, Any] = data["steps"][-1]
    assert (step["name"], step["status"]) == ("collect", "planned")
    assert any(change.startswith("run ircli-linux-live-response") for change in step["changes"])
    assert contain_lab.clients("ssm").list_commands()["Commands"] == []


def test_collect_with_no_way_out_is_refused_before_anything_changes(cli: RunCli,
                                                                    contain_lab: Lab) -> None:
    before = eni_groups(contain_lab.clients("ec2"), enis(contain_lab))
    code, _out, err = cli("contain", contain_lab.suspect, "--yes", "--collect",
                          "--ssm-egress", "none")
    assert code == 2 and "--ssm-egress none" in err
    assert eni_groups(contain_lab.clients("ec2"), enis(contain_lab)) == before
