"""``--locate``: find which account and region a target is in, then act there.

For ``contain``, ``collect`` and ``disable-keys`` when the responder does not know where the
target lives: ``ircli locate`` runs first (every enabled region of every account of the
inventory, through the role), and the command then acts in the one account and region it
found, as if ``--account``/``--region`` had been given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ircli.cli.options import GlobalOptions

F = TypeVar("F", bound=Callable[..., Any])


def _store(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        opts = ctx.find_object(GlobalOptions) or ctx.ensure_object(GlobalOptions)
        opts.locate = True
    return value


def locate_option(f: F) -> F:
    return click.option(
        "--locate", is_flag=True, expose_value=False, callback=_store,
        help="First find the account and region the target is in (as `ircli locate`: the "
             "inventory's accounts, every enabled region unless --region), then act there.")(f)


def where_found(opts: GlobalOptions, target: str) -> GlobalOptions:
    """``opts`` pointed at the one account and region that hold ``target``."""
    if not opts.locate:
        return opts
    from ircli.cli.main import aws_session
    from ircli.core.accounts import load_inventory
    from ircli.core.errors import NotFound, UserError
    from ircli.ops.locate import LocateOptions, locate

    result = locate(aws_session(opts), LocateOptions(
        target, accounts=[opts.account] if opts.account else [],
        regions=[opts.region] if opts.region else ["all"], role_name=opts.role_name),
        load_inventory())
    places = sorted({(str(h["account"]), h.get("region")) for h in result.hits})
    if not places:
        searched = result.to_dict()["pairs"]
        raise NotFound(f"{target} was not found in the {searched['searched']} account-region "
                       f"pairs searched ({len(result.failed)} could not be searched).",
                       "Run `ircli locate` to see each pair's result, or pass --account and "
                       "--region.")
    if len(places) > 1:
        shown = ", ".join(f"{a} {r or ''}".strip() for a, r in places)
        raise UserError(f"{target} is in more than one place ({shown}).",
                        "Pass --account and --region for the one you mean.")
    scoped = copy.copy(opts)
    scoped.account, found_region = places[0]
    scoped.region = found_region or opts.region
    scoped.locate = False
    return scoped
