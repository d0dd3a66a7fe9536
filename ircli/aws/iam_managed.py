"""ircli's own customer-managed IAM policies (path ``/ircli/``): read, rewrite, delete.

Why managed and not inline: an inline policy needs ``iam:PutRolePolicy`` on the role, and IAM
cannot limit what that policy says — whoever holds it can grant anything to any role. Attaching
a managed policy can be limited (``iam:PolicyARN``) to the policies under ircli's path, so the
responder's key changes roles only through ircli's policies (see ``ircli policy``).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from ircli.aws.iam_policies import decode_document
from ircli.core.awserrors import error_code

IRCLI_PATH = "/ircli/"
MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
MANAGED_POLICY_MAX_CHARS = 6144  # IAM's quota for a managed policy, white space not counted
TAGS = [{"Key": "ircli:managed", "Value": "true"}]


def policy_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:policy{IRCLI_PATH}{name}"


def policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def read(iam: Any, arn: str) -> dict[str, Any] | None:
    """The default version's document, or None when the policy does not exist."""
    try:
        default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return None
        raise
    return decode_document(version["Document"])


def write(iam: Any, arn: str, document: dict[str, Any], description: str, *,
          exists: bool = False) -> None:
    """Make ``document`` the policy's default version, creating the policy if need be
    (``exists``: it did a moment ago, so try a new version first)."""
    body = json.dumps(document, separators=(",", ":"))
    if exists:
        try:
            _make_room(iam, arn)
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=True)
            return
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "NoSuchEntity":  # deleted meanwhile: create it again
                raise
    try:
        iam.create_policy(PolicyName=policy_name(arn), Path=IRCLI_PATH, PolicyDocument=body,
                          Description=description, Tags=TAGS)
        return
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "EntityAlreadyExists":
            raise
    _make_room(iam, arn)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=True)


def _make_room(iam: Any, arn: str) -> None:
    """Delete the oldest non-default versions so a new one fits under IAM's five."""
    versions = [v for page in iam.get_paginator("list_policy_versions").paginate(PolicyArn=arn)
                for v in page["Versions"]]
    spare = sorted((v for v in versions if not v["IsDefaultVersion"]),
                   key=lambda v: str(v["CreateDate"]))
    for version in spare[:max(0, len(versions) - MAX_VERSIONS + 1)]:
        _tolerate(iam.delete_policy_version, ("NoSuchEntity", "DeleteConflict"),
                  PolicyArn=arn, VersionId=version["VersionId"])


def delete(iam: Any, arn: str) -> None:
    """Delete the policy and its versions (it must be detached first)."""
    try:
        versions = [v for page in iam.get_paginator("list_policy_versions").paginate(
            PolicyArn=arn) for v in page["Versions"]]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return
        raise
    for version in versions:
        if not version["IsDefaultVersion"]:
            _tolerate(iam.delete_policy_version, ("NoSuchEntity",), PolicyArn=arn,
                      VersionId=version["VersionId"])
    _tolerate(iam.delete_policy, ("NoSuchEntity",), PolicyArn=arn)


def is_attached(iam: Any, role: str, arn: str) -> bool:
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
    return any(p["PolicyArn"] == arn for page in pages for p in page["AttachedPolicies"])


def _tolerate(call: Any, codes: tuple[str, ...], **params: Any) -> None:
    try:
        call(**params)
    except botocore.exceptions.ClientError as err:
        if error_code(err) not in codes:
            raise
