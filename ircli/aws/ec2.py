"""EC2 lookups shared by contain, release and the analyst workstation."""

from __future__ import annotations

import re
from typing import Any

from ircli.core.awserrors import error_code
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.session import AwsSession

INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SG_ID = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


def check_instance_id(instance_id: str) -> str:
    if not INSTANCE_ID.match(instance_id):
        raise InvalidInput(
            f"'{instance_id}' is not an EC2 instance id.",
            "Instance ids look like i-0123456789abcdef0 (i- followed by 8 or 17 hex digits).",
        )
    return instance_id


def check_sg_id(group_id: str) -> str:
    if not SG_ID.match(group_id):
        raise InvalidInput(
            f"'{group_id}' is not a security group id.",
            "Security group ids look like sg-0123456789abcdef0.",
        )
    return group_id


def describe_instance(aws: AwsSession, instance_id: str) -> dict[str, Any]:
    """The instance as DescribeInstances returns it, plus ``OwnerId`` from its reservation."""
    check_instance_id(instance_id)
    import botocore.exceptions

    try:
        reservations = aws.client("ec2").describe_instances(InstanceIds=[instance_id])[
            "Reservations"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            raise _not_found(instance_id, aws.region) from err
        raise
    for reservation in reservations:
        for instance in reservation["Instances"]:
            if instance["InstanceId"] == instance_id:
                return {**instance, "OwnerId": reservation.get("OwnerId", "")}
    raise _not_found(instance_id, aws.region)


def _not_found(instance_id: str, region: str) -> NotFound:
    return NotFound(
        f"Instance {instance_id} was not found in region {region}.",
        "Check the id, and pass --region for the region the instance runs in.",
    )


def require_live(instance: dict[str, Any]) -> None:
    state = instance.get("State", {}).get("Name", "")
    if state in ("terminated", "shutting-down"):
        raise UserError(
            f"Instance {instance['InstanceId']} is {state}; there is nothing left to contain.",
            "Look for its EBS snapshots and its case record instead (`ircli case list`).",
        )


def tag_value(resource: dict[str, Any], key: str) -> str | None:
    for tag in resource.get("Tags", []) or []:
        if tag.get("Key") == key:
            return str(tag.get("Value"))
    return None


def display_name(instance: dict[str, Any]) -> str:
    name = tag_value(instance, "Name")
    return f"{instance['InstanceId']} ({name})" if name else str(instance["InstanceId"])


def instance_arn(aws: AwsSession, instance: dict[str, Any]) -> str:
    account = instance.get("OwnerId") or aws.identity()["account"]
    return f"arn:{aws.partition}:ec2:{aws.region}:{account}:instance/{instance['InstanceId']}"


def enis(instance: dict[str, Any]) -> list[dict[str, Any]]:
    """The instance's network interfaces, primary first."""
    return sorted(instance.get("NetworkInterfaces", []),
                  key=lambda n: n.get("Attachment", {}).get("DeviceIndex", 0))
