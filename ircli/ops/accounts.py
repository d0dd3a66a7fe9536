"""``accounts sync|check``: the inventory from AWS Organizations, and whether each role works."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ircli.core.accounts import Account, Inventory, access_for, check_account_id
from ircli.core.clock import Clock
from ircli.core.fanout import (
    DEFAULT_CONCURRENCY,
    DENIED,
    AccountClients,
    Pair,
    PairResult,
    run_pairs,
)
from ircli.core.session import AwsSession


def sync_inventory(aws: AwsSession, clock: Clock, *, ou: str | None = None,
                   exclude: tuple[str, ...] = ()) -> Inventory:
    """Active accounts of the organisation (or of one OU and the OUs under it)."""
    org = aws.client("organizations")
    excluded = {check_account_id(a) for a in exclude}
    found: list[Account] = []
    if ou is None:
        for page in org.get_paginator("list_accounts").paginate():
            found.extend(_account(a, None) for a in page["Accounts"])
    else:
        found.extend(_walk(org, ou))
    active = [a for a in found if a.status == "ACTIVE" and a.id not in excluded]
    unique = {a.id: a for a in active}
    return Inventory(sorted(unique.values(), key=lambda a: a.id),
                     source=f"organizations{':' + ou if ou else ''}",
                     synced_at=clock.now().isoformat())


def _walk(org: Any, parent: str) -> list[Account]:
    """Accounts in ``parent`` and in every OU below it."""
    accounts: list[Account] = []
    for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
        accounts.extend(_account(a, parent) for a in page["Accounts"])
    for page in org.get_paginator("list_organizational_units_for_parent").paginate(
            ParentId=parent):
        for child in page["OrganizationalUnits"]:
            accounts.extend(_walk(org, child["Id"]))
    return accounts


def _account(raw: dict[str, Any], parent: str | None) -> Account:
    # ``State`` replaces ``Status`` in newer API versions; read whichever is there.
    status = str(raw.get("State") or raw.get("Status") or "ACTIVE").upper()
    return Account(id=str(raw["Id"]), name=str(raw.get("Name", "")), status=status,
                   parent=parent)


@dataclass
class CheckResult:
    results: list[PairResult]
    inventory: Inventory

    @property
    def exit_code(self) -> int:
        return 0 if all(r.status == "ok" for r in self.results) else 3

    def to_dict(self) -> dict[str, Any]:
        return {"command": "accounts check",
                "accounts": [{**r.to_dict(), "name": self.inventory.name_of(r.pair.account)}
                             for r in self.results],
                "ok": sum(r.status == "ok" for r in self.results),
                "failed": sum(r.status != "ok" for r in self.results),
                "exit_code": self.exit_code}


def check_accounts(aws: AwsSession, accounts: list[str], inventory: Inventory, *,
                   role_name: str | None = None,
                   max_concurrency: int = DEFAULT_CONCURRENCY,
                   progress: Callable[[PairResult, int], None] | None = None) -> CheckResult:
    """Assume the role in each account (in parallel) and ask STS who we are there."""
    clients = AccountClients(aws, lambda account: access_for(account, role_name),
                             max_concurrency)

    def work(pair: Pair) -> PairResult:
        access = access_for(pair.account, role_name)
        with clients.within(pair.account):
            who = clients.client("sts", pair.region).get_caller_identity()
        if str(who["Account"]) != pair.account:
            return PairResult(pair, DENIED, f"the role answered for account {who['Account']}")
        return PairResult(pair, "ok", f"role {access.role_name or '(own credentials)'}",
                          hits=[{"arn": who["Arn"]}])

    pairs = [Pair(a, aws.region) for a in accounts]
    return CheckResult(run_pairs(pairs, work, max_concurrency=max_concurrency,
                                 progress=progress), inventory)
