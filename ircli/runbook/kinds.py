"""What a runbook can act on, which steps fit each kind, and which steps always come first.

The first steps of every kind find the target and record its state before anything changes
(release reads that record); they are part of the kind, not of the runbook, so no runbook
can leave them out or put a change before them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetKind:
    name: str
    label: str
    example: str
    preamble: tuple[str, ...]
    steps: frozenset[str]


KINDS: dict[str, TargetKind] = {kind.name: kind for kind in (
    TargetKind("instance", "EC2 instance", "i-0123456789abcdef0", ("resolve", "record"),
               frozenset({"isolate", "disassociate-eips", "protect", "remove-from-service",
                          "cut-credentials", "tag",
                          "snapshot", "collect", "notify"})),
    TargetKind("access-key", "IAM access key", "AKIAIOSFODNN7EXAMPLE", ("record-user",),
               frozenset({"disable-keys", "deny-user", "delete-login", "tag-user", "notify"})),
    TargetKind("ip", "IP address", "198.51.100.7", ("resolve-network",),
               frozenset({"block-ip", "notify"})),
)}

PREAMBLE_STEPS = frozenset(name for kind in KINDS.values() for name in kind.preamble)


def kinds_for(step: str) -> list[str]:
    """The target kinds a step may be used with in a runbook."""
    return [kind.name for kind in KINDS.values() if step in kind.steps]
