"""`ircli contain INSTANCE_ID`."""

from __future__ import annotations

import click

from ircli.cli.complete import complete_case_id
from ircli.cli.confirm import confirm_new_case, instance_from_input
from ircli.cli.flow import plan_confirm_run, under_planned_case
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options


@click.command("contain")
@click.argument("instance_id")
@click.option("--case-id", shell_complete=complete_case_id,
              help="Case to record under (default: the instance's open case, or new).")
@click.option("--new-case", is_flag=True,
              help="--case-id names a new case (otherwise a near miss of a local case is "
                   "refused, and a terminal is asked).")
@click.option("--reason", help="Why, in words: kept in the case and the audit log.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan and prove permissions; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@click.option("--no-snapshot", is_flag=True, help="Do not snapshot the EBS volumes.")
@click.option("--wait-snapshots", is_flag=True, help="Wait until the snapshots complete.")
@click.option("--ssm-egress", type=click.Choice(["endpoints", "any", "none"]), default="endpoints",
              show_default=True, help="What the isolation group lets out for live response.")
@click.option("--analyst-sg", help="Security group allowed in to the isolated instance.")
@click.option("--detach-profile", is_flag=True, help="Also disassociate the instance profile.")
@click.option("--revoke-role-sessions", is_flag=True,
              help="Also deny every older session of the role (affects the whole fleet).")
@click.option("--collect", is_flag=True,
              help="Then run the live-response collector (`ircli collect` defaults) and verify "
                   "its archive in the evidence bucket.")
@global_options
@click.pass_obj
def contain_cmd(opts: GlobalOptions, instance_id: str, case_id: str | None, new_case: bool,
                reason: str | None, dry_run: bool, yes: bool, no_snapshot: bool,
                wait_snapshots: bool,
                ssm_egress: str, analyst_sg: str | None, detach_profile: bool,
                revoke_role_sessions: bool, collect: bool) -> int:
    """Isolate a compromised EC2 instance and keep it as evidence."""
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.liveresponse.collection import CollectSettings
    from ircli.ops.contain import ContainOptions, contain

    instance_id = instance_from_input(opts, instance_id)
    confirm_new_case(case_id, new_case, dry_run)
    bucket = evidence_bucket(opts.evidence_bucket, strict=False)
    options = ContainOptions(
        instance_id=instance_id, case_id=case_id, reason=reason, dry_run=True,
        snapshot=not no_snapshot, wait_snapshots=wait_snapshots, ssm_egress=ssm_egress,
        analyst_sg=analyst_sg, detach_profile=detach_profile,
        revoke_role_sessions=revoke_role_sessions, evidence_bucket=bucket,
        collect=CollectSettings(bucket=bucket) if collect else None)
    options.validate()
    clock = SystemClock()

    run = under_planned_case(options, lambda o, emit: contain(
        aws_session(opts, o.case_id), clock, o, emit=emit))
    return plan_confirm_run(opts, run, f"Contain {instance_id} now?", dry_run=dry_run, yes=yes)
