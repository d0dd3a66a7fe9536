"""Containing several instances of one VPC at the same time: each its own case, one set of
groups, nothing failing because another responder created the same group a moment ago."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ircli.core.errors import ExitCode
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import lab_image
from ircli.ops.common import RunSummary
from ircli.ops.contain import ContainOptions, contain
from tests.fakes import FakeClock
from tests.helpers import eni_groups


def _contain_with_latency(instance_id: str) -> RunSummary:
    """Each call waits 20 ms, like a round trip, so the responders really overlap."""
    aws = AwsSession(AwsSettings())
    aws.boto.events.register("before-send.*.*", lambda **_: time.sleep(0.02))
    return contain(aws, FakeClock(), ContainOptions(instance_id=instance_id, snapshot=False))


def test_concurrent_containment_in_one_vpc(clients: Any) -> None:
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    instances = ec2.run_instances(ImageId=lab_image(ec2), MinCount=4, MaxCount=4,
                                  NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet,
                                                      "Groups": [sg]}])["Instances"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: _contain_with_latency(i["InstanceId"]), instances))
    assert [r.exit_code for r in results] == [ExitCode.OK] * 4, \
        [[s["detail"] for s in r.data["steps"] if s["status"] == "failed"] for r in results]
    assert len({r.data["case_id"] for r in results}) == 4
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"]
    names = sorted(g["GroupName"] for g in groups if g["GroupName"].startswith("ircli-"))
    assert names == ["ircli-isolation-endpoints", "ircli-transition"]
    iso = next(g for g in groups if g["GroupName"] == "ircli-isolation-endpoints")
    assert iso["IpPermissionsEgress"] == [] and iso["IpPermissions"] == []
    enis = [i["NetworkInterfaces"][0]["NetworkInterfaceId"] for i in instances]
    assert set(map(tuple, eni_groups(ec2, enis).values())) == {(iso["GroupId"],)}
