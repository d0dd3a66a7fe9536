"""`ircli triage FINDING|-`, `--finding-id ID [--detector-id ID]`, `--from-security-hub`.

Each finding is answered in its own account and region: ircli assumes the configured role
name there (``--role-name``, ``IRCLI_ROLE_NAME``, ``[accounts] role_name``), so findings
gathered by a GuardDuty administrator or Security Hub reach their targets from the central
account. A file of several findings gives one line per finding, and ``--execute`` runs each.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import click

from ircli.cli.cmd_runbook import run_with_confirmation, runbooks_dir_option
from ircli.cli.complete import complete_case_id
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options


@click.command("triage")
@click.argument("source", metavar="[FINDING.json|-]", required=False)
@click.option("--finding-id", help="Read the finding from GuardDuty (GetFindings) instead.")
@click.option("--detector-id", help="With --finding-id (default: the region's detector).")
@click.option("--from-security-hub", is_flag=True,
              help="Read GuardDuty's active findings from Security Hub (GetFindings).")
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="With --from-security-hub: an ASFF field to match, e.g. SeverityLabel=HIGH "
                   "or AwsAccountId=111111111111 (repeatable).")
@click.option("--execute", is_flag=True, help="Run the matching runbook (after the plan).")
@click.option("--yes", "-y", is_flag=True, help="With --execute: do not ask (for scripts).")
@click.option("--case-id", shell_complete=complete_case_id,
              help="Case to record under (default: the target's open case, or new).")
@click.option("--vpc", help="IP runbooks: block in this VPC instead of the finding's.")
@click.option("--subnet", "subnets", multiple=True, help="IP runbooks: only these subnets.")
@click.option("--notify-topic", help="SNS topic for notify steps (default: IRCLI_NOTIFY_TOPIC, "
                                     "then [notify] topic in the ircli config).")
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Several findings: how many are answered at once.")
@runbooks_dir_option
@global_options
@click.pass_obj
def triage_cmd(opts: GlobalOptions, source: str | None, finding_id: str | None,
               detector_id: str | None, from_security_hub: bool, filters: tuple[str, ...],
               execute: bool, yes: bool, case_id: str | None, vpc: str | None,
               subnets: tuple[str, ...], notify_topic: str | None, parallel: int,
               runbooks_dir: str | None) -> int:
    """Read GuardDuty findings: what happened, on what, where, and the runbook's plan."""
    from ircli.core.errors import InvalidInput
    from ircli.runbook.library import all_runbooks
    from ircli.triage.source import fetch_finding, read_findings, security_hub_findings

    if sum(map(bool, (source, finding_id, from_security_hub))) != 1:
        raise click.UsageError("Pass a finding file (or - for stdin), --finding-id, or "
                               "--from-security-hub.")
    if finding_id:
        findings = [fetch_finding(aws_session(opts), finding_id, detector_id)]
    elif from_security_hub:
        pairs = [f.partition("=") for f in filters]
        if any(not sep or not key for key, sep, _ in pairs):
            raise InvalidInput("--filter takes FIELD=VALUE.", "e.g. --filter SeverityLabel=HIGH")
        findings = security_hub_findings(aws_session(opts), {k: v for k, _, v in pairs})
    else:
        findings = read_findings(str(source), sys.stdin)
    runbooks = all_runbooks(runbooks_dir)
    settings = {"vpc": vpc, "subnets": list(subnets), "case_id": case_id,
                "notify_topic": notify_topic}
    if len(findings) == 1:
        return _one(opts, findings[0], runbooks, settings, execute=execute, yes=yes)
    return _many(opts, findings, runbooks, settings, execute=execute, yes=yes,
                 parallel=parallel)


