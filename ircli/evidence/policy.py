"""The evidence bucket policy: TLS only; responders write, analysts read, nobody else anything.

Allow statements alone do not keep out an account admin whose IAM policy grants ``s3:*``, so
the policy also denies reads to every principal that is not a responder or an analyst, and
writes to every principal that is not the responder (``aws:PrincipalArn``, which for a role
session is the role's ARN).

A policy protects nothing if whoever holds ``s3:PutBucketPolicy`` can rewrite it, so it also
denies the bucket-configuration actions that undo the protection (the policy itself, Object
Lock, versioning, lifecycle, bypassing GOVERNANCE retention) to everyone but one named
break-glass role; without one, only the account's root user can (S3 always lets the root
user of the bucket's account delete or replace its policy).
"""

from __future__ import annotations

import re
from typing import Any

READ_ACTIONS = ["s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectRetention",
                "s3:GetObjectVersion", "s3:GetObjectVersionAttributes", "s3:ListBucket",
                "s3:ListBucketVersions"]
WRITE_ACTIONS = ["s3:PutObject"]
GUARDED_WRITES = ["s3:BypassGovernanceRetention", "s3:DeleteObject", "s3:DeleteObjectVersion",
                  "s3:PutObject", "s3:PutObjectRetention"]

SID_TLS = "IrcliDenyInsecureTransport"
SID_RESPONDER = "IrcliResponderReadWrite"
SID_ANALYST = "IrcliAnalystRead"
SID_DENY_READ = "IrcliDenyReadToOthers"
SID_DENY_WRITE = "IrcliDenyWriteToOthers"
SID_DENY_CONFIG = "IrcliDenyBucketChangesButBreakGlass"
CONFIG_ACTIONS = ["s3:BypassGovernanceRetention", "s3:DeleteBucketPolicy",
                  "s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy",
                  "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration"]
KNOWN_SIDS = (SID_TLS, SID_RESPONDER, SID_ANALYST, SID_DENY_READ, SID_DENY_WRITE,
              SID_DENY_CONFIG)

_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_ASSUMED = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+$")
_STS_USER = re.compile(r"^arn:([\w-]+):sts::(\d{12}):user/(.+)$")


def principal_arn(caller_arn: str) -> str:
    """The IAM ARN a bucket policy can name for the caller (a role session names its role).

    The role's path is not in a session ARN; a role with a path must be named with
    ``--responder-role-arn``.
    """
    assumed = _ASSUMED.match(caller_arn)
    if assumed:
        return f"arn:{assumed.group(1)}:iam::{assumed.group(2)}:role/{assumed.group(3)}"
    sts_user = _STS_USER.match(caller_arn)  # moto reports its caller this way
    if sts_user:
        return f"arn:{sts_user.group(1)}:iam::{sts_user.group(2)}:user/{sts_user.group(3)}"
    return caller_arn


def is_principal_arn(arn: str) -> bool:
    return bool(_ROLE_ARN.match(arn))


def bucket_resources(partition: str, bucket: str) -> list[str]:
    return [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]


