"""The deny policies ircli puts on roles and users, built in one place."""

from __future__ import annotations

from typing import Any

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
