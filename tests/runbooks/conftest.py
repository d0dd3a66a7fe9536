"""Fixtures for runbooks, block-ip and triage: a collect stand-in, the CLI, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ircli.core.engine import RunContext
from ircli.core.step import STEPS, Step, StepPlan

SHIPPED = Path(__file__).resolve().parents[2] / "runbooks"
FINDINGS = Path(__file__).parent / "findings"


class CollectStandIn(Step):
    """Stand-in for `collect` where no SSM agent answers: changes nothing, counts its runs."""

    name = "collect"
    runbook_targets = ("instance",)
    title = "Collect live evidence (test stand-in)"
    permissions = ()

    def plan(self, ctx: RunContext) -> StepPlan:
        ctx.facts.setdefault("collect_planned", 0)
        ctx.facts["collect_planned"] += 1
        return StepPlan(notes=["stand-in: nothing collected"])


@pytest.fixture
def collect_stand_in() -> Iterator[type[Step]]:
    """The stand-in in place of ``collect`` even once it is registered: runbooks that collect
    are *run* here on the in-process emulator, where no SSM agent answers (the live-response
    tests cover collection with the agent substitute)."""
    real = STEPS.get("collect")
    STEPS["collect"] = CollectStandIn
    try:
        yield CollectStandIn
    finally:
        if real is None:
            STEPS.pop("collect", None)
        else:
            STEPS["collect"] = real


@dataclass
class Network:
    vpc: str
    default_acl: str
    custom_acl: str
    subnets: list[str]  # two on the default ACL, the last on the custom one
    ipv6_range: str


def entries(ec2: Any, acl: str) -> set[tuple[int, bool, str, str]]:
    found = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    return {(e["RuleNumber"], e["Egress"], e["RuleAction"],
             e.get("CidrBlock") or e.get("Ipv6CidrBlock")) for e in found}


def block_tags(ec2: Any, acl: str) -> dict[str, str]:
    found = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0].get("Tags", [])
    return {t["Key"]: t["Value"] for t in found if t["Key"].startswith("ircli:block:")}


@pytest.fixture
def network(clients: Any) -> Network:
    """A dual-stack VPC; one subnet sits behind a custom ACL that already has entries."""
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    vpc_id = vpc["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.30.{i}.0/24")["Subnet"]["SubnetId"]
               for i in range(3)]
    default = ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}])[
        "NetworkAcls"][0]["NetworkAclId"]
    custom = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for rule, egress, action, block in ((10, False, "allow", "198.51.100.0/24"),
                                        (50, False, "deny", "203.0.113.0/24"),
                                        (51, True, "allow", "0.0.0.0/0"),
                                        (100, False, "allow", "0.0.0.0/0")):
        ec2.create_network_acl_entry(NetworkAclId=custom, RuleNumber=rule, Protocol="-1",
                                     RuleAction=action, Egress=egress, CidrBlock=block)
    association = next(a["NetworkAclAssociationId"] for a in ec2.describe_network_acls(
        NetworkAclIds=[default])["NetworkAcls"][0]["Associations"] if a["SubnetId"] == subnets[2])
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=custom)
    ipv6 = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0][
        "Ipv6CidrBlock"]
    return Network(vpc_id, default, custom, subnets, ipv6)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path
