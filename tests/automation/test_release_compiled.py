"""Issue #14 acceptance: a case the compiled ec2-compromise opened is released by the CLI.

The state machine runs for real in the emulator's Step Functions engine on instance B from a
GuardDuty finding event; then a responder on a machine that never saw the case (a fresh,
empty ``IRCLI_HOME``) lists, shows, verifies and releases it from the evidence bucket alone,
and B is back exactly as it was, item by item.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.automation.conftest import REGION, Sfn, finding_event
from tests.automation.test_execute_ec2 import case_of, compiled
from tests.fakes import FakeClock
from tests.helpers import ircli
from tests.runbooks.test_run import launch_twins

MACHINE = "automation:ircli-ec2-compromise"
EVIDENCE = "ircli-evidence-released"


@pytest.fixture
def world(sfn_world: Sfn, capsys: pytest.CaptureFixture[str]) -> Sfn:
    """The emulated account with an evidence bucket made by `evidence init` (versioned, Object
    Lock), as the automation writes to in production; the bucket policy is removed because
    moto cannot evaluate its conditions (see tests/evidence/conftest.py)."""
    made = ircli(capsys, "evidence", "init", "-y", "--bucket", EVIDENCE,
                 "--analyst-role-arn", "arn:aws:iam::123456789012:role/Analyst")
    assert made.code == 0, made.err
    sfn_world.clients("s3").delete_bucket_policy(Bucket=EVIDENCE)
    return dataclasses.replace(sfn_world, bucket=EVIDENCE)


@pytest.fixture
def lab(world: Sfn) -> WebCompromise:
    return seed_web_compromise(world.clients, REGION)


def deny_names(iam: Any, role: str) -> list[str]:
    """The instance ids ircli's deny policy on ``role`` names ([] when it has none)."""
    from ircli.aws import iam_managed
    from ircli.aws.contain_deny import deny_policy_name
    from ircli.aws.iam_policies import contained_ids

    arn = iam_managed.policy_arn("aws", "123456789012", deny_policy_name(role))
    if not iam_managed.is_attached(iam, role, arn):
        return []
    return sorted(contained_ids(iam_managed.read(iam, arn)))


