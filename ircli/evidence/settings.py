"""Evidence settings beyond the bucket: flag, else environment, else ``[evidence]`` in the
config file (the same order as the bucket, see :mod:`ircli.core.config`)."""

from __future__ import annotations

import os

from ircli.core.config import load_config
from ircli.core.errors import UserError

ENV_SIGNING_KEY = "IRCLI_EVIDENCE_SIGNING_KEY"
ENV_BREAK_GLASS = "IRCLI_EVIDENCE_BREAK_GLASS_ROLE"


def setting(name: str, env: str, explicit: str | None = None, *,
            strict: bool = True) -> str | None:
    """``strict=False`` (shipping during containment) treats an unreadable config as unset."""
    if explicit:
        return explicit
    if os.environ.get(env):
        return os.environ[env]
    try:
        value = load_config().get("evidence", {}).get(name)
    except (UserError, OSError):
        if strict:
            raise
        return None
    return str(value) if value else None


def signing_key(explicit: str | None = None, *, strict: bool = True) -> str | None:
    """The anchors' KMS key: ``--signing-key``, ``IRCLI_EVIDENCE_SIGNING_KEY``, ``signing_key``."""
    return setting("signing_key", ENV_SIGNING_KEY, explicit, strict=strict)


def break_glass_role(explicit: str | None = None) -> str | None:
    """``--break-glass-role-arn``, ``IRCLI_EVIDENCE_BREAK_GLASS_ROLE``, ``break_glass_role``."""
    return setting("break_glass_role", ENV_BREAK_GLASS, explicit)
