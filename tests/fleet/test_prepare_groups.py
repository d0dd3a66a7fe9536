"""contain's prepare phase: each VPC's isolation groups are made once, before any instance is
touched, and a party creating the same group at that moment is handled (another responder's
group adopted and made exact; an attacker's look-alike never used)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ircli.core.session import AwsSession
from ircli.lab.web_compromise import lab_image
from tests.helpers import ircli

REGION = "us-east-1"


pytestmark = pytest.mark.usefixtures("cli_clock")  # settle waits on a fake clock


def _vpc_with_instances(ec2: Any, cidr: str, count: int) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=lab_image(ec2), MinCount=count, MaxCount=count, NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg]}])["Instances"]]
    return vpc, ids


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every EC2 call any ircli session makes, in order (a botocore before-parameter-build hook)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()
    original = AwsSession.__init__

    def hooked(self: AwsSession, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            if not params.get("DryRun"):  # the plans prove permissions with DryRun
                with lock:
                    seen.append((model.name, params))
        self.boto.events.register("before-parameter-build.ec2.*", record)

    monkeypatch.setattr(AwsSession, "__init__", hooked)
    return seen


def _on_first_create(monkeypatch: pytest.MonkeyPatch,
                     act: Callable[[dict[str, Any]], None]) -> None:
    """Run ``act`` once, just before ircli's first CreateSecurityGroup reaches AWS."""
    done = threading.Event()
    original = AwsSession.__init__

    def hooked(self: AwsSession, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)

        def race(params: dict[str, Any], **_: Any) -> None:
            if not params.get("DryRun") and not done.is_set():
                done.set()
                act(params)
        self.boto.events.register("before-parameter-build.ec2.CreateSecurityGroup", race)

    monkeypatch.setattr(AwsSession, "__init__", hooked)


def _ircli_groups(ec2: Any, vpc: str) -> dict[str, dict[str, Any]]:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"]
    return {g["GroupName"]: g for g in groups if g["GroupName"].startswith("ircli-")}


def _on_groups(ec2: Any, ids: list[str]) -> set[tuple[str, ...]]:
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": ids}])["NetworkInterfaces"]
    return {tuple(sorted(g["GroupName"] for g in n["Groups"])) for n in enis}


def test_each_vpcs_groups_are_created_once_before_any_eni_moves(
        clients: Any, calls: list[tuple[str, dict[str, Any]]],
        capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = clients("ec2")
    vpc_a, in_a = _vpc_with_instances(ec2, "10.61", 3)
    vpc_b, in_b = _vpc_with_instances(ec2, "10.62", 3)
    # Three at a time, VPC A's first: without the prepare phase, B's groups would only be
    # created after A's instances had moved.
    out = ircli(capsys, "contain", *in_a, *in_b, "--yes", "--no-snapshot", "--parallel", "3")
    assert out.code == 0, out.err
    names = [name for name, _ in calls]
    creates = [params for name, params in calls if name == "CreateSecurityGroup"]
    assert sorted((c["VpcId"], c["GroupName"]) for c in creates) == sorted(
        (vpc, name) for vpc in (vpc_a, vpc_b)
        for name in ("ircli-isolation-endpoints", "ircli-transition"))
    last_create = max(i for i, n in enumerate(names) if n == "CreateSecurityGroup")
    first_move = names.index("ModifyNetworkInterfaceAttribute")
    assert last_create < first_move
    prepared = out.data["prepared"]
    assert len(prepared) == 1 and prepared[0]["error"] == ""
    assert set(prepared[0]["isolation_groups"]) == {vpc_a, vpc_b}
    for vpc, ids in ((vpc_a, in_a), (vpc_b, in_b)):
        groups = _ircli_groups(ec2, vpc)
        assert sorted(groups) == ["ircli-isolation-endpoints", "ircli-transition"]
        assert _on_groups(ec2, ids) == {("ircli-isolation-endpoints",)}
        assert prepared[0]["isolation_groups"][vpc] == groups[
            "ircli-isolation-endpoints"]["GroupId"]


def test_another_responder_creating_the_same_group_meanwhile_is_adopted_and_made_exact(
        clients: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = clients("ec2")
    vpc, ids = _vpc_with_instances(ec2, "10.63", 3)

    def other_responder(params: dict[str, Any]) -> None:
        # Another ircli, half-way through its own set-up: its group, AWS's default egress.
        boto3.client("ec2", region_name=REGION).create_security_group(
            VpcId=params["VpcId"], GroupName=params["GroupName"],
            Description=params["Description"], TagSpecifications=params["TagSpecifications"])

    _on_first_create(monkeypatch, other_responder)
    out = ircli(capsys, "contain", *ids, "--yes", "--no-snapshot")
    assert out.code == 0, out.err
    assert out.data["prepared"][0]["error"] == ""
    groups = _ircli_groups(ec2, vpc)
    assert sorted(groups) == ["ircli-isolation-endpoints", "ircli-transition"]
    iso = groups["ircli-isolation-endpoints"]
    assert iso["IpPermissions"] == [] and iso["IpPermissionsEgress"] == []
    assert _on_groups(ec2, ids) == {("ircli-isolation-endpoints",)}


def test_an_attackers_look_alike_created_meanwhile_is_never_used(
        clients: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = clients("ec2")
    vpc, ids = _vpc_with_instances(ec2, "10.64", 2)
    planted: dict[str, str] = {}

    def attacker(params: dict[str, Any]) -> None:
        # Plain API calls, no ircli tag, allow-all: what an attacker with ec2 rights plants.
        attacker_ec2 = boto3.client("ec2", region_name=REGION)
        for name in ("ircli-transition", "ircli-isolation-endpoints"):
            group = attacker_ec2.create_security_group(
                VpcId=params["VpcId"], GroupName=name, Description="ircli")["GroupId"]
            attacker_ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            planted[name] = group

    _on_first_create(monkeypatch, attacker)
    out = ircli(capsys, "contain", *ids, "--yes", "--no-snapshot")
    assert out.code == 0, out.err
    assert out.data["prepared"][0]["error"]  # prepare refused the look-alike, said so
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": ids}])["NetworkInterfaces"]
    on = {g["GroupId"] for n in enis for g in n["Groups"]}
    assert not on & set(planted.values())
    assert _on_groups(ec2, ids) == {("ircli-isolation-endpoints-2",)}
    iso = _ircli_groups(ec2, vpc)["ircli-isolation-endpoints-2"]
    assert iso["IpPermissions"] == [] and iso["IpPermissionsEgress"] == []


def test_a_prepare_phase_that_breaks_never_stops_the_containment(
        clients: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from ircli.ops import fleet as ops_fleet

    ec2 = clients("ec2")
    vpc, ids = _vpc_with_instances(ec2, "10.65", 2)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug in the prepare phase")

    monkeypatch.setattr(ops_fleet, "prepare_isolation", broken)
    out = ircli(capsys, "contain", *ids, "--yes", "--no-snapshot", json_output=False)
    assert out.code == 0, out.err
    assert "a bug in the prepare phase" in out.err and "2 of 2 done" in out.out
    assert _on_groups(ec2, ids) == {("ircli-isolation-endpoints",)}
    assert sorted(_ircli_groups(ec2, vpc)) == ["ircli-isolation-endpoints", "ircli-transition"]
