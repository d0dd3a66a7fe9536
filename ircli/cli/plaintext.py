"""Text from AWS, a finding or a host, made safe to show: plain characters, controls visible.

The attacker writes tags, finding fields and host output. Rich reads ``[/]`` in a string as
markup (and raises, which used to end a containment run), and a terminal obeys the escape
sequences in it (retitle the window, clear the screen, draw fake lines). So renderers never
put data into markup: their consoles read no markup at all, every string they print is
characters, and control characters (C0, DEL, C1, bidirectional overrides) are shown escaped
(``\\x1b``). Style comes only from :func:`styled` pieces, which ircli itself writes.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from ircli.cli.plain import echo_error, escape_controls

__all__ = ["console", "echo_error", "escape_controls", "lines", "plain", "styled"]

def plain(*parts: object) -> Text:
    """One line from ``parts``: :class:`Text` pieces kept as they are, anything else is data
    (shown as its characters, controls escaped, never read as markup)."""
    line = Text()
    for part in parts:
        line.append(part if isinstance(part, Text) else escape_controls(part))
    return line


def lines(values: list[Any]) -> Text:
    """Several values, one per line (each escaped on its own)."""
    return Text("\n").join(plain(v) for v in values)


def styled(text: object, style: str) -> Text:
    """A piece ircli writes itself (a label, a mark), in a style; still escaped."""
    return Text(escape_controls(text), style=style)


class PlainConsole(Console):
    """A console that reads no markup, emoji codes or highlights, and escapes every string it
    is given, so even a renderer that forgot :func:`plain` cannot pass data to the terminal."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(plain(o) if isinstance(o, str) else o for o in objects), **kwargs)


def console(*, stderr: bool = False) -> PlainConsole:
    """The console every renderer prints on (stdout for results, stderr for progress)."""
    return PlainConsole(stderr=stderr, markup=False, emoji=False, highlight=False,
                        soft_wrap=True)
