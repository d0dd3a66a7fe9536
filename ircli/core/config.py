"""The ircli config file and the settings it may hold (today: the evidence bucket).

Where it lives: ``$IRCLI_CONFIG`` when set, else ``<IRCLI_HOME>/config.toml`` (by default
``~/.ircli/config.toml``). It is TOML::

    [evidence]
    bucket = "acme-ir-evidence"

Python 3.11+ reads it with the standard ``tomllib``. Python 3.10 has no ``tomllib`` and ircli
adds no dependency for it, so there a tiny subset is parsed instead: ``[table]`` headers and
``key = "string"`` / integer / ``true``/``false`` lines, ``#`` comments. Anything else is
refused with a message that names the line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ircli.core.case import ircli_home
from ircli.core.errors import InvalidInput, UserError

ENV_BUCKET = "IRCLI_EVIDENCE_BUCKET"
ENV_CONFIG = "IRCLI_CONFIG"

_TABLE = re.compile(r"^\[([A-Za-z0-9_.-]+)\]$")
_PAIR = re.compile(r"^([A-Za-z0-9_-]+)\s*=\s*(.+)$")


def config_path() -> Path:
    """``$IRCLI_CONFIG``, or ``<IRCLI_HOME>/config.toml``."""
    explicit = os.environ.get(ENV_CONFIG)
    return Path(explicit) if explicit else ircli_home() / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file, or {} when there is none."""
    path = path or config_path()
    if not path.exists():
        return {}
    text = path.read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return parse_toml_subset(text, path)
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"The ircli config file {path} is not valid TOML: {err}.",
                           "Fix or remove the file.") from err
    return data


def parse_toml_subset(text: str, path: Path) -> dict[str, Any]:
    """The small TOML subset documented above (the Python 3.10 fallback)."""
    data: dict[str, Any] = {}
    table = data
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _TABLE.match(line)
        pair = _PAIR.match(line)
        if header:
            table = data
            for part in header.group(1).split("."):
                table = table.setdefault(part, {})
        elif pair:
            table[pair.group(1)] = _scalar(pair.group(2).strip(), path, number)
        else:
            raise _unsupported(path, number)
    return data


def _scalar(value: str, path: Path, number: int) -> Any:
    if "#" in value and not value.startswith('"'):
        value = value.split("#", 1)[0].strip()
    if re.fullmatch(r'"[^"\\]*"(\s*#.*)?', value):
        return value[1:value.index('"', 1)]
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    raise _unsupported(path, number)


def _unsupported(path: Path, number: int) -> UserError:
    return InvalidInput(
        f"Line {number} of {path} is outside the TOML subset ircli reads on Python 3.10.",
        'Use [table] headers and key = "string", number or true/false lines, or Python 3.11+.')


def evidence_bucket(explicit: str | None = None, *, strict: bool = True) -> str | None:
    """The evidence bucket: ``--evidence-bucket``, else the environment, else the config file.

    ``strict=False`` (containment) treats an unreadable config file as no bucket: a typo in
    the config must not stop an isolation; the result then says the evidence is pending.
    """
    if explicit:
        return explicit
    if os.environ.get(ENV_BUCKET):
        return os.environ[ENV_BUCKET]
    try:
        config = load_config()
    except (UserError, OSError):
        if strict:
            raise
        return None
    value = config.get("evidence", {}).get("bucket")
    return str(value) if value else None


def require_evidence_bucket(explicit: str | None = None) -> str:
    """The evidence bucket, or an error that says the three ways to set it."""
    bucket = evidence_bucket(explicit)
    if not bucket:
        raise UserError("No evidence bucket is configured.", how_to_set_bucket())
    return bucket


def how_to_set_bucket() -> str:
    return (f"Pass --evidence-bucket NAME, set {ENV_BUCKET}, or put "
            f'`[evidence]` / `bucket = "NAME"` in {config_path()}.')
