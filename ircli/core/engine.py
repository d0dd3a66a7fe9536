"""Runs steps in order: plan, record, apply (or, in a dry-run, only plan and prove permissions).

The same loop serves execution and dry-run, so the plan a responder approves is the plan
that runs. Every step start/end and every changing AWS call lands in the case's audit log.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe, error_code, translate
from ircli.core.case import Case
from ircli.core.clock import Clock, iso
from ircli.core.errors import UserError
from ircli.core.session import ApiCall, AwsSession
from ircli.steps.base import Call, Step, StepPlan, has_refs, resolve_refs

Emit = Callable[[str, dict[str, Any]], None]


@dataclass
class StepResult:
    name: str
    title: str
    status: str = "pending"  # done | already-done | skipped | planned | failed | not-run
    started_at: str | None = None
    seconds: float = 0.0
    detail: str = ""
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Metrics:
    """Counts the run's AWS calls, and where the isolation milestone fell."""

    api_calls: int = 0
    milestones: dict[str, dict[str, float]] = field(default_factory=dict)

    def observe(self, call: ApiCall) -> None:
        self.api_calls += 1


class RunContext:
    """Everything a step may use: AWS, the case, the clock, produced values, progress events."""

    def __init__(self, aws: AwsSession, clock: Clock, target_id: str, *, dry_run: bool = False,
                 emit: Emit | None = None) -> None:
        self.aws = aws
        self.clock = clock
        self.target_id = target_id
        self.dry_run = dry_run
        self.case: Case | None = None
        self.values: dict[str, Any] = {}
        self.facts: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.metrics = Metrics()
        self._emit = emit
        self._pending_audit: list[dict[str, Any]] = []
        self._started = clock.monotonic()
        aws.observers.append(self.metrics.observe)
        aws.observers.append(self._audit_call)

    # -- case and audit ------------------------------------------------------------------
    def bind_case(self, case: Case) -> None:
        """Attach the case; audit lines written before it existed are flushed into it."""
        self.case = case
        for entry in self._pending_audit:
            case.audit.append(entry)
        self._pending_audit.clear()

    @property
    def record(self) -> dict[str, Any]:
        """This run's target record inside ``case.json``."""
        assert self.case is not None, "bind_case() before using the record"
        return self.case.target(self.target_id)

    def audit(self, event: str, **fields: Any) -> None:
        entry = {"time": iso(self.clock.now()), "event": event, "target": self.target_id,
                 **fields}
        if self.dry_run:
            return
        if self.case is None:
            self._pending_audit.append(entry)
        else:
            self.case.audit.append(entry)

    def _audit_call(self, call: ApiCall) -> None:
        if not call.mutating or (self.dry_run and call.error_code == "DryRunOperation"):
            return
        self.audit(
            "aws-call", service=call.service, operation=call.operation, params=call.params,
            error=call.error_code, result=_ids(call.response),
            seconds=round(call.duration, 3),
        )

    def save(self) -> None:
        if self.case is not None and not self.dry_run:
            self.case.save()

    # -- progress ------------------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        if self._emit is not None:
            self._emit(kind, data)

    def elapsed(self) -> float:
        return self.clock.monotonic() - self._started

    # -- AWS calls -----------------------------------------------------------------------
    def execute(self, call: Call) -> dict[str, Any]:
        """Make one planned call, resolving placeholders; tolerated error codes return {}."""
        client = self.aws.client(call.service)
        params = resolve_refs(call.params, self.values)
        try:
            response: dict[str, Any] = getattr(client, call.method)(**params)
        except botocore.exceptions.ClientError as err:
            if error_code(err) in call.tolerate:
                return {}
            raise
        if call.produces is not None:
            name, path = call.produces
            self.values[name] = dig(response, path)
        if call.on_result is not None:
            call.on_result(response)
        return response

    def prove(self, call: Call) -> str | None:
        """Dry-run one call with EC2's DryRun; a warning when permission is missing."""
        if not call.dry_run or has_refs(call.params, self.values):
            return None
        client = self.aws.client(call.service)
        try:
            getattr(client, call.method)(**resolve_refs(call.params, self.values), DryRun=True)
        except botocore.exceptions.ClientError as err:
            code = error_code(err)
            if code == "DryRunOperation":
                return None
            if code in ("UnauthorizedOperation", "AccessDenied"):
                return f"missing permission for ec2:{call.operation}"
            return f"{call.operation} would fail: {describe(err)}"
        return None


def dig(response: Any, path: str) -> Any:
    """``response`` at a dotted path: ``GroupId``, ``Vpc.VpcId``, ``Instances.0.InstanceId``."""
    for part in path.split("."):
        response = response[int(part)] if isinstance(response, list) else response[part]
    return response


