"""A finding back after a release: the compiled machine contains afresh under the same case
and takes the released record's forensic copies again, copying nothing a second time.

The world is what an earlier containment left (one execution costs the emulator ~20 s, so the
earlier one is not replayed): the snapshot step's snapshots, their copies under the forensics
key shared with the forensics account, and the case in the central bucket in the machine's
shape (``automation.state``, the target ``released`` by `ircli release` with its
``forensic_copies``). Then one delivery of the finding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.automation.compiler import compile_runbook
from ircli.evidence.ship import case_prefix
from ircli.lab.web_compromise import seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import (
    ACCOUNT,
    BUCKET,
    REGION,
    Sfn,
    finding_event,
    sfn_world,  # noqa: F401 - the fixture
)
from tests.automation.test_execute_ec2 import case_of
from tests.forensics.conftest import FORENSICS, FORENSICS_ROLE, admin_key_policy, session_in
from tests.forensics.shims import copy_honours_encrypted
from tests.forensics.test_execute_copy import configure, copies_of, snapshot_view

FINDING = "gd-back-after-release"
MACHINE = "automation:ircli-ec2-compromise"


def test_a_finding_back_after_release_takes_the_released_records_copies(
        sfn_world: Sfn, aws_env: Path,  # noqa: F811 - the fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    copy_honours_encrypted(monkeypatch)
    lab = seed_web_compromise(sfn_world.clients, REGION)
    key = session_in(FORENSICS, FORENSICS_ROLE).client("kms").create_key(Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS)]}))[
        "KeyMetadata"]["Arn"]
    configure(aws_env, key)
    ec2 = sfn_world.clients("ec2")
    case_id = case_of(FINDING)
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    copies: dict[str, dict[str, Any]] = {}
    for bdm in instance["BlockDeviceMappings"]:
        volume, device = bdm["Ebs"]["VolumeId"], bdm["DeviceName"]
        source = ec2.create_snapshot(VolumeId=volume, TagSpecifications=[{
            "ResourceType": "snapshot", "Tags": [
                {"Key": "ircli:case-id", "Value": case_id},
                {"Key": "ircli:instance-id", "Value": lab.suspect},
                {"Key": "ircli:device", "Value": device}]}])["SnapshotId"]
        copy = ec2.copy_snapshot(SourceSnapshotId=source, SourceRegion=REGION, Encrypted=True,
                                 KmsKeyId=key, TagSpecifications=[{
                                     "ResourceType": "snapshot", "Tags": [
                                         {"Key": "ircli:case-id", "Value": case_id},
                                         {"Key": "ircli:purpose", "Value": "forensic-copy"},
                                         {"Key": "ircli:source-snapshot", "Value": source}]}])[
            "SnapshotId"]
        ec2.modify_snapshot_attribute(SnapshotId=copy, Attribute="createVolumePermission",
                                      OperationType="add", UserIds=[FORENSICS])
        copies[source] = {"source_snapshot_id": source, "copy_snapshot_id": copy,
                          "status": "shared", "volume_id": volume, "device": device}
    released = {"kind": "instance", "account": ACCOUNT, "region": REGION,
                "status": "released", "opened_by": MACHINE,
                "finding": {"id": FINDING, "type": "Backdoor:EC2/C&CActivity.B"},
                "steps": {"snapshot": {"status": "done"},
                          "share-forensic-copies": {"status": "done"}},
                "history": [], "forensic_copies": copies}
    sfn_world.clients("s3").put_object(
        Bucket=BUCKET, Key=f"{case_prefix(case_id, ACCOUNT)}case.json", Body=json.dumps({
            "case_id": case_id, "created_at": "2026-12-01T11:00:00+00:00",
            "opened_by": MACHINE, "automation": {"execution": "earlier", "state": {}},
            "targets": {lab.suspect: released}}).encode())
    before = snapshot_view(ec2)
    machine = sfn_world.deploy(compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET,
                                               topic_arn=sfn_world.topic_arn, region=REGION))

    run = sfn_world.run(machine, finding_event(lab.suspect, finding_id=FINDING))

    assert run.status == "SUCCEEDED", run.why()
    after = snapshot_view(ec2)
    assert after.keys() == before.keys()  # no snapshot, no copy made again
    assert all(c["shared"] == [{"UserId": FORENSICS}] for c in copies_of(after).values())
    key_ = f"{case_prefix(case_id, ACCOUNT)}case.json"
    target = json.loads(sfn_world.objects(key_)[key_])["targets"][lab.suspect]
    assert target["status"] == "contained" and target["history"][0]["status"] == "released"
    assert {src: e["copy_snapshot_id"] for src, e in target["forensic_copies"].items()} == \
        {src: e["copy_snapshot_id"] for src, e in copies.items()}
    assert all(e["status"] == "shared" for e in target["forensic_copies"].values())
