"""The real CLI against a moto server over HTTP: what a responder and a playbook see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.lab.web_compromise import lab_image, seed_web_compromise
from tests.helpers import aws_state, contain_deny, eni_groups, tags

pytestmark = pytest.mark.e2e


def test_contain_then_release_through_the_cli(ircli: Any, server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    ec2 = server_clients("ec2")
    original = eni_groups(ec2, lab.suspect_enis)
    neighbour_before = _neighbour(server_clients, lab)
    desired_before = _asg(server_clients, lab)["DesiredCapacity"]

    plan = ircli("contain", lab.suspect, "--dry-run", "--output", "json")
    assert plan.code == 0, plan.stderr
    assert plan.json()["status"] == "planned"

    result = ircli("contain", lab.suspect, "--yes", "--case-id", "ir-e2e-1", "-o", "json",
                   "--reason", "GuardDuty: Backdoor:EC2/C&CActivity.B")
    assert result.code == 0, result.stderr
    data = result.json()  # stdout carries exactly one JSON document
    assert data["status"] == "contained"
    assert data["case_id"] == "ir-e2e-1" and data["instance_id"] == lab.suspect
    assert data["region"] == "us-east-1"
    assert {s["device"] for s in data["snapshots"]} == {"/dev/xvda", "/dev/sdf", "/dev/sdg"}
    assert all({"name", "status", "seconds", "detail"} <= set(s) for s in data["steps"])
    assert Path(data["case_dir"], "case.json").exists()
    iso = data["isolation_group_id"]
    assert eni_groups(ec2, lab.suspect_enis) == {eni: [iso] for eni in lab.suspect_enis}
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    assert tags(instance)["ircli:status"] == "contained"
    assert tags(instance)["ircli:case-id"] == "ir-e2e-1"
    assert "Traceback" not in result.stderr
    _assert_contained_state(server_clients, lab, data, desired_before)

    state = aws_state(server_clients)
    again = ircli("contain", lab.suspect, "--yes", "-o", "json")
    assert again.code == 0 and again.json()["case_id"] == "ir-e2e-1"
    assert aws_state(server_clients) == state

    assert _neighbour(server_clients, lab) == neighbour_before

    released = ircli("release", lab.suspect, "--yes", "-o", "json")
    assert released.code == 0, released.stderr
    assert eni_groups(ec2, lab.suspect_enis) == original

    listed = ircli("case", "list", "-o", "json")
    assert [c["case_id"] for c in listed.json()["cases"]] == ["ir-e2e-1"]
    shown = ircli("case", "show", "ir-e2e-1", "-o", "json").json()
    assert shown["targets"][lab.suspect]["status"] == "released"


def _asg(clients: Any, lab: Any) -> dict[str, Any]:
    return dict(clients("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[lab.asg])["AutoScalingGroups"][0])


def _targets(clients: Any, lab: Any) -> set[str]:
    return {d["Target"]["Id"] for d in clients("elbv2").describe_target_health(
        TargetGroupArn=lab.target_group_arn)["TargetHealthDescriptions"]}


def _neighbour(clients: Any, lab: Any) -> dict[str, Any]:
    """Everything about the healthy neighbour that containment of the suspect could touch."""
    ec2 = clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[lab.neighbour])["Reservations"][0][
        "Instances"][0]
    enis = [n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]]
    return {"groups": eni_groups(ec2, enis), "tags": tags(instance),
            "in_asg": lab.neighbour in {i["InstanceId"] for i in _asg(clients, lab)["Instances"]},
            "in_target_group": lab.neighbour in _targets(clients, lab),
            "protected": ec2.describe_instance_attribute(
                InstanceId=lab.neighbour, Attribute="disableApiTermination")[
                    "DisableApiTermination"]["Value"]}


def _assert_contained_state(clients: Any, lab: Any, data: dict[str, Any],
                            desired_before: int) -> None:
    """The acceptance list of the contain issue, read back from the emulator over HTTP."""
    ec2 = clients("ec2")
    audit = [json.loads(line) for line in
             Path(data["case_dir"], "audit.jsonl").read_text().splitlines()]
    moves = [line["params"]["Groups"] for line in audit
             if line.get("operation") == "ModifyNetworkInterfaceAttribute"]
    assert len(moves) == 4 and moves[0] != [data["isolation_group_id"]]
    assert moves[-1] == [data["isolation_group_id"]]  # transition first, isolation last
    attr = ec2.describe_instance_attribute
    assert attr(InstanceId=lab.suspect, Attribute="disableApiTermination")[
        "DisableApiTermination"]["Value"] is True
    assert attr(InstanceId=lab.suspect, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    assert all(not b["Ebs"]["DeleteOnTermination"] for b in instance["BlockDeviceMappings"])
    asg = _asg(clients, lab)
    assert lab.suspect not in {i["InstanceId"] for i in asg["Instances"]}
    assert asg["DesiredCapacity"] == desired_before
    assert lab.suspect not in _targets(clients, lab)
    policy = {"PolicyDocument": contain_deny(clients("iam"), lab.role)}
    assert f"*/{lab.suspect}" in json.dumps(policy["PolicyDocument"])
    volumes = [b["Ebs"]["VolumeId"] for b in instance["BlockDeviceMappings"]]
    snaps = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": volumes}])[
        "Snapshots"]
    assert sorted(s["VolumeId"] for s in snaps) == sorted(volumes)
    assert all(tags(s)["ircli:case-id"] == "ir-e2e-1" and tags(s).get("ircli:device")
               for s in snaps)


def test_text_mode_prints_a_summary_for_the_ticket(ircli: Any, server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    result = ircli("contain", lab.suspect, "--yes", "--no-snapshot")
    assert result.code == 0, result.stderr
    assert "Time to isolation:" in result.stdout
    assert "web-1" in result.stdout  # the Name beside the id
    assert "Isolate the network" in result.stderr  # the live step list goes to stderr


def _one_clear_error(result: Any, code: int, words: str) -> None:
    assert result.code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert words in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ircli: error: ")]
    assert len(errors) == 1, result.stderr


@pytest.mark.parametrize("bad_id", ["i-123", "sg-0123456789abcdef0", "I-0123456789ABCDEF0"])
def test_malformed_instance_id(ircli: Any, endpoint: str, bad_id: str) -> None:
    _one_clear_error(ircli("contain", bad_id, "--yes"), 2, "is not an EC2 instance id")


def test_unknown_instance(ircli: Any, endpoint: str) -> None:
    _one_clear_error(ircli("contain", "i-0123456789abcdef0", "--yes"), 2,
                     "was not found in region us-east-1")


def test_terminated_instance(ircli: Any, server_clients: Any) -> None:
    ec2 = server_clients("ec2")
    image = lab_image(ec2)
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[iid])
    _one_clear_error(ircli("contain", iid, "--yes"), 2, "nothing left to contain")


def test_no_credentials(ircli: Any, endpoint: str, tmp_path: Path) -> None:
    result = ircli("contain", "i-0123456789abcdef0", "--yes",
                   unset=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    _one_clear_error(result, 2, "No AWS credentials were found")


def test_no_region(ircli: Any, endpoint: str) -> None:
    result = ircli("contain", "i-0123456789abcdef0", "--yes",
                   unset=("AWS_DEFAULT_REGION", "AWS_REGION"))
    _one_clear_error(result, 2, "No AWS region is set")


def test_no_terminal_and_no_yes_refuses(ircli: Any, server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    state = aws_state(server_clients)
    _one_clear_error(ircli("contain", lab.suspect), 2, "pass --yes".replace("pass", "Pass"))
    assert aws_state(server_clients) == state


def test_json_errors_are_one_document(ircli: Any, endpoint: str) -> None:
    result = ircli("contain", "i-bad", "--yes", "-o", "json")
    assert result.code == 2
    assert json.loads(result.stdout)["error"]["type"] == "InvalidInput"


def test_release_of_never_contained(ircli: Any, server_clients: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    _one_clear_error(ircli("release", lab.neighbour, "--yes"), 2, "never contained")
