"""Security-group rules as comparable sets: what an ircli group must hold, and the calls that
make an existing group hold exactly that.

A group is never trusted by its name: anyone who can create groups in the VPC can create one
called ``ircli-isolation-endpoints`` with allow-all rules. ircli reads the rules of every group
it would reuse and compares them, atom by atom (one protocol, port range and peer each), with
the rule set it would create itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ircli.aws.ec2 import tag_value
from ircli.core.step import Call, Ref
from ircli.steps.names import TAG_MANAGED

# (direction, protocol, from port, to port, peer kind, peer): one peer of one permission.
Atom = tuple[str, str, int | None, int | None, str, str]
INGRESS, EGRESS = "ingress", "egress"
_PEERS = (("IpRanges", "CidrIp", "cidr"), ("Ipv6Ranges", "CidrIpv6", "cidr6"),
          ("PrefixListIds", "PrefixListId", "prefix"), ("UserIdGroupPairs", "GroupId", "group"))
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
# What AWS gives a new group: all outbound IPv4, and all outbound IPv6 in a VPC with IPv6.
DEFAULT_EGRESS: frozenset[Atom] = frozenset({
    (EGRESS, "-1", None, None, "cidr", "0.0.0.0/0"),
    (EGRESS, "-1", None, None, "cidr6", "::/0")})
# Another responder may be setting up the same group at this moment (a fleet contained at once):
# a rule that is already there, or already gone, is the state we want.
SAME_RULE = ("InvalidPermission.Duplicate", "InvalidPermission.NotFound")


def atoms(direction: str, permissions: Iterable[dict[str, Any]]) -> set[Atom]:
    """The permissions of DescribeSecurityGroups (or of an Authorize call) as atoms."""
    return set(described(direction, permissions))


def described(direction: str, permissions: Iterable[dict[str, Any]]) -> dict[Atom, str]:
    """Each atom of the permissions with its description ('' for none); descriptions are
    labels, never compared."""
    found: dict[Atom, str] = {}
    for perm in permissions:
        proto = str(perm.get("IpProtocol", "-1")).lower()
        proto = _PROTOCOLS.get(proto, proto)
        low, high = (None, None) if proto == "-1" else (perm.get("FromPort"),
                                                        perm.get("ToPort"))
        for key, peer_key, kind in _PEERS:
            for peer in perm.get(key, []) or []:
                found[(direction, proto, low, high, kind, str(peer[peer_key]))] = str(
                    peer.get("Description", ""))
    return found


def current_atoms(group: dict[str, Any]) -> set[Atom]:
    return atoms(INGRESS, group.get("IpPermissions", [])) | atoms(
        EGRESS, group.get("IpPermissionsEgress", []))


def permissions(rules: Iterable[Atom], labels: dict[Atom, str] | None = None
                ) -> list[dict[str, Any]]:
    """Atoms back to IpPermissions: one permission per protocol and port range."""
    merged: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for _direction, proto, low, high, kind, peer in sorted(rules, key=str):
        perm = merged.setdefault((proto, low, high), {"IpProtocol": proto})
        if low is not None:
            perm["FromPort"] = low
        if high is not None:
            perm["ToPort"] = high
        key, peer_key = next((k, p) for k, p, knd in _PEERS if knd == kind)
        entry = {peer_key: peer}
        label = (labels or {}).get((_direction, proto, low, high, kind, peer))
        if label:
            entry["Description"] = label
        perm.setdefault(key, []).append(entry)
    return list(merged.values())


@dataclass
class GroupSpec:
    """One group ircli owns: its name and exactly the rules it must hold."""

    name: str
    description: str
    ingress: list[dict[str, Any]] = field(default_factory=list)
    egress: list[dict[str, Any]] = field(default_factory=list)

    def expected(self) -> set[Atom]:
        return set(self.labels())

    def labels(self) -> dict[Atom, str]:
        return {**described(INGRESS, self.ingress), **described(EGRESS, self.egress)}

    def candidates(self, count: int = 10) -> list[str]:
        """The deterministic names ircli may use, in order: ``name``, ``name-2``, …"""
        return [self.name, *(f"{self.name}-{i}" for i in range(2, count + 1))]


def is_managed(group: dict[str, Any]) -> bool:
    return tag_value(group, TAG_MANAGED) == "true"


def differences(group: dict[str, Any], spec: GroupSpec) -> tuple[set[Atom], set[Atom]]:
    """(missing, extra) atoms of ``group`` against ``spec``."""
    have, want = current_atoms(group), spec.expected()
    return want - have, have - want


def converge(group: str | Ref, name: str, have: set[Atom], want: set[Atom],
             labels: dict[Atom, str] | None = None) -> list[Call]:
    """The revoke and authorize calls that turn ``have`` into exactly ``want`` (revokes first:
    an extra allow is the risk, a missing one only a gap)."""
    calls = []
    # One revoke per rule: a rule already gone fails its own call only, never its siblings.
    for extra in sorted(have - want, key=str):
        direction = extra[0]
        calls.append(Call("ec2", f"revoke_security_group_{direction}", {
            "GroupId": group, "IpPermissions": permissions([extra])},
            f"{name}: remove {direction} rule {_show({extra})}", tolerate=SAME_RULE))
    for direction, method in ((INGRESS, "authorize_security_group_ingress"),
                              (EGRESS, "authorize_security_group_egress")):
        missing = {a for a in want - have if a[0] == direction}
        if missing:
            calls.append(Call("ec2", method, {"GroupId": group, "IpPermissions": permissions(
                missing, labels)}, f"{name}: allow {direction} {_show(missing)}",
                tolerate=SAME_RULE))
    return calls


def _show(rules: set[Atom]) -> str:
    shown = []
    for _d, proto, low, high, _kind, peer in sorted(rules, key=str):
        what = "all traffic" if proto == "-1" else f"{proto}/{low}" if low == high else \
            f"{proto}/{low}-{high}"
        shown.append(f"{what} {peer}")
    return ", ".join(shown)