def desired_statements(partition: str, bucket: str, responder: str,
                       analysts: list[str], break_glass: str | None = None,
                       members: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The statements ``evidence init`` puts, in order; ``members`` (organization id, member
    role name) makes it the central forensics bucket (see :func:`member_statements`)."""
    resources = bucket_resources(partition, bucket)
    readers = sorted({responder, *analysts})
    statements: list[dict[str, Any]] = [
        {"Sid": SID_TLS, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": resources, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": SID_RESPONDER, "Effect": "Allow", "Principal": {"AWS": [responder]},
         "Action": sorted(READ_ACTIONS + WRITE_ACTIONS), "Resource": resources},
    ]
    if analysts:
        statements.append({"Sid": SID_ANALYST, "Effect": "Allow",
                           "Principal": {"AWS": sorted(analysts)}, "Action": READ_ACTIONS,
                           "Resource": resources})
    statements += [
        {"Sid": SID_DENY_READ, "Effect": "Deny", "Principal": "*", "Action": READ_ACTIONS,
         "Resource": resources, "Condition": {
             "ArnNotEquals": {"aws:PrincipalArn": readers},
             # the members' machines, held to their own prefix by SID_MACHINE_READ_OWN
             **({"ArnNotLike": {"aws:PrincipalArn": machine_role_pattern(partition)}}
                if members else {})}},
        {"Sid": SID_DENY_WRITE, "Effect": "Deny", "Principal": "*",
         "Action": [a for a in GUARDED_WRITES if a != "s3:PutObject"] if members
         else GUARDED_WRITES, "Resource": resources,
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [responder]}}},
        config_statement(partition, bucket, break_glass),
    ]
    if members:
        statements += member_statements(partition, bucket, responder, *members)
    return statements


SID_MEMBER_WRITE = "IrcliMemberRolesWriteOwnPrefix"
SID_MEMBER_PREFIX = "IrcliDenyWriteOutsideOwnPrefix"
SID_MEMBER_WHO = "IrcliDenyWriteToOthersThanMemberRoles"
SID_MEMBER_ORG = "IrcliDenyWriteOutsideOrganization"
SID_MACHINE_READ = "IrcliMachinesReadOwnCase"
SID_MACHINE_READ_OWN = "IrcliDenyMachinesReadOutsideOwnPrefix"
MEMBER_SIDS = (SID_MEMBER_WRITE, SID_MEMBER_PREFIX, SID_MEMBER_WHO, SID_MEMBER_ORG,
               SID_MACHINE_READ, SID_MACHINE_READ_OWN)
MEMBER_PREFIX = "cases/${aws:PrincipalAccount}/*"
# The compiled runbooks' execution roles, as `ircli automation deploy` names them
# (ircli-<runbook>-<region>-sfn, ircli.automation.template.Names); the forensics key's
# policy admits the same pattern.
MACHINE_ROLE = "ircli-*-sfn"


def machine_role_pattern(partition: str) -> str:
    return f"arn:{partition}:iam::*:role/{MACHINE_ROLE}"


def member_statements(partition: str, bucket: str, responder: str, org_id: str,
                      role_name: str) -> list[dict[str, Any]]:
    """The central bucket: each member account's ircli role (``role_name`` in any account of
    ``org_id``) may PutObject under ``cases/<its account>/`` and nothing else — no read (the
    read deny above names only responder and analysts), no delete, no retention change (the
    write deny above). A PutObject on an existing key makes a new version; the earlier one
    stays, locked by Object Lock, so nothing shipped can be lost. Three denies hold the line
    whatever an identity policy allows: PutObject outside one's own prefix, by another role
    than ircli's, from outside the organisation (the responder exempt).

    The members' compiled runbooks (:data:`MACHINE_ROLE`) write the same way, and also read
    back their own account's case (``s3:GetObject`` under their prefix only): a re-delivered
    finding converges on the case it opened, and an audit entry lost in a race is chained to.
    A member's machine thus sees what its own account's runs recorded, nothing of any other;
    whoever can make a role of that name in a member account can read that account's cases
    (as whoever can make the member role can write there)."""
    role = f"arn:{partition}:iam::*:role/{role_name}"
    machine = machine_role_pattern(partition)
    own = f"arn:{partition}:s3:::{bucket}/{MEMBER_PREFIX}"
    not_responder = {"ArnNotEquals": {"aws:PrincipalArn": [responder]}}
    in_org = {"StringEquals": {"aws:PrincipalOrgID": org_id}}
    return [
        {"Sid": SID_MEMBER_WRITE, "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
         "Resource": own, "Condition": {**in_org,
                                        "ArnLike": {"aws:PrincipalArn": [role, machine]}}},
        {"Sid": SID_MEMBER_PREFIX, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "NotResource": own, "Condition": not_responder},
        {"Sid": SID_MEMBER_WHO, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": bucket_resources(partition, bucket),
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": [role, machine, responder]}}},
        {"Sid": SID_MEMBER_ORG, "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": bucket_resources(partition, bucket),
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": org_id}, **not_responder}},
        {"Sid": SID_MACHINE_READ, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": own, "Condition": {**in_org, "ArnLike": {"aws:PrincipalArn": machine}}},
        {"Sid": SID_MACHINE_READ_OWN, "Effect": "Deny", "Principal": "*", "Action": READ_ACTIONS,
         "NotResource": own, "Condition": {"ArnLike": {"aws:PrincipalArn": machine}}},
    ]


def config_statement(partition: str, bucket: str, break_glass: str | None) -> dict[str, Any]:
    """Deny the actions that would undo the bucket's protection to all but ``break_glass``."""
    statement: dict[str, Any] = {
        "Sid": SID_DENY_CONFIG, "Effect": "Deny", "Principal": "*",
        "Action": CONFIG_ACTIONS, "Resource": bucket_resources(partition, bucket)}
    if break_glass:
        statement["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": [break_glass]}}
    return statement


