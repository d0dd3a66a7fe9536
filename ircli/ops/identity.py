"""``disable-keys`` and ``revoke-sessions``: contain leaked IAM credentials, record everything.

The target is resolved before the run (a key id names no user until AWS says whose it is),
so an unknown key or user is a clear error before anything is planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ircli.aws.iam_identity import (
    assumable_roles,
    check_access_key_id,
    check_iam_name,
    get_role,
    get_user,
    key_owner,
    user_tags,
)
from ircli.core.case import check_case_id
from ircli.core.clock import Clock
from ircli.core.engine import Emit, RunContext
from ircli.core.errors import InvalidInput, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.ops.common import (
    RunSummary,
    pick_case,
    run_under_case,
    ship_after,
)
from ircli.steps.identity import (
    DeleteLoginProfile,
    DenyUser,
    DisableKeys,
    RecordUserState,
    TagUser,
)
from ircli.steps.names import TAG_CASE, TAG_STATUS
from ircli.steps.role_sessions import RevokeRoleSessions


def user_target(name: str) -> str:
    """The case's target id for a user (ARN-style, so it never clashes with an instance id)."""
    return f"user/{name}"


def role_target(name: str) -> str:
    return f"role/{name}"


@dataclass
class DisableKeysOptions:
    access_key_id: str | None = None
    user: str | None = None
    case_id: str | None = None
    dry_run: bool = False
    keep_login: bool = False
    all_keys: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        if not self.access_key_id and not self.user:
            raise InvalidInput("Name the credentials to disable.",
                               "Pass --access-key-id AKIA... or --user NAME.")
        if self.access_key_id:
            check_access_key_id(self.access_key_id)
        if self.user:
            check_iam_name(self.user, "user")
        if self.case_id:
            check_case_id(self.case_id)


@dataclass
class RevokeSessionsOptions:
    role: str
    case_id: str | None = None
    dry_run: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        check_iam_name(self.role, "role")
        if self.case_id:
            check_case_id(self.case_id)


def resolve_user(aws: AwsSession, key_id: str | None, user: str | None) -> dict[str, Any]:
    """The IAM user (GetUser) a key id or a name points to; NotFound with one sentence."""
    name = user
    if key_id:
        owner = key_owner(aws, key_id)
        if user and owner != user:
            raise UserError(f"Access key {key_id} belongs to user {owner}, not {user}.",
                            "Pass only --access-key-id, or the right --user.")
        name = owner
    assert name is not None
    return get_user(aws, name)


def disable_keys_steps(opts: DisableKeysOptions) -> list[Step]:
    """Record first; the key and the deny are the door, the login and tags come after."""
    keys = None if opts.all_keys or not opts.access_key_id else [opts.access_key_id]
    return [RecordUserState(), DisableKeys(keys), DenyUser(),
            DeleteLoginProfile(keep=opts.keep_login), TagUser()]


def disable_keys(aws: AwsSession, clock: Clock, opts: DisableKeysOptions,
                 emit: Emit | None = None) -> RunSummary:
    """Contain an IAM user (or its plan, with ``dry_run``) and return the result."""
    opts.validate()
    return run_user_steps(aws, clock, opts, disable_keys_steps(opts), emit=emit)


def run_user_steps(aws: AwsSession, clock: Clock, opts: DisableKeysOptions, steps: list[Step],
                   *, command: str = "disable-keys", facts: dict[str, Any] | None = None,
                   options: dict[str, Any] | None = None,
                   emit: Emit | None = None) -> RunSummary:
    """Run user steps (``record-user`` first) under the user's case: disable-keys, a runbook."""
    user = resolve_user(aws, opts.access_key_id, opts.user)
    name = user["UserName"]
    ctx = RunContext(aws, clock, user_target(name), dry_run=opts.dry_run, emit=emit)
    ctx.facts.update(facts or {})
    ctx.facts["user"] = user
    tags = user_tags(aws, name)
    tagged = tags.get(TAG_CASE) if tags.get(TAG_STATUS) == "contained" else None
    case_id = pick_case(opts.case_id, tagged, ctx, f"User {name}", bucket=opts.evidence_bucket)
    fields = {"target": ctx.target_id, "user_name": name, "user_arn": user["Arn"],
              "access_key_id": opts.access_key_id}
    return run_under_case(ctx, command, case_id, steps, "contained",
                          {"kind": "iam-user", "name": name, "arn": user["Arn"]}, fields,
                          options=vars(opts) if options is None else options,
                          follow_up=lambda: user_follow_up(aws, user),
                          shipper=_shipper(ctx, command, steps, opts.evidence_bucket))


def revoke_sessions(aws: AwsSession, clock: Clock, opts: RevokeSessionsOptions,
                    emit: Emit | None = None) -> RunSummary:
    """Deny a role's sessions issued before now (or the plan, with ``dry_run``)."""
    opts.validate()
    role = get_role(aws, opts.role)
    if str(role.get("Path", "")).startswith("/aws-service-role/"):
        raise UserError(f"{opts.role} is a service-linked role, whose sessions AWS does not let "
                        "anyone revoke.",
                        "Contain what uses it instead (the instance, the user, the service).")
    ctx = RunContext(aws, clock, role_target(role["RoleName"]), dry_run=opts.dry_run, emit=emit)
    ctx.facts["role"] = role
    case_id = pick_case(opts.case_id, None, ctx, f"Role {role['RoleName']}",
                        bucket=opts.evidence_bucket)
    fields = {"target": ctx.target_id, "role_name": role["RoleName"], "role_arn": role["Arn"]}
    steps: list[Step] = [RevokeRoleSessions()]
    return run_under_case(
        ctx, "revoke-sessions", case_id, steps, "revoked",
        {"kind": "iam-role", "name": role["RoleName"], "arn": role["Arn"]}, fields,
        options=vars(opts), follow_up=lambda: [
            "New sessions of the role still work: if the attacker can assume it again "
            "(a leaked user key, a too-wide trust policy), contain that first."],
        shipper=_shipper(ctx, "revoke-sessions", steps, opts.evidence_bucket))


def _shipper(ctx: RunContext, command: str, steps: list[Step], bucket: str | None
             ) -> CaseShipper:
    """The bucket waits until the door is shut (keys off, deny in place), as for contain."""
    return CaseShipper(ctx, bucket, command, start_after=ship_after(steps, "deny-user"))


def user_follow_up(aws: AwsSession, user: dict[str, Any]) -> list[str]:
    """What ircli leaves to the responder: role sessions, CloudTrail, what the key created."""
    account = aws.identity()["account"]
    found = [f"Sessions of role {r['role']} stay valid if {user['UserName']} assumed it "
             f"({r['why']}): run `ircli revoke-sessions --role {r['role']}`."
             for r in assumable_roles(aws, user["Arn"], account)]
    return [*found,
            "Look in CloudTrail for what the key did and created (users, keys, roles, "
            "policies, instances): ircli does not remove anything the attacker made."]

