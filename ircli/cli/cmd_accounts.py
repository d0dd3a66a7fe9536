"""`ircli accounts sync|list|check`: the accounts ircli reaches from the central account."""

from __future__ import annotations

from typing import Any

import click

from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import print_rows


@click.group("accounts")
@global_options
def accounts_group() -> None:
    """The account inventory (from AWS Organizations) and the role ircli assumes in each."""


@accounts_group.command("sync")
@click.option("--ou", help="Only this organizational unit (and the OUs under it).")
@click.option("--exclude", multiple=True, metavar="ACCOUNT_ID", help="Leave this account out.")
@global_options
@click.pass_obj
def accounts_sync(opts: GlobalOptions, ou: str | None, exclude: tuple[str, ...]) -> int:
    """Read the organisation's active accounts into <IRCLI_HOME>/accounts.json."""
    from ircli.core.accounts import save_inventory
    from ircli.core.clock import SystemClock
    from ircli.ops.accounts import sync_inventory

    inventory = sync_inventory(aws_session(opts), SystemClock(), ou=ou, exclude=exclude)
    path = save_inventory(inventory)
    if opts.json:
        emit_json({"command": "accounts sync", "path": str(path),
                   "accounts": [vars(a) for a in inventory.accounts]})
    else:
        click.echo(f"{len(inventory.accounts)} active accounts written to {path}.")
    return 0


@accounts_group.command("list")
@global_options
@click.pass_obj
def accounts_list(opts: GlobalOptions) -> int:
    """The inventory, with the role and regions ircli uses for each account."""
    from ircli.core.accounts import access_for, inventory_path, load_inventory

    inventory = load_inventory()
    rows: list[dict[str, Any]] = []
    for account in inventory.accounts:
        access = access_for(account.id, opts.role_name)
        rows.append({"account": account.id, "name": account.name, "parent": account.parent,
                     "role_name": access.role_name, "regions": list(access.regions)})
    if opts.json:
        emit_json({"command": "accounts list", "path": str(inventory_path()),
                   "synced_at": inventory.synced_at, "accounts": rows})
        return 0
    if not rows:
        click.echo(f"No account inventory at {inventory_path()}; run `ircli accounts sync`.")
        return 0
    _table(["Account", "Name", "Role", "Regions"],
           [[r["account"], r["name"], r["role_name"] or "-", ",".join(r["regions"]) or "-"]
            for r in rows])
    return 0


@accounts_group.command("check")
@click.option("--accounts", "accounts_csv", help="Comma-separated account ids (default: the "
                                                  "inventory).")
@click.option("--max-concurrency", type=click.IntRange(1, 256), default=64, show_default=True)
@global_options
@click.pass_obj
def accounts_check(opts: GlobalOptions, accounts_csv: str | None, max_concurrency: int) -> int:
    """Assume the role in every account, in parallel, and say which work (exit 3 if any fail)."""
    from ircli.core.accounts import check_account_id, load_inventory
    from ircli.core.errors import UserError
    from ircli.ops.accounts import check_accounts

    inventory = load_inventory()
    accounts = [check_account_id(a) for a in accounts_csv.split(",")] if accounts_csv \
        else inventory.ids()
    if not accounts:
        raise UserError("There are no accounts to check.",
                        "Run `ircli accounts sync`, or pass --accounts ID,ID.")
    result = check_accounts(aws_session(opts), accounts, inventory, role_name=opts.role_name,
                            max_concurrency=max_concurrency)
    data = result.to_dict()
    if opts.json:
        emit_json(data)
    else:
        _table(["Account", "Name", "Result", "Detail"],
               [[a["account"], a["name"] or "", a["status"], a["detail"]]
                for a in data["accounts"]])
        click.echo(f"{data['ok']} of {len(accounts)} accounts reachable.")
    return result.exit_code


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    """Account names are chosen by account admins: plain text, never markup."""
    print_rows(headers, rows)
