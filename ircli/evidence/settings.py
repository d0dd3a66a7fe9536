"""Evidence settings beyond the bucket: flag, else environment, else ``[evidence]`` in the
config file (the same order as the bucket, see :mod:`ircli.core.config`)."""

from __future__ import annotations

import os
from typing import Any

from ircli.core.config import forensics_config, load_config
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


def central_account(bucket: str | None, case_data: dict[str, Any]) -> str | None:
    """The member account whose prefix (``cases/<account>/<case-id>/``) a case takes in
    ``bucket``, when that is the central forensics bucket (``[forensics] bucket``); None: the
    bucket is an account's own, and the case goes under ``cases/<case-id>/``."""
    try:
        forensics = forensics_config()
    except (UserError, OSError):
        return None
    if not bucket or forensics.get("bucket") != bucket:
        return None
    accounts = sorted({str(t["account"]) for t in case_data.get("targets", {}).values()
                       if isinstance(t, dict) and t.get("account") and t.get("kind") !=
                       "analyst-workstation"})
    return accounts[0] if accounts else None


def break_glass_role(explicit: str | None = None) -> str | None:
    """``--break-glass-role-arn``, ``IRCLI_EVIDENCE_BREAK_GLASS_ROLE``, ``break_glass_role``."""
    return setting("break_glass_role", ENV_BREAK_GLASS, explicit)
