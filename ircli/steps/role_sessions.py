"""AWS's "revoke active sessions" for a role: deny every session issued before now.

This hits every holder of the role, the whole fleet sharing it included; new sessions work,
so services that re-assume the role recover on their own while stolen sessions die.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.aws.iam_identity import token_time
from ircli.aws.iam_policies import (
    deny_sessions_before,
    inline_policy,
    policy_document,
    statement_time,
)
from ircli.core.engine import RunContext
from ircli.steps.base import Call, Step, StepPlan, register


def role_revoke_policy_name(case_id: str) -> str:
    return f"ircli-revoke-sessions-{case_id}"


@register
class RevokeRoleSessions(Step):
    """An inline deny on ``aws:TokenIssueTime`` < now, named after the case."""

    name = "revoke-role-sessions"
    title = "Revoke the role's older sessions"
    permissions = ("iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy")
    undo_permissions = ("iam:DeleteRolePolicy",)
    critical = True

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        role = str(ctx.facts["role"]["RoleName"])
        policy = role_revoke_policy_name(ctx.case.case_id)
        existing = inline_policy(ctx.aws, "role", role, policy)
        since = (statement_time(existing, "IrcliRevokeOlderSessions") if existing else None) \
            or token_time(ctx.clock.now())
        document = policy_document(deny_sessions_before(since))
        plan = StepPlan(
            before={"role": role, "policy_name": policy, "policy_existed": existing is not None},
            data={"policy_name": policy, "sessions_denied_before": since},
            warnings=[f"Every session of role {role} issued before {since} is denied: every "
                      "holder of the role is affected (instances, functions, people, the "
                      "whole fleet sharing it) until it assumes the role again."])
        if existing == document:
            plan.notes.append(f"revocation policy {policy} already on role {role}")
        else:
            plan.calls.append(Call("iam", "put_role_policy", {
                "RoleName": role, "PolicyName": policy, "PolicyDocument": json.dumps(document)},
                f"deny sessions of role {role} issued before {since}"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        if before["policy_existed"]:
            return StepPlan(notes=[f"{before['policy_name']} was there before: left in place"])
        return StepPlan(calls=[Call("iam", "delete_role_policy", {
            "RoleName": before["role"], "PolicyName": before["policy_name"]},
            f"remove revocation policy {before['policy_name']} from role {before['role']}",
            tolerate=("NoSuchEntity",))])
