"""The ircli config file and the settings it may hold.

Where it lives: ``$IRCLI_CONFIG`` when set, else ``<IRCLI_HOME>/config.toml`` (by default
``~/.ircli/config.toml``). It is TOML::

    [evidence]
    bucket = "acme-ir-evidence"

Python 3.11+ reads it with the standard ``tomllib``; Python 3.10 with ``tomli`` (the same
parser, a dependency there only). The settings: ``[evidence] bucket``, ``[runbooks] dir``,
``[notify] topic`` and ``[output] format`` (text, json, yaml or table).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ircli.core.case import ircli_home
from ircli.core.errors import InvalidInput, UserError

ENV_BUCKET = "IRCLI_EVIDENCE_BUCKET"
ENV_CONFIG = "IRCLI_CONFIG"
ENV_OUTPUT = "IRCLI_OUTPUT"

_PYTHON = tuple(sys.version_info[:2])


def toml_parser(python: tuple[int, ...]) -> Any:
    """``tomllib`` on Python 3.11+; on 3.10 ``tomli``, the same parser as a package
    (setup.cfg: ``tomli; python_version < "3.11"``)."""
    if python >= (3, 11):
        import tomllib

        return tomllib
    import tomli

    return tomli


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
    parser = toml_parser(_PYTHON)
    try:
        data: dict[str, Any] = parser.loads(text)
    except parser.TOMLDecodeError as err:
        raise InvalidInput(f"The ircli config file {path} is not valid TOML: {err}.",
                           "Fix or remove the file.") from err
    return data


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
    value = config.get("evidence", {}).get("bucket") or \
        config.get("forensics", {}).get("bucket")  # the central bucket, for member accounts
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


def configured_output() -> tuple[str | None, str]:
    """The default output format and where it was set: ``IRCLI_OUTPUT``, else ``[output]
    format`` in the config file; (None, "") when neither. An unreadable config file counts as
    unset here (the output format never stops a command; the bucket lookup reports the file)."""
    if os.environ.get(ENV_OUTPUT):
        return os.environ[ENV_OUTPUT], ENV_OUTPUT
    try:
        value = load_config().get("output", {}).get("format")
    except (UserError, OSError):
        return None, ""
    return (str(value), f"[output] format in {config_path()}") if value else (None, "")


# -- [forensics]: the account every member account's evidence travels to ---------------------
FORENSICS_KEYS = ("account", "region", "role_name", "kms_key", "bucket")


def forensics_config(config: dict[str, Any] | None = None) -> dict[str, str]:
    """The ``[forensics]`` table (``account``, ``region``, ``role_name``, ``kms_key``,
    ``bucket``, optional ``organization_id``) as strings; {} when the section is absent."""
    table = (config if config is not None else load_config()).get("forensics", {})
    if not isinstance(table, dict):
        raise InvalidInput("[forensics] in the ircli config is not a table.",
                           'Write it as [forensics] with account = "…", region = "…", ….')
    return {str(k): str(v) for k, v in table.items() if v not in (None, "")}
