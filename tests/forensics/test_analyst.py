"""The analyst of a member account's case works in the forensics account, on the shared copies.

The emulator never lets the forensics account see a snapshot another account shared with it
(CreateVolume answers InvalidSnapshot.NotFound); ``shims.share_into`` makes the copies ircli
shared visible there, as AWS does, and only those.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.accounts.conftest import run_instance
from tests.forensics.conftest import FORENSICS, MEMBER_A, REGION, ROLE, ForensicsLab
from tests.forensics.shims import share_into
from tests.helpers import ircli

CASE = "case-a1"


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The emulator with the one AWS managed policy the analyst role attaches, and AWS's
    DryRun answer for CreateVpc (moto 5.2 creates the VPC), as tests/analyst has it."""
    import moto.iam.models as iam_models
    from moto.ec2.responses.vpcs import VPCs

    policies = json.loads(iam_models.aws_managed_policies_data)
    monkeypatch.setattr(iam_models, "aws_managed_policies_data", json.dumps(
        {"AmazonSSMManagedInstanceCore": policies["AmazonSSMManagedInstanceCore"]}))
    create_vpc = VPCs.create_vpc

    def dry_run_aware(self: Any) -> Any:
        self.error_on_dryrun()
        return create_vpc(self)

    monkeypatch.setattr(VPCs, "create_vpc", dry_run_aware)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


def a_state(lab: ForensicsLab) -> dict[str, Any]:
    """What exists in member account A (ids), to show the analyst adds nothing there."""
    ec2, iam = lab.org(MEMBER_A, "ec2"), lab.org(MEMBER_A, "iam")
    return {
        "instances": sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                            for i in r["Instances"]),
        "volumes": sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]),
        "snapshots": sorted(s["SnapshotId"] for s in
                            ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]),
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]),
        "groups": sorted(g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "profiles": sorted(p["InstanceProfileName"] for p in
                           iam.list_instance_profiles()["InstanceProfiles"]),
    }


def test_launch_and_attach_run_in_the_forensics_account_one_volume_per_copy(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    contained = ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A,
                      "--role-name", ROLE, "--case-id", CASE, "--new-case")
    assert contained.code == 0, contained.err
    record = json.loads((lab.home / "cases" / CASE / "case.json").read_text())
    copies = {c["copy_snapshot_id"] for c in record["targets"][instance]
              ["forensic_copies"].values()}
    assert copies and share_into(MEMBER_A, FORENSICS, REGION) == sorted(copies)
    before = a_state(lab)

    launched = ircli(capsys, "analyst", "launch", "--case-id", CASE, "--create-network",
                     "--yes")
    assert launched.code == 0, (launched.err, launched.data.get("warnings"))
    analyst = launched.data["analyst_instance_id"]
    ec2_f = lab.f("ec2")
    [found] = [i for r in ec2_f.describe_instances(InstanceIds=[analyst])["Reservations"]
               for i in r["Instances"]]
    assert found["VpcId"] == launched.data["vpc_id"]
    vpc_names = {t["Value"] for v in ec2_f.describe_vpcs(VpcIds=[found["VpcId"]])["Vpcs"]
                 for t in v.get("Tags", []) if t["Key"] == "Name"}
    assert vpc_names == {"ircli-forensic-vpc"}
    assert launched.data["evidence_bucket"] == "acme-forensics-evidence"

    attached = ircli(capsys, "analyst", "attach", "--case-id", CASE, "--yes")
    assert attached.code == 0, (attached.err, attached.data.get("warnings"))
    volumes = attached.data["volumes"]
    assert sorted(v["snapshot_id"] for v in volumes) == sorted(copies)
    assert attached.data["not_attached"] == []
    made = ec2_f.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                            "Values": [analyst]}])["Volumes"]
    evidence = [v for v in made if v.get("SnapshotId") in copies]
    assert len(evidence) == len(copies)  # one volume per shared copy
    assert all(v["AvailabilityZone"] == found["Placement"]["AvailabilityZone"] and
               v["KmsKeyId"] == lab.key_arn for v in evidence)
    # nothing was created in A by the analyst commands: the copies were all A ever got
    assert a_state(lab) == before
    analyst_record = json.loads((lab.home / "cases" / CASE / "case.json").read_text())[
        "targets"]["analyst"]
    assert analyst_record["account"] == FORENSICS


def test_a_copy_not_shared_with_the_forensics_account_is_not_attached(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the share (no shim): the forensics account cannot see the copy, and says so."""
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    assert ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A, "--role-name",
                 ROLE, "--case-id", CASE, "--new-case").code == 0
    assert ircli(capsys, "analyst", "launch", "--case-id", CASE, "--create-network",
                 "--yes").code == 0
    attached = ircli(capsys, "analyst", "attach", "--case-id", CASE, "--yes")
    assert attached.code == 3
    assert attached.data["volumes"] == [] and attached.data["not_attached"]
    assert any("cannot see it" in w for w in attached.data["warnings"])
