"""``release``: put a contained instance back exactly as the case recorded it."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from ircli.aws.ec2 import check_instance_id, tag_value
from ircli.core.case import check_case_id, find_any_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, run_steps
from ircli.core.errors import ExitCode, NotFound, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step, StepPlan
from ircli.evidence.shipper import CaseShipper
from ircli.ops.case_fetch import bucket_case_for, open_shared_case
from ircli.ops.common import (
    RunSummary,
    collect_warnings,
    local_case_for,
    record_run,
)
from ircli.ops.contain import result_data
from ircli.steps.credentials import CutCredentials
from ircli.steps.instance_state import ResolveInstance
from ircli.steps.isolate import DisassociateElasticIps, Isolate
from ircli.steps.names import TAG_CASE
from ircli.steps.protect import Protect
from ircli.steps.service import LeaveAutoScaling, RemoveFromService
from ircli.steps.tagging import TagContained
from ircli.steps.tracked_paths import CutTrackedPaths


@dataclass
class ReleaseOptions:
    instance_id: str
    case_id: str | None = None
    dry_run: bool = False
    reattach_asg: bool = True
    evidence_bucket: str | None = None


class Undo(Step):
    """Runs a containment step's ``undo`` with what the case recorded for it."""

    critical = False

    def __init__(self, inner: Step) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.title = f"Undo: {inner.title}"  # type: ignore[misc]
        self.permissions = inner.undo_permissions  # type: ignore[misc]

    @property
    def record_key(self) -> str:
        return f"undo:{self.inner.name}"

    def plan(self, ctx: RunContext) -> StepPlan:
        steps = ctx.record.get("steps", {})
        record = steps.get(self.inner.name)
        if not record or record.get("status") in (None, "skipped"):
            return StepPlan(skip_reason="nothing recorded to undo")
        if steps.get(self.record_key, {}).get("status") in ("done", "already-done"):
            return StepPlan(notes=["already undone by an earlier release run"])
        plan = self.inner.undo(ctx, record)
        return plan if plan is not None else StepPlan(skip_reason="nothing to undo")

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        self.inner.apply_undo(ctx, plan)


def release_steps(opts: ReleaseOptions) -> list[Step]:
    """Network first, then protection, credentials, service, and the tags last."""
    return [ResolveInstance(), Undo(Isolate()), Undo(CutTrackedPaths()),
            Undo(DisassociateElasticIps()), Undo(Protect()),
            Undo(CutCredentials()), Undo(RemoveFromService(reattach_asg=opts.reattach_asg)),
            Undo(LeaveAutoScaling(reattach_asg=opts.reattach_asg)),
            Undo(TagContained())]


def release(aws: AwsSession, clock: Clock, opts: ReleaseOptions,
            emit: Emit | None = None) -> RunSummary:
    check_instance_id(opts.instance_id)
    if opts.case_id:
        check_case_id(opts.case_id)
    ctx = RunContext(aws, clock, opts.instance_id, dry_run=opts.dry_run, emit=emit)
    started = iso(clock.now())
    steps = release_steps(opts)
    resolve_outcome = run_steps(ctx, steps[:1])
    if resolve_outcome.failed:
        data = result_data(ctx, "release", "failed", resolve_outcome.steps)
        return RunSummary(data, ExitCode.USER)
    case = open_shared_case(ctx, _find_case(ctx, opts), opts.evidence_bucket)
    if not case.has_target(opts.instance_id) or "pre_state" not in ctx.record:
        raise NotFound(
            f"Case {case.case_id} has no containment record for {opts.instance_id}.",
            "Copy the case directory to this machine (IRCLI_HOME), or pass the right --case-id.")
    if ctx.record.get("status") == "released":
        data = result_data(ctx, "release", "released", resolve_outcome.steps)
        data["warnings"] = [f"already released at {ctx.record.get('released_at')}"]
        return RunSummary(data, ExitCode.OK, data["warnings"])
    with case.locked() if not opts.dry_run else nullcontext():
        ctx.audit("run-start", command="release", dry_run=opts.dry_run)
        shipper = CaseShipper(ctx, opts.evidence_bucket, "release")
        outcome = run_steps(ctx, steps[1:], after_step=shipper.after_step)
        all_steps = resolve_outcome.steps + outcome.steps
        status = "planned" if opts.dry_run else "partial" if outcome.failed else "released"
        data = result_data(ctx, "release", status, all_steps)
        data["warnings"] = collect_warnings(ctx, outcome)
        data["snapshots_kept"] = ctx.record.get("snapshots", [])
        if not opts.dry_run:
            ctx.record["status"] = status
            if status == "released":
                ctx.record["released_at"] = iso(clock.now())
            record_run(ctx, "release", status, started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    return RunSummary(data, ExitCode.PARTIAL if status == "partial" else ExitCode.OK,
                      data["warnings"])


def _find_case(ctx: RunContext, opts: ReleaseOptions) -> str:
    instance: dict[str, Any] = ctx.facts["instance"]
    case_id = (opts.case_id or local_case_for(tag_value(instance, TAG_CASE), opts.instance_id)
               or find_any_case(opts.instance_id)
               or bucket_case_for(ctx, tag_value(instance, TAG_CASE), opts.evidence_bucket))
    if not case_id:
        raise UserError(
            f"Instance {opts.instance_id} was never contained by ircli: no case records it and "
            "it carries no ircli:case-id tag.",
            "Check the instance id and region; `ircli case list` shows the cases on this "
            "machine.")
    return case_id