def break_glass_roles(statements: list[dict[str, Any]]) -> list[str] | None:
    """The principals an existing config-deny statement exempts (None: no such statement)."""
    found = next((s for s in statements if s.get("Sid") == SID_DENY_CONFIG), None)
    if found is None:
        return None
    values = found.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
    return [values] if isinstance(values, str) else [str(v) for v in values]


def config_gaps(statements: list[dict[str, Any]], responder: str | None,
                break_glass: str | None) -> list[str]:
    """Why the policy does not protect itself (empty when it does)."""
    found = next((s for s in statements if s.get("Sid") == SID_DENY_CONFIG), None)
    if found is None:
        return ["no statement denies changing the policy, Object Lock, versioning or "
                "lifecycle: anyone with s3:PutBucketPolicy can undo every protection"]
    gaps: list[str] = []
    actions = found.get("Action", [])
    actions = {actions} if isinstance(actions, str) else set(actions)
    if found.get("Effect") != "Deny" or found.get("Principal") != "*" or \
            "NotAction" in found or "NotPrincipal" in found or "NotResource" in found:
        gaps.append(f"{SID_DENY_CONFIG} is not a Deny for every principal")
    if "s3:*" not in actions:
        gaps += [f"{a} is not denied" for a in CONFIG_ACTIONS if a not in actions]
    condition = found.get("Condition")
    exempt = break_glass_roles(statements) or []
    if condition and (set(condition) != {"ArnNotEquals"} or not isinstance(
            condition["ArnNotEquals"], dict) or set(condition["ArnNotEquals"]) != {
            "aws:PrincipalArn"}):
        gaps.append(f"{SID_DENY_CONFIG} has a condition other than the break-glass exemption")
    for arn in exempt:
        if not re.fullmatch(r"arn:[\w-]+:iam::\d{12}:role/[\w+=,.@/-]+", arn):
            gaps.append(f"the exemption {arn} is not one IAM role")
        elif responder and arn == responder:
            gaps.append("the responder role is exempt: its everyday credentials could undo "
                        "the protection (name a separate break-glass role)")
    if break_glass and exempt != [break_glass]:
        gaps.append(f"exempts {', '.join(exempt) or 'nobody'}, not the break-glass role "
                    f"{break_glass}")
    if len(exempt) > 1:
        gaps.append(f"exempts {len(exempt)} principals; one break-glass role is the design")
    return gaps


def normalize(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement with every list sorted and single values as lists, for comparison."""
    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, list | tuple):
            return sorted((norm(v) for v in value), key=repr)
        return value

    out = dict(statement)
    for key in ("Action", "Resource"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    principal = out.get("Principal")
    if isinstance(principal, dict) and isinstance(principal.get("AWS"), str):
        out["Principal"] = {**principal, "AWS": [principal["AWS"]]}
    return {k: norm(v) for k, v in out.items()}


def allow_grantees(statements: list[dict[str, Any]]) -> tuple[set[str], bool]:
    """Every principal some Allow statement names, and whether one is a wildcard."""
    grantees: set[str] = set()
    wildcard = False
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*" or "NotPrincipal" in statement:
            wildcard = True
            continue
        values = principal.get("AWS", []) if isinstance(principal, dict) else []
        for value in [values] if isinstance(values, str) else values:
            wildcard = wildcard or value == "*"
            grantees.add(value)
        if isinstance(principal, dict) and set(principal) - {"AWS"}:
            wildcard = True  # a service or federated principal: not a named role
    return grantees, wildcard
