"""IAM lookups for credential containment: key id to user, a user's state, inline policies.

A responder often has nothing but an access key id from a finding, so everything starts from
``GetAccessKeyLastUsed``, the one API that maps a key id to its user.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.clock import iso
from ircli.core.errors import InvalidInput, NotFound, UserError
from ircli.core.session import AwsSession

ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z2-7]{16}$")
IAM_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def check_access_key_id(key_id: str) -> str:
    """A long-term key id (AKIA…); temporary ones (ASIA…) cannot be deactivated at all."""
    if not ACCESS_KEY_ID.match(key_id):
        raise InvalidInput(
            f"'{key_id}' is not an AWS access key id.",
            "Access key ids are 20 characters: AKIA (or ASIA) followed by 16 of A-Z and 2-7.")
    if key_id.startswith("ASIA"):
        raise InvalidInput(
            f"{key_id} is a temporary key from an STS session, and temporary keys cannot be "
            "deactivated.",
            "Revoke the sessions instead: `ircli revoke-sessions --role NAME` for a role's "
            "sessions, or `ircli disable-keys --user NAME` on the user whose key minted them.")
    return key_id


def check_iam_name(name: str, kind: str) -> str:
    if not IAM_NAME.match(name):
        raise InvalidInput(
            f"'{name}' is not a valid IAM {kind} name.",
            f"IAM {kind} names are 1-128 letters, digits and +=,.@_- (no path, no ARN).")
    return name


def key_owner(aws: AwsSession, key_id: str) -> str:
    """The user owning ``key_id`` in the caller's account; NotFound for any other key."""
    check_access_key_id(key_id)
    account = aws.identity()["account"]
    iam = aws.client("iam")
    try:
        user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
    except botocore.exceptions.ClientError as err:
        # AWS answers AccessDenied for a key of another account (and for a missing
        # permission): the key cannot be resolved either way, so say both.
        if error_code(err) in ("NoSuchEntity", *_DENIED):
            raise _unknown_key(key_id, account, error_code(err)) from err
        raise
    if not user or user == "root":
        raise UserError(
            f"Access key {key_id} belongs to the root user of account {account}, which ircli "
            "does not contain.",
            "Sign in as root and delete the key (IAM console, Security credentials).")
    # AWS resolves only this account's keys; the emulator resolves any account's, so the
    # answer is checked against the user's own key list in this account.
    try:
        keys = [k["AccessKeyId"] for k in list_keys(aws, user)]
    except botocore.exceptions.ClientError as err:
        if error_code(err) != "NoSuchEntity":
            raise
        keys = []
    if key_id not in keys:
        raise _unknown_key(key_id, account, f"no user {user} in this account holds it")
    return str(user)


def _unknown_key(key_id: str, account: str, why: str) -> NotFound:
    return NotFound(
        f"Access key {key_id} was not found in account {account}: it does not exist, was "
        f"deleted, or belongs to another account ({why}).",
        "Check the key id; for a key of another account run ircli with that account's "
        "credentials (--profile or --role-arn). `ircli policy` lists the permissions needed.")


def get_user(aws: AwsSession, name: str) -> dict[str, Any]:
    check_iam_name(name, "user")
    try:
        return dict(aws.client("iam").get_user(UserName=name)["User"])
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            raise NotFound(
                f"IAM user {name} was not found in account {aws.identity()['account']}.",
                "Check the user name (case matters) and the account you are using.") from err
        raise


def get_role(aws: AwsSession, name: str) -> dict[str, Any]:
    check_iam_name(name, "role")
    try:
        return dict(aws.client("iam").get_role(RoleName=name)["Role"])
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            raise NotFound(
                f"IAM role {name} was not found in account {aws.identity()['account']}.",
                "Check the role name (the name, not the ARN) and the account you are using.",
            ) from err
        raise


def list_keys(aws: AwsSession, user: str) -> list[dict[str, Any]]:
    pages = aws.client("iam").get_paginator("list_access_keys").paginate(UserName=user)
    return [k for page in pages for k in page["AccessKeyMetadata"]]


def _paged(aws: AwsSession, method: str, key: str, **params: Any) -> list[Any]:
    pages = aws.client("iam").get_paginator(method).paginate(**params)
    return [item for page in pages for item in page[key]]


def login_profile(aws: AwsSession, user: str) -> dict[str, Any] | None:
    try:
        profile = aws.client("iam").get_login_profile(UserName=user)["LoginProfile"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return None
        raise
    return {"created": _time(profile.get("CreateDate")),
            "password_reset_required": bool(profile.get("PasswordResetRequired"))}


def user_state(aws: AwsSession, user: dict[str, Any]) -> dict[str, Any]:
    """Everything containment may change or an investigator asks about, as of now."""
    name = user["UserName"]
    iam = aws.client("iam")
    keys = []
    for key in list_keys(aws, name):
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        keys.append({"id": key["AccessKeyId"], "status": key["Status"],
                     "created": _time(key.get("CreateDate")),
                     "last_used": _time(used.get("LastUsedDate")),
                     "last_service": used.get("ServiceName"),
                     "last_region": used.get("Region")})
    return {
        "user_name": name, "arn": user["Arn"], "user_id": user.get("UserId"),
        "created": _time(user.get("CreateDate")),
        "password_last_used": _time(user.get("PasswordLastUsed")),
        "access_keys": keys,
        "login_profile": login_profile(aws, name),
        "mfa_devices": [d["SerialNumber"] for d in
                        _paged(aws, "list_mfa_devices", "MFADevices", UserName=name)],
        "attached_policies": [p["PolicyArn"] for p in _paged(
            aws, "list_attached_user_policies", "AttachedPolicies", UserName=name)],
        "inline_policies": _paged(aws, "list_user_policies", "PolicyNames", UserName=name),
        "groups": [g["GroupName"] for g in
                   _paged(aws, "list_groups_for_user", "Groups", UserName=name)],
        "tags": user_tags(aws, name),
    }


def user_tags(aws: AwsSession, user: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _paged(aws, "list_user_tags", "Tags", UserName=user)}


def assumable_roles(aws: AwsSession, user_arn: str, account: str) -> list[dict[str, str]]:
    """Roles whose trust policy lets this user in: by name, or via the whole account.

    A trust in the account (``:root``) needs an sts:AssumeRole allow on the user too, which
    this does not evaluate, so those are only "may have assumed".
    """
    found = []
    account_principals = {account, f"arn:{user_arn.split(':')[1]}:iam::{account}:root"}
    for role in _paged(aws, "list_roles", "Roles"):
        principals = set(_trusted_principals(role.get("AssumeRolePolicyDocument", {})))
        if user_arn in principals:
            found.append({"role": role["RoleName"], "why": "its trust policy names the user"})
        elif principals & account_principals:
            found.append({"role": role["RoleName"],
                          "why": "its trust policy trusts the whole account"})
    return found


def _trusted_principals(document: Any) -> list[str]:
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found: list[str] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        aws_principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        found += [aws_principals] if isinstance(aws_principals, str) else list(aws_principals)
    return found


def deny_everything() -> dict[str, Any]:
    """The statement that stops a user's key and every session it minted, at once."""
    return {"Sid": "IrcliDenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}


def token_time(now: datetime) -> str:
    """``aws:TokenIssueTime`` wants whole seconds in UTC."""
    return iso(now).split(".")[0] + "Z"


def _time(value: Any) -> str | None:
    return iso(value) if isinstance(value, datetime) else (str(value) if value else None)
