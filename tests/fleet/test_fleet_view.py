"""The fleet's progress display: a live table on a terminal, one plain line per change
elsewhere; attacker-written text (ids, step details) is shown escaped, never obeyed."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from rich.console import Console

from ircli.cli.fleet import FleetView
from ircli.core.engine import StepResult
from ircli.core.errors import ExitCode
from ircli.ops import fleet as fleet_module
from ircli.ops.common import RunSummary
from ircli.ops.fleet import FleetItem, Outcome, run_each


class Ticks:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _run(status: str, code: ExitCode = ExitCode.OK, detail: str = "") -> Any:
    def run(dry_run: bool, emit: Any) -> RunSummary:
        if emit is not None:
            emit("step-start", {"title": "Isolate the network"})
            emit("step-end", {"result": StepResult("isolate", "Isolate the network",
                                                   status="failed" if code else "done",
                                                   detail=detail)})
        return RunSummary({"status": status, "case_id": "ir-1", "detail": detail}, code)
    return run


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=160, markup=False,
                   highlight=False), out


def test_off_a_terminal_each_change_is_one_plain_line() -> None:
    items = [FleetItem("i-aaa", _run("contained"), "111111111111", "eu-west-1"),
             FleetItem("i-bbb\x1b]0;owned\x07", _run("failed", ExitCode.NOT_CONTAINED,
                                                    "no [bold]rights[/bold]\x1b[2J"))]
    console, out = _console(False)
    view = FleetView(items, console=console)
    outcomes = run_each(items, dry_run=False, parallel=2, events=view)
    view.stop()
    text = out.getvalue()
    assert [o.exit_code for o in outcomes] == [0, 4]
    assert "  … i-aaa: Isolate the network" in text
    assert "  ✓ i-aaa: contained" in text
    assert "✗ i-bbb\\x1b]0;owned\\x07: Isolate the network failed — no [bold]rights[/bold]" \
        in text
    assert "\x1b" not in text  # escaped, the terminal obeys nothing
    assert len(text.splitlines()) == 5  # two starts, one failure, two ends


def test_on_a_terminal_the_table_shows_step_elapsed_and_result() -> None:
    items = [FleetItem("i-aaa", _run("contained"), "111111111111", "eu-west-1"),
             FleetItem("i-bbb", _run("contained"))]
    ticks = Ticks()
    console, _ = _console(True)
    view = FleetView(items, console=console, clock=ticks, live=False)
    view.live = True  # render as on a terminal, without starting rich's refresh thread
    view._refresh = lambda: None  # type: ignore[method-assign]
    view(items[0], "target-start", {})
    view(items[0], "step-start", {"title": "Snapshot EBS volumes"})
    ticks.now += 2.5
    outcome = Outcome(items[1], 0, "contained", "ir-2")
    view(items[1], "target-start", {})
    view(items[1], "target-end", {"outcome": outcome})
    shown, grid = _console(False)
    shown.print(view.table())
    table = grid.getvalue()
    assert "1 of 2 done" in table
    row_a = next(line for line in table.splitlines() if "i-aaa" in line)
    assert "111111111111/eu-west-1" in row_a and "Snapshot EBS volumes" in row_a
    assert "2.5 s" in row_a
    row_b = next(line for line in table.splitlines() if "i-bbb" in line)
    assert "contained" in row_b and "0.0 s" in row_b


def test_the_live_view_stops_its_refresh_thread() -> None:
    items = [FleetItem("i-aaa", _run("contained"))]
    console, out = _console(True)
    view = FleetView(items, console=console)
    run_each(items, dry_run=False, parallel=1, events=view)
    view.stop()
    assert view._live is None
    assert "i-aaa" in out.getvalue() and "1 of 1 done" in out.getvalue()


def test_ctrl_c_starts_no_new_target_and_reports_every_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    started, cancelled = threading.Event(), threading.Event()

    def running(target: str) -> Any:
        def run(dry_run: bool, emit: Any) -> RunSummary:
            ran.append(target)
            started.set()
            cancelled.wait(10)  # still running when the others are cancelled
            return RunSummary({"status": "contained", "case_id": target}, ExitCode.OK)
        return run

    class Pool(ThreadPoolExecutor):
        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            if cancel_futures:
                super().shutdown(wait=False, cancel_futures=True)
                cancelled.set()
            super().shutdown(wait=wait, cancel_futures=cancel_futures)

    def ctrl_c(futures: Any) -> Any:
        started.wait(10)  # the first target is under way when Ctrl-C comes
        raise KeyboardInterrupt

    monkeypatch.setattr(fleet_module, "ThreadPoolExecutor", Pool)
    monkeypatch.setattr(fleet_module, "as_completed", ctrl_c)
    items = [FleetItem(f"i-{n}", running(f"i-{n}")) for n in range(4)]
    outcomes = run_each(items, dry_run=False, parallel=1)
    assert ran == ["i-0"]
    assert outcomes[0].status == "contained" and outcomes[0].exit_code == 0  # it finished
    assert [(o.status, o.exit_code) for o in outcomes[1:]] == [("not-run", 130)] * 3


def test_located_targets_keep_their_order_and_a_target_not_found_fails_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    from ircli.cli import fleet as cli_fleet
    from ircli.cli import locating
    from ircli.cli.options import GlobalOptions
    from ircli.core.errors import NotFound

    homes = {"i-a": ("111111111111", "eu-west-1"), "i-c": ("222222222222", "us-east-1")}

    def where_found(opts: GlobalOptions, target: str) -> GlobalOptions:
        if target not in homes:
            raise NotFound(f"{target} was not found in the 4 account-region pairs searched.")
        scoped = copy.copy(opts)
        scoped.account, scoped.region = homes[target]
        return scoped

    monkeypatch.setattr(locating, "where_found", where_found)
    made: list[tuple[str, str | None]] = []

    def make(target: str, where: GlobalOptions) -> Any:
        made.append((target, where.account))
        return _run("contained")

    items = cli_fleet.items_for(GlobalOptions(locate=True), ["i-a", "i-b", "i-c"], make,
                                parallel=3)
    assert [(i.target, i.account, i.region) for i in items] == [
        ("i-a", "111111111111", "eu-west-1"), ("i-b", None, None),
        ("i-c", "222222222222", "us-east-1")]
    assert sorted(made) == [("i-a", "111111111111"), ("i-c", "222222222222")]
    outcomes = run_each(items, dry_run=True, parallel=3)
    assert [o.exit_code for o in outcomes] == [0, 2, 0]
    assert "not found" in outcomes[1].detail
