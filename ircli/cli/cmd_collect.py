"""`ircli collect INSTANCE_ID`: live response through SSM, the archive verified in S3."""

from __future__ import annotations

import click

from ircli.cli.confirm import confirm_new_case, instance_from_input
from ircli.cli.flow import plan_confirm_run, under_planned_case
from ircli.cli.locating import locate_option, where_found
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, case_options, global_options


@click.command("collect")
@click.argument("instance_id", required=False)
@click.option("--resume", "resume_case", metavar="CASE_ID",
              help="Instead: adopt the command an earlier collect of the case sent (--no-wait, "
                   "Ctrl-C), wait for it, verify its archive and record it.")
@case_options("the instance's")
@click.option("--os", "os_name", type=click.Choice(["auto", "linux", "windows"]), default="auto",
              show_default=True, help="Which collector; auto asks SSM, then EC2, for the platform.")
@click.option("--timeout", type=click.IntRange(60, 172800), default=900, show_default=True,
              help="Seconds the collector may run; it stops collecting early to upload in time.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the archive and verify it, or return the command id once sent.")
@click.option("--include-memory", is_flag=True,
              help="Acquire memory first with a tool already staged on the host (AVML, "
                   "winpmem); nothing is installed.")
@click.option("--sections", default="all", show_default=True,
              help="Comma list of collector sections (e.g. processes,sockets,sessions), or all.")
@click.option("--max-total-mb", type=click.IntRange(1, 999999), default=1024, show_default=True,
              help="Cap on collected data before compression; what is skipped is listed.")
@click.option("--max-file-mb", type=click.IntRange(1, 99999), default=10, show_default=True,
              help="Cap per copied file or command output.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan (agent, document, key); send nothing, change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@locate_option
@global_options
@click.pass_obj
def collect_cmd(opts: GlobalOptions, instance_id: str | None, resume_case: str | None,
                case_id: str | None, new_case: bool, os_name: str, timeout: int, wait: bool,
                include_memory: bool, sections: str, max_total_mb: int, max_file_mb: int,
                dry_run: bool, yes: bool) -> int:
    """Run the live-response collector on an instance and keep its verified archive.

    Exit codes: 0 collected (or sent, with --no-wait), 3 partial, 2 cannot collect as things
    stand (not running, not managed by SSM, agent offline, no bucket), 5 sent but no verified
    evidence came back (undeliverable, timed out, failed, upload failed or missing, hash
    mismatch).

    `ircli collect --resume CASE_ID [INSTANCE_ID]` adopts a command sent earlier and never
    judged; it changes nothing in AWS (unless the command overruns its budget: then it is
    cancelled, as a waiting collect does), so it does not ask.
    """
    from ircli.core.clock import SystemClock
    from ircli.core.config import evidence_bucket
    from ircli.liveresponse.collection import CollectSettings
    from ircli.ops.collect import CollectOptions, collect

    if resume_case:
        return _resume(opts, resume_case, instance_id, wait, dry_run)
    if not instance_id:
        raise click.UsageError("Name the instance to collect from (or --resume CASE_ID).")
    instance_id = instance_from_input(opts, instance_id)
    opts = where_found(opts, instance_id)
    confirm_new_case(case_id, new_case, dry_run)
    settings = CollectSettings(os=os_name, timeout=timeout, wait=wait,
                               include_memory=include_memory, sections=sections,
                               max_total_mb=max_total_mb, max_file_mb=max_file_mb,
                               bucket=evidence_bucket(opts.evidence_bucket))
    options = CollectOptions(instance_id, case_id, dry_run=True, settings=settings)
    options.validate()
    clock = SystemClock()

    run = under_planned_case(options, lambda o, emit: collect(
        aws_session(opts, o.case_id, o.instance_id), clock, o, emit=emit))
    return plan_confirm_run(opts, run, f"Run the live-response collector on {instance_id} now?",
                            dry_run=dry_run, yes=yes)


def _resume(opts: GlobalOptions, case_id: str, instance_id: str | None, wait: bool,
            dry_run: bool) -> int:
    from ircli.cli.render import Progress, render_run
    from ircli.core.clock import SystemClock
    from ircli.ops.collect import ResumeOptions, resume_collection

    if dry_run:
        raise click.UsageError("--resume changes nothing in AWS; it takes no --dry-run.")
    result = resume_collection(aws_session(opts, case_id), SystemClock(),
                               ResumeOptions(case_id, instance_id, wait=wait),
                               emit=Progress(opts))
    render_run(opts, result.data)
    return int(result.exit_code)
