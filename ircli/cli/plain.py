"""Attacker-written text made safe to print, and tables that never truncate an id."""

from __future__ import annotations

import sys
from typing import Any

import click


def printable(text: str) -> str:
    """``\\x1b[2J`` is shown as those characters, not obeyed by the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def print_rows(headers: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines otherwise (a pipe or a file keeps every
    character of every id, and ``cut``/``awk`` read it). Every cell is plain text."""
    cells = [[printable(str(c if c is not None else "")) for c in row] for row in rows]
    if not sys.stdout.isatty():
        if title:
            click.echo(f"# {printable(title)}")
        click.echo("\t".join(headers))
        for row in cells:
            click.echo("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(printable(title)) if title else None, box=None,
                  header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    Console(highlight=False).print(table)
