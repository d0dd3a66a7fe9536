"""The step contract and the registry every command and runbook draws its steps from.

A step *plans* by reading AWS and returns the calls it would make (the dry-run shows exactly
these); the engine *applies* them. What a step is about to change is returned as ``before``
and written to the case by the engine before the first call, so ``undo`` restores it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ircli.core.errors import IrcliError
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

    def compile(self, cc: CompileContext) -> Fragment | None:
        """The Step Functions states that do this step's work (None: the step only advises
        and compiles to nothing). Steps that cannot be expressed as SDK calls say so."""
        raise NotCompilable(self.name, "it has no Step Functions form yet")


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


# -- compiling a step to Amazon States Language (issue 14) -----------------------------------
# A step may also say which Step Functions states do its work, so a runbook can run on AWS's
# own engine (``ircli.automation.compiler``). The states address each other by name; the
# compiler fills in the two exits every fragment has: NEXT (go on) and FAIL (this step failed).
NEXT = "@next"
FAIL = "@fail"
RECORD = "@record"  # go here before the first change: the compiler writes the record first


class NotCompilable(IrcliError):
    """A runbook step that Step Functions' SDK integrations cannot express (exit 2)."""

    def __init__(self, step: str, why: str) -> None:
        super().__init__(f"Step '{step}' cannot run on Step Functions: {why}.",
                         "Run this runbook with `ircli runbook run`, or leave the step out of "
                         "the runbook you deploy as automation.")
        self.step = step
        self.why = why


@dataclass(frozen=True)
class CompileContext:
    """What a step's states may rely on, besides the execution's JSON document.

    The document holds ``$.ircli`` (``case_id``, ``target``, ``account``, ``region``,
    ``bucket``, ``partition``, ``started``) and ``$.event`` (the GuardDuty finding event as
    delivered). A fragment keeps its own data under ``$.steps.<prefix>`` only.
    """

    partition: str
    prefix: str  # unique per step in the runbook: state names and $.steps key start with it
    critical: bool
    region: str | None = None  # the machine's region when known (deploy), else None


@dataclass
class Fragment:
    """The states of one step: entered at ``start``; exits are the NEXT and FAIL markers.

    A state about to change AWS goes to RECORD instead: the compiler writes ``before`` (the
    JSONPath of what the step found) to the case, unless the case already holds a record of
    this step (the first record wins), then goes on to ``record_at``.
    """

    states: dict[str, dict[str, Any]]
    start: str
    permissions: tuple[PermissionLike, ...] = ()
    record_at: str | None = None  # where RECORD goes on once the case holds the record
    before: str | None = None  # JSONPath of the pre-change state
    notes: tuple[str, ...] = ()
