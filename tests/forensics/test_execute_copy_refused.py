"""The compiled copy is not critical, and a run it stopped half-way is finished by the next.

Run 1: sharing is refused (an SCP, or an attacker's change to the role): the copies exist but
are shared with no one, the step is recorded failed with the error, the run ends ``partial``
(SUCCEEDED) and the isolation stays. Run 2 (the same finding again, the refusal lifted):
the copies run 1 started after recording that it would are adopted, not made again, and
shared with the forensics account only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ircli.automation.compiler import compile_runbook
from ircli.evidence.ship import case_prefix
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import (
    ACCOUNT,
    BUCKET,
    REGION,
    Run,
    Sfn,
    finding_event,
    sfn_world,  # noqa: F401 - the fixture
)
from tests.automation.test_execute_ec2 import case_of
from tests.forensics.conftest import FORENSICS, FORENSICS_ROLE, admin_key_policy, session_in
from tests.forensics.shims import copy_honours_encrypted
from tests.forensics.test_execute_copy import configure, copies_of, snapshot_view

FINDING = "gd-copy-refused"
STEP = "share-forensic-copies"


@dataclass
class Runs:
    sfn: Sfn
    lab: WebCompromise
    first: Run
    second: Run
    after_first: dict[str, Any]
    after_second: dict[str, Any]
    case_first: dict[str, Any]
    case_second: dict[str, Any]
    groups_first: list[list[str]]


def case_doc(sfn: Sfn, case_id: str) -> dict[str, Any]:
    key = f"{case_prefix(case_id, ACCOUNT)}case.json"
    return dict(json.loads(sfn.objects(key)[key]))


@pytest.fixture
def runs(sfn_world: Sfn, aws_env: Path,  # noqa: F811 - the fixture
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Runs]:
    copy_honours_encrypted(monkeypatch)
    s3 = sfn_world.clients("s3")
    s3.delete_bucket(Bucket=BUCKET)  # again, as the central bucket: versioned, Object Lock
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    lab = seed_web_compromise(sfn_world.clients, REGION)
    key = session_in(FORENSICS, FORENSICS_ROLE).client("kms").create_key(Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS)]}))[
        "KeyMetadata"]["Arn"]
    configure(aws_env, key)
    machine = sfn_world.deploy(compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET,
                                               topic_arn=sfn_world.topic_arn, region=REGION))
    ec2 = sfn_world.clients("ec2")

    def refuse(action: str, params: dict[str, Any]) -> str | None:
        if action == "modifySnapshotAttribute" and params.get("OperationType") == "add":
            return "UnauthorizedOperation"
        return None

    sfn_world.emulator.refuse = refuse
    first = sfn_world.run(machine, finding_event(lab.suspect, finding_id=FINDING))
    after_first = snapshot_view(ec2)
    case_first = case_doc(sfn_world, case_of(FINDING))
    groups = [[g["GroupName"] for g in n["Groups"]] for n in ec2.describe_network_interfaces(
        NetworkInterfaceIds=lab.suspect_enis)["NetworkInterfaces"]]
    sfn_world.emulator.refuse = None
    second = sfn_world.run(machine, finding_event(lab.suspect, finding_id=FINDING))
    yield Runs(sfn_world, lab, first, second, after_first, snapshot_view(ec2), case_first,
               case_doc(sfn_world, case_of(FINDING)), groups)


def test_a_refused_share_leaves_the_isolation_and_says_so_then_the_next_run_finishes(
        runs: Runs) -> None:
    # Run 1: contained, the copy step failed and is recorded so.
    assert runs.first.status == "SUCCEEDED", runs.first.why()
    assert runs.groups_first == [["ircli-isolation-endpoints"]] * len(runs.lab.suspect_enis)
    target = runs.case_first["targets"][runs.lab.suspect]
    assert target["status"] == "partial"
    step = target["steps"][STEP]
    assert step["status"] == "failed" and "UnauthorizedOperation" in json.dumps(step["error"])
    assert step["before"]["forensics_account"] == FORENSICS  # recorded before the copies
    audit = [json.loads(body) for key, body in sorted(runs.sfn.objects(
        f"{case_prefix(case_of(FINDING), ACCOUNT)}audit/").items())]
    assert {"step": STEP, "status": "failed"} in [e["detail"] for e in audit
                                                  if e["action"] == "step-end"]
    made = copies_of(runs.after_first)
    assert len(made) == 3 and all(c["shared"] == [] for c in made.values())

    # Run 2: the same copies, shared with the forensics account only, and recorded.
    assert runs.second.status == "SUCCEEDED", runs.second.why()
    assert copies_of(runs.after_second).keys() == made.keys()  # not one more copy
    assert all(c["shared"] == [{"UserId": FORENSICS}]
               for c in copies_of(runs.after_second).values())
    target = runs.case_second["targets"][runs.lab.suspect]
    assert target["steps"][STEP]["status"] == "done"
    assert {e["copy_snapshot_id"] for e in target["forensic_copies"].values()} == set(made)

