"""Issue 11, items 3 and 4, played as the attacker: look-alike and tampered groups, and a
failure between the two ENI moves. Every assertion reads the end state back from AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from ircli.core.errors import ExitCode
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.ops.common import RunSummary
from ircli.ops.contain import ContainOptions, contain
from tests.fakes import FakeClock
from tests.helpers import eni_groups, run_contain

REGION = "us-east-1"
ALL_V4 = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
MANAGED = [{"ResourceType": "security-group", "Tags": [{"Key": "ircli:managed",
                                                        "Value": "true"}]}]


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


def rules(ec2: Any, group_id: str) -> set[tuple[str, str, Any, Any, str]]:
    """A group's rules as AWS reports them: (direction, protocol, from, to, peer)."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    found = set()
    for direction, key in (("in", "IpPermissions"), ("out", "IpPermissionsEgress")):
        for perm in group[key]:
            ports = (perm.get("FromPort"), perm.get("ToPort"))
            if perm["IpProtocol"] == "-1":
                ports = (None, None)
            peers = [r["CidrIp"] for r in perm.get("IpRanges", [])]
            peers += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
            peers += [r["PrefixListId"] for r in perm.get("PrefixListIds", [])]
            peers += [r["GroupId"] for r in perm.get("UserIdGroupPairs", [])]
            found |= {(direction, perm["IpProtocol"], *ports, p) for p in peers}
    return found


def s3_prefix_list(ec2: Any) -> str:
    return str(ec2.describe_managed_prefix_lists(Filters=[{
        "Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}])[
        "PrefixLists"][0]["PrefixListId"])


def isolation_rules(ec2: Any, lab: WebCompromise) -> set[tuple[str, str, Any, Any, str]]:
    """Exactly what ircli-isolation-endpoints must hold in the lab: 443 out to the endpoints."""
    return {("out", "tcp", 443, 443, lab.endpoint_sg), ("out", "tcp", 443, 443,
                                                          s3_prefix_list(ec2))}


TRANSITION_RULES = {("in", "-1", None, None, "0.0.0.0/0"), ("in", "-1", None, None, "::/0"),
                    ("out", "-1", None, None, "0.0.0.0/0"), ("out", "-1", None, None, "::/0")}


def group_named(ec2: Any, vpc: str, name: str) -> dict[str, Any]:
    [group] = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}])[
        "SecurityGroups"]
    return dict(group)


def moves(result: RunSummary) -> list[tuple[str, list[str]]]:
    lines = [json.loads(line) for line in
             Path(result.data["case_dir"], "audit.jsonl").read_text().splitlines()]
    return [(line["params"]["NetworkInterfaceId"], line["params"]["Groups"]) for line in lines
            if line.get("operation") == "ModifyNetworkInterfaceAttribute" and not line["error"]]


# -- item 3: never trust a group by its name ---------------------------------------------------
def test_look_alike_groups_are_never_used(clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    # The attacker's groups: an allow-all "isolation" group, a transition group open one way.
    fake_iso = ec2.create_security_group(GroupName="ircli-isolation-endpoints", VpcId=lab.vpc_id,
                                         Description="ircli isolation")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=fake_iso, IpPermissions=ALL_V4)
    fake_trans = ec2.create_security_group(GroupName="ircli-transition", VpcId=lab.vpc_id,
                                           Description="ircli transition")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=fake_trans, IpPermissions=ALL_V4)
    ec2.revoke_security_group_egress(GroupId=fake_trans, IpPermissions=ALL_V4)

    result = run_contain(lab.suspect, case_id="case-1")

    assert result.exit_code == ExitCode.OK, result.data["steps"]
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints-2")
    trans = group_named(ec2, lab.vpc_id, "ircli-transition-2")
    assert result.data["isolation_group_id"] == iso["GroupId"]
    assert eni_groups(ec2, lab.suspect_enis) == {e: [iso["GroupId"]] for e in lab.suspect_enis}
    assert rules(ec2, iso["GroupId"]) == isolation_rules(ec2, lab)
    assert rules(ec2, trans["GroupId"]) == TRANSITION_RULES
    assert [groups for _eni, groups in moves(result)][:1] == [[trans["GroupId"]]]
    warned = " ".join(result.data["warnings"])
    assert fake_iso in warned and fake_trans in warned and "not trusted" in warned
    # The attacker's groups are evidence: left exactly as they were.
    assert rules(ec2, fake_iso) == {("in", "-1", None, None, "0.0.0.0/0"),
                                    ("out", "-1", None, None, "0.0.0.0/0")}
    assert rules(ec2, fake_trans) == {("in", "-1", None, None, "0.0.0.0/0")}


