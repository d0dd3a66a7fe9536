"""`ircli disable-keys`, `ircli revoke-sessions`, and `ircli release` for identities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ircli.cli.confirm import confirm_new_case
from ircli.cli.flow import Run, plan_confirm_run, under_planned_case
from ircli.cli.locating import locate_option, where_found
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, case_options, global_options

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3 at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


@click.command("disable-keys")
@click.argument("access_key_ids", metavar="[ACCESS_KEY_ID...]", nargs=-1)
@click.option("--access-key-id", help="The leaked key (AKIA...), e.g. from a GuardDuty finding.")
@click.option("--user", help="The IAM user: deactivates all of its keys.")
@click.option("--targets-file", type=click.File("r"),
              help="Also every access key id in this file, one per line (- for stdin).")
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Several keys: how many are disabled at once.")
@case_options("the user's")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@click.option("--keep-login", is_flag=True,
              help="Keep the console password (deleting it cannot be undone).")
@click.option("--all-keys", is_flag=True, help="Deactivate every key of the key's user.")
@locate_option
@global_options
@click.pass_obj
def disable_keys_cmd(opts: GlobalOptions, access_key_ids: tuple[str, ...],
                     access_key_id: str | None, user: str | None, targets_file: Any,
                     parallel: int, case_id: str | None, new_case: bool, dry_run: bool,
                     yes: bool, keep_login: bool, all_keys: bool) -> int:
    """Shut out a leaked access key: deactivate, deny all, drop the login, keep the evidence.

    Several keys (arguments, --targets-file) are planned together, asked once and disabled in
    parallel, one case each; the exit code is the worst of them.
    """
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.fleet import read_targets, unique
    from ircli.ops.identity import DisableKeysOptions, disable_keys

    keys = [*access_key_ids, *([access_key_id] if access_key_id else [])]
    if targets_file is not None:
        keys += read_targets(targets_file, getattr(targets_file, "name", "the file"),
                             "access key id")
    keys = unique(keys)
    fleet = len(keys) > 1 or targets_file is not None  # --user then checks each key's owner
    if fleet and case_id:
        raise click.UsageError("--case-id names one case; several keys get one each.")
    if not fleet:
        confirm_new_case(case_id, new_case, dry_run)
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)
    clock = SystemClock()

    def run_for(key: str | None, who: str | None, where: GlobalOptions) -> Run:
        options = DisableKeysOptions(access_key_id=key, user=who, case_id=case_id,
                                     keep_login=keep_login, all_keys=all_keys,
                                     evidence_bucket=bucket)
        options.validate()
        return under_planned_case(options, lambda o, emit: disable_keys(
            aws_session(where, o.case_id), clock, o, emit=emit))

    if not fleet:
        key = keys[0] if keys else None
        where = where_found(opts, key) if key else opts
        run = run_for(key, user, where)
        return plan_confirm_run(where, run, f"Disable the credentials of {key or user} now?",
                                dry_run=dry_run, yes=yes)
    from ircli.cli.fleet import items_for, plan_confirm_run_many

    items = items_for(opts, keys, lambda key, where: run_for(key, user, where),
                      parallel=parallel)
    return plan_confirm_run_many(opts, "disable-keys", items,
                                 "Disable the credentials of these {count} targets now?",
                                 dry_run=dry_run, yes=yes, parallel=parallel)


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
