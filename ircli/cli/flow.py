"""Plan, show, confirm, run: the one flow of every command that changes AWS.

The plan shown is the dry-run of the same options, so what the responder approves is what
runs; without a terminal to ask on, a change needs --yes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ircli.cli.confirm import confirm_or_refuse
from ircli.cli.options import GlobalOptions
from ircli.cli.plain import echo_error

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


def never_fatal(emit: Emit) -> Emit:
    """The progress callback the engine calls, made harmless: a display that fails is one line
    on stderr (once per distinct failure), and the run goes on (nothing on screen may stop a
    containment)."""
    seen: set[str] = set()

    def guarded(kind: str, data: dict[str, Any]) -> None:
        try:
            emit(kind, data)
        except Exception as err:  # display only: the run must not depend on it
            line = f"ircli: could not show progress ({kind}): {err!r}; the run goes on"
            if line not in seen:
                seen.add(line)
                echo_error(line)

    return guarded


def show(render: Render, opts: GlobalOptions, data: dict[str, Any]) -> None:
    """Render a result; if the renderer fails, say so on stderr and print the result as JSON,
    so what was done (and the exit code) is never lost to a display bug."""
    try:
        render(opts, data)
    except Exception as err:  # display only
        from ircli.cli.output import emit_json

        echo_error(f"ircli: could not render the result: {err!r}; here it is as JSON")
        emit_json(data)


def plan_confirm_run(opts: GlobalOptions, run: Run, question: str, *, dry_run: bool,
                     yes: bool, render: Render | None = None) -> int:
    """Show the plan (and stop there on --dry-run, an error or nothing to do), then run."""
    from ircli.cli.render import Progress, render_run

    render = render or render_run
    if dry_run or not yes:
        plan = run(True, None)
        if dry_run or plan.exit_code or plan.data["status"] == "released":
            show(render, opts, plan.data)
            return int(plan.exit_code)
        if not opts.json:
            show(render, opts, plan.data)
        confirm_or_refuse(question, yes)
    result = run(False, never_fatal(Progress(opts)))
    show(render, opts, result.data)
    return int(result.exit_code)
