"""How a result document leaves ircli: ``--query`` (JMESPath) applied, then json, yaml or a
table — once, for every command, as the AWS CLI does.

The document is first made plain JSON (``default=str``), so ``--query``, yaml and table see
exactly what ``-o json`` would print. Imported by every command module at start-up, so
jmespath, PyYAML and rich are imported only when a document is emitted.
"""

from __future__ import annotations

import io
import json
import shutil
from typing import Any

import click

from ircli.cli.options import DOCUMENT_FORMATS, OUTPUT_FORMATS, GlobalOptions
from ircli.cli.plain import escape_controls
from ircli.core.errors import InvalidInput

ENV_OUTPUT = "IRCLI_OUTPUT"


def compile_query(expression: str) -> Any:
    """The compiled JMESPath expression; ValueError (one sentence) when it does not parse."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except JMESPathError as err:
        raise ValueError(f"not a valid JMESPath expression: {err}") from err


def resolve_default_output() -> str:
    """``IRCLI_OUTPUT``, else ``[output] format`` in the config file, else text.

    Read before a command runs, so a wrong value stops it before anything changes; an
    unreadable config file counts as unset (a typo there must not stop a containment).
    """
    from ircli.core.config import configured_output

    value, source = configured_output()
    if value is None:
        return "text"
    if value not in OUTPUT_FORMATS:
        raise InvalidInput(f"{source} says the output format is {value!r}, which ircli does "
                           "not have.", f"Use one of: {', '.join(OUTPUT_FORMATS)}.")
    return value


def current_options() -> GlobalOptions | None:
    """The global options of the command being run, if any."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_object(GlobalOptions) if ctx is not None else None


def emit_json(data: Any, opts: GlobalOptions | None = None) -> None:
    """Print the result document in the chosen format, after ``--query``."""
    opts = opts or current_options()
    document = json.loads(json.dumps(data, default=str))
    if opts is not None and opts.query is not None:
        document = apply_query(document, opts.query)
    fmt = opts.format if opts is not None and opts.format in DOCUMENT_FORMATS else "json"
    click.echo(format_document(document, fmt), nl=fmt == "json")


def apply_query(document: Any, expression: str) -> Any:
    """The JMESPath selection of ``document`` (already plain JSON)."""
    from jmespath.exceptions import JMESPathError

    try:
        return compile_query(expression).search(document)
    except JMESPathError as err:
        raise InvalidInput(f"The --query expression failed on the result: {err}.",
                           "The command itself completed; fix the expression, or run the "
                           "command again without --query to see the whole result.") from err


def format_document(document: Any, fmt: str) -> str:
    """``document`` as json, yaml or table text (plain JSON values in, text out)."""
    if fmt == "yaml":
        import yaml

        # allow_unicode=False escapes like JSON's ensure_ascii: no bidi tricks, no controls.
        text: str = yaml.safe_dump(document, sort_keys=True, allow_unicode=False,
                                   default_flow_style=False)
        return text
    if fmt == "table":
        return render_table(document)
    return json.dumps(document, indent=2, sort_keys=True)


def plain(value: Any) -> str:
    """A cell's text: scalars as they are, a list of objects one line each, other lists and
    objects as compact JSON; control characters shown escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        text = ", ".join(plain(v) for v in value)
    elif _is_rows(value):  # one line per object: its non-empty values (each escaped)
        return "\n".join(" ".join(plain(v) for v in row.values() if v not in (None, "", [], {}))
                         for row in value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return escape_controls(text)  # the one escaping of attacker text (ircli.cli.plain)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _walk(value: dict[str, Any], prefix: str, pairs: list[tuple[str, Any]],
          lists: list[tuple[str, list[dict[str, Any]]]]) -> None:
    for key in sorted(value):
        item, name = value[key], f"{prefix}{key}"
        if _is_rows(item):
            lists.append((name, item))
        elif isinstance(item, dict) and item:
            _walk(item, f"{name}.", pairs, lists)
        else:
            pairs.append((name, item))


def render_table(document: Any) -> str:
    """The document as tables: a list of objects is one table (a column per key), an object
    is a key/value table plus one table per list of objects in it."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = shutil.get_terminal_size((160, 24)).columns
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system=None,
                      emoji=False, markup=False)

    def rows_table(title: str | None, rows: list[dict[str, Any]]) -> Table:
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        table = Table(title=Text(plain(title)) if title else None, header_style="bold")
        for column in columns:
            table.add_column(Text(plain(column)), overflow="fold")
        for row in rows:
            table.add_row(*(Text(plain(row.get(c))) for c in columns))
        return table

    if _is_rows(document):
        console.print(rows_table(None, document))
    elif isinstance(document, dict):
        pairs: list[tuple[str, Any]] = []
        lists: list[tuple[str, list[dict[str, Any]]]] = []
        _walk(document, "", pairs, lists)
        if pairs or not lists:
            table = Table(show_header=False)
            table.add_column(overflow="fold")
            table.add_column(overflow="fold")
            for key, item in pairs:
                table.add_row(Text(plain(key)), Text(plain(item)))
            console.print(table)
        for name, rows in lists:
            console.print(rows_table(name, rows))
    else:
        table = Table(show_header=False)
        table.add_column(overflow="fold")
        for item in document if isinstance(document, list) else [document]:
            table.add_row(Text(plain(item)))
        console.print(table)
    return out.getvalue()
