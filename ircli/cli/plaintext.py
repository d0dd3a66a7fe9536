"""Text from AWS, a finding or a host, made safe to show: plain characters, controls visible.

The attacker writes tags, finding fields and host output. Rich reads ``[/]`` in a string as
markup (and raises, which used to end a containment run), and a terminal obeys the escape
sequences in it (retitle the window, clear the screen, draw fake lines). So renderers never
put data into markup: their consoles read no markup at all, every string they print is
characters, and control characters (C0, DEL, C1, bidirectional overrides) are shown escaped
(``\\x1b``). Style comes only from :func:`styled` pieces, which ircli itself writes.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

# C0 (newline and tab included: one value is one line), DEL, C1, and the Unicode controls
# that reorder or break what a terminal shows (bidi embeddings/overrides/isolates, line and
# paragraph separators).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                       "\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(value: object) -> str:
    """``value`` as one line of printable text: every control character written out."""
    return _CONTROLS.sub(_escape, value if isinstance(value, str) else str(value))


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


def echo_error(message: object) -> None:
    """One line on stderr (for logs of the CLI itself), escaped like any data."""
    print(escape_controls(message), file=sys.stderr)
