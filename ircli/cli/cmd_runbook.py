"""`ircli runbook list|show|steps|validate|run`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ircli.cli.complete import complete_case_id, complete_runbook
from ircli.cli.flow import plan_confirm_run, under_planned_case
from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options

if TYPE_CHECKING:  # imported by `ircli --help`: no boto3 at start-up
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary
    from ircli.ops.runbook import RunbookOptions

F = TypeVar("F", bound=Callable[..., Any])


def runbooks_dir_option(f: F) -> F:
    return click.option(
        "--runbooks-dir", metavar="DIR",
        help="Your runbooks, added to the shipped ones (default: IRCLI_RUNBOOKS_DIR, then "
             "[runbooks] dir in the ircli config).")(f)


@click.group("runbook")
@global_options
def runbook_group() -> None:
    """Runbooks as code: playbooks of registered steps, started by name or from a finding."""


@runbook_group.command("list")
@runbooks_dir_option
@global_options
@click.pass_obj
def list_cmd(opts: GlobalOptions, runbooks_dir: str | None) -> int:
    """The shipped runbooks and yours, with the finding types each answers."""
    from ircli.cli.render_runbook import render_list
    from ircli.runbook.library import all_runbooks

    render_list(opts, all_runbooks(runbooks_dir))
    return 0


@runbook_group.command("show")
@click.argument("name", shell_complete=complete_runbook)
@runbooks_dir_option
@global_options
@click.pass_obj
def show_cmd(opts: GlobalOptions, name: str, runbooks_dir: str | None) -> int:
    """One runbook: what it answers, its target, and every step with its arguments."""
    from ircli.cli.render_runbook import render_show
    from ircli.runbook.library import get_runbook

    runbook = get_runbook(name, runbooks_dir)
    render_show(opts, runbook)
    return 0 if runbook.valid else 2


@runbook_group.command("steps")
@click.argument("names", nargs=-1)
@global_options
@click.pass_obj
def steps_cmd(opts: GlobalOptions, names: tuple[str, ...]) -> int:
    """The registered steps and their arguments (the schema runbooks are checked against)."""
    from ircli.catalog.steps import all_steps
    from ircli.cli.render_runbook import render_steps
    from ircli.core.errors import NotFound

    registry = all_steps()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NotFound(f"No registered step named {unknown[0]!r}.",
                       f"Registered steps: {', '.join(sorted(registry))}.")
    render_steps(opts, [registry[n] for n in names or sorted(registry)])
    return 0


@runbook_group.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@runbooks_dir_option
@global_options
@click.pass_obj
def validate_cmd(opts: GlobalOptions, files: tuple[str, ...], runbooks_dir: str | None) -> int:
    """Check runbook files (default: every known runbook); exit 2 when one is invalid."""
    from pathlib import Path

    from ircli.cli.render_runbook import render_validation
    from ircli.runbook.library import all_runbooks
    from ircli.runbook.loader import load_runbook

    runbooks = [load_runbook(Path(f)) for f in files] if files else all_runbooks(runbooks_dir)
    render_validation(opts, runbooks)
    return 0 if all(r.valid for r in runbooks) else 2


@runbook_group.command("coverage")
@runbooks_dir_option
@global_options
@click.pass_obj
def coverage_cmd(opts: GlobalOptions, runbooks_dir: str | None) -> int:
    """Every GuardDuty finding type ircli knows: the runbook that answers it, or why none."""
    from ircli.cli.cmd_runbook_coverage import render_coverage
    from ircli.runbook.library import all_runbooks
    from ircli.triage.coverage import coverage_document

    document = coverage_document(all_runbooks(runbooks_dir))
    render_coverage(opts, document)
    return 0 if not document["unanswered"] else 3  # partial: a type has no answer


@runbook_group.command("run")
@click.argument("runbook", shell_complete=complete_runbook)
@click.option("--target", required=True,
              help="What to act on: an instance id, an access key id, an IP address, a role "
                   "name, or an EKS CLUSTER/NAMESPACE/POD.")
@click.option("--vpc", help="IP runbooks: act in every network ACL of this VPC.")
@click.option("--subnet", "subnets", multiple=True,
              help="IP runbooks: act in the network ACLs of these subnets (repeatable).")
@click.option("--case-id", shell_complete=complete_case_id,
              help="Case to record under (default: the target's open case, or new).")
@click.option("--reason", help="Why, in words: kept in the case and the audit log.")
@click.option("--dry-run", is_flag=True,
              help="Show the plan and prove permissions; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for playbooks).")
@click.option("--notify-topic", help="SNS topic for notify steps (default: IRCLI_NOTIFY_TOPIC, "
                                     "then [notify] topic in the ircli config).")
@click.option("--fix-trust", is_flag=True,
              help="Role runbooks: remove the unexpected principals the plan shows from the "
                   "role's trust policy (recorded; release restores it).")
@runbooks_dir_option
@global_options
@click.pass_obj
def run_cmd(opts: GlobalOptions, runbook: str, target: str, vpc: str | None,
            subnets: tuple[str, ...], case_id: str | None, reason: str | None, dry_run: bool,
            yes: bool, notify_topic: str | None, runbooks_dir: str | None,
            fix_trust: bool = False) -> int:
    """Run a runbook (by name or file) against one target, as `contain` runs: plan, confirm, run."""
    from ircli.core.config import evidence_bucket
    from ircli.ops.runbook import RunbookOptions
    from ircli.ops.runbook import notify_topic as topic_setting
    from ircli.runbook.library import get_runbook

    book = get_runbook(runbook, runbooks_dir)
    if fix_trust and "fix-trust" not in [s.name for s in book.steps]:
        raise click.UsageError(f"--fix-trust applies to runbooks with a fix-trust step; "
                               f"{book.name} has none.")
    options = RunbookOptions(target=target, vpc=vpc, subnets=list(subnets), case_id=case_id,
                             reason=reason, dry_run=True,
                             evidence_bucket=evidence_bucket(opts.evidence_bucket, strict=False),
                             notify_topic=topic_setting(notify_topic),
                             overrides={"fix-trust": {"apply": True}} if fix_trust else {})
    options.validate(book)
    return run_with_confirmation(opts, book, options, dry_run=dry_run, yes=yes)


def run_with_confirmation(opts: GlobalOptions, book: Any, options: RunbookOptions, *,
                          dry_run: bool,
                          yes: bool, decorate: Callable[[dict[str, Any]], None] | None = None
                          ) -> int:
    """The plan-confirm-run flow for a runbook; ``decorate`` adds fields to each result."""
    from ircli.core.clock import SystemClock
    from ircli.ops.runbook import run_runbook

    clock = SystemClock()

    def run_and_decorate(o: RunbookOptions, emit: Emit | None) -> RunSummary:
        result = run_runbook(aws_session(opts, o.case_id), clock, book, o, emit=emit)
        if decorate is not None:
            decorate(result.data)
        return result

    run = under_planned_case(options, run_and_decorate)

    return plan_confirm_run(opts, run, f"Run runbook {book.name} against {options.target} now?",
                            dry_run=dry_run, yes=yes)
