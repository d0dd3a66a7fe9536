"""Contain an assumed role's sessions: record the role, revoke older sessions, fix its trust.

Revoking is the existing ``revoke-role-sessions`` step (an ``aws:TokenIssueTime`` deny). A
stolen session dies with it, but the attacker may assume the role again if its trust policy
admits a principal it should not: ``fix-trust`` records the trust policy, shows the change
and makes it only when asked (``--fix-trust``), because a wrong trust edit breaks whoever
legitimately assumes the role.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from ircli.core.engine import RunContext
from ircli.core.step import Call, Step, StepPlan, register
from ircli.steps.resource_change import RecordPreState

NO_TRUST_SID = "IrcliNoTrustLeft"


def _role(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.facts["role"])


def trust_document(role: dict[str, Any]) -> dict[str, Any]:
    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return dict(document)


def _account_of(principal: str) -> str | None:
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":")
    return parts[4] if principal.startswith("arn:") and len(parts) > 4 and parts[4] else None


def unexpected_principals(document: dict[str, Any], own_account: str,
                          trusted_accounts: list[str]) -> list[str]:
    """AWS principals an Allow admits from outside the role's account and the trusted ones,
    and a bare ``*`` without a condition; services and identity providers are expected."""
    found: list[str] = []
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        for principal in _aws_principals(statement):
            if principal == "*":
                if not statement.get("Condition"):
                    found.append(principal)
                continue
            account = _account_of(principal)
            if account is None or (account != own_account and account not in trusted_accounts):
                found.append(principal)
    return sorted(set(found))


def without_principals(document: dict[str, Any], remove: list[str]) -> dict[str, Any]:
    """The trust policy with ``remove`` taken out of every Allow; a statement left with no
    principal goes, and a policy left with none denies everyone (IAM wants one statement)."""
    kept: list[dict[str, Any]] = []
    for statement in _statements(document):
        if statement.get("Effect") != "Allow" or not set(_aws_principals(statement)) & set(remove):
            kept.append(statement)
            continue
        principal = dict(statement.get("Principal") or {})
        left = [p for p in _aws_principals(statement) if p not in remove]
        if left:
            principal["AWS"] = left if len(left) > 1 else left[0]
        else:
            principal.pop("AWS", None)
        if principal:
            kept.append({**statement, "Principal": principal})
    if not kept:
        kept = [{"Sid": NO_TRUST_SID, "Effect": "Deny", "Principal": {"AWS": "*"},
                 "Action": "sts:AssumeRole"}]
    return {"Version": document.get("Version", "2012-10-17"), "Statement": kept}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _aws_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    value = principal.get("AWS", []) if isinstance(principal, dict) else []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@register
class RecordRole(RecordPreState):
    """Write the role's trust policy and policies to the case before anything changes."""

    name = "record-role"
    title = "Record the role's state"
    permissions = ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies")

    def record(self, ctx: RunContext) -> StepPlan:
        role = _role(ctx)
        iam = ctx.aws.client("iam")
        name = role["RoleName"]
        attached = [p["PolicyArn"] for page in iam.get_paginator(
            "list_attached_role_policies").paginate(RoleName=name)
            for p in page["AttachedPolicies"]]
        inline = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                  for n in page["PolicyNames"]]
        state = {"role_name": name, "arn": role["Arn"], "role_id": role.get("RoleId"),
                 "path": role.get("Path"), "trust_policy": trust_document(role),
                 "max_session_duration": role.get("MaxSessionDuration"),
                 "attached_policies": attached, "inline_policies": inline}
        return StepPlan(before=state, notes=[
            f"{len(attached)} attached and {len(inline)} inline policies; trust policy recorded"])


@register
class FixTrust(Step):
    """Show (and with ``apply``, make) the trust policy without its unexpected principals."""
    audience = "contain-resources"  # rewrites a policy of any resource of its kind

    name = "fix-trust"
    title = "Check the role's trust policy"
    permissions = ("iam:GetRole", "iam:UpdateAssumeRolePolicy")
    undo_permissions = ("iam:GetRole", "iam:UpdateAssumeRolePolicy")
    runbook_targets = ("role",)

    def __init__(self, apply: bool = False, trusted_accounts: list[str] | None = None) -> None:
        self.apply_change = apply
        self.trusted_accounts = list(trusted_accounts or [])

    def plan(self, ctx: RunContext) -> StepPlan:
        role = _role(ctx)
        name = role["RoleName"]
        current = trust_document(role)
        own = str(role["Arn"]).split(":")[4]
        unexpected = unexpected_principals(current, own, self.trusted_accounts)
        if not unexpected:
            return StepPlan(notes=[f"the trust policy of {name} admits no principal outside "
                                   f"account {own} and the trusted accounts"])
        proposed = without_principals(current, unexpected)
        plan = StepPlan(
            before={"role": name, "trust_policy": current},
            data={"unexpected_principals": unexpected, "proposed_trust_policy": proposed},
            warnings=[f"The trust policy of role {name} admits {', '.join(unexpected)}, "
                      "outside its account: whoever that is can assume the role again after "
                      "its sessions are revoked."],
            notes=[f"proposed trust policy: {json.dumps(proposed, sort_keys=True)}"])
        if not self.apply_change:
            plan.skip_reason = ("not changed: re-run with --fix-trust to remove "
                                f"{', '.join(unexpected)} (check first that nobody needs it)")
            return plan
        plan.data["applied"] = True  # release restores only a trust policy ircli changed
        plan.calls.append(Call("iam", "update_assume_role_policy", {
            "RoleName": name, "PolicyDocument": json.dumps(proposed)},
            f"remove {', '.join(unexpected)} from the trust policy of role {name}"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        data = record.get("data", {})
        if not before or not data.get("applied"):
            return None  # shown, never made: nothing to restore
        current = trust_document(dict(ctx.aws.client("iam").get_role(
            RoleName=before["role"])["Role"]))
        if current != data.get("proposed_trust_policy"):
            return StepPlan(notes=[f"the trust policy of {before['role']} changed after ircli "
                                   "fixed it: left as it is now"])
        return StepPlan(calls=[Call("iam", "update_assume_role_policy", {
            "RoleName": before["role"], "PolicyDocument": json.dumps(before["trust_policy"])},
            f"restore the recorded trust policy of role {before['role']}")])
