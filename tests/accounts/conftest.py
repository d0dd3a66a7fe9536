"""A small organisation: the central account (moto's default) and two members, two regions.

moto keeps each account's resources apart when a role is assumed into it (its AssumeRole
neither checks that the role exists nor that it trusts the caller, so the roles are created
anyway, as AWS needs them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ircli.lab.web_compromise import lab_image
from tests.conftest import boto_session

CENTRAL = "123456789012"
MEMBER_A = "111111111111"
MEMBER_B = "222222222222"
ROLE = "ircli-responder"
REGIONS = ("us-east-1", "eu-west-1")


def _trust(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]})


def member_session(account: str, region: str = REGIONS[0]) -> boto3.Session:
    """What an administrator of ``account`` would use to seed it (the role's credentials)."""
    creds = boto_session(region_name=region).client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")["Credentials"]
    return boto_session(aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"], region_name=region)


MemberClients = Callable[[str, str, str], Any]


@pytest.fixture
def org(moto_aws: None) -> MemberClients:
    """``org(account, service, region)``: a client acting in that member account."""
    for account in (MEMBER_A, MEMBER_B):
        member_session(account).client("iam").create_role(
            RoleName=ROLE, AssumeRolePolicyDocument=_trust(CENTRAL))
    return lambda account, service, region=REGIONS[0]: member_session(
        account, region).client(service)


def run_instance(ec2: Any, private_ip: str | None = None) -> str:
    """One instance in its own VPC, its groups on the interface (see the README's moto notes)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    interface: dict[str, Any] = {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group]}
    if private_ip:
        interface["PrivateIpAddress"] = private_ip
    return str(ec2.run_instances(ImageId=lab_image(ec2), MinCount=1, MaxCount=1,
                                 NetworkInterfaces=[interface])["Instances"][0]["InstanceId"])
