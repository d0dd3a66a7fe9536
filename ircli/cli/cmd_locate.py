"""`ircli locate TARGET`: the account and region of an instance, ENI, address or access key."""

from __future__ import annotations

import sys
from typing import Any

import click

from ircli.cli.main import aws_session
from ircli.cli.options import GlobalOptions, global_options
from ircli.cli.output import emit_json
from ircli.cli.plain import escape_controls


@click.command("locate")
@click.argument("target")
@click.option("--accounts", "accounts_csv", help="Comma-separated account ids.")
@click.option("--org", is_flag=True, help="Every account of the inventory (accounts sync); "
                                          "the default when an inventory exists.")
@click.option("--regions", "regions_csv",
              help="Comma-separated regions, or `all` for every region each account has "
                   "enabled (default: [accounts] regions in the config, else --region).")
@click.option("--max-concurrency", type=click.IntRange(1, 256), default=64, show_default=True,
              help="Pairs searched at once (bounded by the AWS API, not the CPU).")
@click.option("--all", "all_pairs", is_flag=True,
              help="Keep searching after a unique hit (instance or ENI id).")
@global_options
@click.pass_obj
def locate_cmd(opts: GlobalOptions, target: str, accounts_csv: str | None, org: bool,
               regions_csv: str | None, max_concurrency: int, all_pairs: bool) -> int:
    """Find TARGET across accounts × regions: exit 0 found, 2 nowhere, 3 found with failures."""
    from ircli.core.accounts import check_account_id, load_inventory
    from ircli.core.errors import UserError
    from ircli.ops.locate import LocateOptions, locate

    inventory = load_inventory()
    accounts = [check_account_id(a) for a in accounts_csv.split(",")] if accounts_csv else []
    if org and not inventory.accounts:
        raise UserError("There is no account inventory to search.",
                        "Run `ircli accounts sync` first, or pass --accounts ID,ID.")
    regions = [r.strip() for r in regions_csv.split(",") if r.strip()] if regions_csv else []
    options = LocateOptions(target=target.strip(), accounts=accounts, regions=regions,
                            role_name=opts.role_name, max_concurrency=max_concurrency,
                            all_pairs=all_pairs)
    result = locate(aws_session(opts), options, inventory, progress=_progress())
    data = result.to_dict()
    if opts.json:
        emit_json(data)
    else:
        _render(data)
    return result.exit_code


def _progress() -> Any:
    """One stderr line each tenth of the pairs (and for each hit); quiet for tiny searches."""
    state = {"shown": 0}

    def show(result: Any, done: int, total: int) -> None:
        if result.status == "found":
            click.echo(f"  found in {result.pair.account} {result.pair.region}", err=True)
        step = max(1, total // 10)
        if total >= 20 and (done - state["shown"] >= step or done == total):
            state["shown"] = done
            click.echo(f"  … {done}/{total} account-region pairs searched", err=True,
                       nl=True)
            sys.stderr.flush()

    return show


def _render(data: dict[str, Any]) -> None:
    from ircli.cli.cmd_accounts import _table

    pairs = data["pairs"]
    if data["found"]:
        _table(["Account", "Name", "Region", "Resource", "Id", "Details"],
               [[h["account"], h.get("account_name") or "", h.get("region") or "-",
                 h["resource"], h.get("instance_id") or h.get("eni_id")
                 or h.get("access_key_id"), _details(h)] for h in data["found"]])
    else:
        click.echo(f"{escape_controls(data['target'])} was not found in the "
                   f"{pairs['searched']} account-region pairs searched.")
    for failed in data["failed"]:
        click.echo(f"  {failed['account']} {failed['region']}: {failed['status']} — "
                   f"{escape_controls(failed['detail'])}")
    click.echo(f"Searched {pairs['searched']} of {pairs['total']} pairs; "
               + ", ".join(f"{k} {v}" for k, v in sorted(pairs.items())
                           if k not in ("total", "searched")) + ".")


def _details(hit: dict[str, Any]) -> str:
    keys = ("name", "state", "vpc_id", "private_ip", "public_ip", "user", "eni_id",
            "description", "note")
    return " ".join(f"{k}={hit[k]}" for k in keys if hit.get(k) and
                    not (k == "eni_id" and hit["resource"] == "network-interface"))
