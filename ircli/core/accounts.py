"""Which accounts ircli knows and how it reaches each one.

A central security account reaches every member account through a role of one fixed name
(the way multi-account tools do it). The name comes from ``--role-name``, then
``IRCLI_ROLE_NAME``, then the config file; one account may override it::

    [accounts]
    role_name = "ircli-responder"
    regions = ["us-east-1", "eu-west-1"]
    external_id = "…"            # optional
    duration = 3600              # optional, seconds

    [accounts."111111111111"]
    role_name = "legacy-ir"
    regions = ["ap-southeast-2"]

The inventory (``ircli accounts sync``) is written to ``<IRCLI_HOME>/accounts.json`` beside
the config, never into ``config.toml`` itself: that file is the user's, with its comments and
overrides, and a generated list of 500 accounts would bury them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ircli.core.case import ircli_home
from ircli.core.config import load_config
from ircli.core.errors import InvalidInput, UserError

ENV_ROLE_NAME = "IRCLI_ROLE_NAME"
ACCOUNT_ID = re.compile(r"^\d{12}$")


def check_account_id(value: str) -> str:
    """A 12-digit account id, or a clear error naming what was given."""
    value = value.strip()
    if not ACCOUNT_ID.match(value):
        raise InvalidInput(f"{value!r} is not an AWS account id (12 digits).",
                           "Pass the 12-digit id, e.g. --account 111111111111.")
    return value


@dataclass(frozen=True)
class AccountAccess:
    """How ircli reaches one account: the role to assume there, and where to look."""

    account: str
    role_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Account:
    """One account of the inventory."""

    id: str
    name: str = ""
    status: str = "ACTIVE"
    parent: str | None = None  # the OU (or root) it sits in


@dataclass
class Inventory:
    accounts: list[Account] = field(default_factory=list)
    source: str = ""
    synced_at: str = ""

    def name_of(self, account: str | None) -> str | None:
        for known in self.accounts:
            if known.id == account:
                return known.name or None
        return None

    def ids(self) -> list[str]:
        return [a.id for a in self.accounts]


def _accounts_config(config: dict[str, Any] | None) -> dict[str, Any]:
    table = (config if config is not None else load_config()).get("accounts", {})
    if not isinstance(table, dict):
        raise InvalidInput("[accounts] in the ircli config is not a table.",
                           "Write it as [accounts] with role_name = \"…\".")
    return table


def access_for(account: str, role_name: str | None = None,
               config: dict[str, Any] | None = None) -> AccountAccess:
    """The role and regions for ``account``: the option, the environment, the override, the
    default, in that order."""
    table = _accounts_config(config)
    override = table.get(account, {})
    if not isinstance(override, dict):
        override = {}

    def pick(key: str) -> Any:
        return override.get(key, table.get(key))

    name = role_name or os.environ.get(ENV_ROLE_NAME) or pick("role_name")
    duration = pick("duration")
    regions = pick("regions") or ()
    if isinstance(regions, str):
        regions = [r.strip() for r in regions.split(",") if r.strip()]
    return AccountAccess(account=account, role_name=str(name) if name else None,
                         external_id=str(pick("external_id")) if pick("external_id") else None,
                         duration_seconds=int(duration) if duration else None,
                         regions=tuple(str(r) for r in regions))


def inventory_path() -> Path:
    return ircli_home() / "accounts.json"


def load_inventory(path: Path | None = None) -> Inventory:
    """The synced inventory, or an empty one when ``accounts sync`` never ran."""
    path = path or inventory_path()
    if not path.exists():
        return Inventory()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        accounts = [Account(**{k: v for k, v in a.items() if k in Account.__dataclass_fields__})
                    for a in data.get("accounts", [])]
    except (ValueError, TypeError, AttributeError) as err:
        raise UserError(f"The account inventory {path} is unreadable ({err}).",
                        "Run `ircli accounts sync` again to rebuild it.") from err
    return Inventory(accounts, str(data.get("source", "")), str(data.get("synced_at", "")))


def save_inventory(inventory: Inventory, path: Path | None = None) -> Path:
    """Write the inventory atomically (a reader never sees half a file)."""
    path = path or inventory_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"source": inventory.source, "synced_at": inventory.synced_at,
                               "accounts": [asdict(a) for a in inventory.accounts]},
                              indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def recorded_location(target_id: str, case_id: str | None = None) -> dict[str, Any] | None:
    """Where a local case says ``target_id`` lives (account, region, role), so that collect,
    release and the rest act there without being told again. None when no case knows it."""
    from ircli.core.case import check_case_id, list_cases

    wanted = check_case_id(case_id) if case_id else None
    for case in list_cases():
        if wanted and case.get("case_id") != wanted:
            continue
        target = case.get("targets", {}).get(target_id)
        if isinstance(target, dict) and target.get("region"):
            return {k: target.get(k) for k in ("account", "region", "role_arn")}
    return None