def test_a_suspect_parked_in_a_look_alike_group_is_still_contained(clients: Any,
                                                                  lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    # The attacker moves its own ENIs into an allow-all group named like ircli's.
    fake = ec2.create_security_group(GroupName="ircli-isolation-endpoints", VpcId=lab.vpc_id,
                                     Description="ircli isolation")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=fake, IpPermissions=ALL_V4)
    for eni in lab.suspect_enis:
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[fake])

    result = run_contain(lab.suspect, case_id="case-1", snapshot=False)

    assert result.exit_code == ExitCode.OK, result.data["steps"]
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints-2")["GroupId"]
    assert eni_groups(ec2, lab.suspect_enis) == {e: [iso] for e in lab.suspect_enis}
    assert rules(ec2, iso) == isolation_rules(ec2, lab)
    assert any("named like ircli's" in w for w in result.data["warnings"])


def test_tampered_ircli_groups_are_repaired_before_use(clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    # Groups that carry ircli's tag (ircli made them, or someone copied the tag) but extra
    # rules: ssh from anywhere on the isolation group, no outbound on the transition group.
    iso = ec2.create_security_group(GroupName="ircli-isolation-endpoints", VpcId=lab.vpc_id,
                                    Description="x", TagSpecifications=MANAGED)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=iso, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    trans = ec2.create_security_group(GroupName="ircli-transition", VpcId=lab.vpc_id,
                                      Description="x", TagSpecifications=MANAGED)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=trans, IpPermissions=ALL_V4)
    ec2.revoke_security_group_egress(GroupId=trans, IpPermissions=ALL_V4)

    plan = run_contain(lab.suspect, dry_run=True)
    isolate = next(s for s in plan.data["steps"] if s["name"] == "isolate")
    assert any("remove ingress rule tcp/22 0.0.0.0/0" in c for c in isolate["changes"])
    assert any("remove egress rule all traffic 0.0.0.0/0" in c for c in isolate["changes"])
    assert rules(ec2, iso) != isolation_rules(ec2, lab)  # the dry-run repaired nothing

    result = run_contain(lab.suspect, case_id="case-1")

    assert result.exit_code == ExitCode.OK, result.data["steps"]
    assert result.data["isolation_group_id"] == iso
    assert eni_groups(ec2, lab.suspect_enis) == {e: [iso] for e in lab.suspect_enis}
    assert rules(ec2, iso) == isolation_rules(ec2, lab)
    assert rules(ec2, trans) == TRANSITION_RULES
    assert sum("repaired before use" in w for w in result.data["warnings"]) == 2


def test_a_group_of_the_same_name_in_another_vpc_is_irrelevant(clients: Any,
                                                               lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    other = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="ircli-isolation-endpoints", VpcId=other,
                                          Description="x", TagSpecifications=MANAGED)["GroupId"]
    result = run_contain(lab.suspect, case_id="case-1")
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints")["GroupId"]
    assert iso != elsewhere and result.data["isolation_group_id"] == iso
    assert not any("ircli-isolation" in w for w in result.data["warnings"])
    assert rules(ec2, elsewhere) == {("out", "-1", None, None, "0.0.0.0/0")}


# -- item 4: never leave the instance more open than it was --------------------------------------
def contain_with_fault(instance_id: str, fail: Any, clock: FakeClock | None = None) -> RunSummary:
    """contain, with ``fail(params)`` deciding per ModifyNetworkInterfaceAttribute call whether
    AWS answers with an error code instead (None: the call goes through)."""
    aws = AwsSession(AwsSettings())

    def decide(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["inject"] = fail(params)

    def answer(context: dict[str, Any], **_: Any) -> Any:
        code = context.get("inject")
        if code is None:
            return None
        return (mock.Mock(status_code=400), {"Error": {"Code": code, "Message": "injected"}})

    event = "ec2.ModifyNetworkInterfaceAttribute"
    aws.boto.events.register(f"before-parameter-build.{event}", decide)
    aws.boto.events.register(f"before-call.{event}", answer)
    return contain(aws, clock or FakeClock(), ContainOptions(instance_id=instance_id,
                                                             case_id="case-1", snapshot=False))


def group_name(ec2: Any, group_id: str) -> str:
    return str(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0][
        "GroupName"])