def state_of(sfn_world: Sfn, lab: WebCompromise, iid: str) -> dict[str, Any]:
    """What containment changes about ``iid`` and release must put back, each item by id."""
    clients = sfn_world.clients
    ec2 = clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"]
    attr = ec2.describe_instance_attribute
    asg = clients("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])
    targets = clients("elbv2").describe_target_health(TargetGroupArn=lab.target_group_arn)
    return {
        "eni_groups": {n["NetworkInterfaceId"]: sorted(g["GroupId"] for g in n["Groups"])
                       for n in enis},
        "eips": {n["NetworkInterfaceId"]: n.get("Association", {}).get("AllocationId")
                 for n in enis},
        "termination_protection": attr(InstanceId=iid, Attribute="disableApiTermination")[
            "DisableApiTermination"]["Value"],
        "stop_protection": attr(InstanceId=iid, Attribute="disableApiStop")[
            "DisableApiStop"]["Value"],
        "shutdown": attr(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"]["Value"],
        "in_asg": iid in [i["InstanceId"] for i in asg["AutoScalingGroups"][0]["Instances"]],
        "in_target_group": iid in [d["Target"]["Id"] for d in targets[
            "TargetHealthDescriptions"]],
        "denied": iid in deny_names(clients("iam"), lab.role),
        "profile": instance.get("IamInstanceProfile", {}).get("Arn"),
        "delete_on_termination": {b["DeviceName"]: b["Ebs"]["DeleteOnTermination"]
                                  for b in instance["BlockDeviceMappings"]},
    }


def snapshots_of(sfn_world: Sfn, iid: str) -> list[str]:
    ec2 = sfn_world.clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    volumes = [b["Ebs"]["VolumeId"] for b in instance["BlockDeviceMappings"]]
    return [s["SnapshotId"] for s in ec2.describe_snapshots(Filters=[
        {"Name": "volume-id", "Values": volumes}])["Snapshots"]]


def tags_of(sfn_world: Sfn, iid: str) -> dict[str, str]:
    instance = sfn_world.clients("ec2").describe_instances(InstanceIds=[iid])[
        "Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def test_a_case_the_automation_opened_is_released_from_a_fresh_home(
        world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sfn_world = world
    _a, b = launch_twins(sfn_world.clients, lab)
    # Room in the group: detaching B keeps the desired capacity, so AWS launches a replacement,
    # and B's return must not push the group past its maximum (AttachInstances refuses that).
    sfn_world.clients("autoscaling").update_auto_scaling_group(AutoScalingGroupName=lab.asg,
                                                               MaxSize=8)
    # B shuts down into termination, as many fleet instances do: containment makes it "stop"
    # (evidence survives a shutdown from inside), release must give "terminate" back.
    # (the Attribute/Value form: moto 5.2.5 drops the InstanceInitiatedShutdownBehavior one)
    sfn_world.clients("ec2").modify_instance_attribute(
        InstanceId=b, Attribute="instanceInitiatedShutdownBehavior", Value="terminate")
    original = state_of(sfn_world, lab, b)
    tags_before = tags_of(sfn_world, b)
    assert all(original["eips"].values()) and original["in_asg"] and \
        original["in_target_group"] and not original["denied"]
    machine = sfn_world.deploy(compiled(sfn_world))
    run = sfn_world.run(machine, finding_event(b, finding_id="gd-release-b"))
    assert run.status == "SUCCEEDED", run.why()
    case_id = case_of("gd-release-b")
    contained = state_of(sfn_world, lab, b)
    assert contained["denied"] and not contained["in_asg"] and \
        not any(contained["eips"].values())
    unchanged = [k for k in ("eni_groups", "in_target_group", "termination_protection",
                             "delete_on_termination", "shutdown") if contained[k] == original[k]]
    assert unchanged == [], {k: (original[k], contained[k]) for k in unchanged}
    taken = snapshots_of(sfn_world, b)

    home = tmp_path / "responder-fresh"
    monkeypatch.setenv("IRCLI_HOME", str(home))
    bucket = ["--evidence-bucket", sfn_world.bucket]

    listed = ircli(capsys, "case", "list", "--bucket", *bucket)
    assert listed.code == 0, listed.err
    rows = {r["case_id"]: r for r in json.loads(listed.out)["cases"]}
    assert rows[case_id]["opened_by"] == MACHINE, rows
    shown = ircli(capsys, "case", "show", case_id, "--bucket", *bucket, json_output=False)
    assert shown.code == 0, shown.err
    assert f"Opened by: {MACHINE}" in shown.out
    verified = ircli(capsys, "evidence", "verify", case_id, *bucket)
    assert verified.code == 0, verified.out + verified.err

    # No --case-id: B's ircli:case-id tag names the case, found in the configured bucket
    # because its record there holds B (the tag alone is never trusted).
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", EVIDENCE)
    released = ircli(capsys, "release", b, "--yes")
    assert released.code == 0, released.out + released.err
    data = json.loads(released.out)
    assert data["status"] == "released"
    assert f"case {case_id} fetched from s3://{EVIDENCE}/cases/{case_id}/" in data["warnings"]
    undone = {s["name"]: s["status"] for s in data["steps"]}
    assert all(undone[name] == "done" for name in (
        "isolate", "disassociate-eips", "protect", "cut-credentials", "remove-from-service",
        "leave-asg", "tag")), undone
    assert state_of(sfn_world, lab, b) == original
    tags = tags_of(sfn_world, b)
    assert tags.get("ircli:status") == "released", tags
    assert {k: v for k, v in tags.items() if not k.startswith("ircli:")} == \
        {k: v for k, v in tags_before.items() if not k.startswith("ircli:")}
    assert len(snapshots_of(sfn_world, b)) == len(taken) > 0  # evidence is never released

    verified = ircli(capsys, "evidence", "verify", case_id, *bucket)
    assert verified.code == 0, verified.out + verified.err
    shown = ircli(capsys, "case", "show", case_id, "--bucket", *bucket)
    record = json.loads(shown.out)
    assert record["opened_by"] == MACHINE and record["targets"][b]["status"] == "released"
    assert "automation" in record  # the machine's own state, kept through the merge

    again = ircli(capsys, "release", b, "--case-id", case_id, "--yes", *bucket)
    assert again.code == 0, again.out + again.err
    assert json.loads(again.out)["status"] == "released"
    assert state_of(sfn_world, lab, b) == original
    assert tags_of(sfn_world, b) == tags
    verified = ircli(capsys, "evidence", "verify", case_id, *bucket)
    assert verified.code == 0, verified.out + verified.err


def test_release_refuses_a_step_record_the_attacker_rewrote_in_the_bucket(
        world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As the attacker who can write the case prefix: a new version of the machine's
    case.json whose isolate record names the attacker's open group as B's original one.
    Release restores from the step records, so it must refuse, and B stays isolated."""
    machine = world.deploy(compiled(world))
    run = world.run(machine, finding_event(lab.suspect, finding_id="gd-forged"))
    assert run.status == "SUCCEEDED", run.why()
    case_id = case_of("gd-forged")
    ec2, s3 = world.clients("ec2"), world.clients("s3")
    isolated = state_of(world, lab, lab.suspect)["eni_groups"]
    attacker = ec2.create_security_group(GroupName="attacker-open", Description="x",
                                         VpcId=lab.vpc_id)["GroupId"]
    key = f"cases/{case_id}/case.json"
    forged = json.loads(s3.get_object(Bucket=EVIDENCE, Key=key)["Body"].read())
    record = forged["targets"][lab.suspect]["steps"]["isolate"]["before"]
    for eni in record["network_interfaces"]:
        eni["groups"], eni["group_names"] = [attacker], ["web"]
    body = json.dumps(forged, separators=(",", ":")).encode()
    s3.put_object(Bucket=EVIDENCE, Key=key, Body=body,
                  ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())

    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-fresh"))
    verified = ircli(capsys, "evidence", "verify", case_id, "--evidence-bucket", EVIDENCE)
    assert verified.code == 3, verified.out
    assert "changes the recorded state of step isolate" in verified.out
    released = ircli(capsys, "release", lab.suspect, "--case-id", case_id, "--yes",
                     "--evidence-bucket", EVIDENCE, json_output=False)
    assert released.code == 2 and "Traceback" not in released.err
    assert "was rewritten" in released.err and "step isolate" in released.err
    assert state_of(world, lab, lab.suspect)["eni_groups"] == isolated
    assert not (tmp_path / "responder-fresh" / "cases" / case_id).exists()


def test_releasing_the_automation_case_leaves_the_cli_case_of_its_twin_contained(
        world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A (``ircli contain`` on one laptop) and B (the state machine) share the web-tier role,
    so one deny policy names both, written by two writers. Releasing B from a third machine
    takes B out of it and nothing else: A stays denied and isolated."""
    a, b = launch_twins(world.clients, lab)
    world.clients("autoscaling").update_auto_scaling_group(AutoScalingGroupName=lab.asg,
                                                           MaxSize=8)
    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "laptop-a"))
    contained = ircli(capsys, "contain", a, "--yes", "--case-id", "case-a", "--no-snapshot")
    assert contained.code == 0, contained.err
    machine = world.deploy(compiled(world))
    run = world.run(machine, finding_event(b, finding_id="gd-twin-b"))
    assert run.status == "SUCCEEDED", run.why()
    assert deny_names(world.clients("iam"), lab.role) == sorted([a, b])
    a_contained = state_of(world, lab, a)

    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-c"))
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", EVIDENCE)
    plan = ircli(capsys, "release", b, "--dry-run")
    assert plan.code == 0, plan.out + plan.err
    assert json.loads(plan.out)["status"] == "planned"
    assert not (tmp_path / "responder-c" / "cases").exists() or not any(
        (tmp_path / "responder-c" / "cases").iterdir())  # a dry-run copies nothing here
    released = ircli(capsys, "release", b, "--yes")
    assert released.code == 0, released.out + released.err

    assert deny_names(world.clients("iam"), lab.role) == [a]
    assert state_of(world, lab, a) == a_contained
    assert not state_of(world, lab, b)["denied"]


def test_a_finding_back_after_release_contains_afresh_and_keeps_the_release(
        world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GuardDuty updates a finding under the same id while the activity goes on, so the same
    event comes back after a responder released B. The machine contains B again under the
    same case, the released record kept in the target's history (as `ircli contain` keeps
    it), never overwritten: a second responder can still verify and release from the bucket."""
    b = lab.suspect
    machine = world.deploy(compiled(world))
    event = finding_event(b, finding_id="gd-back")
    case_id = case_of("gd-back")
    original = state_of(world, lab, b)
    assert (run := world.run(machine, event)).status == "SUCCEEDED", run.why()
    contained = state_of(world, lab, b)
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", EVIDENCE)
    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-1"))
    assert (first := ircli(capsys, "release", b, "--yes")).code == 0, first.out + first.err
    assert state_of(world, lab, b) == original

    assert (again := world.run(machine, event)).status == "SUCCEEDED", again.why()

    assert state_of(world, lab, b) == contained
    key = f"cases/{case_id}/case.json"
    record = json.loads(world.clients("s3").get_object(Bucket=EVIDENCE, Key=key)["Body"].read())
    target = record["targets"][b]
    assert target["status"] == "contained"
    (released,) = target["history"]
    assert released["status"] == "released" and "undo:isolate" in released["steps"]
    assert all(not k.startswith("undo:") for k in target["steps"])
    verified = ircli(capsys, "evidence", "verify", case_id)
    # Documented: a writer that does not update the CLI's manifest shows until the next ship.
    assert verified.code == 3 and [m.split(": ", 1)[1].split(":")[0] for m in json.loads(
        verified.out)["mismatches"]] == ["overwritten"], verified.out

    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-2"))
    second = ircli(capsys, "release", b, "--yes")
    assert second.code == 0, second.out + second.err
    assert json.loads(second.out)["status"] == "released"
    assert state_of(world, lab, b) == original
    verified = ircli(capsys, "evidence", "verify", case_id)
    assert verified.code == 0, verified.out
