"""`ircli triage FINDING|-` and `ircli triage --finding-id ID [--detector-id ID]`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ircli.cli.cmd_runbook import run_with_confirmation, runbooks_dir_option
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options


@click.command("triage")
@click.argument("source", metavar="[FINDING.json|-]", required=False)
@click.option("--finding-id", help="Read the finding from GuardDuty (GetFindings) instead.")
@click.option("--detector-id", help="With --finding-id (default: the region's detector).")
@click.option("--execute", is_flag=True, help="Run the matching runbook (after the plan).")
@click.option("--yes", "-y", is_flag=True, help="With --execute: do not ask (for scripts).")
@click.option("--case-id", help="Case to record under (default: the target's open case, or new).")
@click.option("--vpc", help="IP runbooks: block in this VPC instead of the finding's.")
@click.option("--subnet", "subnets", multiple=True, help="IP runbooks: only these subnets.")
@click.option("--notify-topic", help="SNS topic for notify steps (default: IRCLI_NOTIFY_TOPIC, "
                                     "then [notify] topic in the ircli config).")
@runbooks_dir_option
@global_options
@click.pass_obj
def triage_cmd(opts: GlobalOptions, source: str | None, finding_id: str | None,
               detector_id: str | None, execute: bool, yes: bool, case_id: str | None,
               vpc: str | None, subnets: tuple[str, ...], notify_topic: str | None,
               runbooks_dir: str | None) -> int:
    """Read a GuardDuty finding: what happened, on what, from where, and the runbook's plan."""
    from ircli.cli.flow import show
    from ircli.cli.render_triage import render_triage
    from ircli.core.config import evidence_bucket
    from ircli.core.errors import UserError
    from ircli.ops.runbook import notify_topic as topic_setting
    from ircli.ops.triage import check_account, runbook_options, triage
    from ircli.runbook.library import all_runbooks
    from ircli.triage.source import fetch_finding, read_finding

    if bool(source) == bool(finding_id):
        raise click.UsageError("Pass a finding file (or - for stdin), or --finding-id.")
    finding = fetch_finding(aws_session(opts), finding_id, detector_id) if finding_id \
        else read_finding(str(source), sys.stdin)
    if finding.region and opts.region and finding.region != opts.region:
        raise UserError(f"The finding is from region {finding.region}, not {opts.region}.",
                        f"Run with --region {finding.region} (or without --region).")
    opts.region = opts.region or finding.region  # act where the finding happened
    aws = aws_session(opts)
    result = triage(aws, finding, all_runbooks(runbooks_dir))
    report = result.to_dict()
    show(lambda o, r: render_triage(o, r, planned=result.match is not None), opts, report)
    if result.match is None:
        return 2 if execute else 0
    check_account(aws, finding)
    book = result.match.runbook
    options = runbook_options(
        finding, book, vpc=vpc, subnets=list(subnets), case_id=case_id,
        evidence_bucket=evidence_bucket(opts.evidence_bucket, strict=False),
        notify_topic=topic_setting(notify_topic))

    def decorate(data: dict[str, Any]) -> None:
        data["triage"] = report

    return run_with_confirmation(opts, book, options, dry_run=not execute, yes=yes,
                                 decorate=decorate)
