"""The contract of a deployment unit: one AWS resource of a runbook's automation that plans
its deploy and its removal by reading AWS only, and returns the calls (:class:`Call`, as steps
do) that would make AWS match. The units themselves are in :mod:`ircli.automation.units`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ircli.automation.template import TAG_KEY, Names
from ircli.core.errors import UserError
from ircli.core.permission import PermissionLike
from ircli.core.session import AwsSession
from ircli.core.step import Call

Sleep = Callable[[float], None]

IRCLI_ROLES = "arn:{partition}:iam::*:role/ircli-*"
IRCLI_MACHINES = "arn:{partition}:states:*:*:stateMachine:ircli-*"
IRCLI_EXECUTIONS = "arn:{partition}:states:*:*:execution:ircli-*:*"
IRCLI_RULES = "arn:{partition}:events:*:*:rule/ircli-*"
IRCLI_TOPICS = "arn:{partition}:sns:*:*:ircli-*"
IRCLI_QUEUES = "arn:{partition}:sqs:*:*:ircli-*"


@dataclass(frozen=True)
class Target:
    """Where one runbook's automation lives: account, region, partition and the names."""

    runbook: str
    account: str
    region: str
    partition: str

    @property
    def names(self) -> Names:
        return Names(self.runbook, self.region)

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account}:{resource}")

    @property
    def topic_arn(self) -> str:
        return self._arn("sns", self.names.topic)

    @property
    def state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.names.state_machine}")

    @property
    def queue_arn(self) -> str:
        return self._arn("sqs", self.names.dead_letter_queue)

    @property
    def rule_arn(self) -> str:
        return self._arn("events", f"rule/{self.names.rule}")

    def role_arn(self, name: str) -> str:
        return self._arn("iam", f"role/{name}", region=False)

    @property
    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG_KEY, "Value": self.runbook}]


@dataclass(frozen=True)
class DeploySpec:
    """What deploy makes: the target and the configuration every resource must have."""

    target: Target
    definition: dict[str, Any]
    execution_policy: dict[str, Any]
    event_pattern: dict[str, Any]
    description: str = ""


@dataclass
class UnitPlan:
    """What one unit found and the calls that would make AWS match; no calls: up to date."""

    unit: str
    title: str
    resource: str
    status: str  # create | update | up to date | remove | absent | not ircli's | kept
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "title": self.title, "resource": self.resource,
                "status": self.status, "notes": self.notes,
                "calls": [{"call": f"{c.service}:{c.operation}", "summary": c.summary}
                          for c in self.calls]}


@dataclass
class AutomationPlan:
    """Every unit's plan, in the order they are applied."""

    action: str  # deploy | remove
    target: Target
    units: list[UnitPlan]

    @property
    def changes(self) -> bool:
        return any(u.calls for u in self.units)

    def to_dict(self) -> dict[str, Any]:
        t = self.target
        return {"action": self.action, "runbook": t.runbook, "account": t.account,
                "region": t.region, "changes": self.changes,
                "state_machine": t.state_machine_arn, "rule": t.rule_arn,
                "topic": t.topic_arn, "units": [u.to_dict() for u in self.units]}


class Unit:
    """One resource of a deployment: it plans deploy and remove by reading AWS only."""

    name: ClassVar[str]
    title: ClassVar[str]
    permissions: ClassVar[tuple[PermissionLike, ...]]  # what deploy/remove call, scoped

    def resource(self, target: Target) -> str:
        raise NotImplementedError

    def plan_deploy(self, aws: AwsSession, spec: DeploySpec) -> UnitPlan:
        raise NotImplementedError

    def plan_remove(self, aws: AwsSession, target: Target) -> UnitPlan:
        raise NotImplementedError

    def _plan(self, target: Target, status: str, calls: list[Call] | None = None,
              notes: list[str] | None = None) -> UnitPlan:
        return UnitPlan(self.name, self.title, self.resource(target), status, calls or [],
                        notes or [])


UNITS: dict[str, type[Unit]] = {}


def register(cls: type[Unit]) -> type[Unit]:
    """Class decorator: a unit of every deployment, applied in registration order (removed in
    the reverse order)."""
    if cls.name in UNITS:
        raise ValueError(f"unit {cls.name!r} registered twice")
    UNITS[cls.name] = cls
    return cls


def same(a: Any, b: Any) -> bool:
    """Two JSON documents (a policy, a pattern, a definition) say the same thing."""
    def norm(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.loads(json.dumps(value, sort_keys=True))

    return bool(norm(a) == norm(b))


def compact(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def not_ours(target: Target, kind: str, resource: str) -> UserError:
    return UserError(
        f"A {kind} named {resource} exists but is not ircli's automation for {target.runbook} "
        f"(it lacks the tag {TAG_KEY}={target.runbook}); deploy will not take it over.",
        "Rename or delete it, or tag it if it truly is ircli's, then run deploy again.")


def owned(tags: list[dict[str, str]], runbook: str, key: str = "Key",
           value: str = "Value") -> bool:
    return any(t.get(key) == TAG_KEY and t.get(value) == runbook for t in tags)

