"""Contain an IAM user whose key leaked: record, deactivate keys, deny, drop the login, tag.

Keys are deactivated, never deleted: a deleted key is gone from the investigation (CloudTrail
still names it, but nobody can tell it apart from a rotated one) and cannot be given back.
The deny-all carries a ``aws:TokenIssueTime`` statement too, so the STS sessions the key
already minted (GetSessionToken, GetFederationToken) die with it.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.aws.iam_identity import (
    deny_everything,
    list_keys,
    login_profile,
    token_time,
    user_state,
    user_tags,
)
from ircli.aws.iam_policies import (
    deny_sessions_before,
    inline_policy,
    policy_document,
    statement_time,
)
from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.core.step import Call, Step, StepPlan, register
from ircli.steps.names import TAG_CASE, TAG_CONTAINED_AT, TAG_CONTAINED_BY, TAG_STATUS
from ircli.steps.resource_change import RecordPreState

USER_TAG_KEYS = (TAG_CASE, TAG_STATUS, TAG_CONTAINED_AT, TAG_CONTAINED_BY)


def user_deny_policy_name(case_id: str) -> str:
    return f"ircli-deny-{case_id}"


def _user(ctx: RunContext) -> str:
    return str(ctx.facts["user"]["UserName"])


def _recorded(ctx: RunContext, step: str) -> dict[str, Any]:
    if ctx.case is None:
        return {}
    entry: dict[str, Any] = ctx.record.get("steps", {}).get(step, {})
    return entry


@register
class RecordUserState(RecordPreState):
    """Write the user's keys, login, MFA, policies and groups to the case before any change."""

    name = "record-user"
    title = "Record the user's state"
    permissions = (
        "iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAccessKeys", "iam:GetLoginProfile",
        "iam:ListMFADevices", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies",
        "iam:ListGroupsForUser", "iam:ListUserTags", "iam:ListRoles", "sts:GetCallerIdentity",
    )

    def record(self, ctx: RunContext) -> StepPlan:
        state = user_state(ctx.aws, ctx.facts["user"])
        login = "console login" if state["login_profile"] else "no console login"
        return StepPlan(before=state, notes=[
            f"{len(state['access_keys'])} key(s), {login}, "
            f"{len(state['mfa_devices'])} MFA device(s), {len(state['groups'])} group(s)"])


@register
class DisableKeys(Step):
    """Deactivate the leaked key (or every key of the user); the keys stay for the record."""

    name = "disable-keys"
    runbook_targets = ("access-key",)
    title = "Deactivate access keys"
    permissions = ("iam:ListAccessKeys", "iam:UpdateAccessKey")
    undo_permissions = ("iam:UpdateAccessKey",)

    def __init__(self, key_ids: list[str] | None = None) -> None:
        self.key_ids = key_ids  # None: every key of the user

    def plan(self, ctx: RunContext) -> StepPlan:
        user = _user(ctx)
        keys = {k["AccessKeyId"]: k["Status"] for k in list_keys(ctx.aws, user)}
        wanted = list(keys) if self.key_ids is None else self.key_ids
        active = [k for k in wanted if keys.get(k) == "Active"]
        earlier = _recorded(ctx, self.name).get("data", {}).get("deactivated", [])
        plan = StepPlan(before={"user": user, "keys": keys},
                        data={"deactivated": sorted({*earlier, *active})})
        plan.calls = [Call("iam", "update_access_key", {
            "UserName": user, "AccessKeyId": key, "Status": "Inactive"},
            f"deactivate access key {key} of {user} (kept, not deleted)") for key in active]
        if not wanted:
            plan.notes.append(f"{user} has no access key")
        elif not active:
            plan.notes.append(f"{', '.join(wanted)}: already inactive")
        others = [k for k, status in keys.items() if status == "Active" and k not in wanted]
        if others:
            plan.warnings.append(f"{user} has other active keys ({', '.join(others)}): they "
                                 "stay active — ircli's deny-all on the user blocks them while "
                                 "it is in place, and they work again once it is released. Use "
                                 "--all-keys to deactivate them too.")
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """Reactivate exactly the keys this case found active and deactivated."""
        user = record["before"]["user"]
        keys = record.get("data", {}).get("deactivated", [])
        return StepPlan(calls=[Call("iam", "update_access_key", {
            "UserName": user, "AccessKeyId": key, "Status": "Active"},
            f"reactivate access key {key} of {user}", tolerate=("NoSuchEntity",))
            for key in keys])


