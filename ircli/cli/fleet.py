"""Plan many, ask once, run many: the flow of a command given several targets.

Each target keeps its own plan, case and exit code (one target failing never stops the
others); the plans are shown together and confirmed with one question; the runs go in
parallel, bounded, each printing one line when it ends; the summary lists every target and
the process exits with the worst code of them (README, "Exit codes").
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import click

from ircli.cli.confirm import confirm_or_refuse
from ircli.cli.flow import Run
from ircli.cli.options import GlobalOptions
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls, print_rows
from ircli.core.errors import ExitCode, IrcliError, worst_exit_code

DEFAULT_PARALLEL = 8


@dataclass
class FleetItem:
    """One target of a fleet run: what to show, and its plan-or-run function."""

    target: str
    run: Run
    account: str | None = None
    region: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    item: FleetItem
    exit_code: int
    status: str
    case_id: str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.item.target, "account": self.item.account,
                "region": self.item.region, "status": self.status, "case_id": self.case_id,
                "exit_code": self.exit_code, "detail": self.detail, **self.item.extra,
                "result": self.data}


def _attempt(item: FleetItem, dry_run: bool) -> Outcome:
    try:
        result = item.run(dry_run, None)
    except IrcliError as err:
        return Outcome(item, int(err.exit_code), "error", detail=err.message)
    except Exception as err:  # a bug for this target only; the others go on
        return Outcome(item, int(ExitCode.BUG), "bug", detail=f"{type(err).__name__}: {err}")
    return Outcome(item, int(result.exit_code), str(result.data.get("status")),
                   result.data.get("case_id"), str(result.data.get("detail") or ""),
                   result.data)


def _each(items: list[FleetItem], dry_run: bool, parallel: int,
          done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items))),
                            thread_name_prefix="ircli-fleet") as pool:
        futures = {pool.submit(_attempt, item, dry_run): n for n, item in enumerate(items)}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            if done:
                done(outcome)
    return [outcomes[n] for n in range(len(items))]


def plan_confirm_run_many(opts: GlobalOptions, command: str, items: list[FleetItem],
                          question: str, *, dry_run: bool, yes: bool,
                          parallel: int = DEFAULT_PARALLEL) -> int:
    """Plan every target, show the plans, ask once, run them; exit with the worst code."""
    plans = _each(items, True, parallel)
    ready = [p.item for p in plans if p.exit_code == 0 and p.status != "released"]
    if dry_run or not ready:
        _render(opts, command, plans, planned=True)
        return worst_exit_code([p.exit_code for p in plans])
    if not opts.json:
        _render(opts, command, plans, planned=True)
    confirm_or_refuse(question.format(count=len(ready)), yes)
    refused = [p for p in plans if p.item not in ready]

    def line(outcome: Outcome) -> None:
        if not opts.json:
            detail = f" — {outcome.detail}" if outcome.detail else ""
            click.echo(escape_controls(f"  {_mark(outcome)} {outcome.item.target}: {outcome.status}"
                                 f"{detail}"), err=True)

    results = _each(ready, False, parallel, done=line)
    everything = refused + results
    _render(opts, command, everything, planned=False)
    return worst_exit_code([o.exit_code for o in everything])


def _mark(outcome: Outcome) -> str:
    return "✓" if outcome.exit_code == 0 else "✗"


def _render(opts: GlobalOptions, command: str, outcomes: list[Outcome], *,
            planned: bool) -> None:
    codes = [o.exit_code for o in outcomes]
    if opts.json:
        emit_json({"command": command, "status": "planned" if planned else "done",
                   "targets": [o.to_dict() for o in outcomes],
                   "exit_code": worst_exit_code(codes)})
        return
    extras = list(dict.fromkeys(k for o in outcomes for k in o.item.extra))
    print_rows(["Target", "Account", "Region", *(e.capitalize() for e in extras), "Status",
                "Case", "Detail"],
               [[o.item.target, o.item.account, o.item.region,
                 *(o.item.extra.get(e) for e in extras), o.status, o.case_id, o.detail]
                for o in outcomes],
               title=f"ircli {command} — {'PLAN' if planned else 'SUMMARY'} "
                     f"({len(outcomes)} targets)")
    ok = sum(c == 0 for c in codes)
    click.echo(f"{ok} of {len(outcomes)} {'planned' if planned else 'done'}; exit code "
               f"{worst_exit_code(codes)} (the worst of the targets).")

