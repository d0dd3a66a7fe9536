"""Say what a finding means in plain words, with names beside the ids.

Names come from the finding first (its tags, its access key details) and then, best effort,
from AWS (DescribeInstances, GetInstanceProfile, ListAccountAliases): a missing permission
or a gone instance costs a name, never the triage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.errors import IrcliError
from ircli.core.session import AwsSession
from ircli.triage.finding import Finding, RemoteEnd

_LOOKUP_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, IrcliError)


@dataclass
class Names:
    instance_name: str | None = None
    role: str | None = None
    user: str | None = None
    account_alias: str | None = None
    unavailable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v}


def look_up_names(aws: AwsSession, finding: Finding) -> Names:
    """Names for the ids in the finding; what could not be looked up is listed, not raised."""
    names = Names(instance_name=finding.instance_name)
    key = finding.access_key
    if key.get("userType") == "IAMUser":
        names.user = key.get("userName")
    elif key.get("userType") == "AssumedRole":
        names.role = key.get("userName")
    profile = (finding.instance.get("iamInstanceProfile") or {}).get("arn")
    if finding.instance_id and (names.instance_name is None or profile is None):
        try:
            reservations = aws.client("ec2").describe_instances(
                InstanceIds=[finding.instance_id])["Reservations"]
            instance = reservations[0]["Instances"][0]
            names.instance_name = names.instance_name or next(
                (t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), None)
            profile = profile or instance.get("IamInstanceProfile", {}).get("Arn")
        except (*_LOOKUP_ERRORS, IndexError):
            names.unavailable.append(f"instance {finding.instance_id} (not found in "
                                     f"{aws.region}, or no ec2:DescribeInstances)")
    if profile and not names.role:
        try:
            roles = aws.client("iam").get_instance_profile(
                InstanceProfileName=profile.rsplit("/", 1)[-1])["InstanceProfile"]["Roles"]
            names.role = roles[0]["RoleName"] if roles else None
        except _LOOKUP_ERRORS:
            names.unavailable.append(f"the role of instance profile {profile}")
    try:
        if finding.account in (None, aws.identity()["account"]):
            aliases = aws.client("iam").list_account_aliases().get("AccountAliases", [])
            names.account_alias = aliases[0] if aliases else None
    except _LOOKUP_ERRORS:
        names.unavailable.append("the account alias")
    return names


def resource_words(finding: Finding, names: Names) -> str:
    """``instance i-0abc (web-1)``, ``access key AKIA… of IAM user alice``, …"""
    key = finding.access_key
    if finding.instance_id and (finding.resource_type == "Instance" or not key):
        label = f" ({names.instance_name})" if names.instance_name else ""
        return f"instance {finding.instance_id}{label}"
    if key.get("userType") == "AssumedRole":
        issued = f" issued to instance {finding.instance_id}" if finding.instance_id else ""
        return f"credentials of role {key.get('userName')}{issued}"
    if key:
        return f"access key {key.get('accessKeyId')} of IAM user {key.get('userName')}"
    return f"{finding.resource_type or 'an unknown resource'}"


def remote_words(remote: RemoteEnd) -> str | None:
    if not remote.ip:
        return None
    where = ", ".join(x for x in (remote.city, remote.country, remote.organization) if x)
    return f"{remote.ip} ({where})" if where else remote.ip


def plain_words(finding: Finding, names: Names) -> str:
    """One or two sentences a responder can paste into a ticket."""
    who, remote = resource_words(finding, names), finding.remote
    peer = remote_words(remote) or "an outside address"
    action = finding.action_type
    if action == "NETWORK_CONNECTION" and remote.direction == "INBOUND":
        port = f" on port {remote.local_port}" if remote.local_port else ""
        name = f" ({remote.local_port_name})" if remote.local_port_name not in (None,
                                                                                "Unknown") else ""
        text = f"{peer} connected to {who}{port}{name}"
    elif action == "NETWORK_CONNECTION":
        port = f" on port {remote.port}" if remote.port else ""
        text = f"{who} connected out to {peer}{port}"
    elif action == "PORT_PROBE":
        text = f"{peer} probed port {remote.local_port} of {who}, which is open to the internet"
    elif action == "DNS_REQUEST":
        text = f"{who} looked up the domain {remote.domain}"
    elif action == "AWS_API_CALL":
        text = f"{remote.api or 'An AWS API'} was called with the {who} from {peer}"
        text = text[0].upper() + text[1:]
    else:
        return f"GuardDuty: {finding.title}"
    if finding.count > 1 and finding.first_seen and finding.last_seen:
        text += f", {finding.count} times between {finding.first_seen} and {finding.last_seen}"
    return f"{text[0].upper()}{text[1:]}. GuardDuty: {finding.title}"


def report(finding: Finding, names: Names) -> dict[str, Any]:
    """The triage fields of the result (JSON), before any runbook."""
    account = finding.account
    return {
        "finding": finding.summary(),
        "what_happened": plain_words(finding, names),
        "resource": {
            "type": finding.resource_type, "role": finding.resource_role,
            "description": resource_words(finding, names),
            "instance_id": finding.instance_id, "instance_name": names.instance_name,
            "vpc_id": finding.vpc_id, "iam_role": names.role, "iam_user": names.user,
            "access_key_id": finding.access_key.get("accessKeyId"),
            "account": account, "account_alias": names.account_alias,
        },
        "remote": finding.remote.to_dict() or None,
        "severity": {"score": finding.severity, "label": finding.severity_label},
        "names_unavailable": names.unavailable,
    }
