"""Plan many, ask once, run many: the flow of a command given several targets.

Each target keeps its own plan, case and exit code (one target failing never stops the
others); the plans are shown together and confirmed with one question; the runs go in
parallel, bounded (ircli.ops.fleet.run_each, shared by contain, disable-keys and release),
shown live (:class:`FleetView`); the summary lists every target and the process exits with
the worst code of them (README, "Exit codes").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import click

from ircli.cli.confirm import confirm_or_refuse
from ircli.cli.options import GlobalOptions
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls, print_rows
from ircli.core.errors import IrcliError, worst_exit_code
from ircli.ops.fleet import FleetItem, Outcome, ready_to_run, run_each

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from ircli.cli.flow import Run
    from ircli.core.engine import Emit
    from ircli.ops.common import RunSummary

__all__ = ["FleetItem", "FleetView", "Outcome", "item_for", "items_for",
           "plan_confirm_run_many"]

DEFAULT_PARALLEL = 8  # the --parallel default of every fleet command
Prepare = Callable[[list[FleetItem]], list[dict[str, Any]]]


def prepared_lines(prepared: list[dict[str, Any]]) -> list[str]:
    """One line per account and region the prepare phase worked in."""
    shown = []
    for place in prepared:
        where = "/".join(str(x) for x in (place.get("account"), place.get("region")) if x)
        if place.get("error"):
            shown.append(f"  ! prepare {where or 'here'}: {place['error']} (each instance sets "
                         "up its own groups)")
            continue
        groups = place.get("isolation_groups", {})
        shown.append(f"  ✓ prepared {where or 'here'}: isolation groups of {len(groups)} VPC(s) "
                     f"ready, {len(place.get('changes', []))} change(s)")
        shown += [f"  ! {w}" for w in place.get("warnings", [])]
    return shown


def plan_confirm_run_many(opts: GlobalOptions, command: str, items: list[FleetItem],
                          question: str, *, dry_run: bool, yes: bool,
                          parallel: int = DEFAULT_PARALLEL,
                          prepare: Prepare | None = None) -> int:
    """Plan every target, show the plans, ask once, run them; exit with the worst code.

    ``prepare`` runs once, after the question and before the fan-out, on the targets about to
    run (contain: each VPC's isolation groups, so no two targets race to create them); what it
    reports goes into the summary.
    """
    if yes and not dry_run:
        # Nobody to show the plans to: as with one target, each run plans before it changes
        # anything (the same plan), and a target that cannot be planned fails in its row.
        ready, refused = list(items), []
        if not opts.json:
            click.echo(escape_controls(f"ircli {command}: {len(items)} targets (--yes): "
                                       f"{', '.join(i.target for i in items)}"), err=True)
    else:
        plans = run_each(items, dry_run=True, parallel=parallel)
        ready = ready_to_run(plans)
        if dry_run or not ready:
            _render(opts, command, plans, planned=True)
            return worst_exit_code([p.exit_code for p in plans])
        if not opts.json:
            _render(opts, command, plans, planned=True)
        confirm_or_refuse(question.format(count=len(ready)), yes)
        refused = [p for p in plans if p.item not in ready]
    view = FleetView(ready)
    if opts.json:
        view.quiet()
    prepared: list[dict[str, Any]] = []
    try:
        if prepare is not None:
            view.phase("preparing")
            try:
                prepared = prepare(ready)
            except Exception as err:  # an optimisation only: each target prepares itself
                detail = err.message if isinstance(err, IrcliError) else repr(err)
                prepared = [{"account": None, "region": None, "error": detail}]
            for line in prepared_lines(prepared):
                view.say(line)
        results = run_each(ready, dry_run=False, parallel=parallel, events=view)
    finally:
        view.stop()
    everything = refused + results
    _render(opts, command, everything, planned=False, prepared=prepared)
    return worst_exit_code([o.exit_code for o in everything])


def items_for(opts: GlobalOptions, targets: list[str],
              make: Callable[[str, GlobalOptions], Run], *, parallel: int = DEFAULT_PARALLEL
              ) -> list[FleetItem]:
    """:func:`item_for` of every target, in order; with ``--locate`` the searches (each one
    over the organisation) run ``parallel`` at a time instead of one after another."""
    if not opts.locate or len(targets) < 2:
        return [item_for(opts, t, partial(make, t)) for t in targets]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(targets))),
                            thread_name_prefix="ircli-locate") as pool:
        return list(pool.map(lambda t: item_for(opts, t, partial(make, t)), targets))


def item_for(opts: GlobalOptions, target: str, make: Callable[[GlobalOptions], Run], *,
             locate: bool = True) -> FleetItem:
    """One fleet target, in its account and region (``--locate`` finds them first). A target
    that cannot be located or is not valid fails alone, in its row, never the whole fleet."""
    from ircli.cli.locating import where_found

    try:
        where = where_found(opts, target) if locate else opts
        return FleetItem(target, make(where), where.account, where.region)
    except IrcliError as err:
        failure = err

        def refused(dry_run: bool, emit: Emit | None) -> RunSummary:
            raise failure

        return FleetItem(target, refused, opts.account, opts.region)


@dataclass
class _Row:
    target: str
    place: str
    step: str = "waiting"
    result: str = ""
    started: float | None = None
    ended: float | None = None


class FleetView:
    """The fleet's progress on stderr: a live table on a terminal (target, account/region,
    step now running, elapsed, result), one plain line per change anywhere else.

    Called from the runner's worker threads; every change is taken under one lock. All shown
    text goes through Text (no markup) with control characters escaped: target ids, step
    details and errors may carry attacker-written text.
    """

    def __init__(self, items: list[FleetItem], *, live: bool | None = None,
                 console: Console | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from ircli.cli.plaintext import console as plain_console

        self.console = console or plain_console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self._clock = clock
        self._lock = threading.Lock()
        self._rows = {id(item): _Row(item.target, _place(item)) for item in items}
        self._order = [id(item) for item in items]
        self._live: Live | None = None
        self._quiet = False

    def quiet(self) -> FleetView:
        """Show nothing (--output json: stdout carries the document, stderr stays calm)."""
        self._quiet = True
        return self

    def say(self, text: str) -> None:
        """A line about the whole fleet (above the live table on a terminal)."""
        if self._quiet:
            return
        with self._lock:
            self._line(text)

    def phase(self, what: str) -> None:
        if self._quiet:
            return
        if not self.live:
            self._line(f"  … {what} ({len(self._rows)} targets)")
            return
        with self._lock:
            for row in self._rows.values():
                row.step = what
            self._refresh()

    def __call__(self, item: FleetItem, kind: str, data: dict[str, Any]) -> None:
        if self._quiet:
            return
        with self._lock:
            row = self._rows.get(id(item))
            if row is None:
                return
            now = self._clock()
            line = ""
            if kind == "target-start":
                row.started, row.step = now, "starting"
            elif kind == "step-start":
                row.step = str(data.get("title", ""))
                line = f"  … {row.target}: {row.step}"
            elif kind == "step-end" and getattr(data.get("result"), "status", "") == "failed":
                result = data["result"]
                line = f"  ✗ {row.target}: {result.title} failed — {result.detail}"
            elif kind == "target-end":
                outcome: Outcome = data["outcome"]
                row.ended, row.step = now, ""
                row.result = outcome.status + (f" — {outcome.detail}" if outcome.detail else "")
                mark = "✓" if outcome.exit_code == 0 else "✗"
                line = (f"  {mark} {row.target}: {outcome.status}"
                        f"{f' — {outcome.detail}' if outcome.detail else ''} "
                        f"({now - (row.started or now):.1f} s)")
            else:
                return
            if self.live:
                self._refresh()
            elif line:
                self._line(line)

    def _line(self, text: str) -> None:
        from ircli.cli.plaintext import plain

        self.console.print(plain(text))

    def table(self) -> Table:
        from rich.table import Table

        from ircli.cli.plaintext import plain

        now = self._clock()
        done = sum(1 for r in self._rows.values() if r.ended is not None)
        table = Table(title=f"{done} of {len(self._rows)} done", title_justify="left")
        for header in ("Target", "Account/Region", "Step", "Elapsed", "Result"):
            table.add_column(header)
        for key in self._order:
            row = self._rows[key]
            elapsed = "" if row.started is None else \
                f"{(row.ended or now) - row.started:.1f} s"
            table.add_row(plain(row.target), plain(row.place), plain(row.step),
                          plain(elapsed), plain(row.result))
        return table

    def _refresh(self) -> None:
        if self._live is None:
            from rich.live import Live

            # Refreshed twice a second from rich's own thread (elapsed keeps moving while a
            # step waits) and at once on every change.
            self._live = Live(console=self.console, get_renderable=self.table,
                              refresh_per_second=2, transient=False, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()
        self._live.refresh()

    def stop(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.refresh()
                self._live.stop()
                self._live = None


def _place(item: FleetItem) -> str:
    return "/".join(x for x in (item.account, item.region) if x) or "-"


def _render(opts: GlobalOptions, command: str, outcomes: list[Outcome], *,
            planned: bool, prepared: list[dict[str, Any]] | None = None) -> None:
    codes = [o.exit_code for o in outcomes]
    if opts.json:
        document: dict[str, Any] = {"command": command,
                                    "status": "planned" if planned else "done",
                                    "targets": [o.to_dict() for o in outcomes],
                                    "exit_code": worst_exit_code(codes)}
        if prepared is not None:
            document["prepared"] = prepared
        emit_json(document)
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
