"""The deny policies ircli puts on roles and users, built in one place."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.session import AwsSession

# What the SSM agent needs to keep its channel open, so live response survives the deny.
SSM_AGENT_CHANNEL = ("ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*")

SID_CONTAIN = "IrcliDenyStolenInstanceCredentials"
SID_CHANNEL_VPC = "IrcliSsmChannelOnlyFromTheInstanceVpc"
SID_CHANNEL_IP = "IrcliSsmChannelOnlyFromTheInstanceAddress"
SID_CHANNEL_ENDPOINT = "IrcliSsmChannelOnlyThroughVpcEndpoints"


def instance_pattern(instance_id: str) -> str:
    """How the deny names one instance in its ``ec2:SourceInstanceARN`` list.

    ``*/i-…`` rather than the whole ARN: the key only ever holds an instance ARN of the role's
    own account, instance ids do not repeat, and the short form lets one managed policy
    (6,144 characters) name more than 50 instances in each of its four statements. A
    wildcard here can only deny more, never less.
    """
    return f"*/{instance_id}"


def contain_deny(instance_ids: Iterable[str]) -> dict[str, Any]:
    """Deny the credentials delivered to ``instance_ids``, wherever they are used from.

    The SSM agent's channel stays allowed so live response works, but only for requests that
    come from the instance itself: a thief who copied the credentials off the instance could
    otherwise read the command ircli sends (with its upload URL) and forge the reply.

    The exemption follows AWS's documented use of the credential-relative keys
    (``aws:EC2InstanceSourceVPC`` compared with ``${aws:SourceVpc}``,
    ``aws:EC2InstanceSourcePrivateIPv4`` with ``${aws:VpcSourceIp}``):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-ec2instancesourcevpc
    https://aws.amazon.com/blogs/security/how-to-use-policies-to-restrict-where-ec2-instance-credentials-can-be-used-from/
    ``aws:SourceVpc`` and ``aws:VpcSourceIp`` exist only for requests through a VPC endpoint
    (the blog's stated requirement), so the fourth statement denies the channel outright when
    there is none: the isolated instance reaches SSM only through the VPC's interface
    endpoints (``--ssm-egress endpoints``), and a request from anywhere else fails closed
    instead of depending on how IAM treats a variable with no value.
    """
    ids = sorted(set(instance_ids))
    if not ids:
        raise ValueError("a deny policy names at least one instance")
    listed = {"StringLike": {"ec2:SourceInstanceARN": [instance_pattern(i) for i in ids]}}
    channel = list(SSM_AGENT_CHANNEL)

    def channel_deny(sid: str, condition: dict[str, Any]) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Deny", "Action": channel, "Resource": "*",
                "Condition": {**listed, **condition}}

    return policy_document(
        {"Sid": SID_CONTAIN, "Effect": "Deny", "NotAction": channel, "Resource": "*",
         "Condition": listed},
        channel_deny(SID_CHANNEL_VPC, {
            "StringNotEquals": {"aws:EC2InstanceSourceVPC": "${aws:SourceVpc}"}}),
        channel_deny(SID_CHANNEL_IP, {
            "StringNotEquals": {"aws:EC2InstanceSourcePrivateIPv4": "${aws:VpcSourceIp}"}}),
        channel_deny(SID_CHANNEL_ENDPOINT, {"Null": {"aws:SourceVpc": "true"}}),
    )


def contained_ids(document: dict[str, Any] | None) -> set[str]:
    """The instance ids an ircli deny policy names (empty for None or a foreign document)."""
    for statement in (document or {}).get("Statement", []):
        if statement.get("Sid") == SID_CONTAIN:
            values = statement.get("Condition", {}).get("StringLike", {}).get(
                "ec2:SourceInstanceARN", [])
            values = [values] if isinstance(values, str) else values
            return {str(v).rsplit("/", 1)[-1] for v in values}
    return set()


def deny_sessions_before(issued_before: str) -> dict[str, Any]:
    """AWS's "revoke active sessions": deny every session issued before ``issued_before``."""
    return {
        "Sid": "IrcliRevokeOlderSessions",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
    }


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def policy_size(document: dict[str, Any]) -> int:
    """Characters IAM counts against its size quotas (it ignores white space)."""
    return sum(1 for ch in json.dumps(document, separators=(",", ":")) if not ch.isspace())


def statement_time(document: dict[str, Any], sid: str) -> str | None:
    """The TokenIssueTime of an existing revocation statement, so re-runs keep the first."""
    for statement in document.get("Statement", []):
        if statement.get("Sid") == sid:
            return str(statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"])
    return None


def decode_document(document: Any) -> dict[str, Any]:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them already."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return dict(document)


def inline_policy(aws: AwsSession, kind: str, name: str, policy: str) -> dict[str, Any] | None:
    """An inline policy of a user or role (``kind``), or None when there is none."""
    iam = aws.client("iam")
    try:
        if kind == "user":
            document = iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
        else:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return None
        raise
    return decode_document(document)
