"""Attacker-written text made safe to print, without rich (command modules import this at
start-up): control characters shown escaped, never sent to the terminal, and tables that
never truncate an id. :mod:`ircli.cli.plaintext` builds its rich console on the same
escaping."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

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



def echo_error(message: object) -> None:
    """One line on stderr (for logs of the CLI itself), escaped like any data."""
    print(escape_controls(message), file=sys.stderr)


def print_rows(headers: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines otherwise (a pipe or a file keeps every
    character of every id, and ``cut``/``awk`` read it). Every cell is plain text."""
    cells = [[escape_controls(c if c is not None else "") for c in row] for row in rows]
    if not sys.stdout.isatty():
        if title:
            click.echo(f"# {escape_controls(title)}")
        click.echo("\t".join(headers))
        for row in cells:
            click.echo("\t".join(row))
        return
    from rich.table import Table
    from rich.text import Text

    from ircli.cli.plaintext import console

    table = Table(title=Text(escape_controls(title)) if title else None, box=None,
                  header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    console().print(table)
