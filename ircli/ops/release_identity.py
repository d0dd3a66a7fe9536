"""``release`` for identities: give a user or role back exactly what the case recorded.

Only what ircli changed is undone: the keys it found active and deactivated, its own deny
policies and tags. A deleted console password is reported, because AWS cannot restore it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ircli.aws.iam_identity import check_access_key_id, check_iam_name, get_role, user_tags
from ircli.core.case import check_case_id
from ircli.core.clock import Clock
from ircli.core.engine import Emit, RunContext
from ircli.core.errors import InvalidInput
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.ops.common import RunSummary, open_release_case, run_release, run_result
from ircli.ops.identity import resolve_user, role_target, user_target
from ircli.ops.release import Undo
from ircli.steps.assumed_role import FixTrust
from ircli.steps.identity import DeleteLoginProfile, DenyUser, DisableKeys, TagUser
from ircli.steps.names import TAG_CASE
from ircli.steps.role_sessions import RevokeRoleSessions


@dataclass
class IdentityReleaseOptions:
    access_key_id: str | None = None
    user: str | None = None
    role: str | None = None
    case_id: str | None = None
    dry_run: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        if self.role and (self.user or self.access_key_id):
            raise InvalidInput("Release a role or a user, not both in one run.",
                               "Run `ircli release` once per identity.")
        if not (self.role or self.user or self.access_key_id):
            raise InvalidInput("Name the identity to release.",
                               "Pass an access key id, --user NAME or --role NAME.")
        if self.access_key_id:
            check_access_key_id(self.access_key_id)
        if self.user:
            check_iam_name(self.user, "user")
        if self.role:
            check_iam_name(self.role, "role")
        if self.case_id:
            check_case_id(self.case_id)


def user_release_steps() -> list[Step]:
    """Keys first (the user works again), then the deny, the login report, the tags last."""
    return [Undo(DisableKeys()), Undo(DenyUser()), Undo(DeleteLoginProfile()), Undo(TagUser())]


def release_identity(aws: AwsSession, clock: Clock, opts: IdentityReleaseOptions,
                     emit: Emit | None = None) -> RunSummary:
    """Undo ``disable-keys`` or ``revoke-sessions`` as the case recorded them."""
    opts.validate()
    if opts.role:
        role = get_role(aws, opts.role)
        target = role_target(role["RoleName"])
        fields = {"target": target, "role_name": role["RoleName"], "role_arn": role["Arn"]}
        steps: list[Step] = [Undo(FixTrust()), Undo(RevokeRoleSessions())]
        tagged = None
    else:
        user = resolve_user(aws, opts.access_key_id, opts.user)
        target = user_target(user["UserName"])
        fields = {"target": target, "user_name": user["UserName"], "user_arn": user["Arn"],
                  "access_key_id": opts.access_key_id}
        steps = user_release_steps()
        tagged = user_tags(aws, user["UserName"]).get(TAG_CASE)
    ctx = RunContext(aws, clock, target, dry_run=opts.dry_run, emit=emit)
    case = open_release_case(
        ctx, opts.case_id, tagged=tagged,
        never=f"{target} was never contained by ircli: no case on this machine records it "
              "and it carries no ircli:case-id tag.")
    return run_release(ctx, case, steps,
                       lambda status, done: run_result(ctx, "release", status, done, **fields),
                       shipper=CaseShipper(ctx, opts.evidence_bucket, "release"))
