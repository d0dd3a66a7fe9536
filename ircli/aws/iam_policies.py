"""The deny policies ircli puts on roles and users, built in one place."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.session import AwsSession

# What the SSM agent needs to keep its channel open, so live response survives the deny.
SSM_AGENT_CHANNEL = ("ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*")


def deny_instance_credentials(instance_arn: str) -> dict[str, Any]:
    """Deny everything but the SSM channel to credentials delivered to one instance."""
    return {
        "Sid": "IrcliDenyStolenInstanceCredentials",
        "Effect": "Deny",
        "NotAction": list(SSM_AGENT_CHANNEL),
        "Resource": "*",
        "Condition": {"StringEquals": {"ec2:SourceInstanceARN": instance_arn}},
    }


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


def statement_time(document: dict[str, Any], sid: str) -> str | None:
    """The TokenIssueTime of an existing revocation statement, so re-runs keep the first."""
    for statement in document.get("Statement", []):
        if statement.get("Sid") == sid:
            return str(statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"])
    return None


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
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return dict(document)
