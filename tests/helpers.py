"""Shared test helpers: read AWS state back, run operations with a fake clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from ircli.cli.main import main
from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.common import RunSummary
from ircli.ops.contain import ContainOptions, contain
from ircli.ops.release import ReleaseOptions, release
from tests.fakes import FakeClock


def run_contain(instance_id: str, clock: FakeClock | None = None, **options: Any) -> RunSummary:
    return contain(AwsSession(AwsSettings()), clock or FakeClock(),
                   ContainOptions(instance_id=instance_id, **options))


def run_release(instance_id: str, clock: FakeClock | None = None, **options: Any) -> RunSummary:
    return release(AwsSession(AwsSettings()), clock or FakeClock(),
                   ReleaseOptions(instance_id=instance_id, **options))


def eni_groups(ec2: Any, eni_ids: list[str]) -> dict[str, list[str]]:
    """Groups per ENI as DescribeNetworkInterfaces reports them (one set per ENI, like AWS)."""
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=eni_ids)["NetworkInterfaces"]
    return {n["NetworkInterfaceId"]: sorted(g["GroupId"] for g in n["Groups"]) for n in found}


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def aws_state(clients: Any) -> dict[str, Any]:
    """A comparable picture of everything containment may change (for 'nothing changed')."""
    ec2, iam = clients("ec2"), clients("iam")
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    return {
        "groups": sorted((g["GroupId"], g["GroupName"], json.dumps(g["IpPermissionsEgress"],
                          sort_keys=True)) for g in ec2.describe_security_groups()[
                              "SecurityGroups"]),
        "enis": sorted((n["NetworkInterfaceId"], tuple(sorted(g["GroupId"] for g in n["Groups"])),
                        n.get("Association", {}).get("PublicIp"))
                       for n in ec2.describe_network_interfaces()["NetworkInterfaces"]),
        "instances": sorted((i["InstanceId"], json.dumps(tags(i), sort_keys=True),
                             i.get("IamInstanceProfile", {}).get("Arn"))
                            for i in instances),
        "snapshots": sorted(s["SnapshotId"] for s in ec2.describe_snapshots(Filters=[
            {"Name": "volume-id", "Values": [v["VolumeId"] for v in ec2.describe_volumes()[
                "Volumes"]]}])["Snapshots"]),
        "role_policies": {r["RoleName"]: iam.list_role_policies(RoleName=r["RoleName"])[
            "PolicyNames"] for r in iam.list_roles()["Roles"]},
        "attached_policies": {r["RoleName"]: sorted(p["PolicyArn"] for p in
                                                    iam.list_attached_role_policies(
                                                        RoleName=r["RoleName"])[
                                                        "AttachedPolicies"])
                              for r in iam.list_roles()["Roles"]},
        "managed_policies": sorted(p["Arn"] for p in iam.list_policies(Scope="Local")[
            "Policies"]),
        "asg": sorted((g["AutoScalingGroupName"], g["DesiredCapacity"],
                       tuple(sorted(i["InstanceId"] for i in g["Instances"])))
                      for g in clients("autoscaling").describe_auto_scaling_groups()[
                          "AutoScalingGroups"]),
        "volume_tags": sorted(json.dumps(tags(v), sort_keys=True)
                              for v in ec2.describe_volumes()["Volumes"]),
    }


@dataclass
class Outcome:
    """What a user sees of one CLI run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.out))


def ircli(capsys: pytest.CaptureFixture[str], *args: str, json_output: bool = True) -> Outcome:
    """``ircli ARGS [-o json]`` through the real entry point, in-process."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, *(["-o", "json"] if json_output else [])])
    captured = capsys.readouterr()
    return Outcome(int(exc.value.code or 0), captured.out, captured.err)


def contain_deny(iam: Any, role: str, account: str = "123456789012") -> dict[str, Any]:
    """The document of ircli's one deny policy on ``role`` (attached), as IAM holds it."""
    from ircli.aws import iam_managed
    from ircli.aws.contain_deny import deny_policy_name

    arn = iam_managed.policy_arn("aws", account, deny_policy_name(role))
    assert iam_managed.is_attached(iam, role, arn), f"{arn} is not attached to {role}"
    document = iam_managed.read(iam, arn)
    assert document is not None
    return document
