"""The compiled ssh-brute-force: deny the attacker's address in the attacked subnet's network
ACL, wait, lift exactly that entry; a second finding for the same address adds nothing."""

from __future__ import annotations

import json
from typing import Any

from ircli.automation.compiler import compile_runbook
from ircli.runbook.library import get_runbook
from tests.automation.conftest import Sfn, finding_event

ATTACKER = "198.51.100.7"


def brute_force(instance_id: str, finding_id: str, address: str = ATTACKER,
                wait_seconds: int | None = 5) -> dict[str, Any]:
    event = finding_event(instance_id, finding_id=finding_id,
                          finding_type="UnauthorizedAccess:EC2/SSHBruteForce")
    event["detail"]["resource"]["instanceDetails"]["instanceId"] = instance_id
    event["detail"]["service"] = {"resourceRole": "TARGET", "action": {
        "actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
            "connectionDirection": "INBOUND", "localPortDetails": {"port": 22},
            "remoteIpDetails": {"ipAddressV4": address}}}}
    if wait_seconds is not None:
        event["ircli"] = {"wait_seconds": wait_seconds}
    return event


def victim(sfn_world: Sfn) -> tuple[str, str]:
    ec2 = sfn_world.clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)[
        "Instances"][0]["InstanceId"]
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id",
                                              "Values": [subnet]}])["NetworkAcls"][0]
    return instance, acl["NetworkAclId"]


def denies(sfn_world: Sfn, acl: str, address: str = ATTACKER) -> list[tuple[int, bool]]:
    found = sfn_world.clients("ec2").describe_network_acls(NetworkAclIds=[acl])[
        "NetworkAcls"][0]
    return sorted((e["RuleNumber"], e["Egress"]) for e in found["Entries"]
                  if e.get("CidrBlock") == f"{address}/32" and e["RuleAction"] == "deny")


def machine(sfn_world: Sfn) -> str:
    compiled = compile_runbook(get_runbook("ssh-brute-force"), bucket=sfn_world.bucket,
                               topic_arn=sfn_world.topic_arn)
    return sfn_world.deploy(compiled)


def test_the_address_is_denied_during_the_wait_and_lifted_after(sfn_world: Sfn) -> None:
    instance, acl = victim(sfn_world)
    during: list[list[tuple[int, bool]]] = []
    sfn_world.emulator.during_wait = lambda: during.append(denies(sfn_world, acl))

    run = sfn_world.run(machine(sfn_world), brute_force(instance, "gd-ssh-1"))

    assert run.status == "SUCCEEDED", run.why()
    assert during == [[(50, False), (50, True)]]  # in and out, ircli's first rule number
    assert sfn_world.emulator.waits == [5]  # the input's shorter wait, not 24 h
    assert denies(sfn_world, acl) == []
    tags = sfn_world.clients("ec2").describe_network_acls(NetworkAclIds=[acl])[
        "NetworkAcls"][0].get("Tags", [])
    assert not [t for t in tags if t["Key"].startswith("ircli:block:")]
    case = next(json.loads(v) for k, v in sfn_world.objects("cases/").items()
                if k.endswith("case.json"))
    record = case["targets"][f"ip/{ATTACKER}"]
    assert record["steps"]["block-ip"]["before"]["rule"]["n"] == 50
    assert record["status"] == "lifted"


def test_the_runbook_waits_24_hours_unless_told_otherwise(sfn_world: Sfn) -> None:
    instance, _acl = victim(sfn_world)
    run = sfn_world.run(machine(sfn_world), brute_force(instance, "gd-ssh-day",
                                                         wait_seconds=None))
    assert run.status == "SUCCEEDED", run.why()
    assert sfn_world.emulator.waits == [24 * 3600]


def test_a_second_finding_for_the_same_address_adds_no_second_entry(sfn_world: Sfn) -> None:
    instance, acl = victim(sfn_world)
    arn = machine(sfn_world)
    seen: list[list[tuple[int, bool]]] = []
    second: list[Any] = []

    def during_wait() -> None:
        seen.append(denies(sfn_world, acl))
        if not second:  # the same attacker again, found again, while the first block stands
            second.append(None)
            second[0] = sfn_world.run(arn, brute_force(instance, "gd-ssh-2"))

    sfn_world.emulator.during_wait = during_wait
    first = sfn_world.run(arn, brute_force(instance, "gd-ssh-1"))

    assert first.status == "SUCCEEDED", first.why()
    assert second[0].status == "SUCCEEDED", second[0].why()
    assert seen == [[(50, False), (50, True)]] * 2  # one pair while each execution waited
    assert denies(sfn_world, acl) == []


def test_a_private_address_is_never_blocked(sfn_world: Sfn) -> None:
    """A finding naming an address of the VPC's own range must not cut the VPC off."""
    instance, acl = victim(sfn_world)
    run = sfn_world.run(machine(sfn_world), brute_force(instance, "gd-ssh-inside",
                                                         address="10.40.1.9"))
    assert run.status == "FAILED" and "resolve_network.Refused" in (run.states or [])
    assert denies(sfn_world, acl, "10.40.1.9") == []
    failure = next(json.loads(v) for k, v in sfn_world.objects("cases/").items()
                   if k.endswith("failure.json"))
    assert failure["error"]["Error"] == "ircli.PrivateAddress"
