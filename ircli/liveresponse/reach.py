"""Can SSM run a command on the instance, and which collector fits it?

``DescribeInstanceInformation`` is a pre-check for a fast, clear answer: an instance no agent
registered, or whose agent stopped pinging, is refused before anything is sent. The send itself
stays the ground truth, so when the pre-check cannot be made (a permission missing, a service
fault) ircli warns and tries anyway: SSM then reports an unreachable instance as Undeliverable
or DeliveryTimedOut, which collect reports as clearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe
from ircli.core.session import AwsSession
from ircli.liveresponse.errors import CollectError

OS_CHOICES = ("auto", "linux", "windows")
_SSM_PLATFORMS = {"Linux": "linux", "Windows": "windows"}


@dataclass
class Reachability:
    """What SSM says about the instance's agent; ``managed`` None when it could not be asked."""

    managed: bool | None
    ping_status: str | None = None
    platform_type: str | None = None
    agent_version: str | None = None
    last_ping: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"managed": self.managed, "ping_status": self.ping_status,
                "platform_type": self.platform_type, "agent_version": self.agent_version,
                "last_ping": self.last_ping}


def ssm_reachability(aws: AwsSession, instance_id: str) -> Reachability:
    """Ask SSM about the instance's agent; refuse an unmanaged instance or an offline agent."""
    ssm = aws.client("ssm")
    try:
        found = [info for page in ssm.get_paginator("describe_instance_information").paginate(
                     Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
                 for info in page.get("InstanceInformationList", [])
                 if info.get("InstanceId") == instance_id]
    except botocore.exceptions.ClientError as err:
        return Reachability(None, warnings=[
            f"could not ask SSM whether {instance_id} is managed ({describe(err)}); sending "
            "the command anyway — SSM reports an unreachable instance as Undeliverable or "
            "DeliveryTimedOut"])
    if not found:
        raise CollectError(
            "not-managed",
            f"Instance {instance_id} is not managed by SSM in {aws.region}: no SSM agent has "
            "registered it.",
            "Check that the SSM agent runs on it, that its instance profile (or Default Host "
            "Management) allows AmazonSSMManagedInstanceCore, and that it reaches the ssm, "
            "ssmmessages and ec2messages endpoints; then run collect again.", started=False)
    info = found[0]
    reach = Reachability(True, info.get("PingStatus"), info.get("PlatformType"),
                         info.get("AgentVersion"), str(info.get("LastPingDateTime") or "") or None)
    if reach.ping_status != "Online":
        raise CollectError(
            "agent-offline",
            f"The SSM agent on {instance_id} is {reach.ping_status} (last ping "
            f"{reach.last_ping or 'unknown'}), so it cannot run the collector.",
            "Check that the instance runs and still reaches the SSM endpoints (containment "
            "with --ssm-egress none cuts them); run collect again once the agent is Online.",
            started=False)
    return reach


def choose_os(requested: str, instance: dict[str, Any], reach: Reachability
              ) -> tuple[str, list[str]]:
    """``linux`` or ``windows``: as asked, else as SSM's agent reports, else as EC2 reports."""
    ssm_os = _SSM_PLATFORMS.get(reach.platform_type or "")
    if reach.platform_type and ssm_os is None:
        raise CollectError(
            "unsupported-platform",
            f"Instance {instance['InstanceId']} runs {reach.platform_type}; ircli ships "
            "collectors for Linux and Windows only.",
            "Collect from this host by hand, or snapshot its volumes (`ircli contain`).",
            started=False)
    if requested in ("linux", "windows"):
        warnings = [f"--os {requested}, but SSM reports the instance as {reach.platform_type}: "
                    "the document's platform precondition will skip the collector"] \
            if ssm_os and ssm_os != requested else []
        return requested, warnings
    if ssm_os:
        return ssm_os, []
    ec2_platform = f"{instance.get('Platform') or ''} {instance.get('PlatformDetails') or ''}"
    return ("windows" if "windows" in ec2_platform.lower() else "linux"), []
