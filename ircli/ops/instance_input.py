"""What the responder typed where an instance id belongs: an id, or something to explain.

At 3 a.m. people paste what the console or the finding shows: an instance ARN (accepted: its
id is taken, its region checked), an ENI or volume id (named for what it is, with the instance
it belongs to), or the host's Name tag (the instance it names is offered, never picked: a Name
tag is written by whoever can tag, the attacker included). Lookups happen only when the input
is not an instance id, so the usual path costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import INSTANCE_ID, display_name
from ircli.core.errors import InvalidInput
from ircli.core.session import AwsSession

_ARN = re.compile(r"^arn:aws[a-z-]*:ec2:([a-z0-9-]+):(\d{12}):instance/(i-[0-9a-f]+)$")
_KINDS = {"eni-": "a network interface", "vol-": "an EBS volume", "sg-": "a security group",
          "snap-": "a snapshot", "ami-": "an AMI", "subnet-": "a subnet", "vpc-": "a VPC"}
_HINT = "Instance ids look like i-0123456789abcdef0 (i- followed by 8 or 17 hex digits)."


class SuggestedInstance(InvalidInput):
    """Not an instance id, but it points at one instance: the CLI may offer it on a terminal."""

    def __init__(self, message: str, remediation: str, instance_id: str, label: str) -> None:
        super().__init__(message, remediation)
        self.instance_id = instance_id
        self.label = label


def instance_argument(value: str, aws: Callable[[], AwsSession]) -> str:
    """The instance id ``value`` stands for, or an error that says what ``value`` is."""
    value = value.strip()
    if INSTANCE_ID.match(value):
        return value
    arn = _ARN.match(value)
    if arn:
        return _from_arn(value, arn, aws())
    kind = next((k for k in _KINDS if value.startswith(k)), None)
    if kind in ("eni-", "vol-"):
        return _attached(value, kind, aws())
    if kind is not None:
        raise InvalidInput(f"'{value}' is not an EC2 instance id: it is {_KINDS[kind]} id.",
                           _HINT)
    if value.startswith("i-") or not value or len(value) > 255:
        raise InvalidInput(f"'{value}' is not an EC2 instance id.", _HINT)
    return _named(value, aws())


def _from_arn(value: str, arn: re.Match[str], aws: AwsSession) -> str:
    region, instance_id = arn.group(1), arn.group(3)
    if not INSTANCE_ID.match(instance_id):
        raise InvalidInput(f"'{value}' is an instance ARN with a malformed id.", _HINT)
    if aws.region and region != aws.region:
        raise InvalidInput(f"'{value}' is an instance in {region}, but ircli works in "
                           f"{aws.region}.", f"Pass --region {region} (or the id "
                           f"{instance_id} with that region).")
    return instance_id


def _attached(value: str, kind: str, aws: AwsSession) -> str:
    ec2 = aws.client("ec2")
    try:
        if kind == "eni-":
            found = ec2.describe_network_interfaces(NetworkInterfaceIds=[value])[
                "NetworkInterfaces"]
            owner = found[0].get("Attachment", {}).get("InstanceId") if found else None
        else:
            found = ec2.describe_volumes(VolumeIds=[value])["Volumes"]
            owner = next((a.get("InstanceId") for a in (found[0].get("Attachments") or [])
                          if a.get("InstanceId")), None) if found else None
    except botocore.exceptions.ClientError:
        found, owner = [], None
    what = f"'{value}' is not an EC2 instance id: it is {_KINDS[kind]} id"
    if not found:
        raise InvalidInput(f"{what}, and there is no such {_KINDS[kind][3:]} in {aws.region}.",
                           _HINT)
    if not owner:
        raise InvalidInput(f"{what}; it is attached to no instance.", _HINT)
    label = _label(aws, owner)
    raise SuggestedInstance(f"{what}; it is attached to {label}.",
                            f"Run the command with {owner}.", owner, label)


def _named(value: str, aws: AwsSession) -> str:
    ec2 = aws.client("ec2")
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": "tag:Name", "Values": [value]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    named = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    if not named:
        raise InvalidInput(f"'{value}' is not an EC2 instance id, and no instance in "
                           f"{aws.region} has the Name tag '{value}'.", _HINT)
    if len(named) > 1:
        listed = ", ".join(_describe(i) for i in named[:10])
        raise InvalidInput(f"'{value}' is not an EC2 instance id; it is the Name tag of "
                           f"{len(named)} instances: {listed}.",
                           "Run the command with the id of the one you mean.")
    instance = named[0]
    label = _describe(instance)
    raise SuggestedInstance(f"'{value}' is not an EC2 instance id; it is the Name tag of "
                            f"{label}.", f"Run the command with {instance['InstanceId']}.",
                            str(instance["InstanceId"]), label)


def _label(aws: AwsSession, instance_id: str) -> str:
    try:
        found = aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    except botocore.exceptions.ClientError:
        return instance_id
    instances = [i for r in found for i in r["Instances"]]
    return _describe(instances[0]) if instances else instance_id


def _describe(instance: dict[str, Any]) -> str:
    return f"{display_name(instance)}, {instance.get('State', {}).get('Name')}"
