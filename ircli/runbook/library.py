"""Where runbooks come from: the shipped set, then the user's directory, which may add to it
or replace a shipped runbook of the same name.

The user's directory is ``--runbooks-dir``, else ``IRCLI_RUNBOOKS_DIR``, else ``[runbooks] dir``
in the ircli config file. The shipped runbooks live in the repository's top-level
``runbooks/`` and are installed inside the package (:mod:`ircli.data`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ircli.core.config import config_path, load_config
from ircli.core.errors import NotFound, UserError
from ircli.runbook.model import Runbook

ENV_RUNBOOKS_DIR = "IRCLI_RUNBOOKS_DIR"
SUFFIXES = (".yaml", ".yml")


def shipped_dir() -> Path | None:
    """The directory of the shipped runbooks (in the installed package, or the checkout)."""
    from ircli.data import shipped_dir as shipped

    return shipped("runbooks")


def user_dir(explicit: str | None = None) -> Path | None:
    """``--runbooks-dir``, else the environment, else the config file; None when unset."""
    value = explicit or os.environ.get(ENV_RUNBOOKS_DIR)
    if not value:
        configured = load_config().get("runbooks", {}).get("dir")
        if not configured:
            return None
        value = str(configured)
    path = Path(value).expanduser()
    if not path.is_dir():
        raise UserError(f"The runbooks directory {path} does not exist.",
                        f"Create it, or fix --runbooks-dir / {ENV_RUNBOOKS_DIR} / "
                        f"[runbooks] dir in {config_path()}.")
    return path


def runbook_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


def all_runbooks(explicit_dir: str | None = None) -> list[Runbook]:
    """Every runbook by name; a user runbook replaces the shipped one of the same name."""
    from ircli.runbook.loader import load_runbook  # validation needs the step registry

    found: dict[str, Runbook] = {}
    shipped = shipped_dir()
    for path in runbook_files(shipped) if shipped else []:
        runbook = load_runbook(path, "shipped")
        found[runbook.name] = runbook
    mine = user_dir(explicit_dir)
    for path in runbook_files(mine) if mine else []:
        runbook = load_runbook(path, "user")
        replaced = found.get(runbook.name)
        if replaced is not None and replaced.source == "shipped":
            runbook.overrides = replaced.path
        found[runbook.name] = runbook
    return sorted(found.values(), key=lambda r: r.name)


def get_runbook(name_or_file: str, explicit_dir: str | None = None) -> Runbook:
    """A runbook by name, or from a file path (anything with a slash or a .yaml suffix)."""
    path = Path(name_or_file).expanduser()
    if path.suffix in SUFFIXES or os.sep in name_or_file:
        if not path.is_file():
            raise NotFound(f"There is no runbook file {path}.", "Check the path.")
        from ircli.runbook.loader import load_runbook

        return load_runbook(path, "file")
    runbooks = all_runbooks(explicit_dir)
    for runbook in runbooks:
        if runbook.name == name_or_file:
            return runbook
    names = ", ".join(r.name for r in runbooks) or "none found"
    raise NotFound(f"There is no runbook named {name_or_file!r}.",
                   f"Known runbooks: {names}. `ircli runbook list` shows them.")
