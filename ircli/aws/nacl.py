"""Network ACL lookups and the bookkeeping of ircli's address blocks.

A block is a pair of deny entries (inbound and outbound, same rule number) for one address in
one network ACL, numbered in ircli's range 50-99: below the usual allow rule 100, so the deny
is evaluated first, and clear of the numbers people tend to use (1-49, 100 and up). Each block
is also a tag on the ACL, ``ircli:block:<rule>`` = ``<address>|<expiry>|<case>``: the expiry
lives in AWS, next to the entries, so ``ircli block-ip --expire`` needs nothing but AWS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ircli.core.errors import InvalidInput
from ircli.core.session import AwsSession

RULE_MIN, RULE_MAX = 50, 99
TAG_PREFIX = "ircli:block:"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never blocked without --force: blocking them cuts the VPC off from itself or its neighbours.
_PRIVATE = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
    "127.0.0.0/8", "::1/128",  # loopback
    "169.254.0.0/16", "fe80::/10",  # link-local (the instance metadata service lives here)
    "fc00::/7",  # unique local IPv6
    "0.0.0.0/8", "::/128",  # this network / unspecified
)]


def parse_address(text: str) -> Address:
    """One IPv4 or IPv6 address (not a network); InvalidInput names what is wrong."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as err:
        hint = " (a network, not one address)" if "/" in text else ""
        raise InvalidInput(f"'{text}' is not an IP address{hint}.",
                           "Give one IPv4 (198.51.100.7) or IPv6 (2001:db8::7) address.") from err


def private_reason(address: Address) -> str | None:
    """Which private range holds the address, or None for a public one."""
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    for network in _PRIVATE:
        if address.version == network.version and address in network:
            return f"it is in the private range {network}"
    if address.is_multicast:
        return "it is a multicast address"
    return None


def cidr(address: Address) -> str:
    return f"{address}/{address.max_prefixlen}"


def entry_cidr(entry: dict[str, Any]) -> str | None:
    value = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
    return str(value) if value else None


def denies_exactly(entry: dict[str, Any], address: Address) -> bool:
    """True for a deny entry on exactly this one address (how ircli writes its entries)."""
    block = entry_cidr(entry)
    return entry.get("RuleAction") == "deny" and block is not None and \
        ipaddress.ip_network(block, strict=False) == ipaddress.ip_network(cidr(address))


def cidr_param(address: Address) -> dict[str, str]:
    """The CreateNetworkAclEntry parameter for the address's family."""
    key = "Ipv6CidrBlock" if address.version == 6 else "CidrBlock"
    return {key: cidr(address)}


@dataclass(frozen=True)
class Block:
    """One ircli block as its tag records it."""

    network_acl_id: str
    rule_number: int
    address: str
    expires_at: datetime
    case_id: str

    @property
    def tag_key(self) -> str:
        return f"{TAG_PREFIX}{self.rule_number}"

    def tag_value(self) -> str:
        return f"{self.address}|{expiry_text(self.expires_at)}|{self.case_id}"

    def to_dict(self) -> dict[str, Any]:
        return {"network_acl_id": self.network_acl_id, "rule_number": self.rule_number,
                "address": self.address, "expires_at": expiry_text(self.expires_at),
                "case_id": self.case_id}


def expiry_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def blocks_of(acl: dict[str, Any]) -> tuple[list[Block], list[str]]:
    """The ircli blocks a network ACL's tags record, and warnings for tags that do not parse."""
    blocks, bad = [], []
    for tag in acl.get("Tags", []) or []:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        if not key.startswith(TAG_PREFIX):
            continue
        try:
            rule = int(key[len(TAG_PREFIX):])
            address, expires, case_id = value.split("|", 2)
            when = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            blocks.append(Block(acl["NetworkAclId"], rule, str(parse_address(address)), when,
                                case_id))
        except (ValueError, InvalidInput):
            bad.append(f"{acl['NetworkAclId']}: tag {key}={value!r} is not an ircli block "
                       "record; left alone")
    return blocks, bad


def entries_for(acl: dict[str, Any], rule: int) -> list[dict[str, Any]]:
    return [e for e in acl.get("Entries", []) if e["RuleNumber"] == rule]


def free_rule(acl: dict[str, Any]) -> int | None:
    """The lowest number in ircli's range unused in both directions and by any ircli tag."""
    used = {e["RuleNumber"] for e in acl.get("Entries", [])}
    used |= {b.rule_number for b in blocks_of(acl)[0]}
    return next((n for n in range(RULE_MIN, RULE_MAX + 1) if n not in used), None)


def earlier_allows(acl: dict[str, Any], address: Address, rule: int) -> list[str]:
    """Allow entries numbered below ``rule`` that match the address: they win over the deny."""
    found = []
    for entry in acl.get("Entries", []):
        block = entry_cidr(entry)
        if entry["RuleAction"] != "allow" or entry["RuleNumber"] >= rule or not block:
            continue
        network = ipaddress.ip_network(block, strict=False)
        if network.version == address.version and address in network:
            way = "outbound" if entry["Egress"] else "inbound"
            found.append(f"{acl['NetworkAclId']}: {way} rule {entry['RuleNumber']} allows "
                         f"{block} before ircli's deny at {rule}, so the block does not apply "
                         "in that direction")
    return found


def network_acls(aws: AwsSession, *, vpc_id: str | None = None,
                 subnet_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """ACLs guarding the subnets (or every associated ACL of the VPC, or of the region)."""
    filters: list[dict[str, Any]] = []
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    if subnet_ids:
        filters.append({"Name": "association.subnet-id", "Values": subnet_ids})
    pages = aws.client("ec2").get_paginator("describe_network_acls").paginate(Filters=filters)
    return [acl for page in pages for acl in page["NetworkAcls"]]


def vpc_ranges(aws: AwsSession, vpc_ids: list[str]) -> list[ipaddress.IPv4Network |
                                                             ipaddress.IPv6Network]:
    """Every IPv4 and IPv6 CIDR associated with the VPCs."""
    if not vpc_ids:
        return []
    found: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for vpc in aws.client("ec2").describe_vpcs(VpcIds=vpc_ids)["Vpcs"]:
        blocks = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", [])
                  if a.get("CidrBlockState", {}).get("State", "associated") == "associated"]
        blocks += [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
                   if a.get("Ipv6CidrBlock")]
        found += [ipaddress.ip_network(b, strict=False) for b in blocks or [vpc["CidrBlock"]]]
    return found
