"""Cut the instance's credentials without cutting the rest of the fleet that shares its role.

Instance-profile credentials outlive a profile disassociation, so the cut is a deny on the
role conditioned on ``ec2:SourceInstanceARN``: only credentials delivered to this instance die,
wherever they are used from. The SSM agent's channel stays allowed so live response works.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.aws.ec2 import instance_arn
from ircli.aws.iam_policies import (
    deny_instance_credentials,
    deny_sessions_before,
    inline_policy,
    policy_document,
    statement_time,
)
from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.steps.base import Call, Step, StepPlan, register
from ircli.steps.names import deny_policy_name


@register
class CutCredentials(Step):
    """Targeted deny on the instance's role; optionally detach the profile, revoke sessions."""

    name = "cut-credentials"
    runbook_targets = ("instance",)
    title = "Cut the instance's credentials"
    permissions = (
        "iam:GetInstanceProfile", "iam:GetRolePolicy", "iam:PutRolePolicy",
        "ec2:DescribeIamInstanceProfileAssociations", "ec2:DisassociateIamInstanceProfile",
    )
    undo_permissions = ("iam:DeleteRolePolicy", "ec2:AssociateIamInstanceProfile")

    def __init__(self, detach_profile: bool = False, revoke_role_sessions: bool = False) -> None:
        self.detach_profile = detach_profile
        self.revoke_role_sessions = revoke_role_sessions

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        profile_arn = instance.get("IamInstanceProfile", {}).get("Arn")
        recorded = ctx.record.get("steps", {}).get(self.name, {}).get("before") \
            if ctx.case else None
        if not profile_arn and recorded and recorded.get("profile_arn"):
            profile_arn = recorded["profile_arn"]  # detached by an earlier run of this case
        if not profile_arn:
            return StepPlan(skip_reason="no instance profile: no instance credentials to cut")
        iam = ctx.aws.client("iam")
        profile_name = profile_arn.rsplit("/", 1)[-1]
        roles = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"][
            "Roles"]
        if not roles:
            return StepPlan(skip_reason=f"instance profile {profile_name} holds no role")
        role = roles[0]["RoleName"]
        policy_name = deny_policy_name(instance["InstanceId"])
        existing = inline_policy(ctx.aws, "role", role, policy_name)
        statements = [deny_instance_credentials(instance_arn(ctx.aws, instance))]
        plan = StepPlan(before={"profile_arn": profile_arn, "role": role,
                                "policy_name": policy_name, "policy_existed": existing is not None,
                                "association_id": None},
                        data={"role": role, "policy_name": policy_name})
        if self.revoke_role_sessions:
            since = (statement_time(existing, "IrcliRevokeOlderSessions") if existing else None) \
                or iso(ctx.clock.now()).split(".")[0] + "Z"
            statements.append(deny_sessions_before(since))
            plan.warnings.append(f"--revoke-role-sessions: every session of role {role} issued "
                                 f"before {since} is denied — the whole fleet sharing the role.")
        document = policy_document(*statements)
        if existing != document:
            plan.calls.append(Call("iam", "put_role_policy", {
                "RoleName": role, "PolicyName": policy_name,
                "PolicyDocument": json.dumps(document)},
                f"deny role {role} to credentials of {instance['InstanceId']} "
                "(SSM channel still allowed)"))
        else:
            plan.notes.append(f"deny policy {policy_name} already on role {role}")
        if self.detach_profile and instance.get("IamInstanceProfile"):
            assoc = _association(ctx, instance["InstanceId"])
            if assoc:
                assert plan.before is not None
                plan.before["association_id"] = assoc
                plan.calls.append(Call("ec2", "disassociate_iam_instance_profile",
                                       {"AssociationId": assoc},
                                       f"disassociate instance profile {profile_name}"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        if not before:
            return None
        plan = StepPlan()
        if not before["policy_existed"]:
            plan.calls.append(Call("iam", "delete_role_policy", {
                "RoleName": before["role"], "PolicyName": before["policy_name"]},
                f"remove deny policy {before['policy_name']} from role {before['role']}",
                tolerate=("NoSuchEntity",)))
        if before.get("association_id"):
            instance = ctx.facts.get("instance", {})
            if not instance.get("IamInstanceProfile"):
                plan.calls.append(Call("ec2", "associate_iam_instance_profile", {
                    "InstanceId": ctx.target_id,
                    "IamInstanceProfile": {"Arn": before["profile_arn"]}},
                    f"re-associate instance profile {before['profile_arn'].rsplit('/', 1)[-1]}"))
        return plan


def _association(ctx: RunContext, iid: str) -> str | None:
    found = ctx.aws.client("ec2").describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [iid]},
                 {"Name": "state", "Values": ["associated"]}])
    for assoc in found.get("IamInstanceProfileAssociations", []):
        return str(assoc["AssociationId"])
    return None
