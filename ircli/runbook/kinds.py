"""What a runbook can act on, which steps fit each kind, and which steps always come first.

Which steps fit a kind is declared by each step (``runbook_targets``), so a new step is usable
in runbooks by saying so where it is defined.

The first steps of every kind find the target and record its state before anything changes
(release reads that record); they are part of the kind, not of the runbook, so no runbook
can leave them out or put a change before them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ircli.core.step import STEPS


@dataclass(frozen=True)
class TargetKind:
    name: str
    label: str
    example: str
    preamble: tuple[str, ...]
    also: tuple[str, ...] = ()  # steps defined for a command that also fit this kind

    @property
    def steps(self) -> frozenset[str]:
        """The registered steps that declare this kind in ``runbook_targets``."""
        return frozenset(name for name, step in STEPS.items()
                         if self.name in step.runbook_targets or name in self.also)


KINDS: dict[str, TargetKind] = {kind.name: kind for kind in (
    TargetKind("instance", "EC2 instance", "i-0123456789abcdef0", ("resolve", "record")),
    TargetKind("access-key", "IAM access key", "AKIAIOSFODNN7EXAMPLE", ("record-user",)),
    TargetKind("ip", "IP address", "198.51.100.7", ("resolve-network",)),
    TargetKind("role", "IAM role", "app-deploy", ("record-role",),
               also=("revoke-role-sessions",)),
    TargetKind("bucket", "S3 bucket", "acme-exports", ("record-bucket",)),
    TargetKind("trail", "CloudTrail trail", "org-trail", ("record-trail",)),
    TargetKind("db", "RDS DB instance", "orders-db", ("record-db",)),
    TargetKind("function", "Lambda function", "orders-api", ("record-function",)),
    TargetKind("container", "container workload (EKS cluster or cluster/namespace/pod)",
               "prod-cluster/default/web-7d4b9c", ()),
)}

PREAMBLE_STEPS = frozenset(name for kind in KINDS.values() for name in kind.preamble)


def kinds_for(step: str) -> list[str]:
    """The target kinds a step may be used with in a runbook."""
    return [kind.name for kind in KINDS.values() if step in kind.steps]
