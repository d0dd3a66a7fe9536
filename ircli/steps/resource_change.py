"""Two shapes steps share, written once.

``RecordPreState`` writes a target's state to the case (``pre_state``) before anything
changes; a re-run keeps the first record (every record step: instance, user, role, bucket,
function, database, trail). ``ResourceChange`` records one setting of a resource and makes
one call that changes it (none when it is already as wanted); release puts the recorded
setting back with one call.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.core.step import Call, Step, StepPlan


class RecordPreState(Step):
    """Subclasses return the state to keep (``before``) and its notes from ``record``."""

    critical = True  # nothing changes unless the case holds the state to restore

    def plan(self, ctx: RunContext) -> StepPlan:
        if ctx.case is not None and "pre_state" in ctx.record:
            return StepPlan(notes=[f"recorded at {ctx.record.get('recorded_at')}"])
        plan = self.record(ctx)
        plan.local_change = True
        return plan

    def record(self, ctx: RunContext) -> StepPlan:
        raise NotImplementedError

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        ctx.record["pre_state"] = plan.before
        ctx.record["recorded_at"] = ctx.record.get("recorded_at") or iso(ctx.clock.now())
        ctx.save()


class ResourceChange(Step):
    """``before`` is ``{subject: resource, setting: current}``: existing cases hold these
    keys, so a subclass keeps their names."""

    subject: ClassVar[str]  # the key naming the resource ("bucket", "function", "trail")
    setting: ClassVar[str]  # the key holding the setting found
    already: ClassVar[str]  # the note when the setting is already what containment wants
    record_unchanged: ClassVar[bool] = True  # False: nothing to undo when nothing changed
    undo_warnings: ClassVar[tuple[str, ...]] = ()

    def read(self, ctx: RunContext) -> tuple[str, Any]:
        """The resource's name and its current setting."""
        raise NotImplementedError

    def change(self, resource: str, current: Any) -> Call | None:
        """The call containment makes; None when the setting is already as wanted."""
        raise NotImplementedError

    def restore(self, resource: str, recorded: Any) -> Call:
        """The call that puts the recorded setting back."""
        raise NotImplementedError

    def plan(self, ctx: RunContext) -> StepPlan:
        resource, current = self.read(ctx)
        before = {self.subject: resource, self.setting: current}
        call = self.change(resource, current)
        if call is None:
            return StepPlan(before=before if self.record_unchanged else None,
                            notes=[self.already])
        return StepPlan(before=before, calls=[call])

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record.get("before")
        if not before:
            return None
        return StepPlan(calls=[self.restore(before[self.subject], before[self.setting])],
                        warnings=list(self.undo_warnings))
