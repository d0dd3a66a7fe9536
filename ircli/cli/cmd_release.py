"""`ircli release INSTANCE_ID`; access keys, users and roles go to cmd_identity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.flow import plan_confirm_run
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3 at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary


@click.command("release")
@click.argument("targets", metavar="[TARGET|CASE_ID]...", nargs=-1)
@click.option("--targets-file", type=click.File("r"),
              help="Also every target (or case id) in this file, one per line (- for stdin).")
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Several targets: how many are released at once.")
@click.option("--case-id", shell_complete=complete_case_id,
              help="The case that contained it (default: found by tag or locally).")
@click.option("--dry-run", is_flag=True, help="Show what would be restored; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-reattach-asg", is_flag=True, help="Leave it out of its Auto Scaling group.")
@click.option("--user", help="Release an IAM user contained by disable-keys.")
@click.option("--role", help="Remove the session revocation revoke-sessions put on a role.")
@click.option("--bucket", help="Release an S3 bucket contained by s3-exposure/s3-exfiltration.")
@click.option("--function", "function",
              help="Release a Lambda function contained by lambda-compromise.")
@click.option("--db", help="Release an RDS DB instance contained by rds-compromise.")
@click.option("--trail", help="Put back the selectors cloudtrail-tampering replaced (logging "
                              "stays on).")
@global_options
@click.pass_obj
def release_cmd(opts: GlobalOptions, targets: tuple[str, ...], targets_file: Any, parallel: int,
                case_id: str | None, dry_run: bool,
                yes: bool, no_reattach_asg: bool, user: str | None, role: str | None,
                bucket: str | None = None, trail: str | None = None,
                function: str | None = None, db: str | None = None) -> int:
    """Undo containment exactly as the case recorded it (snapshots stay).

    A TARGET is an instance id, an access key id, or a case's target id (user/NAME,
    role/NAME, bucket/NAME, function/NAME, db/ID, trail/NAME); a CASE_ID stands for every
    target that case contained. Several are planned together, asked once and released in
    parallel; the exit code is the worst of them.
    """
    if len(targets) > 1 or targets_file is not None or (
            targets and not _single_target(targets[0])):
        from ircli.cli.release_many import release_many

        return release_many(opts, targets, targets_file, case_id=case_id, dry_run=dry_run,
                            yes=yes, reattach_asg=not no_reattach_asg, parallel=parallel)
    instance_id = targets[0] if targets else None
    if bucket or trail or function or db:
        return _release_resource(opts, bucket, trail, function, db, case_id, dry_run, yes)
    if user or role or (instance_id or "").startswith(("AKIA", "ASIA")):
        from ircli.cli.cmd_identity import release_identity_cmd

        return release_identity_cmd(opts, instance_id, user, role, case_id, dry_run, yes)
    if instance_id is None:
        raise click.UsageError("Name what to release: INSTANCE_ID, ACCESS_KEY_ID, --user or "
                               "--role.")
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.ops.release import ReleaseOptions, release

    options = ReleaseOptions(instance_id=instance_id, case_id=case_id, dry_run=True,
                             reattach_asg=not no_reattach_asg,
                             evidence_bucket=evidence_bucket(opts.evidence_bucket, strict=False))
    clock = SystemClock()

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        options.dry_run = dry
        return release(aws_session(opts, case_id, instance_id), clock, options, emit=emit)

    return plan_confirm_run(opts, run, f"Release {instance_id} back into service?",
                            dry_run=dry_run, yes=yes)


def _release_resource(opts: GlobalOptions, bucket: str | None, trail: str | None,
                      function: str | None, db: str | None, case_id: str | None,
                      dry_run: bool, yes: bool) -> int:
    from ircli.core.clock import SystemClock
    from ircli.ops.release_family import (
        release_bucket,
        release_db,
        release_function,
        release_trail,
    )

    if len([x for x in (bucket, trail, function, db) if x]) > 1:
        raise click.UsageError("Release one bucket, trail, function or database per run.")
    clock = SystemClock()

    def run(dry: bool, emit: Emit | None) -> RunSummary:
        aws = aws_session(opts, case_id)
        if bucket:
            return release_bucket(aws, clock, bucket, case_id=case_id, dry_run=dry, emit=emit)
        if db:
            return release_db(aws, clock, db, case_id=case_id, dry_run=dry, emit=emit)
        if function:
            return release_function(aws, clock, function, case_id=case_id, dry_run=dry,
                                    emit=emit)
        assert trail is not None
        return release_trail(aws, clock, trail, case_id=case_id, dry_run=dry, emit=emit)

    what = f"bucket {bucket}" if bucket else f"function {function}" if function \
        else f"database {db}" if db else f"trail {trail}"
    return plan_confirm_run(opts, run, f"Release {what}?", dry_run=dry_run, yes=yes)


def _single_target(value: str) -> bool:
    """An instance or access key id: the one-target flow as before (anything else is a case
    or a case's target id, for the fleet flow)."""
    return value.startswith(("i-", "AKIA", "ASIA"))
