"""Long waits show movement: a live bar with a clock against the deadline on a terminal, one
plain line per change anywhere else (a log, a pipe, CI).

The core emits ``progress`` events (``step``, ``message``, and where it knows them
``elapsed``/``deadline`` in seconds, ``key`` for the thing waited on, ``progress`` percentages);
it never imports rich. Messages may carry AWS- or host-written text: they are shown as plain
``Text``, never parsed as markup.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID
from rich.progress_bar import ProgressBar
from rich.text import Text


def fraction(data: dict[str, Any]) -> float | None:
    """How far the work is, when the core reports percentages (snapshots: "42%")."""
    values = []
    for raw in data.get("progress") or []:
        try:
            values.append(float(str(raw).rstrip("%")) / 100)
        except ValueError:
            continue
    return sum(values) / len(values) if values else None


def _deadline(task: Task) -> float | None:
    value = task.fields.get("deadline")
    return float(value) if value else None


class _Bar(ProgressColumn):
    """Filled by the reported fraction, else by the time used against the deadline."""

    def render(self, task: Task) -> ProgressBar:
        done, deadline = task.fields.get("fraction"), _deadline(task)
        if done is None and deadline:
            done = min(1.0, (task.elapsed or 0.0) / deadline)
        if done is None:
            return ProgressBar(total=None, width=24, pulse=True,
                               animation_time=task.get_time())
        return ProgressBar(total=1.0, completed=done, width=24, animation_time=task.get_time())


class _Clock(ProgressColumn):
    """Elapsed time, against the deadline when there is one: ``12 s / 540 s``."""

    def render(self, task: Task) -> Text:
        elapsed, deadline = task.elapsed or 0.0, _deadline(task)
        return Text(f"{elapsed:.0f} s / {deadline:.0f} s" if deadline else f"{elapsed:.0f} s",
                    style="progress.elapsed")


class _Estimate(ProgressColumn):
    """From the fraction when known (``~40 s left``), else the most the wait may still take."""

    def render(self, task: Task) -> Text:
        elapsed, deadline = task.elapsed or 0.0, _deadline(task)
        done = task.fields.get("fraction")
        if done and done > 0.01:
            return Text(f"~{elapsed * (1 - done) / done:.0f} s left", style="progress.remaining")
        if deadline:
            return Text(f"at most {max(0.0, deadline - elapsed):.0f} s left",
                        style="progress.remaining")
        return Text("")


class _Description(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(task.description)  # plain: attacker-written text is never markup


class WaitView:
    """Shows the step that is running and its waits; :meth:`stop` before printing a result."""

    def __init__(self, console: Console, *, live: bool | None = None,
                 get_time: Callable[[], float] | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self._get_time = get_time
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._title = ""
        self._said: dict[str, str] = {}

    def step(self, title: str) -> None:
        """A step starts: on a terminal, a spinner with its title and a running clock."""
        self.stop()
        self._title = title
        if self.live:
            self._show(title, title, None, None)

    def update(self, data: dict[str, Any]) -> None:
        """A progress event: update the bar, or print one line when something changed."""
        step = str(data.get("step") or self._title or "")
        message = str(data.get("message") or "")
        deadline = data.get("deadline")
        done = fraction(data)
        if not self.live:
            key = str(data.get("key") or step)
            if self._said.get(key) == message:
                return
            self._said[key] = message
            clock = ""
            if data.get("elapsed") is not None:
                clock = f" ({float(data['elapsed']):.0f} s" + (
                    f" of {float(deadline):.0f} s)" if deadline else ")")
            self.console.print(Text(f"  … {step + ': ' if step else ''}{message}{clock}"))
            return
        key = str(data.get("key") or self._title or step)
        label = f"{self._title}: {message}" if key == self._title and self._title else message
        self._show(key, label, deadline, done)

    def _show(self, key: str, label: str, deadline: Any, done: float | None) -> None:
        if self._bar is None:
            kwargs: dict[str, Any] = {"get_time": self._get_time} if self._get_time else {}
            self._bar = Progress(SpinnerColumn(), _Description(), _Bar(), _Clock(), _Estimate(),
                                 console=self.console, transient=True, redirect_stdout=False,
                                 redirect_stderr=False, **kwargs)
            self._bar.start()
            atexit.register(self.stop)  # never leave the cursor hidden, whatever happens
        if key not in self._tasks:
            self._tasks[key] = self._bar.add_task(label, total=None, deadline=deadline,
                                                  fraction=done)
        else:
            fields: dict[str, Any] = {"fraction": done} if done is not None else {}
            if deadline:
                fields["deadline"] = deadline
            self._bar.update(self._tasks[key], description=label, **fields)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            atexit.unregister(self.stop)
        self._bar = None
        self._tasks.clear()
