"""Long waits show movement: a bar with a clock against the deadline on a terminal, one plain
line per change elsewhere; text from AWS or a host is never read as markup."""

from __future__ import annotations

import io

from rich.console import Console

from ircli.cli.waits import WaitView, fraction

EVENTS = [
    {"step": "collect", "key": "cmd-1", "elapsed": 0.0, "deadline": 540,
     "message": "command cmd-1 on i-0abc: Pending"},
    {"step": "collect", "key": "cmd-1", "elapsed": 0.4, "deadline": 540,
     "message": "command cmd-1 on i-0abc: Pending"},  # no change: no line
    {"step": "collect", "key": "cmd-1", "elapsed": 12.0, "deadline": 540,
     "message": "command cmd-1 on i-0abc: InProgress"},
    {"step": "snapshot", "message": "1/3 snapshot(s) complete [red]x[/red]",
     "progress": ["100%", "50%", "0%"]},
]


def test_without_a_terminal_one_line_per_change_with_the_clock() -> None:
    out = io.StringIO()
    view = WaitView(Console(file=out, force_terminal=False, width=200))
    view.step("Collect live response")
    for event in EVENTS:
        view.update(event)
    view.stop()
    assert out.getvalue().splitlines() == [
        "  … collect: command cmd-1 on i-0abc: Pending (0 s of 540 s)",
        "  … collect: command cmd-1 on i-0abc: InProgress (12 s of 540 s)",
        "  … snapshot: 1/3 snapshot(s) complete [red]x[/red]",  # markup stays text
    ]


def test_on_a_terminal_a_bar_with_elapsed_deadline_and_estimate() -> None:
    out = io.StringIO()
    now = [100.0]
    view = WaitView(Console(file=out, force_terminal=True, width=160, color_system=None),
                    get_time=lambda: now[0])
    view.step("Collect live response")
    view.update(EVENTS[0])
    now[0] += 30
    view.update(EVENTS[2])
    view.stop()
    screen = out.getvalue()
    assert "Collect live response" in screen
    assert "command cmd-1 on i-0abc: InProgress" in screen
    assert "30 s / 540 s" in screen and "at most 510 s left" in screen
    assert view._bar is None  # stopped: nothing keeps the cursor hidden


def test_percentages_give_a_fraction_and_an_estimate() -> None:
    assert fraction({"progress": ["100%", "50%", "0%"]}) == 0.5
    assert fraction({"progress": ["n/a"]}) is None
    out = io.StringIO()
    now = [0.0]
    view = WaitView(Console(file=out, force_terminal=True, width=160, color_system=None),
                    get_time=lambda: now[0])
    view.step("Snapshot the volumes")
    view.update({"message": "0/2 snapshot(s) complete", "progress": ["0%", "0%"]})
    now[0] += 20
    view.update({"message": "1/2 snapshot(s) complete", "progress": ["100%", "0%"]})
    view.stop()
    assert "~20 s left" in out.getvalue()


def test_the_snapshot_wait_reports_its_deadline(clients: object) -> None:
    from typing import Any

    from ircli.core.session import AwsSession, AwsSettings
    from ircli.lab.web_compromise import seed_web_compromise
    from ircli.ops.contain import ContainOptions, contain
    from tests.fakes import FakeClock

    lab = seed_web_compromise(clients, "us-east-1")
    events: list[tuple[str, dict[str, Any]]] = []
    result = contain(AwsSession(AwsSettings()), FakeClock(),
                     ContainOptions(lab.suspect, wait_snapshots=True),
                     emit=lambda kind, data: events.append((kind, data)))
    assert result.data["status"] == "contained"
    [wait, *_] = [d for kind, d in events if kind == "progress" and d.get("step") == "snapshot"]
    assert wait["deadline"] >= 300 and wait["elapsed"] == 0
    assert wait["message"] == "3/3 snapshot(s) complete"
