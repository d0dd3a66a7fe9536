"""The compiled share-forensic-copies, run by the emulator's Step Functions engine.

One world for the module (each execution costs the emulator ~10 CPU-s): the compiled
ec2-compromise, with ``[forensics]`` configured and the central bucket as its bucket,
contains the lab's suspect; then, as an attacker with plain API calls, a look-alike copy of a
real source, a snapshot of a foreign volume tagged as the case's, and a widened permission on
the machine's own copy; then the same finding is delivered again. The tests read what AWS
and the bucket hold after each run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ircli.automation.compiler import compile_runbook
from ircli.evidence.ship import case_prefix
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import ACCOUNT, BUCKET, REGION, Run, Sfn, finding_event
from tests.automation.shims import installed
from tests.automation.test_execute_ec2 import case_of
from tests.forensics.conftest import FORENSICS, FORENSICS_ROLE, admin_key_policy, session_in
from tests.forensics.shims import copy_honours_encrypted
from tests.helpers import ircli

FINDING = "gd-forensic-copy"
STEP = "share-forensic-copies"
PURPOSE = {"Key": "ircli:purpose", "Value": "forensic-copy"}
ATTACKER = "444455556666"


@dataclass
class World:
    sfn: Sfn
    lab: WebCompromise
    key_arn: str
    definition: dict[str, Any]
    first: Run
    again: Run
    case_id: str
    after_first: dict[str, Any] = field(default_factory=dict)
    after_again: dict[str, Any] = field(default_factory=dict)
    planted: dict[str, str] = field(default_factory=dict)

    def ec2(self) -> Any:
        return self.sfn.clients("ec2")


def snapshot_view(ec2: Any) -> dict[str, Any]:
    """Every snapshot of the account with its tags and who may create volumes from it."""
    out = {}
    for snap in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
        perms = ec2.describe_snapshot_attribute(
            SnapshotId=snap["SnapshotId"], Attribute="createVolumePermission")[
            "CreateVolumePermissions"]
        out[snap["SnapshotId"]] = {
            "tags": {t["Key"]: t["Value"] for t in snap.get("Tags", [])},
            "encrypted": snap.get("Encrypted"), "kms_key": snap.get("KmsKeyId"),
            "volume": snap.get("VolumeId"), "shared": perms}
    return out


def case_doc(sfn: Sfn, case_id: str) -> dict[str, Any]:
    key = f"{case_prefix(case_id, ACCOUNT)}case.json"
    return dict(json.loads(sfn.objects(key)[key]))


def copies_of(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sid: s for sid, s in view.items()
            if s["tags"].get("ircli:purpose") == "forensic-copy"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("ircli-home")
    with pytest.MonkeyPatch.context() as mp, \
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION, "IRCLI_HOME": str(home)}.items():
            mp.setenv(name, value)
        emulator = installed(mp)
        copy_honours_encrypted(mp)

        def clients(service: str) -> Any:
            return boto3.client(service, region_name=REGION)

        # The central bucket as `evidence init` makes it: versioned, Object Lock.
        clients("s3").create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        clients("s3").put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        topic = clients("sns").create_topic(Name="ircli-automation")["TopicArn"]
        queue = clients("sqs").create_queue(QueueName="ircli-alerts")["QueueUrl"]
        sfn = Sfn(clients, emulator, topic, queue)
        lab = seed_web_compromise(clients, REGION)
        forensics = session_in(FORENSICS, FORENSICS_ROLE)
        key_arn = forensics.client("kms").create_key(Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS)]}))[
            "KeyMetadata"]["Arn"]
        configure(home, key_arn)
        compiled = compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET,
                                   topic_arn=topic, region=REGION)
        machine = sfn.deploy(compiled)
        case_id = case_of(FINDING)
        ec2 = clients("ec2")

        # Before the first run: a snapshot tagged as a copy of this case, of a made-up source.
        volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1)["VolumeId"]
        early = ec2.create_snapshot(VolumeId=volume, TagSpecifications=[{
            "ResourceType": "snapshot", "Tags": [
                {"Key": "ircli:case-id", "Value": case_id}, PURPOSE,
                {"Key": "ircli:source-snapshot", "Value": "snap-0123456789abcdef0"}]}])[
            "SnapshotId"]

        first = sfn.run(machine, finding_event(lab.suspect, finding_id=FINDING))
        after_first = snapshot_view(ec2)
        case_first = case_doc(sfn, case_id) if first.status == "SUCCEEDED" else {}

        planted = {"early": early}
        ours = sorted(copies_of(after_first).items())
        ours = [(sid, s) for sid, s in ours if sid != early]
        if ours:
            sid, copy = ours[0]
            source = copy["tags"]["ircli:source-snapshot"]
            # A look-alike of a real source's copy, made after the machine recorded its own.
            planted["lookalike"] = ec2.create_snapshot(VolumeId=volume, TagSpecifications=[{
                "ResourceType": "snapshot", "Tags": [
                    {"Key": "ircli:case-id", "Value": case_id}, PURPOSE,
                    {"Key": "ircli:source-snapshot", "Value": source}]}])["SnapshotId"]
            # A snapshot of a volume the suspect does not have, tagged as the case's.
            planted["foreign"] = ec2.create_snapshot(VolumeId=volume, TagSpecifications=[{
                "ResourceType": "snapshot", "Tags": [
                    {"Key": "ircli:case-id", "Value": case_id},
                    {"Key": "ircli:instance-id", "Value": lab.suspect}]}])["SnapshotId"]
            # The machine's own copy, made public and shared with a stranger.
            ec2.modify_snapshot_attribute(SnapshotId=sid, Attribute="createVolumePermission",
                                          OperationType="add", GroupNames=["all"],
                                          UserIds=[ATTACKER])
            planted["widened"] = sid

        again = sfn.run(machine, finding_event(lab.suspect, finding_id=FINDING))
        made = World(sfn, lab, key_arn, compiled.definition, first, again, case_id,
                     after_first={"snapshots": after_first, "case": case_first},
                     after_again={"snapshots": snapshot_view(ec2),
                                  "case": case_doc(sfn, case_id)},
                     planted=planted)
        yield made


def test_the_machine_copies_each_snapshot_under_the_forensics_key_and_shares_it_only_there(
        world: World) -> None:
    assert world.first.status == "SUCCEEDED", world.first.why()
    view = world.after_first["snapshots"]
    sources = {sid: s for sid, s in view.items()
               if s["tags"].get("ircli:instance-id") == world.lab.suspect}
    copies = {sid: s for sid, s in copies_of(view).items() if sid != world.planted["early"]}
    assert len(sources) == 3 and len(copies) == len(sources)  # the suspect's three volumes
    assert {c["tags"]["ircli:source-snapshot"] for c in copies.values()} == set(sources)
    for copy in copies.values():
        source = sources[copy["tags"]["ircli:source-snapshot"]]
        assert copy["encrypted"] is True and copy["kms_key"] == world.key_arn
        assert copy["shared"] == [{"UserId": FORENSICS}]
        tags = copy["tags"]
        assert tags["ircli:case-id"] == world.case_id
        assert tags["ircli:source-volume"] == source["volume"]
        assert tags["ircli:device"] == source["tags"]["ircli:device"]
        assert tags["ircli:source-instance"] == world.lab.suspect
        assert tags["ircli:source-account"] == ACCOUNT
        assert "ircli:instance-id" not in tags  # never taken for one of the instance's own
    for source in sources.values():  # the originals stay private
        assert source["shared"] == []
    # The look-alike made before the run is neither adopted nor shared.
    assert view[world.planted["early"]]["shared"] == []


def test_the_case_records_each_copy_as_the_cli_does(world: World) -> None:
    case = world.after_first["case"]
    target = case["targets"][world.lab.suspect]
    record = target["forensic_copies"]
    copies = {sid for sid in copies_of(world.after_first["snapshots"])
              if sid != world.planted["early"]}
    assert {e["copy_snapshot_id"] for e in record.values()} == copies
    assert set(record) == {e["source_snapshot_id"] for e in record.values()}
    for entry in record.values():
        assert entry["status"] == "shared" and entry["shared_with"] == [{"UserId": FORENSICS}]
        assert entry["kms_key"] == world.key_arn and entry["forensics_account"] == FORENSICS
        assert entry["device"] and entry["volume_id"] and entry["region"] == REGION
    step = target["steps"][STEP]
    assert step["status"] == "done" and step["before"]["forensics_account"] == FORENSICS
    # The CLI's readers take the machine's record as their own.
    from ircli.analyst.volumes import case_snapshots
    from ircli.core.case import Case
    from ircli.steps.forensic_copy import recorded_copies

    assert {c["copy_snapshot_id"] for c in recorded_copies(target)} == copies
    seen = Case(world.case_id, Path("unused"), case)
    assert {s["snapshot_id"] for s in case_snapshots(seen, forensic=True)} == copies


def test_a_redelivery_copies_nothing_twice_and_shares_no_look_alike(world: World) -> None:
    assert world.again.status == "SUCCEEDED", world.again.why()
    before, after = world.after_first["snapshots"], world.after_again["snapshots"]
    planted = world.planted
    assert set(planted) == {"early", "lookalike", "foreign", "widened"}
    new = set(after) - set(before) - {planted["lookalike"], planted["foreign"]}
    assert new == set()  # not one more copy
    for name in ("early", "lookalike", "foreign"):
        assert after[planted[name]]["shared"] == [], name
    # the foreign snapshot tagged as the case's was not copied
    assert not any(c["tags"].get("ircli:source-snapshot") == planted["foreign"]
                   for c in after.values())
    # the copy the attacker widened is the forensics account's only, again
    assert after[planted["widened"]]["shared"] == [{"UserId": FORENSICS}]
    record = world.after_again["case"]["targets"][world.lab.suspect]["forensic_copies"]
    assert record == {src: {**e, "checked_at": record[src]["checked_at"]}
                      for src, e in world.after_first["case"]["targets"][
                          world.lab.suspect]["forensic_copies"].items()}


def test_the_case_is_under_the_member_account_in_the_central_bucket(world: World) -> None:
    keys = set(world.sfn.objects("cases/"))
    prefix = case_prefix(world.case_id, ACCOUNT)
    assert f"{prefix}case.json" in keys and f"{prefix}audit/00000000.json" in keys
    assert all(k.startswith(prefix) for k in keys)


def configure(home: Path, key_arn: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[forensics]\naccount = "{FORENSICS}"\nregion = "{REGION}"\n'
        f'role_name = "{FORENSICS_ROLE}"\nkms_key = "{key_arn}"\nbucket = "{BUCKET}"\n')


def test_the_compiled_step_lints_and_its_role_may_use_the_forensics_key(
        world: World, aws_env: Path) -> None:
    from statelint.linter import Linter

    from ircli.forensics.evaluate import Request, decide

    configure(aws_env, world.key_arn)
    assert Linter.validate(world.definition) == []
    assert "share_forensic_copies.Copy" in world.definition["States"]
    compiled = compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET,
                               topic_arn=world.sfn.topic_arn)
    from ircli.automation.template import execution_policy

    policy = execution_policy(compiled, partition="aws", dns_suffix="amazonaws.com",
                              bucket=BUCKET, topic_arn=world.sfn.topic_arn)
    role = "arn:aws:iam::123456789012:role/ircli-ec2-compromise-sfn"
    statements = [{**s, "Principal": "*"} for s in policy["Statement"]]  # the role's own
    for action in ("kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext",
                   "kms:ReEncryptTo", "kms:DescribeKey", "kms:Decrypt"):
        assert decide(statements, Request(
            role, action, world.key_arn,
            {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"})) == "allow", action
        assert decide(statements, Request(role, action, world.key_arn, {})) != \
            "allow", action  # only through EBS


def test_a_machine_in_another_region_is_refused_by_name(world: World, aws_env: Path) -> None:
    from ircli.core.step import NotCompilable

    configure(aws_env, world.key_arn)
    with pytest.raises(NotCompilable) as raised:
        compile_runbook(get_runbook("ec2-compromise"), bucket=BUCKET,
                        topic_arn=world.sfn.topic_arn, region="eu-west-1")
    assert raised.value.step == STEP
    assert "deploy the machine in us-east-1" in raised.value.why
    assert "ircli forensics share CASE" in raised.value.why


def test_case_list_show_verify_and_release_find_the_case_under_the_account_prefix(
        world: World, aws_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From a fresh IRCLI_HOME with [forensics] configured; last in this module: it releases."""
    configure(aws_env, world.key_arn)
    bucket = ["--evidence-bucket", BUCKET]
    prefix = case_prefix(world.case_id, ACCOUNT)
    listed = ircli(capsys, "case", "list", "--bucket", *bucket)
    assert listed.code == 0, listed.err
    rows = {r["case_id"]: r for r in json.loads(listed.out)["cases"]}
    assert rows[world.case_id]["opened_by"] == "automation:ircli-ec2-compromise", rows
    shown = ircli(capsys, "case", "show", world.case_id, "--bucket", *bucket)
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["targets"][world.lab.suspect]["forensic_copies"]
    verified = ircli(capsys, "evidence", "verify", world.case_id, *bucket)
    assert verified.code == 0, verified.out + verified.err

    released = ircli(capsys, "release", world.lab.suspect, "--case-id", world.case_id,
                     "--yes", *bucket)
    assert released.code == 0, released.out + released.err
    data = json.loads(released.out)
    assert data["status"] == "released"
    assert f"case {world.case_id} fetched from s3://{BUCKET}/{prefix}" in data["warnings"]
    # release never deletes a snapshot or a copy, nor unshares a copy
    ec2 = world.ec2()
    after = snapshot_view(ec2)
    record = world.after_again["case"]["targets"][world.lab.suspect]["forensic_copies"]
    for entry in record.values():
        assert after[entry["copy_snapshot_id"]]["shared"] == [{"UserId": FORENSICS}]
        assert entry["source_snapshot_id"] in after
    # the release's records went back under the same prefix, nowhere else
    keys = set(world.sfn.objects("cases/"))
    assert all(k.startswith(prefix) for k in keys), sorted(keys)[:5]
