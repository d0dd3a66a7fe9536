"""Runs steps in order: plan, record, apply (or, in a dry-run, only plan and prove permissions).

The same loop serves execution and dry-run, so the plan a responder approves is the plan
that runs. Every step start/end and every changing AWS call lands in the case's audit log.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import describe, error_code, translate
from ircli.core.case import Case
from ircli.core.clock import Clock, iso
from ircli.core.errors import ExitCode, Interrupted, UserError
from ircli.core.session import ApiCall, AwsSession
from ircli.core.step import Call, Step, StepPlan, has_refs, resolve_refs

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
        """Attach the case; audit lines wait until this run holds its lock (a run refused
        the lock writes nothing), then go in first."""
        self.case = case
        self._flush_audit()

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
        self._pending_audit.append(entry)
        self._flush_audit()

    def _flush_audit(self) -> None:
        if self.case is None or not self.case.held:
            return
        while self._pending_audit:
            self.case.audit.append(self._pending_audit.pop(0))

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
        """Tell the caller's display; a display that fails is a warning, never the run's end."""
        if self._emit is None:
            return
        try:
            self._emit(kind, data)
        except Exception as err:  # progress is display only: containment goes on
            self.warnings.append(f"progress display failed ({kind}): {err!r}")

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
        try:
            _run_one(ctx, step, result)
            if result.status == "failed":
                failed = True
                failed_critical = step.critical
            if step.milestone and result.status == "done":  # reached in this run, not before
                ctx.metrics.milestones[step.milestone] = {
                    "api_calls": ctx.metrics.api_calls, "seconds": round(ctx.elapsed(), 3)}
            if after_step is not None:
                after_step(step, result)
        except KeyboardInterrupt as err:
            with sigint_deferred():  # a second Ctrl-C must not cut the record short
                stop = interruption(ctx, steps, results, step, result)
            raise stop from err
    return RunOutcome(results, failed_critical, failed)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ignore Ctrl-C for the moment it takes to record an interruption (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


ISOLATED = "isolated"


def interruption(ctx: RunContext, steps: Sequence[Step], results: list[StepResult],
                 step: Step, result: StepResult) -> Interrupted:
    """Record a Ctrl-C in the case and audit log, and say what state the run leaves.

    Exit 3 when isolation was reached (done now or before) or, in a run without isolation,
    when changes to AWS had begun; 4 when a containment run had begun changing AWS without
    reaching isolation; 130 when nothing in AWS changed.
    """
    finished = ("done", "already-done", "skipped")
    applying = False
    if result.status not in finished:
        entry = ctx.record["steps"].get(step.record_key, {}) if ctx.case is not None else {}
        was_applying = entry.get("status") == "applying"
        applying = was_applying and bool(result.changes)  # it had begun its AWS calls
        result.status, result.detail = "interrupted", "interrupted (Ctrl-C)"
        if was_applying and not ctx.dry_run:
            entry["status"] = "interrupted"
    done = [r.name for r in results if r.status in finished]
    milestone_steps = [s for s in steps if s.milestone == ISOLATED]
    isolated = any(r.name == s.name and r.status in ("done", "already-done")
                   for s in milestone_steps for r in results)
    changed = applying or any(r.status == "done" and r.changes for r in results)
    case_id = ctx.case.case_id if ctx.case is not None else None
    summary: dict[str, object] = {
        "step": step.name, "steps_done": len(done), "steps_total": len(steps),
        "done": done, "isolated": isolated if milestone_steps else None,
        "changed": changed and not ctx.dry_run, "case_id": case_id, "target": ctx.target_id}
    ctx.emit("interrupted", step=step.name)
    ctx.audit("run-interrupted", step=step.name, steps_done=len(done), steps_total=len(steps),
              isolated=isolated, changed=changed)
    ctx.save()
    where = f"during '{step.title}'" if result.status == "interrupted" else \
        f"after '{step.title}'"
    if ctx.dry_run:
        return Interrupted(f"Interrupted {where} while planning; nothing was changed.", None,
                           ExitCode.INTERRUPTED, summary)
    state = ""
    if milestone_steps:
        state = f"{ctx.target_id} is isolated; " if isolated else \
            f"{ctx.target_id} is NOT isolated; "
    in_case = f"; case {case_id}" if case_id else ""
    code = ExitCode.PARTIAL if isolated else ExitCode.NOT_CONTAINED \
        if milestone_steps and changed else ExitCode.PARTIAL if changed else ExitCode.INTERRUPTED
    return Interrupted(
        f"Interrupted {where}: {state}{len(done)} of {len(steps)} steps done{in_case}.",
        "Run the same command to finish: the case keeps what was done and the run picks up "
        "where it stopped." if changed or case_id else "Nothing was changed; run the command "
        "again when ready.", code, summary)


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
