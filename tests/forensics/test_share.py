"""Snapshots travel: copied under the forensics key, tagged, shared with that account only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ircli.forensics.key_policy import key_policy_gaps
from tests.accounts.conftest import run_instance
from tests.forensics.conftest import (
    FORENSICS,
    MEMBER_A,
    MEMBER_B,
    ORG_ID,
    REGION,
    ROLE,
    ForensicsLab,
)
from tests.helpers import ircli

STEP = "share-forensic-copies"


def contain_in_a(lab: ForensicsLab, capsys: pytest.CaptureFixture[str], instance: str,
                 case_id: str = "case-a1") -> dict[str, Any]:
    out = ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A, "--role-name", ROLE,
                "--case-id", case_id, "--new-case")
    assert out.code == 0, out.err
    return dict(out.data)


def copies_in(ec2: Any, case_id: str = "case-a1") -> list[dict[str, Any]]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:ircli:case-id", "Values": [case_id]},
        {"Name": "tag:ircli:purpose", "Values": ["forensic-copy"]}])["Snapshots"]


def shared_with(ec2: Any, snapshot_id: str) -> list[dict[str, str]]:
    return list(ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission")["CreateVolumePermissions"])


def tags(snapshot: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}


def test_contain_in_a_member_copies_and_shares_with_the_forensics_account_only(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    data = contain_in_a(lab, capsys, instance)
    step = next(s for s in data["steps"] if s["name"] == STEP)
    assert step["status"] == "done", step
    originals = {s["snapshot_id"]: s for s in data["snapshots"]}
    copies = copies_in(ec2_a)
    assert len(copies) == len(originals) >= 1
    for copy in copies:
        tagged = tags(copy)
        source = originals[tagged["ircli:source-snapshot"]]
        assert copy["KmsKeyId"] == lab.key_arn and copy["Encrypted"] is True
        assert tagged["ircli:source-volume"] == source["volume_id"]
        assert tagged["ircli:device"] == source["device"]
        assert tagged["ircli:source-instance"] == instance
        assert tagged["ircli:source-account"] == MEMBER_A
        assert "ircli:instance-id" not in tagged  # never taken for one of the instance's own
        assert shared_with(ec2_a, copy["SnapshotId"]) == [{"UserId": FORENSICS}]
    for original in originals:  # the originals stay private, in A
        assert shared_with(ec2_a, original) == []
    # the case records each copy, what AWS said after sharing
    case = json.loads((lab.home / "cases" / "case-a1" / "case.json").read_text())
    record = case["targets"][instance]["forensic_copies"]
    assert {c["copy_snapshot_id"] for c in record.values()} == {c["SnapshotId"] for c in copies}
    assert all(c["status"] == "shared" and c["shared_with"] == [{"UserId": FORENSICS}]
               and c["kms_key"] == lab.key_arn for c in record.values())
    # the key's policy admits A's ircli role (B's too: the policy names the organisation)
    policy = json.loads(lab.f("kms").get_key_policy(KeyId=lab.key_id,
                                                    PolicyName="default")["Policy"])
    for member in (MEMBER_A, MEMBER_B):
        assert key_policy_gaps(policy["Statement"], key_arn=lab.key_arn,
                               member_role=f"arn:aws:iam::{member}:role/{ROLE}", org_id=ORG_ID,
                               region=REGION, dns_suffix="amazonaws.com") == []
    # nothing of it in B or in the forensics account itself
    assert copies_in(lab.org(MEMBER_B, "ec2")) == copies_in(lab.f("ec2")) == []


def test_a_rerun_finds_the_copies_and_copies_nothing_twice(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    contain_in_a(lab, capsys, instance)
    first = {c["SnapshotId"] for c in copies_in(ec2_a)}
    again = ircli(capsys, "forensics", "share", "case-a1", "--yes")
    assert again.code == 0, again.err
    [target] = again.data["targets"]
    assert target["steps"][0]["status"] == "already-done", target
    assert {c["SnapshotId"] for c in copies_in(ec2_a)} == first
    contain_in_a(lab, capsys, instance)  # contain again: converges too
    assert {c["SnapshotId"] for c in copies_in(ec2_a)} == first


def test_a_volume_under_aws_ebs_is_copied_under_the_forensics_key(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    """The default key cannot be shared; the copy re-encrypted under the forensics key can."""
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    az = ec2_a.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "Placement"]["AvailabilityZone"]
    volume = ec2_a.create_volume(AvailabilityZone=az, Size=2, Encrypted=True)["VolumeId"]
    default_key = ec2_a.describe_volumes(VolumeIds=[volume])["Volumes"][0]["KmsKeyId"]
    ec2_a.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    data = contain_in_a(lab, capsys, instance)
    source = next(s for s in data["snapshots"] if s["volume_id"] == volume)
    assert source["encrypted"] is True
    [copy] = [c for c in copies_in(ec2_a) if tags(c)["ircli:source-snapshot"] ==
              source["snapshot_id"]]
    assert copy["KmsKeyId"] == lab.key_arn != default_key and copy["Encrypted"] is True
    assert tags(copy)["ircli:device"] == "/dev/sdf"
    assert shared_with(ec2_a, copy["SnapshotId"]) == [{"UserId": FORENSICS}]


def test_a_planted_lookalike_is_never_shared(lab: ForensicsLab,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An attacker in A with ec2:CreateTags makes their own snapshot look like the case's
    copy of the root volume; ircli makes its own copy and shares only that."""
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    root = ec2_a.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    planted = ec2_a.create_snapshot(VolumeId=root, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [
            {"Key": "ircli:case-id", "Value": "case-a1"},
            {"Key": "ircli:purpose", "Value": "forensic-copy"},
            {"Key": "ircli:source-snapshot", "Value": "snap-0123456789abcdef0"}]}])["SnapshotId"]
    data = contain_in_a(lab, capsys, instance)
    assert shared_with(ec2_a, planted) == []
    assert any(planted in w and "not shared" in w for w in data["warnings"])
    ours = [c for c in copies_in(ec2_a) if c["SnapshotId"] != planted]
    assert ours and all(shared_with(ec2_a, c["SnapshotId"]) == [{"UserId": FORENSICS}]
                        for c in ours)


