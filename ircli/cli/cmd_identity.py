"""`ircli disable-keys`, `ircli revoke-sessions`, and `ircli release` for identities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ircli.cli.confirm import confirm_new_case
from ircli.cli.flow import plan_confirm_run, under_planned_case
from ircli.cli.locating import locate_option, where_found
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, case_options, global_options

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3 at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


@click.command("disable-keys")
@click.option("--access-key-id", help="The leaked key (AKIA...), e.g. from a GuardDuty finding.")
@click.option("--user", help="The IAM user: deactivates all of its keys.")
@case_options("the user's")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@click.option("--keep-login", is_flag=True,
              help="Keep the console password (deleting it cannot be undone).")
@click.option("--all-keys", is_flag=True, help="Deactivate every key of the key's user.")
@locate_option
@global_options
@click.pass_obj
def disable_keys_cmd(opts: GlobalOptions, access_key_id: str | None, user: str | None,
                     case_id: str | None, new_case: bool, dry_run: bool, yes: bool,
                     keep_login: bool, all_keys: bool) -> int:
    """Shut out a leaked access key: deactivate, deny all, drop the login, keep the evidence."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.identity import DisableKeysOptions, disable_keys

    confirm_new_case(case_id, new_case, dry_run)
    options = DisableKeysOptions(access_key_id=access_key_id, user=user, case_id=case_id,
                                 keep_login=keep_login, all_keys=all_keys,
                                 evidence_bucket=evidence_bucket(opts.evidence_bucket,
                                                                 strict=False))
    options.validate()
    if access_key_id:
        opts = where_found(opts, access_key_id)
    clock = SystemClock()

    run = under_planned_case(options, lambda o, emit: disable_keys(
        aws_session(opts, o.case_id), clock, o, emit=emit))
    who = access_key_id or user
    return plan_confirm_run(opts, run, f"Disable the credentials of {who} now?",
                            dry_run=dry_run, yes=yes)


@click.command("revoke-sessions")
@click.option("--role", required=True, help="The IAM role whose older sessions to deny.")
@case_options("the role's")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@global_options
@click.pass_obj
def revoke_sessions_cmd(opts: GlobalOptions, role: str, case_id: str | None, new_case: bool,
                        dry_run: bool, yes: bool) -> int:
    """Deny every session of a role issued before now (affects every holder of the role)."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.identity import RevokeSessionsOptions, revoke_sessions

    confirm_new_case(case_id, new_case, dry_run)
    options = RevokeSessionsOptions(role=role, case_id=case_id, evidence_bucket=evidence_bucket(
        opts.evidence_bucket, strict=False))
    options.validate()
    clock = SystemClock()

    run = under_planned_case(options, lambda o, emit: revoke_sessions(
        aws_session(opts, o.case_id), clock, o, emit=emit))
    return plan_confirm_run(
        opts, run, f"Revoke every current session of role {role}, for all its holders?",
        dry_run=dry_run, yes=yes)


def release_identity_cmd(opts: GlobalOptions, access_key_id: str | None, user: str | None,
                         role: str | None, case_id: str | None, dry_run: bool,
                         yes: bool) -> int:
    """`ircli release AKIA...`, `--user NAME` or `--role NAME` (called by cmd_release)."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.release_identity import IdentityReleaseOptions, release_identity

    options = IdentityReleaseOptions(access_key_id=access_key_id, user=user, role=role,
                                     case_id=case_id, evidence_bucket=evidence_bucket(
                                         opts.evidence_bucket, strict=False))
    options.validate()
    clock = SystemClock()

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        options.dry_run = dry
        return release_identity(aws_session(opts, case_id), clock, options, emit=emit)

    who = f"role {role}" if role else access_key_id or f"user {user}"
    return plan_confirm_run(opts, run, f"Release {who}?", dry_run=dry_run, yes=yes)
