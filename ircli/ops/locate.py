"""``locate``: which account and region a target lives in, when nobody knows.

An instance id, an ENI id, a private or public IPv4 address, or an access key id. A key
names its account through ``sts:GetAccessKeyInfo`` first, so only that account is asked;
everything else fans out over accounts × regions (:mod:`ircli.core.fanout`). An instance or
ENI id is unique, so the search stops at its first hit unless ``all_pairs``; an address may
be reused across VPCs, so every pair is asked.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.accounts import AccountAccess, Inventory, access_for
from ircli.core.awserrors import error_code
from ircli.core.errors import ExitCode, InvalidInput
from ircli.core.fanout import (
    DEFAULT_CONCURRENCY,
    DISABLED,
    FOUND,
    NOT_FOUND,
    AccountClients,
    Pair,
    PairResult,
    run_pairs,
)
from ircli.core.session import AwsSession

_INSTANCE = re.compile(r"^i-[0-9a-f]{8}([0-9a-f]{9})?$")
_ENI = re.compile(r"^eni-[0-9a-f]{8}([0-9a-f]{9})?$")
_KEY = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")


def target_kind(target: str) -> str:
    """instance | eni | private-ip | public-ip | access-key, or a clear error."""
    if _INSTANCE.match(target):
        return "instance"
    if _ENI.match(target):
        return "eni"
    if _KEY.match(target):
        return "access-key"
    try:
        address = ipaddress.IPv4Address(target)
    except ValueError:
        raise InvalidInput(
            f"{target!r} is not an instance id, ENI id, IPv4 address or access key id.",
            "Pass e.g. i-0abc1234def567890, eni-0abc1234def567890, 10.0.1.7 or AKIA…") from None
    return "private-ip" if address.is_private else "public-ip"


@dataclass
class LocateOptions:
    target: str
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)  # ["all"]: every enabled region
    role_name: str | None = None
    max_concurrency: int = DEFAULT_CONCURRENCY
    all_pairs: bool = False


@dataclass
class LocateResult:
    target: str
    kind: str
    results: list[PairResult]
    pairs_total: int
    inventory: Inventory

    @property
    def hits(self) -> list[dict[str, Any]]:
        return [hit for r in self.results if r.status == FOUND for hit in r.hits]

    @property
    def failed(self) -> list[PairResult]:
        return [r for r in self.results if r.status not in (FOUND, NOT_FOUND)]

    @property
    def exit_code(self) -> int:
        """0 found, 2 found nowhere, 3 found but some pairs could not be searched."""
        if not self.hits:
            return int(ExitCode.USER)
        return int(ExitCode.PARTIAL) if self.failed else int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return {"command": "locate", "target": self.target, "kind": self.kind,
                "found": [{**h, "account_name": self.inventory.name_of(h.get("account"))}
                          for h in self.hits],
                "pairs": {"total": self.pairs_total, "searched": len(self.results), **counts},
                "failed": [r.to_dict() for r in self.failed],
                "status": "found" if self.hits else "not-found",
                "exit_code": self.exit_code}


def locate(aws: AwsSession, options: LocateOptions, inventory: Inventory,
           progress: Callable[[PairResult, int, int], None] | None = None) -> LocateResult:
    """Search every (account, region) pair the options name; changes nothing."""
    kind = target_kind(options.target)

    def access(account: str) -> AccountAccess:
        return access_for(account, options.role_name)

    clients = AccountClients(aws, access, options.max_concurrency)
    accounts = options.accounts or inventory.ids() or [aws.identity()["account"]]
    if kind == "access-key":
        owner = str(aws.client("sts").get_access_key_info(
            AccessKeyId=options.target)["Account"])
        accounts = [owner]
        pairs = [Pair(owner, aws.region)]  # IAM is global: one pair
    else:
        pairs = _pairs(clients, accounts, options.regions, aws.region, access)
    search = _SEARCH[kind]

    def work(pair: Pair) -> PairResult:
        if not pair.enabled:  # never call a region the account has not opted in to
            return PairResult(pair, DISABLED, "the region is not enabled in this account")
        with clients.within(pair.account):
            hits = search(clients, pair, options.target)
        return PairResult(pair, FOUND if hits else NOT_FOUND, hits=hits)

    unique = kind in ("instance", "eni", "access-key") and not options.all_pairs
    results = run_pairs(
        pairs, work, max_concurrency=options.max_concurrency,
        stop=(lambda r: r.status == FOUND) if unique else None,
        progress=(lambda r, n: progress(r, n, len(pairs))) if progress else None)
    return LocateResult(options.target, kind, results, len(pairs), inventory)


def _pairs(clients: AccountClients, accounts: list[str], regions: list[str], home: str,
           access: Callable[[str], AccountAccess]) -> list[Pair]:
    """Accounts × regions; ``all`` asks each account which regions it has enabled."""
    pairs: list[Pair] = []
    for account in accounts:
        wanted = regions or list(access(account).regions) or [home]
        if wanted != ["all"]:
            pairs.extend(Pair(account, r) for r in wanted)
            continue
        pairs.extend(_enabled_regions(clients, account, home))
    return pairs


def _enabled_regions(clients: AccountClients, account: str, home: str) -> list[Pair]:
    """One DescribeRegions per account; a disabled region is kept, marked, never called."""
    try:
        with clients.within(account):
            found = clients.client("ec2", home).describe_regions(AllRegions=True)["Regions"]
    except Exception:
        return [Pair(account, home)]  # searching it reports the same failure, per pair
    return [Pair(account, r["RegionName"], r.get("OptInStatus") != "not-opted-in")
            for r in found]


def _instance(clients: AccountClients, pair: Pair, target: str) -> list[dict[str, Any]]:
    ec2 = clients.client("ec2", pair.region)
    try:
        reservations = ec2.describe_instances(InstanceIds=[target])["Reservations"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            return []
        raise
    return [_instance_hit(pair, i) for r in reservations for i in r["Instances"]]


def _instance_hit(pair: Pair, instance: dict[str, Any]) -> dict[str, Any]:
    name = next((t["Value"] for t in instance.get("Tags", []) or [] if t["Key"] == "Name"), None)
    return {"account": pair.account, "region": pair.region, "resource": "instance",
            "instance_id": instance["InstanceId"], "name": name,
            "state": instance.get("State", {}).get("Name"), "vpc_id": instance.get("VpcId"),
            "private_ip": instance.get("PrivateIpAddress"),
            "public_ip": instance.get("PublicIpAddress")}


def _eni_hits(pair: Pair, interfaces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"account": pair.account, "region": pair.region, "resource": "network-interface",
             "eni_id": n["NetworkInterfaceId"],
             "instance_id": (n.get("Attachment") or {}).get("InstanceId"),
             "vpc_id": n.get("VpcId"), "private_ip": n.get("PrivateIpAddress"),
             "public_ip": (n.get("Association") or {}).get("PublicIp"),
             "description": n.get("Description") or None} for n in interfaces]


def _eni(clients: AccountClients, pair: Pair, target: str) -> list[dict[str, Any]]:
    ec2 = clients.client("ec2", pair.region)
    try:
        found = ec2.describe_network_interfaces(NetworkInterfaceIds=[target])
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("InvalidNetworkInterfaceID.NotFound",
                               "InvalidNetworkInterfaceID.Malformed"):
            return []
        raise
    return _eni_hits(pair, found["NetworkInterfaces"])


def _private_ip(clients: AccountClients, pair: Pair, target: str) -> list[dict[str, Any]]:
    ec2 = clients.client("ec2", pair.region)
    pages = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "addresses.private-ip-address", "Values": [target]}])
    return _eni_hits(pair, [n for page in pages for n in page["NetworkInterfaces"]])


def _public_ip(clients: AccountClients, pair: Pair, target: str) -> list[dict[str, Any]]:
    ec2 = clients.client("ec2", pair.region)
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "ip-address", "Values": [target]}])
    return [_instance_hit(pair, i) for page in pages for r in page["Reservations"]
            for i in r["Instances"]]


def _access_key(clients: AccountClients, pair: Pair, target: str) -> list[dict[str, Any]]:
    hit: dict[str, Any] = {"account": pair.account, "region": None, "resource": "access-key",
                           "access_key_id": target}
    if target.startswith("ASIA"):  # temporary credentials: no IAM user to name
        return [hit | {"note": "temporary (STS) credentials; the account is certain, the "
                               "principal is in CloudTrail"}]
    iam = clients.client("iam", pair.region)
    try:
        user = iam.get_access_key_last_used(AccessKeyId=target).get("UserName")
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("NoSuchEntity", "InvalidInput"):
            return []
        raise
    return [hit | {"user": user}] if user else []


_SEARCH: dict[str, Callable[[AccountClients, Pair, str], list[dict[str, Any]]]] = {
    "instance": _instance, "eni": _eni, "private-ip": _private_ip,
    "public-ip": _public_ip, "access-key": _access_key}