def test_sharing_widened_by_someone_else_is_cut_back_to_the_forensics_account(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    contain_in_a(lab, capsys, instance)
    [copy] = copies_in(ec2_a)
    ec2_a.modify_snapshot_attribute(SnapshotId=copy["SnapshotId"],
                                    Attribute="createVolumePermission", OperationType="add",
                                    GroupNames=["all"], UserIds=["444455556666"])
    out = ircli(capsys, "forensics", "share", "case-a1", "--yes")
    assert out.code == 0, out.err
    assert shared_with(ec2_a, copy["SnapshotId"]) == [{"UserId": FORENSICS}]


def test_release_never_deletes_snapshots_or_copies(lab: ForensicsLab,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    data = contain_in_a(lab, capsys, instance)
    before = {s["SnapshotId"] for s in ec2_a.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert {s["snapshot_id"] for s in data["snapshots"]} < before
    out = ircli(capsys, "release", instance, "--yes")
    assert out.code == 0, out.err
    after = {s["SnapshotId"] for s in ec2_a.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert after == before
    [copy] = copies_in(ec2_a)
    assert shared_with(ec2_a, copy["SnapshotId"]) == [{"UserId": FORENSICS}]


def test_without_a_forensics_account_nothing_is_copied_and_share_says_how(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    (lab.home / "config.toml").write_text(f'[accounts]\nrole_name = "{ROLE}"\n')
    ec2_a = lab.org(MEMBER_A, "ec2")
    data = contain_in_a(lab, capsys, run_instance(ec2_a))
    assert STEP not in [s["name"] for s in data["steps"]]
    assert copies_in(ec2_a) == []
    out = ircli(capsys, "forensics", "share", "case-a1", "--yes")
    assert out.code == 2 and "No forensics account is configured" in out.err
    assert "[forensics]" in out.err and "Traceback" not in out.err


def test_a_broken_forensics_section_fails_the_step_not_the_containment(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write_config(account="not-an-account")
    ec2_a = lab.org(MEMBER_A, "ec2")
    out = ircli(capsys, "contain", run_instance(ec2_a), "--yes", "--account", MEMBER_A,
                "--role-name", ROLE, "--case-id", "case-a1", "--new-case")
    assert out.code == 3 and out.data["status"] == "partial"  # isolated; the copy is not
    step = next(s for s in out.data["steps"] if s["name"] == STEP)
    assert step["status"] == "failed" and "12-digit" in step["detail"]
    assert next(s for s in out.data["steps"] if s["name"] == "isolate")["status"] == "done"
    assert copies_in(ec2_a) == []


def test_the_dry_run_plans_the_copies_and_changes_nothing(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    contain_in_a(lab, capsys, instance)
    [copy] = copies_in(ec2_a)
    ec2_a.delete_snapshot(SnapshotId=copy["SnapshotId"])  # gone: the plan makes a new one
    case = lab.home / "cases" / "case-a1" / "case.json"
    data = json.loads(case.read_text())
    data["targets"][instance].pop("forensic_copies")
    case.write_text(json.dumps(data))
    out = ircli(capsys, "forensics", "share", "case-a1", "--dry-run")
    assert out.code == 0, out.err
    [target] = out.data["targets"]
    changes = target["steps"][0]["changes"]
    assert any("re-encrypted under the forensics key " + lab.key_arn in c for c in changes)
    assert any(f"with account {FORENSICS} only" in c for c in changes)
    assert copies_in(ec2_a) == []
    assert "forensic_copies" not in json.loads(case.read_text())["targets"][instance]


def test_a_copy_an_interrupted_run_started_is_adopted_not_made_twice(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    """The case says a copy was being made but not its id (the run stopped right after
    CopySnapshot): the next run finds it by its tags, records it and shares it."""
    ec2_a = lab.org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    contain_in_a(lab, capsys, instance)
    [copy] = copies_in(ec2_a)
    ec2_a.modify_snapshot_attribute(SnapshotId=copy["SnapshotId"],
                                    Attribute="createVolumePermission",
                                    OperationType="remove", UserIds=[FORENSICS])
    case = lab.home / "cases" / "case-a1" / "case.json"
    data = json.loads(case.read_text())
    [entry] = data["targets"][instance]["forensic_copies"].values()
    entry.update(copy_snapshot_id=None, status="copying")
    case.write_text(json.dumps(data))
    out = ircli(capsys, "forensics", "share", "case-a1", "--yes")
    assert out.code == 0, out.err
    assert [c["SnapshotId"] for c in copies_in(ec2_a)] == [copy["SnapshotId"]]
    [entry] = json.loads(case.read_text())["targets"][instance]["forensic_copies"].values()
    assert entry["copy_snapshot_id"] == copy["SnapshotId"] and entry["status"] == "shared"
    assert shared_with(ec2_a, copy["SnapshotId"]) == [{"UserId": FORENSICS}]


def test_copies_land_in_the_forensics_region(lab: ForensicsLab,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The suspect is in us-east-1, the forensics account works in eu-west-1: the copy is
    made there (SourceRegion), under the forensics key of that region."""
    key = lab.f("kms", "eu-west-1").create_key(Description="eu copies")["KeyMetadata"]["Arn"]
    lab.write_config(region="eu-west-1", kms_key=key)
    ec2_a = lab.org(MEMBER_A, "ec2")
    contain_in_a(lab, capsys, run_instance(ec2_a))
    assert copies_in(ec2_a) == []
    eu = lab.org(MEMBER_A, "ec2", "eu-west-1")
    [copy] = copies_in(eu)
    assert copy["KmsKeyId"] == key
    assert shared_with(eu, copy["SnapshotId"]) == [{"UserId": FORENSICS}]
