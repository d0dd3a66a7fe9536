"""Ask before changing AWS: only on a terminal; scripts must say --yes."""

from __future__ import annotations

import sys

import click

from ircli.core.errors import ConfirmationRefused


def confirm_or_refuse(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRefused(
            "Refusing to change AWS without confirmation: there is no terminal to ask on.",
            "Pass --yes to proceed (playbooks and scripts do), or --dry-run to see the plan.")
    if not click.confirm(question, default=False, err=True):
        raise ConfirmationRefused("Cancelled; nothing was changed.")