def stop_after_clock(ctx: RunContext, seconds: float) -> Callable[[Any], bool]:
    """A tenacity stop condition on the run's clock, so tests with a fake clock end."""
    deadline = ctx.clock.monotonic() + seconds
    return lambda _state: ctx.clock.monotonic() >= deadline


@dataclass
class RunOutcome:
    steps: list[StepResult]
    failed_critical: bool
    failed: bool


def run_steps(ctx: RunContext, steps: Sequence[Step],
              after_step: Callable[[Step, StepResult], None] | None = None) -> RunOutcome:
    """Run ``steps`` in order. A failed critical step stops the run; other failures do not."""
    results: list[StepResult] = []
    failed_critical = failed = False
    for step in steps:
        result = StepResult(step.name, step.title)
        results.append(result)
        if failed_critical:
            result.status = "not-run"
            result.detail = "not run: an earlier critical step failed"
            continue
        _run_one(ctx, step, result)
        if result.status == "failed":
            failed = True
            failed_critical = step.critical
        if step.milestone and result.status in ("done", "already-done"):
            ctx.metrics.milestones[step.milestone] = {
                "api_calls": ctx.metrics.api_calls, "seconds": round(ctx.elapsed(), 3)}
        if after_step is not None:
            after_step(step, result)
    return RunOutcome(results, failed_critical, failed)


def _run_one(ctx: RunContext, step: Step, result: StepResult) -> None:
    result.started_at = iso(ctx.clock.now())
    started = ctx.clock.monotonic()
    ctx.emit("step-start", name=step.name, title=step.title)
    ctx.audit("step-start", step=step.name, dry_run=ctx.dry_run)
    try:
        plan = step.plan(ctx)
        _describe_plan(plan, result)
        if ctx.dry_run:
            result.status = "skipped" if plan.skip_reason else "planned"
            result.warnings += [w for w in map(ctx.prove, plan.calls) if w]
        elif plan.skip_reason:
            result.status = "skipped"
        elif not plan.calls and not plan.local_change:
            result.status = "already-done"
        else:
            _remember(ctx, step, plan, "applying")
            step.apply(ctx, plan)
            result.status = "done"
        _remember(ctx, step, plan, result.status)
    except Exception as err:  # every failure is recorded, then judged
        translated = translate(err)
        if step.validates_input and isinstance(translated, UserError):
            raise translated from err  # nothing changed yet: a plain input error, exit 2
        result.status = "failed"
        known = translate(err) is not None or isinstance(err, botocore.exceptions.ClientError)
        result.detail = describe(err) if known else f"internal error (a bug in ircli): {err!r}"
        ctx.audit("step-error", step=step.name, error=result.detail,
                  traceback=None if known else traceback.format_exc())
        if ctx.case is not None and not ctx.dry_run:
            ctx.record["steps"].setdefault(step.record_key, {})["status"] = "failed"
            ctx.record["steps"][step.record_key]["error"] = result.detail
            ctx.save()
    result.seconds = round(ctx.clock.monotonic() - started, 3)
    ctx.audit("step-end", step=step.name, status=result.status, seconds=result.seconds,
              detail=result.detail)
    ctx.emit("step-end", result=result)


def _describe_plan(plan: StepPlan, result: StepResult) -> None:
    result.changes = [call.summary for call in plan.calls]
    result.warnings = list(plan.warnings)
    notes = list(plan.notes)
    if plan.skip_reason:
        notes.insert(0, plan.skip_reason)
    result.detail = "; ".join(notes)


def _remember(ctx: RunContext, step: Step, plan: StepPlan, status: str) -> None:
    """Write what the step found before changing it; the first record of a case wins."""
    if ctx.case is None or ctx.dry_run:
        return
    entry = ctx.record["steps"].setdefault(step.record_key, {})
    if plan.before is not None:
        entry["before"] = plan.before if "before" not in entry else \
            step.merge_before(entry["before"], plan.before)
    if plan.data:
        entry.setdefault("data", {}).update(plan.data)
    entry["status"] = status
    entry.pop("error", None)
    entry["at"] = iso(ctx.clock.now())
    ctx.save()


def _ids(response: dict[str, Any]) -> dict[str, Any]:
    """The ids a changing call returned, for the audit line (never the whole response)."""
    found: dict[str, Any] = {}
    for key, value in response.items():
        if key == "ResponseMetadata":
            continue
        if (key.endswith("Id") and isinstance(value, str)) or key in ("Return", "AssociationId"):
            found[key] = value
        elif key in ("Snapshots", "GroupId") and value:
            found[key] = [s.get("SnapshotId") for s in value] if isinstance(value, list) else value
    return found
