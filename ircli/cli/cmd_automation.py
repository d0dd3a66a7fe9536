"""`ircli automation render|deploy|list|remove`: runbooks on Step Functions, fired by
GuardDuty findings through EventBridge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls, print_rows
from ircli.core.errors import ExitCode

if TYPE_CHECKING:
    from ircli.automation.deploy import AutomationPlan

_RUNBOOKS_DIR = click.option(
    "--runbooks-dir", metavar="DIR",
    help="Your runbooks, added to the shipped ones (default: IRCLI_RUNBOOKS_DIR, then the "
         "config file).")
_SEVERITY = click.option(
    "--severity", type=click.FloatRange(1, 10), default=7.0, show_default=True,
    help="Only findings of this GuardDuty severity or more start the state machine "
         "(4 medium, 7 high, 9 critical).")


@click.group("automation")
@global_options
def automation_group() -> None:
    """Runbooks on AWS's own engine: Step Functions, started by GuardDuty via EventBridge."""


@automation_group.command("render")
@click.argument("runbook")
@click.option("--output", "-o", "fmt", type=click.Choice(["asl", "cloudformation"]),
              default="cloudformation", show_default=True,
              help="asl: the state machine (Amazon States Language); cloudformation: the "
                   "template with the machine, its roles, the rule and the topic.")
@click.option("--format", "text_format", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="The template as YAML or JSON (cloudformation only).")
@_SEVERITY
@click.option("--bucket", help="asl only: the evidence bucket to write in (default: the "
                               "${EvidenceBucket} placeholder a template fills).")
@click.option("--partition", type=click.Choice(["aws", "aws-cn", "aws-us-gov"]), default="aws",
              show_default=True, help="The partition the Task states' ARNs name (a stack set "
                                      "stays in its organisation's partition).")
@_RUNBOOKS_DIR
def render_cmd(runbook: str, fmt: str, text_format: str, severity: float, bucket: str | None,
               partition: str, runbooks_dir: str | None) -> int:
    """Print RUNBOOK compiled: the state machine, or a CloudFormation template ready for
    StackSets (no account id inside; the evidence bucket is a parameter). Reads no AWS."""
    from ircli.ops.automation import load_render, template_size_note

    text = load_render(runbook, fmt if fmt == "asl" or text_format == "yaml"
                       else "cloudformation-json", severity, bucket=bucket,
                       partition=partition, runbooks_dir=runbooks_dir)
    note = template_size_note(text) if fmt == "cloudformation" else None
    click.echo(text, nl=False)
    if note:
        click.echo(f"Note: {note}", err=True)
    return int(ExitCode.OK)


def _bucket(opts: GlobalOptions, bucket: str | None) -> str:
    from ircli.core.config import require_evidence_bucket

    return require_evidence_bucket(bucket or opts.evidence_bucket)


def _show_plan(plan: AutomationPlan, dry_run: bool) -> None:
    verb = "would" if dry_run else "will"
    for unit in plan.units:
        head = f"{unit.title}: {unit.status}"
        click.echo(escape_controls(head), err=True)
        for call in unit.calls:
            click.echo(f"  {verb} {escape_controls(call.summary)}", err=True)
        for note in unit.notes:
            click.echo(f"  note: {escape_controls(note)}", err=True)


@automation_group.command("deploy")
@click.argument("runbook")
@_SEVERITY
@click.option("--bucket", help="The evidence bucket the cases go to (default: "
                               "--evidence-bucket, IRCLI_EVIDENCE_BUCKET, or the config file).")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@_RUNBOOKS_DIR
@global_options
@click.pass_obj
def deploy_cmd(opts: GlobalOptions, runbook: str, severity: float, bucket: str | None,
               dry_run: bool, yes: bool, runbooks_dir: str | None) -> int:
    """Create RUNBOOK's state machine, roles, topic and GuardDuty rule here. A second run
    changes nothing; a changed runbook is updated in place."""
    from ircli.ops.automation import apply, load_runbook, plan_for_deploy

    book = load_runbook(runbook, runbooks_dir)
    name = _bucket(opts, bucket)
    aws = aws_session(opts)
    plan = plan_for_deploy(aws, book, severity, name)
    return _run(opts, plan, dry_run, yes, apply, aws,
                f"Deploy the automation {book.name} in {plan.target.account} "
                f"{plan.target.region} now?")


