"""Plan, show, confirm, run: the one flow of every command that changes AWS.

The plan shown is the dry-run of the same options, so what the responder approves is what
runs; without a terminal to ask on, a change needs --yes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ircli.cli.confirm import confirm_or_refuse
from ircli.cli.options import GlobalOptions

if TYPE_CHECKING:  # the command modules import this at start-up: no boto3, no rich there
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary

Run = Callable[[bool, "Emit | None"], "RunSummary"]  # (dry_run, progress) -> result


class CaseOptions(Protocol):
    dry_run: bool
    case_id: str | None


OptionsT = TypeVar("OptionsT", bound=CaseOptions)


def under_planned_case(options: OptionsT,
                       operation: Callable[[OptionsT, Emit | None], RunSummary]) -> Run:
    """A Run for ``operation``: the plan and the run share ``options``, and the run records
    under the case id the plan showed (a new case is named once, when it is planned)."""
    def run(dry: bool, emit: Emit | None) -> RunSummary:
        options.dry_run = dry
        result = operation(options, emit)
        options.case_id = options.case_id or result.data.get("case_id")
        return result

    return run
Render = Callable[[GlobalOptions, dict[str, Any]], None]


def plan_confirm_run(opts: GlobalOptions, run: Run, question: str, *, dry_run: bool,
                     yes: bool, render: Render | None = None) -> int:
    """Show the plan (and stop there on --dry-run, an error or nothing to do), then run."""
    from ircli.cli.render import Progress, render_run

    render = render or render_run
    if dry_run or not yes:
        plan = run(True, None)
        if dry_run or plan.exit_code or plan.data["status"] == "released":
            render(opts, plan.data)
            return int(plan.exit_code)
        if not opts.json:
            render(opts, plan.data)
        confirm_or_refuse(question, yes)
    result = run(False, Progress(opts))
    render(opts, result.data)
    return int(result.exit_code)
