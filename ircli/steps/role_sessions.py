"""AWS's "revoke active sessions" for a role: deny every session issued before now.

This hits every holder of the role, the whole fleet sharing it included; new sessions work,
so services that re-assume the role recover on their own while stolen sessions die. The deny
is an ircli managed policy named after the case (``/ircli/ircli-revoke-sessions-<case-id>``),
attached to the role: ircli's policy lets the responder attach only ircli's policies, never
write an inline policy on someone else's role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ircli.aws import iam_managed
from ircli.aws.iam_identity import token_time
from ircli.aws.iam_policies import (
    deny_sessions_before,
    inline_policy,
    policy_document,
    statement_time,
)
from ircli.core.engine import RunContext
from ircli.core.permission import ANY_ROLE, IRCLI_POLICIES, Permission
from ircli.core.step import Call, Step, StepPlan, register

_IRCLI_POLICY_ONLY = {"ArnLike": {"iam:PolicyARN": IRCLI_POLICIES}}


def role_revoke_policy_name(case_id: str) -> str:
    return f"ircli-revoke-sessions-{case_id}"


@dataclass
class Revocation:
    """The calls that put the case's revocation on a role, and what was there before."""

    arn: str
    since: str
    existed: bool
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def revoke_calls(ctx: RunContext, role: str, account: str, case_id: str) -> Revocation:
    """Create the case's revocation policy (keeping the first run's time) and attach it."""
    iam = ctx.aws.client("iam")
    name = role_revoke_policy_name(case_id)
    arn = iam_managed.policy_arn(ctx.aws.partition, account, name)
    existing = iam_managed.read(iam, arn)
    since = (statement_time(existing, "IrcliRevokeOlderSessions") if existing else None) \
        or token_time(ctx.clock.now())
    found = Revocation(arn, since, existing is not None)
    if existing is None:
        found.calls.append(Call("iam", "create_policy", {
            "PolicyName": name, "Path": iam_managed.IRCLI_PATH,
            "PolicyDocument": json.dumps(policy_document(deny_sessions_before(since))),
            "Description": f"ircli case {case_id}: deny sessions issued before {since}",
            "Tags": iam_managed.TAGS}, f"create policy {name}: deny sessions issued before "
            f"{since}"))
    if existing is None or not iam_managed.is_attached(iam, role, arn):
        found.calls.append(Call("iam", "attach_role_policy", {"RoleName": role, "PolicyArn": arn},
                                f"attach {name} to role {role}"))
    else:
        found.notes.append(f"revocation policy {name} already on role {role}")
    return found


def unrevoke_calls(arn: str, role: str) -> list[Call]:
    name = iam_managed.policy_name(arn)
    return [Call("iam", "detach_role_policy", {"RoleName": role, "PolicyArn": arn},
                 f"detach revocation policy {name} from role {role}", tolerate=("NoSuchEntity",)),
            Call("iam", "delete_policy", {"PolicyArn": arn}, f"delete policy {name}",
                 tolerate=("NoSuchEntity",))]


REVOKE_PERMISSIONS = (
    Permission(("iam:GetPolicy", "iam:GetPolicyVersion", "iam:CreatePolicy", "iam:TagPolicy"),
               IRCLI_POLICIES),
    Permission("iam:AttachRolePolicy", ANY_ROLE, _IRCLI_POLICY_ONLY),
    "iam:ListAttachedRolePolicies",
)
UNREVOKE_PERMISSIONS = (
    Permission("iam:DeletePolicy", IRCLI_POLICIES),
    Permission("iam:DetachRolePolicy", ANY_ROLE, _IRCLI_POLICY_ONLY),
    "iam:DeleteRolePolicy",  # the inline revocation policies of earlier versions
)


@register
class RevokeRoleSessions(Step):
    """A managed deny on ``aws:TokenIssueTime`` < now, named after the case."""

    name = "revoke-role-sessions"
    title = "Revoke the role's older sessions"
    permissions = ("iam:GetRole", *REVOKE_PERMISSIONS)
    undo_permissions = UNREVOKE_PERMISSIONS
    critical = True

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        role = str(ctx.facts["role"]["RoleName"])
        account = str(ctx.facts["role"]["Arn"]).split(":")[4]
        revoke = revoke_calls(ctx, role, account, ctx.case.case_id)
        name = iam_managed.policy_name(revoke.arn)
        return StepPlan(
            before={"role": role, "policy_arn": revoke.arn, "policy_existed": revoke.existed},
            data={"policy_name": name, "policy_arn": revoke.arn,
                  "sessions_denied_before": revoke.since},
            calls=revoke.calls, notes=revoke.notes,
            warnings=[f"Every session of role {role} issued before {revoke.since} is denied: "
                      "every holder of the role is affected (instances, functions, people, "
                      "the whole fleet sharing it) until it assumes the role again."])

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        name = before.get("policy_arn", before.get("policy_name", ""))
        if before["policy_existed"]:
            return StepPlan(notes=[f"{name.rsplit('/', 1)[-1]} was there before: left in place"])
        if "policy_arn" in before:
            return StepPlan(calls=unrevoke_calls(before["policy_arn"], before["role"]))
        # Recorded by an earlier version, which wrote an inline policy.
        if inline_policy(ctx.aws, "role", before["role"], before["policy_name"]) is None:
            return StepPlan(notes=[f"{before['policy_name']} is already gone"])
        return StepPlan(calls=[Call("iam", "delete_role_policy", {
            "RoleName": before["role"], "PolicyName": before["policy_name"]},
            f"remove revocation policy {before['policy_name']} from role {before['role']}",
            tolerate=("NoSuchEntity",))])