@automation_group.command("remove")
@click.argument("runbook")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@global_options
@click.pass_obj
def remove_cmd(opts: GlobalOptions, runbook: str, dry_run: bool, yes: bool) -> int:
    """Delete what deploy created for RUNBOOK (rule, state machine, roles, topic). Cases and
    evidence stay in the bucket; a second run changes nothing."""
    from ircli.ops.automation import apply, plan_for_remove

    aws = aws_session(opts)
    plan = plan_for_remove(aws, runbook)
    return _run(opts, plan, dry_run, yes, apply, aws,
                f"Remove the automation {runbook} from {plan.target.account} "
                f"{plan.target.region} now?")


def _run(opts: GlobalOptions, plan: AutomationPlan, dry_run: bool, yes: bool,
         apply: Any, aws: Any, question: str) -> int:
    from ircli.cli.confirm import confirm_or_refuse

    data: dict[str, Any] = {**plan.to_dict(), "dry_run": dry_run, "done": []}
    if not opts.json:
        _show_plan(plan, dry_run)
    if plan.changes and not dry_run:
        confirm_or_refuse(question, yes)
        data["done"] = apply(aws, plan, progress=lambda line: click.echo(
            f"  {escape_controls(line)}", err=True))
    if opts.json:
        emit_json(data)
    elif not plan.changes:
        click.echo(f"Up to date: nothing to {plan.action} for {plan.target.runbook}."
                   if plan.action == "deploy" else
                   f"Nothing to remove: no automation {plan.target.runbook} is deployed here.")
    elif dry_run:
        click.echo("Dry run: nothing was changed.")
    else:
        click.echo(f"Done: {len(data['done'])} change(s) for {plan.target.runbook}.")
    return int(ExitCode.OK)


@automation_group.command("list")
@click.option("--executions", type=click.IntRange(0, 100), default=5, show_default=True,
              help="Recent executions to show per state machine.")
@global_options
@click.pass_obj
def list_cmd(opts: GlobalOptions, executions: int) -> int:
    """What automation is deployed here, and its recent executions (status, target, case)."""
    from ircli.ops.automation import list_automations

    found = list_automations(aws_session(opts), executions)
    if opts.json:
        emit_json({"automations": found})
        return int(ExitCode.OK)
    if not found:
        click.echo("No ircli automation is deployed in this account and region.")
        return int(ExitCode.OK)
    print_rows(["runbook", "rule", "undelivered", "state machine"],
               [[m["runbook"], m["rule_state"],
                 "-" if m["undelivered"] is None else m["undelivered"], m["state_machine"]]
                for m in found], title="Deployed automation")
    for m in found:
        if m["undelivered"]:
            click.echo(f"Warning: {m['undelivered']} finding(s) for {escape_controls(m['runbook'])}"
                       " could not start its state machine and wait in "
                       f"ircli-{escape_controls(m['runbook'])}-undelivered (SQS): nothing acted "
                       "on them.", err=True)
    rows = [[m["runbook"], e["status"], e["started"], e["target"] or "-", e["case_id"] or "-",
             e["finding_type"] or "-"] for m in found for e in m["executions"]]
    if rows:
        print_rows(["runbook", "status", "started", "target", "case", "finding"], rows,
                   title="Recent executions")
    return int(ExitCode.OK)


@automation_group.command("policy")
@click.option("--bucket", help="The evidence bucket deploy checks (default: --evidence-bucket, "
                               "IRCLI_EVIDENCE_BUCKET, or the config file).")
@click.option("--partition", type=click.Choice(["aws", "aws-cn", "aws-us-gov"]), default="aws",
              show_default=True)
@global_options
@click.pass_obj
def policy_cmd(opts: GlobalOptions, bucket: str | None, partition: str) -> int:
    """Print the IAM policy deploy, list and remove need (JSON, scoped to ircli-* names)."""
    import json

    from ircli.core.config import evidence_bucket
    from ircli.ops.automation import deployer_policy

    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    click.echo(json.dumps(deployer_policy(evidence_bucket(bucket or opts.evidence_bucket),
                                          partition, suffix), indent=2))
    return int(ExitCode.OK)