@register
class DenyUser(Step):
    """Inline deny-all, plus a deny on sessions issued before now, named after the case."""

    name = "deny-user"
    runbook_targets = ("access-key",)
    title = "Deny everything to the user"
    permissions = ("iam:GetUserPolicy", "iam:PutUserPolicy")
    undo_permissions = ("iam:DeleteUserPolicy",)
    critical = True  # the deny also kills minted sessions: without it, not contained

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        user = _user(ctx)
        policy = user_deny_policy_name(ctx.case.case_id)
        existing = inline_policy(ctx.aws, "user", user, policy)
        since = (statement_time(existing, "IrcliRevokeOlderSessions") if existing else None) \
            or token_time(ctx.clock.now())
        document = policy_document(deny_everything(), deny_sessions_before(since))
        plan = StepPlan(before={"user": user, "policy_name": policy,
                                "policy_existed": existing is not None},
                        data={"policy_name": policy, "sessions_denied_before": since})
        if existing == document:
            plan.notes.append(f"deny policy {policy} already on {user}")
        else:
            plan.calls.append(Call("iam", "put_user_policy", {
                "UserName": user, "PolicyName": policy, "PolicyDocument": json.dumps(document)},
                f"put inline deny-all {policy} on {user} (and deny its sessions issued before "
                f"{since})"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        if before["policy_existed"]:
            return StepPlan(notes=[f"{before['policy_name']} was there before: left in place"])
        since = record.get("data", {}).get("sessions_denied_before")
        return StepPlan(
            calls=[Call("iam", "delete_user_policy", {
                "UserName": before["user"], "PolicyName": before["policy_name"]},
                f"remove deny policy {before['policy_name']} from {before['user']}",
                tolerate=("NoSuchEntity",))],
            warnings=[f"STS sessions minted with {before['user']}'s keys before {since} are no "
                      "longer denied: unexpired ones work again (they last at most 36 h)."]
            if since
            else [])


@register
class DeleteLoginProfile(Step):
    """Delete the console password; AWS cannot give a password back, so release cannot."""

    name = "delete-login"
    runbook_targets = ("access-key",)
    title = "Delete the console login"
    permissions = ("iam:GetLoginProfile", "iam:DeleteLoginProfile")

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep

    def plan(self, ctx: RunContext) -> StepPlan:
        user = _user(ctx)
        profile = login_profile(ctx.aws, user)
        if profile is None:
            return StepPlan(before={"user": user, "login_profile": None},
                            notes=[f"{user} has no console login"])
        if self.keep:
            return StepPlan(skip_reason="--keep-login: console login left in place", warnings=[
                f"{user}'s console password still works (--keep-login)."])
        return StepPlan(
            before={"user": user, "login_profile": profile},
            calls=[Call("iam", "delete_login_profile", {"UserName": user},
                        f"delete the console login of {user} (NOT restorable: release cannot "
                        "bring the password back)", tolerate=("NoSuchEntity",))],
            warnings=[f"Deleting {user}'s console login cannot be undone: after release an "
                      "administrator must set a new password (--keep-login avoids this)."])

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before") or {}
        if not before.get("login_profile"):
            return None
        user = before["user"]
        return StepPlan(warnings=[
            f"The console login of {user} was deleted and cannot be restored: set a new "
            f"password (aws iam create-login-profile --user-name {user} "
            "--password-reset-required ...)."])


@register
class TagUser(Step):
    """Case id and status on the user, so the IAM console shows the incident."""

    name = "tag-user"
    runbook_targets = ("access-key",)
    title = "Tag the user"
    permissions = ("iam:ListUserTags", "iam:TagUser", "sts:GetCallerIdentity")
    undo_permissions = ("iam:UntagUser", "iam:TagUser")

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        user = _user(ctx)
        tags = user_tags(ctx.aws, user)
        wanted = {TAG_CASE: ctx.case.case_id, TAG_STATUS: "contained",
                  TAG_CONTAINED_AT: tags.get(TAG_CONTAINED_AT) or iso(ctx.clock.now()),
                  TAG_CONTAINED_BY: tags.get(TAG_CONTAINED_BY) or ctx.aws.identity()["arn"]}
        plan = StepPlan(before={"user": user,
                                "tags": {k: tags[k] for k in USER_TAG_KEYS if k in tags}})
        if all(tags.get(k) == v for k, v in wanted.items()):
            plan.notes.append(f"already tagged contained for case {ctx.case.case_id}")
            return plan
        plan.calls.append(Call("iam", "tag_user", {"UserName": user, "Tags": [
            {"Key": k, "Value": v} for k, v in wanted.items()]},
            f"tag {user} contained (case {ctx.case.case_id})"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """Remove ircli's tags; put back any value the user carried before."""
        before = record["before"]
        user, previous = before["user"], before["tags"]
        plan = StepPlan()
        added = [k for k in USER_TAG_KEYS if k not in previous]
        if added:
            plan.calls.append(Call("iam", "untag_user", {"UserName": user, "TagKeys": added},
                                   f"remove ircli tags from {user}"))
        if previous:
            plan.calls.append(Call("iam", "tag_user", {"UserName": user, "Tags": [
                {"Key": k, "Value": v} for k, v in previous.items()]},
                f"restore the earlier ircli tags of {user}"))
        return plan
