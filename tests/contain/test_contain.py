"""contain against the in-process emulator: assert on the AWS state it leaves behind."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from ircli.core.audit import verify_chain
from ircli.core.errors import ExitCode
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.helpers import aws_state, contain_deny, eni_groups, run_contain, tags

REGION = "us-east-1"


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


def _group_id(ec2: Any, vpc: str, name: str) -> str:
    groups = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}])
    return str(groups["SecurityGroups"][0]["GroupId"])


def test_contain_isolates_every_eni_behind_the_isolation_group(clients: Any,
                                                               lab: WebCompromise) -> None:
    result = run_contain(lab.suspect, case_id="case-1")
    assert result.exit_code == ExitCode.OK, result.data["steps"]
    ec2 = clients("ec2")
    iso = _group_id(ec2, lab.vpc_id, "ircli-isolation-endpoints")
    assert result.data["isolation_group_id"] == iso
    assert eni_groups(ec2, lab.suspect_enis) == {eni: [iso] for eni in lab.suspect_enis}
    group = ec2.describe_security_groups(GroupIds=[iso])["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    [egress] = group["IpPermissionsEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    assert [p["GroupId"] for p in egress["UserIdGroupPairs"]] == [lab.endpoint_sg]
    assert egress["PrefixListIds"] and not egress.get("IpRanges")
    address = ec2.describe_addresses(AllocationIds=[lab.eip_allocation])["Addresses"][0]
    assert "AssociationId" not in address


def test_transition_group_is_applied_before_the_isolation_group(clients: Any,
                                                                lab: WebCompromise) -> None:
    result = run_contain(lab.suspect, case_id="case-1")
    ec2 = clients("ec2")
    trans = _group_id(ec2, lab.vpc_id, "ircli-transition")
    iso = _group_id(ec2, lab.vpc_id, "ircli-isolation-endpoints")
    audit = Path(result.data["case_dir"], "audit.jsonl")
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    moves = [(line["params"]["NetworkInterfaceId"], line["params"]["Groups"])
             for line in lines if line.get("operation") == "ModifyNetworkInterfaceAttribute"]
    for eni in lab.suspect_enis:
        assert [groups for e, groups in moves if e == eni] == [[trans], [iso]]
    changes = [line["operation"] for line in lines if line["event"] == "aws-call"]
    # Out of the Auto Scaling group first (issue 11, item 5), then the groups, then the moves.
    assert changes[:2] == ["DetachInstances", "CreateSecurityGroup"]
    assert verify_chain(audit) == []
    transition = ec2.describe_security_groups(GroupIds=[trans])["SecurityGroups"][0]
    assert any(r["IpProtocol"] == "-1" and {"CidrIp": "0.0.0.0/0"} in r["IpRanges"]
               for r in transition["IpPermissions"])


def test_evidence_is_protected_and_out_of_service(clients: Any, lab: WebCompromise) -> None:
    asg = clients("autoscaling")
    desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])[
        "AutoScalingGroups"][0]["DesiredCapacity"]
    run_contain(lab.suspect, case_id="case-1")
    ec2 = clients("ec2")
    attr = ec2.describe_instance_attribute
    assert attr(InstanceId=lab.suspect, Attribute="disableApiTermination")[
        "DisableApiTermination"]["Value"] is True
    assert attr(InstanceId=lab.suspect, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    assert all(b["Ebs"]["DeleteOnTermination"] is False for b in instance["BlockDeviceMappings"])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])[
        "AutoScalingGroups"][0]
    members = {i["InstanceId"] for i in group["Instances"]}
    assert lab.suspect not in members and lab.neighbour in members
    assert group["DesiredCapacity"] == desired
    targets = {d["Target"]["Id"] for d in clients("elbv2").describe_target_health(
        TargetGroupArn=lab.target_group_arn)["TargetHealthDescriptions"]}
    assert lab.suspect not in targets and lab.neighbour in targets


def test_credentials_cut_only_for_this_instance(clients: Any, lab: WebCompromise) -> None:
    run_contain(lab.suspect, case_id="case-1")
    document = contain_deny(clients("iam"), lab.role)
    statement = document["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"]["StringLike"]["ec2:SourceInstanceARN"] == [
        f"*/{lab.suspect}"]
    assert fnmatch.fnmatchcase(f"arn:aws:ec2:{REGION}:123456789012:instance/{lab.suspect}",
                               f"*/{lab.suspect}")
    assert "ssmmessages:*" in statement["NotAction"]
    assert "ec2messages:*" in statement["NotAction"]
    assert clients("iam").list_role_policies(RoleName=lab.role)["PolicyNames"] == []


def test_tags_and_one_snapshot_per_volume(clients: Any, lab: WebCompromise) -> None:
    result = run_contain(lab.suspect, case_id="case-1")
    ec2 = clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    t = tags(instance)
    assert t["ircli:case-id"] == "case-1" and t["ircli:status"] == "contained"
    assert t["ircli:contained-at"].startswith("2026-11-28T03:00")
    assert t["ircli:contained-by"].startswith("arn:aws:")
    volumes = {b["Ebs"]["VolumeId"]: b["DeviceName"] for b in instance["BlockDeviceMappings"]}
    snapshots = ec2.describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": list(volumes)}])["Snapshots"]
    assert sorted(s["VolumeId"] for s in snapshots) == sorted(volumes)
    for snap in snapshots:
        st = tags(snap)
        assert st["ircli:case-id"] == "case-1"
        assert st["ircli:instance-id"] == lab.suspect
        assert st["ircli:device"] == volumes[snap["VolumeId"]]
    reported = {(s["snapshot_id"], s["volume_id"], s["device"]) for s in result.data["snapshots"]}
    assert reported == {(s["SnapshotId"], s["VolumeId"], volumes[s["VolumeId"]])
                        for s in snapshots}
    encrypted = [s for s in snapshots if s["Encrypted"]]
    assert len(encrypted) == 1


def test_neighbour_is_untouched(clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    before = ec2.describe_instances(InstanceIds=[lab.neighbour])["Reservations"][0]["Instances"][0]
    run_contain(lab.suspect, case_id="case-1")
    after = ec2.describe_instances(InstanceIds=[lab.neighbour])["Reservations"][0]["Instances"][0]
    enis = [n["NetworkInterfaceId"] for n in before["NetworkInterfaces"]]
    assert eni_groups(ec2, enis) == {n["NetworkInterfaceId"]: sorted(
        g["GroupId"] for g in n["Groups"]) for n in before["NetworkInterfaces"]}
    assert tags(after) == tags(before)
    assert ec2.describe_instance_attribute(InstanceId=lab.neighbour,
                                           Attribute="disableApiTermination")[
        "DisableApiTermination"]["Value"] is False


def test_dry_run_changes_nothing_and_shows_the_plan(clients: Any, lab: WebCompromise,
                                                    aws_env: Path) -> None:
    before = aws_state(clients)
    result = run_contain(lab.suspect, dry_run=True)
    assert result.exit_code == ExitCode.OK
    assert result.data["status"] == "planned"
    assert aws_state(clients) == before
    assert not (aws_env / "cases").exists()
    isolate = next(s for s in result.data["steps"] if s["name"] == "isolate")
    assert any("transition" in c for c in isolate["changes"])
    assert all(s["status"] in ("planned", "done") for s in result.data["steps"])


def test_second_contain_creates_nothing_new(clients: Any, lab: WebCompromise) -> None:
    first = run_contain(lab.suspect)
    state = aws_state(clients)
    second = run_contain(lab.suspect)
    assert second.exit_code == ExitCode.OK
    assert second.data["case_id"] == first.data["case_id"]
    assert aws_state(clients) == state
    statuses = {s["name"]: s["status"] for s in second.data["steps"]}
    assert statuses.pop("resolve") == "done"
    assert set(statuses.values()) == {"already-done"}


def test_no_endpoints_allows_nothing_and_says_how_to_opt_in(clients: Any,
                                                            lab: WebCompromise) -> None:
    for endpoint in clients("ec2").describe_vpc_endpoints()["VpcEndpoints"]:
        clients("ec2").delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    result = run_contain(lab.suspect)
    group = clients("ec2").describe_security_groups(
        GroupIds=[result.data["isolation_group_id"]])["SecurityGroups"][0]
    assert group["IpPermissionsEgress"] == []
    assert any("--ssm-egress any" in w for w in result.data["warnings"])


def test_ssm_egress_any_is_a_logged_risk(clients: Any, lab: WebCompromise) -> None:
    result = run_contain(lab.suspect, ssm_egress="any")
    group = clients("ec2").describe_security_groups(
        GroupIds=[result.data["isolation_group_id"]])["SecurityGroups"][0]
    assert group["GroupName"] == "ircli-isolation-any"
    [rule] = group["IpPermissionsEgress"]
    assert rule["FromPort"] == 443 and {"CidrIp": "0.0.0.0/0", "Description":
                                        "ircli live response"} in rule["IpRanges"]
    assert any(w.startswith("RISK") for w in result.data["warnings"])


def test_analyst_group_is_the_only_way_in(clients: Any, lab: WebCompromise) -> None:
    analyst = clients("ec2").create_security_group(GroupName="analyst", Description="a",
                                                   VpcId=lab.vpc_id)["GroupId"]
    result = run_contain(lab.suspect, analyst_sg=analyst)
    group = clients("ec2").describe_security_groups(
        GroupIds=[result.data["isolation_group_id"]])["SecurityGroups"][0]
    assert [p["GroupId"] for r in group["IpPermissions"] for p in r["UserIdGroupPairs"]] == \
        [analyst]
    assert not any(r.get("IpRanges") for r in group["IpPermissions"])
