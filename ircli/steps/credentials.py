"""Cut the instance's credentials without cutting the rest of the fleet that shares its role.

Instance-profile credentials outlive a profile disassociation, so the cut is a deny on the
role conditioned on ``ec2:SourceInstanceARN``: only credentials delivered to this instance die,
wherever they are used from. The SSM agent's channel stays allowed, from the instance only, so
live response works. All contained instances of a role share one managed deny policy
(:mod:`ircli.aws.contain_deny`); a role with the per-instance inline policies of earlier
versions keeps them until release removes them.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.aws import contain_deny as deny
from ircli.aws import iam_managed
from ircli.aws.ec2 import instance_arn
from ircli.aws.iam_policies import contain_deny, inline_policy
from ircli.core.engine import RunContext
from ircli.core.permission import ANY_ROLE, IRCLI_POLICIES, Permission
from ircli.core.step import Call, CompileContext, Fragment, NotCompilable, Step, StepPlan, register
from ircli.steps.names import deny_policy_name as legacy_policy_name
from ircli.steps.role_sessions import (
    REVOKE_PERMISSIONS,
    UNREVOKE_PERMISSIONS,
    revoke_calls,
    unrevoke_calls,
)

# Only ircli's own policies may be attached to or detached from a role.
_IRCLI_POLICY_ONLY = {"ArnLike": {"iam:PolicyARN": IRCLI_POLICIES}}
_MANAGE_IRCLI_POLICIES = Permission(
    ("iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicy",
     "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:TagPolicy"),
    IRCLI_POLICIES)


@register
class CutCredentials(Step):
    """Targeted deny on the instance's role; optionally detach the profile, revoke sessions."""

    name = "cut-credentials"
    runbook_targets = ("instance",)
    title = "Cut the instance's credentials"
    permissions = (
        "iam:GetInstanceProfile", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
        _MANAGE_IRCLI_POLICIES,
        Permission("iam:AttachRolePolicy", ANY_ROLE, _IRCLI_POLICY_ONLY),
        "ec2:DescribeIamInstanceProfileAssociations", "ec2:DisassociateIamInstanceProfile",
        *REVOKE_PERMISSIONS,
    )
    undo_permissions = (
        *UNREVOKE_PERMISSIONS,
        _MANAGE_IRCLI_POLICIES,
        Permission("iam:DetachRolePolicy", ANY_ROLE, _IRCLI_POLICY_ONLY),
        "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
        "iam:DeleteRolePolicy",  # the per-instance inline policies of earlier versions
        # Re-associating a detached profile also needs iam:PassRole for the instance's role,
        # which ircli's policy withholds on purpose (it would pass any role): grant it then.
        "ec2:AssociateIamInstanceProfile",
    )

    def __init__(self, detach_profile: bool = False, revoke_role_sessions: bool = False) -> None:
        self.detach_profile = detach_profile
        self.revoke_role_sessions = revoke_role_sessions

    def compile(self, cc: CompileContext) -> Fragment | None:
        from ircli.steps import asl_credentials
        if self.detach_profile or self.revoke_role_sessions:
            raise NotCompilable(self.name, "detach_profile and revoke_role_sessions have no "
                                "compiled form yet")
        return asl_credentials.cut_credentials(cc.prefix, cc.partition, self.permissions)

    def plan(self, ctx: RunContext) -> StepPlan:
        instance = ctx.facts["instance"]
        iid = instance["InstanceId"]
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
        account = instance_arn(ctx.aws, instance).split(":")[4]
        arn = iam_managed.policy_arn(ctx.aws.partition, account, deny.deny_policy_name(role))
        state = deny.read_state(ctx.aws, role, arn)
        plan = StepPlan(before={"profile_arn": profile_arn, "role": role, "policy_arn": arn,
                                "instance_listed": iid in state.instance_ids,
                                "association_id": None},
                        data={"role": role, "policy_arn": arn},
                        pending={"role": role, "arn": arn})
        if state.tampered:
            plan.warnings.append(
                f"{iam_managed.policy_name(arn)} on role {role} does not hold what ircli wrote "
                "(someone changed it): ircli writes it again. Find out who: CloudTrail "
                "CreatePolicyVersion.")
        if iid not in state.instance_ids or not state.attached or state.tampered:
            others = len(state.instance_ids - {iid})
            document = contain_deny(state.instance_ids | {iid})
            call = Call("iam", "create_policy_version", {
                "PolicyArn": arn, "PolicyDocument": json.dumps(document), "SetAsDefault": True},
                f"deny role {role} to credentials of {iid} (SSM channel only from the "
                f"instance itself) in {iam_managed.policy_name(arn)}"
                + (f", beside {others} other contained instance(s)" if others else ""))
            plan.calls.append(call)
            plan.pending["deny_call"] = call
        else:
            plan.notes.append(f"{iam_managed.policy_name(arn)} on role {role} already names "
                              f"{iid}")
        if self.revoke_role_sessions:
            assert ctx.case is not None
            revoke = revoke_calls(ctx, role, account, ctx.case.case_id)
            assert plan.before is not None
            plan.before.update(revoke_policy_arn=revoke.arn,
                               revoke_policy_existed=revoke.existed)
            plan.calls += revoke.calls
            plan.notes += revoke.notes
            plan.warnings.append(f"--revoke-role-sessions: every session of role {role} issued "
                                 f"before {revoke.since} is denied — the whole fleet sharing "
                                 "the role.")
        if self.detach_profile and instance.get("IamInstanceProfile"):
            assoc = _association(ctx, iid)
            if assoc:
                assert plan.before is not None
                plan.before["association_id"] = assoc
                plan.calls.append(Call("ec2", "disassociate_iam_instance_profile",
                                       {"AssociationId": assoc},
                                       f"disassociate instance profile {profile_name}"))
        return plan

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        for call in plan.calls:
            if call is plan.pending.get("deny_call"):
                deny.add_instance(ctx.aws, plan.pending["role"], plan.pending["arn"],
                                  ctx.target_id, ctx.clock.sleep)
            else:
                ctx.execute(call)

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        if not before:
            return None
        role, iid = before["role"], ctx.target_id
        plan = StepPlan()
        arn = before.get("policy_arn")
        if arn is None:  # recorded by an earlier version: the per-instance inline policy
            account = instance_arn(ctx.aws, ctx.facts["instance"]).split(":")[4]
            arn = iam_managed.policy_arn(ctx.aws.partition, account,
                                         deny.deny_policy_name(role))
        if not before.get("instance_listed") and \
                iid in deny.read_state(ctx.aws, role, arn).instance_ids:
            call = Call("iam", "create_policy_version", {"PolicyArn": arn},
                        f"remove {iid} from {iam_managed.policy_name(arn)} on role {role} "
                        "(deleted with its last instance)")
            plan.calls.append(call)
            plan.pending.update(deny_call=call, role=role, arn=arn)
        legacy = legacy_policy_name(iid)
        if not (before.get("policy_name") == legacy and before.get("policy_existed")) \
                and inline_policy(ctx.aws, "role", role, legacy) is not None:
            plan.calls.append(Call("iam", "delete_role_policy", {
                "RoleName": role, "PolicyName": legacy},
                f"remove deny policy {legacy} (an earlier ircli's) from role {role}",
                tolerate=("NoSuchEntity",)))
        if before.get("revoke_policy_arn") and not before["revoke_policy_existed"]:
            plan.calls += unrevoke_calls(before["revoke_policy_arn"], role)
        if before.get("association_id"):
            instance = ctx.facts.get("instance", {})
            if not instance.get("IamInstanceProfile"):
                plan.calls.append(Call("ec2", "associate_iam_instance_profile", {
                    "InstanceId": ctx.target_id,
                    "IamInstanceProfile": {"Arn": before["profile_arn"]}},
                    f"re-associate instance profile {before['profile_arn'].rsplit('/', 1)[-1]}"))
        return plan

    def apply_undo(self, ctx: RunContext, plan: StepPlan) -> None:
        for call in plan.calls:
            if call is plan.pending.get("deny_call"):
                deny.remove_instance(ctx.aws, plan.pending["role"], plan.pending["arn"],
                                     ctx.target_id, ctx.clock.sleep)
            else:
                ctx.execute(call)


def _association(ctx: RunContext, iid: str) -> str | None:
    found = ctx.aws.client("ec2").describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [iid]},
                 {"Name": "state", "Values": ["associated"]}])
    for assoc in found.get("IamInstanceProfileAssociations", []):
        return str(assoc["AssociationId"])
    return None
