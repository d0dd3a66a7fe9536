"""Shell completion of what exists on this machine: case ids and runbook names.

Completion runs on every <TAB>, so it reads directory listings (and the first lines of
runbook files) only: no AWS library, no rendering library, no runbook validation.
"""

from __future__ import annotations

import re

import click
from click.shell_completion import CompletionItem

_NAME = re.compile(r"^name:\s*['\"]?([A-Za-z0-9._-]+)", re.MULTILINE)


def complete_case_id(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    """The case ids under IRCLI_HOME, newest first."""
    from ircli.core.case import CASE_ID_PATTERN, cases_root

    root = cases_root()
    try:
        found = [p for p in root.iterdir() if (p / "case.json").is_file()]
    except OSError:
        return []
    found.sort(key=lambda p: p.name, reverse=True)
    return [CompletionItem(p.name) for p in found
            if p.name.startswith(incomplete) and CASE_ID_PATTERN.match(p.name)]


def complete_runbook(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    """The shipped runbooks and the user's (``--runbooks-dir`` if typed before, else the
    environment or the config file)."""
    from ircli.core.errors import UserError
    from ircli.runbook.library import SUFFIXES, shipped_dir, user_dir

    names: set[str] = set()
    try:
        mine = user_dir(ctx.params.get("runbooks_dir"))
    except (UserError, OSError):
        mine = None
    for directory in (shipped_dir(), mine):
        for path in sorted(directory.iterdir()) if directory else []:
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            try:
                head = path.read_text(encoding="utf-8", errors="replace")[:4096]
            except OSError:
                continue
            match = _NAME.search(head)
            names.add(match.group(1) if match else path.stem)
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
