"""The step contract and the registry every command and runbook draws its steps from.

A step *plans* by reading AWS and returns the calls it would make (the dry-run shows exactly
these); the engine *applies* them. What a step is about to change is returned as ``before``
and written to the case by the engine before the first call, so ``undo`` restores it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ircli.core.permission import PermissionLike

if TYPE_CHECKING:
    from ircli.core.engine import RunContext


@dataclass(frozen=True)
class Ref:
    """A value another call of the same run produces (e.g. the id of a group created first)."""

    name: str


@dataclass
class Call:
    """One AWS change, as data: shown by the plan, made by the engine."""

    service: str
    method: str
    params: dict[str, Any]
    summary: str
    dry_run: bool = False
    on_result: Callable[[dict[str, Any]], None] | None = None
    tolerate: tuple[str, ...] = ()
    produces: tuple[str, str] | None = None  # (value name, response key path) for later Refs

    @property
    def operation(self) -> str:
        return "".join(part.capitalize() for part in self.method.split("_"))


@dataclass
class StepPlan:
    """What a step found and what it would change; no calls means nothing left to do."""

    calls: list[Call] = field(default_factory=list)
    before: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skip_reason: str | None = None
    local_change: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # may hold Refs; not recorded


class Step:
    """Base of every registered step. Subclasses set the class attributes and ``plan``."""

    name: ClassVar[str]
    title: ClassVar[str]
    permissions: ClassVar[tuple[PermissionLike, ...]]  # actions, or scoped Permissions
    undo_permissions: ClassVar[tuple[PermissionLike, ...]] = ()
    audience: ClassVar[str] = "contain"  # the `ircli policy --for` policy that holds them
    critical: ClassVar[bool] = False
    milestone: ClassVar[str | None] = None
    validates_input: ClassVar[bool] = False  # its user errors end the run as such (exit 2)
    runbook_targets: ClassVar[tuple[str, ...]] = ()  # target kinds a runbook may use it on

    @property
    def record_key(self) -> str:
        """Where the case keeps this step's record (``before``, status)."""
        return self.name

    def plan(self, ctx: RunContext) -> StepPlan:
        raise NotImplementedError

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        """Make the planned calls in order; steps with follow-up logic override this."""
        for call in plan.calls:
            ctx.execute(call)

    def merge_before(self, recorded: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """What a re-run found before changing it, merged into the first record (which wins:
        by default nothing of ``new`` is kept)."""
        return recorded

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        """The plan that restores ``record['before']``; None when the step has nothing to undo."""
        return None

    def apply_undo(self, ctx: RunContext, plan: StepPlan) -> None:
        """Carry out the plan ``undo`` returned; steps with follow-up logic override this."""
        Step.apply(self, ctx, plan)


STEPS: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step available to commands, runbooks and ``ircli policy``."""
    if cls.name in STEPS:
        raise ValueError(f"step {cls.name!r} registered twice")
    STEPS[cls.name] = cls
    return cls


def resolve_refs(value: Any, values: dict[str, Any]) -> Any:
    """Replace :class:`Ref` placeholders with produced values (KeyError when not yet known)."""
    if isinstance(value, Ref):
        return values[value.name]
    if isinstance(value, dict):
        return {k: resolve_refs(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, values) for v in value]
    return value


def has_refs(value: Any, values: dict[str, Any]) -> bool:
    """True when ``value`` still holds a placeholder nothing has produced yet."""
    try:
        resolve_refs(value, values)
    except KeyError:
        return True
    return False
