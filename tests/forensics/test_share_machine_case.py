"""`ircli forensics share CASE` on a case only the automation wrote: what the compiled
machine tells a responder to run when it cannot copy (it runs outside the forensics region).

The case is in the central bucket under ``cases/<A>/<case-id>/``, in the machine's shape: the
target's snapshot step recorded, no list of snapshots (Step Functions keeps none). share
fetches it through the forensics role (members read nothing there), finds the snapshots by the
snapshot step's tags, of the instance's own volumes only, and copies and shares those.
"""

from __future__ import annotations

import json

import pytest

from tests.accounts.conftest import run_instance
from tests.forensics.conftest import BUCKET, FORENSICS, MEMBER_A, REGION, ROLE, ForensicsLab
from tests.forensics.test_share import copies_in, shared_with, tags
from tests.helpers import ircli

CASE = "ir-gd-0123456789abcdef0123456789abcdef"
MACHINE = "automation:ircli-ec2-compromise"


def machine_case(instance: str) -> dict[str, object]:
    """case.json as the compiled ec2-compromise writes it (ircli/automation/states_case.py)."""
    return {"case_id": CASE, "created_at": "2026-12-01T12:00:00+00:00", "opened_by": MACHINE,
            "automation": {"execution": "arn:aws:states:…:execution:ircli-ec2-compromise:x",
                           "state": {}},
            "targets": {instance: {
                "kind": "instance", "account": MEMBER_A, "region": REGION,
                "status": "contained", "opened_by": MACHINE,
                "finding": {"id": "gd-1", "type": "Backdoor:EC2/C&CActivity.B"},
                "steps": {"snapshot": {"status": "done"}}, "history": []}}}


def test_share_copies_a_machine_case_fetched_from_the_central_bucket(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.f("s3").delete_bucket_policy(Bucket=BUCKET)  # moto refuses all under its conditions
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    described = ec2_a.describe_instances(InstanceIds=[instance])["Reservations"][0][
        "Instances"][0]
    volumes = {b["Ebs"]["VolumeId"]: b["DeviceName"] for b in described["BlockDeviceMappings"]}
    assert volumes
    taken = {ec2_a.create_snapshot(VolumeId=vol, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [
            {"Key": "ircli:case-id", "Value": CASE},
            {"Key": "ircli:instance-id", "Value": instance},
            {"Key": "ircli:device", "Value": dev}]}])["SnapshotId"]: vol
        for vol, dev in volumes.items()}
    # The attacker's: a snapshot of another volume wearing the case's tags.
    other = ec2_a.create_volume(AvailabilityZone=f"{REGION}a", Size=1)["VolumeId"]
    foreign = ec2_a.create_snapshot(VolumeId=other, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [
            {"Key": "ircli:case-id", "Value": CASE},
            {"Key": "ircli:instance-id", "Value": instance}]}])["SnapshotId"]
    lab.f("s3").put_object(Bucket=BUCKET, Key=f"cases/{MEMBER_A}/{CASE}/case.json",
                           Body=json.dumps(machine_case(instance)).encode())

    out = ircli(capsys, "forensics", "share", CASE, "--yes", "--account", MEMBER_A,
                "--role-name", ROLE)
    assert out.code == 0, out.err + out.out
    assert f"case {CASE} fetched from s3://{BUCKET}/cases/{MEMBER_A}/{CASE}/" in \
        out.data["warnings"]
    copies = copies_in(ec2_a, CASE)
    assert {tags(c)["ircli:source-snapshot"] for c in copies} == set(taken)  # not foreign
    assert all(shared_with(ec2_a, c["SnapshotId"]) == [{"UserId": FORENSICS}] for c in copies)
    assert all(c["KmsKeyId"] == lab.key_arn for c in copies)
    assert shared_with(ec2_a, foreign) == []
    record = json.loads((lab.home / "cases" / CASE / "case.json").read_text())["targets"][
        instance]["forensic_copies"]
    assert set(record) == set(taken)
    assert all(e["status"] == "shared" and e["device"] == volumes[taken[src]]
               for src, e in record.items())
