"""The SSM channel the deny leaves open serves the instance, not a thief holding its keys.

A thief who copied the instance's role credentials could otherwise use the exempt SSM agent
actions from anywhere: read the command ircli sends (with its presigned upload URL) and forge
the reply. moto does not evaluate the conditions of a role's policies, so this test reads the
statements and evaluates them with :func:`tests.iam_shim.denies`, as AWS's documentation of
the keys says IAM does.
"""

from __future__ import annotations

from ircli.aws.iam_policies import SSM_AGENT_CHANNEL, contain_deny
from tests.iam_shim import denies

SUSPECT = "i-0123456789abcdef0"
ARN = f"arn:aws:ec2:us-east-1:123456789012:instance/{SUSPECT}"
POLICY = contain_deny([SUSPECT, "i-0fedcba9876543210"])

# Request context keys: the credential's own (from the instance it was delivered to) and the
# network path's (present only through a VPC endpoint).
CREDENTIAL = {"ec2:SourceInstanceARN": ARN, "aws:EC2InstanceSourceVPC": "vpc-suspect",
              "aws:EC2InstanceSourcePrivateIPv4": "10.20.1.15"}
FROM_THE_INSTANCE = {**CREDENTIAL, "aws:SourceVpc": "vpc-suspect", "aws:VpcSourceIp": "10.20.1.15"}
CHANNEL = ("ssm:UpdateInstanceInformation", "ssmmessages:OpenControlChannel",
           "ec2messages:GetMessages", "ec2messages:SendReply")


def test_the_statements_carry_the_documented_conditions() -> None:
    by_sid = {s["Sid"]: s for s in POLICY["Statement"]}
    assert len(by_sid) == 4 and all(s["Effect"] == "Deny" for s in by_sid.values())
    listed = {"ec2:SourceInstanceARN": [f"*/{SUSPECT}", "*/i-0fedcba9876543210"]}
    for statement in by_sid.values():
        assert statement["Condition"]["StringLike"] == listed
        assert statement["Resource"] == "*"
    assert by_sid["IrcliDenyStolenInstanceCredentials"]["NotAction"] == list(SSM_AGENT_CHANNEL)
    channel = [s for s in by_sid.values() if "Action" in s]
    assert all(s["Action"] == list(SSM_AGENT_CHANNEL) for s in channel)
    conditions = [{k: v for k, v in s["Condition"].items() if k != "StringLike"}
                  for s in channel]
    assert {"StringNotEquals": {"aws:EC2InstanceSourceVPC": "${aws:SourceVpc}"}} in conditions
    assert {"StringNotEquals": {
        "aws:EC2InstanceSourcePrivateIPv4": "${aws:VpcSourceIp}"}} in conditions
    assert {"Null": {"aws:SourceVpc": "true"}} in conditions


def test_the_instance_keeps_its_channel_and_nothing_else() -> None:
    assert not any(denies(POLICY, action, FROM_THE_INSTANCE) for action in CHANNEL)
    assert denies(POLICY, "s3:GetObject", FROM_THE_INSTANCE)
    assert denies(POLICY, "ssm:SendCommand", FROM_THE_INSTANCE)


def test_a_thief_on_the_internet_is_refused_the_channel() -> None:
    stolen = dict(CREDENTIAL)  # public endpoint: no aws:SourceVpc, no aws:VpcSourceIp
    assert all(denies(POLICY, action, stolen) for action in CHANNEL)


def test_a_thief_through_its_own_vpc_endpoint_is_refused() -> None:
    stolen = {**CREDENTIAL, "aws:SourceVpc": "vpc-attacker", "aws:VpcSourceIp": "10.20.1.15"}
    assert all(denies(POLICY, action, stolen) for action in CHANNEL)


def test_a_thief_on_another_host_of_the_same_vpc_is_refused() -> None:
    stolen = {**CREDENTIAL, "aws:SourceVpc": "vpc-suspect", "aws:VpcSourceIp": "10.20.1.99"}
    assert all(denies(POLICY, action, stolen) for action in CHANNEL)


def test_the_rest_of_the_fleet_is_untouched() -> None:
    neighbour = {**FROM_THE_INSTANCE,
                 "ec2:SourceInstanceARN": "arn:aws:ec2:us-east-1:123456789012:instance/"
                                          "i-0aaaaaaaaaaaaaaaa"}
    assert not denies(POLICY, "s3:GetObject", neighbour)
    public = {k: v for k, v in neighbour.items() if k not in ("aws:SourceVpc",
                                                              "aws:VpcSourceIp")}
    assert not any(denies(POLICY, action, public) for action in CHANNEL)