def where(opts: GlobalOptions, finding: Any) -> GlobalOptions:
    """The options to act on ``finding``: its own region and account (through the role)."""
    from ircli.core.errors import UserError

    if finding.region and opts.region and finding.region != opts.region:
        raise UserError(f"The finding is from region {finding.region}, not {opts.region}.",
                        f"Run with --region {finding.region} (or without --region).")
    if finding.account and opts.account and finding.account != opts.account:
        raise UserError(f"The finding is from account {finding.account}, not {opts.account}.",
                        f"Run with --account {finding.account} (or without --account).")
    scoped = copy.copy(opts)
    scoped.region = opts.region or finding.region
    scoped.account = opts.account or finding.account
    return scoped


def _options(opts: GlobalOptions, finding: Any, book: Any, settings: dict[str, Any]) -> Any:
    from ircli.core.config import evidence_bucket
    from ircli.ops.runbook import notify_topic as topic_setting
    from ircli.ops.triage import runbook_options

    return runbook_options(
        finding, book, vpc=settings["vpc"], subnets=settings["subnets"],
        case_id=settings["case_id"],
        evidence_bucket=evidence_bucket(opts.evidence_bucket, strict=False),
        notify_topic=topic_setting(settings["notify_topic"]))


def _one(opts: GlobalOptions, finding: Any, runbooks: list[Any], settings: dict[str, Any], *,
         execute: bool, yes: bool) -> int:
    from ircli.cli.flow import show
    from ircli.cli.render_triage import render_triage
    from ircli.ops.triage import triage

    scoped = where(opts, finding)
    result = triage(aws_session(scoped), finding, runbooks)
    report = result.to_dict()
    show(lambda o, r: render_triage(o, r, planned=result.match is not None), scoped, report)
    if result.match is None:
        return 2 if execute else 0
    book = result.match.runbook

    def decorate(data: dict[str, Any]) -> None:
        data["triage"] = report

    return run_with_confirmation(scoped, book, _options(scoped, finding, book, settings),
                                 dry_run=not execute, yes=yes, decorate=decorate)


def _many(opts: GlobalOptions, findings: list[Any], runbooks: list[Any],
          settings: dict[str, Any], *, execute: bool, yes: bool, parallel: int) -> int:
    """One line per finding; with --execute, every matched runbook, asked once."""
    from ircli.cli.fleet import FleetItem, plan_confirm_run_many
    from ircli.cli.flow import under_planned_case
    from ircli.core.clock import SystemClock
    from ircli.core.errors import IrcliError
    from ircli.ops.runbook import run_runbook
    from ircli.ops.triage import triage

    if settings["case_id"]:
        raise click.UsageError("--case-id names one case; with several findings each target "
                               "gets its own (leave --case-id out).")
    clock = SystemClock()
    items: list[FleetItem] = []
    for finding in findings:
        summary = {"type": finding.type, "severity": finding.severity_label}
        try:
            scoped = where(opts, finding)
            result = triage(aws_session(scoped), finding, runbooks)
            if result.match is None:
                raise IrcliError(f"no runbook answers {finding.type}")
            book = result.match.runbook
            options = _options(scoped, finding, book, settings)
        except IrcliError as err:
            items.append(FleetItem(finding.instance_id or finding.id or "?",
                                   _refusal(err), finding.account, finding.region,
                                   summary | {"runbook": None}))
            continue

        def run_book(o: Any, emit: Any, book: Any = book, scoped: GlobalOptions = scoped,
                     ) -> Any:
            return run_runbook(aws_session(scoped, o.case_id), clock, book, o, emit=emit)

        items.append(FleetItem(options.target, under_planned_case(options, run_book),
                               finding.account, scoped.region, summary | {"runbook": book.name}))
    return plan_confirm_run_many(opts, "triage", items,
                                 "Run the runbooks of {count} findings now?",
                                 dry_run=not execute, yes=yes, parallel=parallel)


def _refusal(err: Exception) -> Any:
    """A fleet run function that reports why this finding cannot be answered."""
    def run(_dry: bool, _emit: Any) -> Any:
        raise err

    return run