def test_failed_isolation_move_puts_the_eni_back_on_its_groups(clients: Any,
                                                               lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    original = eni_groups(ec2, lab.suspect_enis)
    first = lab.suspect_enis[0]

    def fail(params: dict[str, Any]) -> str | None:
        to_isolation = group_name(ec2, params["Groups"][0]).startswith("ircli-isolation")
        return "UnauthorizedOperation" if params["NetworkInterfaceId"] == first and \
            to_isolation else None

    result = contain_with_fault(lab.suspect, fail)

    assert result.exit_code == ExitCode.NOT_CONTAINED
    after = eni_groups(ec2, lab.suspect_enis)
    assert after[first] == original[first]  # not the allow-all transition group
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints")["GroupId"]
    assert after[lab.suspect_enis[1]] == [iso]  # the other ENI is isolated all the same
    assert any(w.startswith("ROLLED BACK") and first in w for w in result.data["warnings"])
    isolate = next(s for s in result.data["steps"] if s["name"] == "isolate")
    assert isolate["status"] == "failed" and "NOT isolated" in isolate["detail"]


def test_failed_rollback_says_how_to_close_the_eni_by_hand(clients: Any,
                                                          lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    first = lab.suspect_enis[0]

    def fail(params: dict[str, Any]) -> str | None:
        name = group_name(ec2, params["Groups"][0])
        return None if name == "ircli-transition" or params["NetworkInterfaceId"] != first \
            else "InternalError"

    result = contain_with_fault(lab.suspect, fail)
    assert result.exit_code == ExitCode.NOT_CONTAINED
    [danger] = [w for w in result.data["warnings"] if w.startswith("DANGER")]
    assert f"--network-interface-id {first}" in danger


def test_groups_exist_before_the_first_move_and_each_eni_moves_back_to_back(
        clients: Any, lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    attempts: list[str] = []
    clock = FakeClock()

    def fail(params: dict[str, Any]) -> str | None:
        # A new group is not visible everywhere at once: the first two moves are refused.
        attempts.append(params["NetworkInterfaceId"])
        return "InvalidGroup.NotFound" if len(attempts) <= 2 else None

    result = contain_with_fault(lab.suspect, fail, clock)

    assert result.exit_code == ExitCode.OK, result.data["steps"]
    assert clock.slept  # retried with the injected sleep, no real waiting
    trans = group_named(ec2, lab.vpc_id, "ircli-transition")["GroupId"]
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints")["GroupId"]
    e0, e1 = lab.suspect_enis
    assert moves(result) == [(e0, [trans]), (e0, [iso]), (e1, [trans]), (e1, [iso])]
    lines = [json.loads(line) for line in
             Path(result.data["case_dir"], "audit.jsonl").read_text().splitlines()]
    calls = [line["operation"] for line in lines if line["event"] == "aws-call"]
    first_move = calls.index("ModifyNetworkInterfaceAttribute")
    assert calls[:first_move].count("CreateSecurityGroup") == 2


# -- item 5: out of the Auto Scaling group before isolation -----------------------------------
def asg_members(clients: Any, lab: WebCompromise) -> tuple[set[str], int]:
    group = clients("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])[
        "AutoScalingGroups"][0]
    return {i["InstanceId"] for i in group["Instances"]}, int(group["DesiredCapacity"])


def test_detach_from_the_asg_comes_before_the_first_eni_move(clients: Any,
                                                             lab: WebCompromise) -> None:
    _members, desired = asg_members(clients, lab)
    result = run_contain(lab.suspect, case_id="case-1")
    lines = [json.loads(line) for line in
             Path(result.data["case_dir"], "audit.jsonl").read_text().splitlines()]
    calls = [line["operation"] for line in lines if line["event"] == "aws-call"]
    assert calls.index("DetachInstances") < calls.index("ModifyNetworkInterfaceAttribute")
    assert calls.count("DetachInstances") == 1
    members, after = asg_members(clients, lab)
    assert lab.suspect not in members and lab.neighbour in members and after == desired


def test_a_failed_detach_never_stops_isolation_and_is_retried(clients: Any,
                                                              lab: WebCompromise) -> None:
    ec2 = clients("ec2")
    aws = AwsSession(AwsSettings())
    refused: list[int] = []

    def refuse_once(context: dict[str, Any], **_: Any) -> Any:
        if refused:
            return None
        refused.append(1)
        return (mock.Mock(status_code=400), {"Error": {"Code": "ScalingActivityInProgress",
                                                       "Message": "injected"}})

    aws.boto.events.register("before-call.autoscaling.DetachInstances", refuse_once)
    result = contain(aws, FakeClock(), ContainOptions(instance_id=lab.suspect, snapshot=False))
    statuses = {s["name"]: s["status"] for s in result.data["steps"]}
    assert statuses["leave-asg"] == "failed" and statuses["isolate"] == "done"
    assert result.exit_code == ExitCode.PARTIAL
    iso = group_named(ec2, lab.vpc_id, "ircli-isolation-endpoints")["GroupId"]
    assert eni_groups(ec2, lab.suspect_enis) == {e: [iso] for e in lab.suspect_enis}
    assert any("TERMINATE" in w for w in result.data["warnings"])
    members, _desired = asg_members(clients, lab)
    assert lab.suspect not in members  # remove-from-service detached it after all
