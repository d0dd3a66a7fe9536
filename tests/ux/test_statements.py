"""What ircli says is true: each statement that used to be wrong, through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ircli.lab.web_compromise import seed_web_compromise
from ircli.liveresponse.documents import LINUX_DOCUMENT
from tests.helpers import ircli
from tests.identity.conftest import LeakedUser
from tests.runbooks.conftest import Network, entries

ATTACKER = "198.51.100.7"


@pytest.fixture
def lab(clients: Any) -> Any:
    return seed_web_compromise(clients, "us-east-1")


def test_disable_keys_does_not_claim_the_other_keys_still_work(
        capsys: pytest.CaptureFixture[str], alice: LeakedUser, iam: Any) -> None:
    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")
    assert result.code == 0, result.err
    [warning] = [w for w in result.data["warnings"] if alice.other_key in w]
    assert "still work" not in warning
    assert "deny-all on the user blocks them" in warning and "--all-keys" in warning
    keys = {k["AccessKeyId"]: k["Status"]
            for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]}
    assert keys[alice.other_key] == "Active"  # what the sentence says: active, but denied
    [policy] = [p for p in iam.list_user_policies(UserName="alice")["PolicyNames"]
                if p.startswith("ircli-")]
    document = iam.get_user_policy(UserName="alice", PolicyName=policy)["PolicyDocument"]
    assert any(s["Effect"] == "Deny" and s["Action"] == "*" and "Condition" not in s
               for s in document["Statement"])


def test_a_plan_does_not_point_at_a_case_record_that_does_not_exist(
        capsys: pytest.CaptureFixture[str], lab: Any) -> None:
    shown = ircli(capsys, "contain", lab.suspect, "--dry-run", json_output=False)
    assert shown.code == 0, shown.err
    [line] = [x for x in shown.out.splitlines() if x.startswith("Case record:")]
    path = line.split("writes ")[-1].rstrip(")")
    assert line.startswith("Case record: none yet") and not Path(path).exists()


def test_a_dry_run_never_says_isolated_behind(capsys: pytest.CaptureFixture[str],
                                              lab: Any) -> None:
    assert ircli(capsys, "contain", lab.suspect, "--yes").code == 0  # the groups exist now
    shown = ircli(capsys, "contain", lab.neighbour, "--dry-run", json_output=False)
    assert "Isolated behind" not in shown.out
    assert "Would isolate behind: sg-" in shown.out and "(ircli-isolation-endpoints)" in shown.out


def test_a_rerun_reports_no_time_to_isolation(capsys: pytest.CaptureFixture[str],
                                              lab: Any) -> None:
    first = ircli(capsys, "contain", lab.suspect, "--yes", json_output=False)
    assert "Time to isolation:" in first.out
    again = ircli(capsys, "contain", lab.suspect, "--yes", json_output=False)
    assert again.code == 0 and "Time to isolation" not in again.out
    assert "Isolated behind: sg-" in again.out  # it is, from the first run


def test_unblock_records_the_lift_in_the_blocking_case(
        capsys: pytest.CaptureFixture[str], clients: Any, network: Network) -> None:
    assert ircli(capsys, "block-ip", ATTACKER, "--vpc", network.vpc, "--yes", "--case-id",
                 "ir-blk").code == 0
    lifted = ircli(capsys, "unblock-ip", ATTACKER, "--yes")
    assert lifted.code == 0, lifted.err
    assert lifted.data["case_id"] == "ir-blk" and lifted.data["case_ids"] == ["ir-blk"]
    assert not any(e[0] == 50 for e in entries(clients("ec2"), network.default_acl))
    case = json.loads((Path(lifted.data["case_dir"]) / "case.json").read_text())
    assert case["targets"][f"ip/{ATTACKER}"]["status"] == "unblocked"
    assert [r["command"] for r in case["runs"]] == ["block-ip", "unblock-ip"]
    shown = ircli(capsys, "case", "list")
    assert shown.data["cases"][0]["statuses"] == ["unblocked"]


def test_ssm_docs_deploy_asks_and_takes_yes(capsys: pytest.CaptureFixture[str],
                                            clients: Any) -> None:
    refused = ircli(capsys, "ssm-docs", "deploy", json_output=False)  # no terminal, no --yes
    assert refused.code == 2 and "Pass --yes" in refused.err
    assert "would change: create SSM document" in refused.err
    with pytest.raises(ClientError):
        clients("ssm").describe_document(Name=LINUX_DOCUMENT)
    done = ircli(capsys, "ssm-docs", "deploy", "--yes")
    assert done.code == 0 and {d["action"] for d in done.data["documents"]} == {"create"}
    assert ircli(capsys, "ssm-docs", "deploy").code == 0  # nothing to change: nothing to ask


def test_evidence_init_asks_and_takes_yes(capsys: pytest.CaptureFixture[str],
                                          clients: Any) -> None:
    refused = ircli(capsys, "evidence", "init", "--bucket", "ir-ev-ask", json_output=False)
    assert refused.code == 2 and "Pass --yes" in refused.err
    assert "would create s3://ir-ev-ask with Object Lock" in refused.err
    assert "ir-ev-ask" not in [b["Name"] for b in clients("s3").list_buckets()["Buckets"]]
    done = ircli(capsys, "evidence", "init", "--bucket", "ir-ev-ask", "--yes")
    assert done.code == 0 and done.data["created"] is True
