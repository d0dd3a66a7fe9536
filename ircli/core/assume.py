"""Credentials of an assumed role that renew themselves.

A snapshot wait or a collection can outlive an STS session (one hour by default, and role
chaining caps it at one hour), so ircli never freezes assumed credentials: botocore's
refreshable credentials call ``AssumeRole`` again shortly before they expire. The STS client
is passed in, so a fan-out over hundreds of accounts assumes every role through one client.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.credentials import RefreshableCredentials

_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


def role_arn(partition: str, account: str, role_name: str) -> str:
    """The ARN of the fixed-name role ircli assumes in ``account``."""
    return f"arn:{partition}:iam::{account}:role/{role_name.strip('/')}"  # a path stays in


def session_name(label: str) -> str:
    """``RoleSessionName`` allows ``[\\w+=,.@-]{2,64}``; the label carries the case id."""
    cleaned = _SESSION_NAME_CHARS.sub("-", label)[:64]
    return cleaned if len(cleaned) >= 2 else f"ircli-{cleaned}"


def assumed_credentials(sts: Any, arn: str, label: str, *, external_id: str | None = None,
                        duration_seconds: int | None = None) -> RefreshableCredentials:
    """Credentials for ``arn`` that call ``AssumeRole`` again before they expire.

    The first ``AssumeRole`` happens here, so a role that cannot be assumed fails before any
    step starts rather than in the middle of one.
    """
    params: dict[str, Any] = {"RoleArn": arn, "RoleSessionName": session_name(label)}
    if external_id:
        params["ExternalId"] = external_id
    if duration_seconds:
        params["DurationSeconds"] = int(duration_seconds)

    def fetch() -> dict[str, Any]:
        creds = sts.assume_role(**params)["Credentials"]
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat()}

    return RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="assume-role")
