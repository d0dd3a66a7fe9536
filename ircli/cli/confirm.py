"""Ask before changing AWS: only on a terminal; scripts must say --yes."""

from __future__ import annotations

import sys

import click

from ircli.cli.options import GlobalOptions
from ircli.core.errors import ConfirmationRefused, UserError


def confirm_or_refuse(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRefused(
            "Refusing to change AWS without confirmation: there is no terminal to ask on.",
            "Pass --yes to proceed (playbooks and scripts do), or --dry-run to see the plan.")
    if not click.confirm(question, default=False, err=True):
        raise ConfirmationRefused("Cancelled; nothing was changed.")


def confirm_new_case(case_id: str | None, new_case: bool, dry_run: bool = False) -> None:
    """A --case-id that names no case here opens a new case only when that is what was meant.

    On a terminal ircli asks. Without one it refuses an id that is a near miss of a case on
    this machine (a typo would split the incident in two) unless --new-case says it is new;
    an id unlike every local case is a playbook naming its own case, and opens it.
    """
    import difflib

    from ircli.core.case import check_case_id, list_cases

    if not case_id or new_case or dry_run:
        return
    check_case_id(case_id)
    known = [str(c.get("case_id")) for c in list_cases()]
    if case_id in known:
        return
    near = difflib.get_close_matches(case_id, known, n=3, cutoff=0.8)
    meant = f"; did you mean {' or '.join(near)}?" if near else "."
    if sys.stdin.isatty():
        if click.confirm(f"There is no case {case_id} on this machine{meant} Open {case_id} as "
                         "a new case?", default=False, err=True):
            return
        raise ConfirmationRefused(f"Cancelled: no case {case_id}; nothing was changed.",
                                  f"Use --case-id {near[0]}." if near else
                                  "See `ircli case list`.")
    if near:
        raise UserError(f"There is no case {case_id} on this machine{meant}",
                        f"Use --case-id {near[0]}, or pass --new-case to open {case_id} as a "
                        "new case.")


def instance_from_input(opts: GlobalOptions, value: str) -> str:
    """The instance id for what was typed (an ARN is taken; for an ENI, a volume or a Name tag
    that points at one instance, a terminal is asked whether that instance is meant)."""
    from ircli.cli.main import aws_session
    from ircli.ops.instance_input import SuggestedInstance, instance_argument

    try:
        return instance_argument(value, lambda: aws_session(opts))
    except SuggestedInstance as err:
        if sys.stdin.isatty() and click.confirm(f"{err.message} Use {err.label}?",
                                                default=False, err=True):
            return err.instance_id
        raise
