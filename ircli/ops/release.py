"""``release``: put a contained instance back exactly as the case recorded it."""

from __future__ import annotations

from dataclasses import dataclass

from ircli.aws.ec2 import check_instance_id, tag_value
from ircli.core.case import check_case_id
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, run_steps
from ircli.core.errors import ExitCode
from ircli.core.session import AwsSession
from ircli.core.step import Step, StepPlan
from ircli.evidence.shipper import CaseShipper
from ircli.ops.case_fetch import bucket_case_for, open_shared_case
from ircli.ops.common import RunSummary, open_release_case, run_release
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
    tagged = tag_value(ctx.facts["instance"], TAG_CASE)
    case = open_release_case(
        ctx, opts.case_id, tagged=tagged,
        never=f"Instance {opts.instance_id} was never contained by ircli: no case records it "
              "and it carries no ircli:case-id tag.",
        never_hint="Check the instance id and region; `ircli case list` shows the cases on "
                   "this machine.",
        recorded="steps", unrecorded_hint="Copy the case directory to this machine "
        "(IRCLI_HOME), or pass the right --case-id.", known_only=False,
        elsewhere=lambda: bucket_case_for(ctx, tagged, opts.evidence_bucket),
        opener=lambda run, case_id: open_shared_case(run, case_id, opts.evidence_bucket))
    return run_release(
        ctx, case, steps[1:], lambda status, done: result_data(ctx, "release", status, done),
        earlier=resolve_outcome.steps, started=started,
        shipper=CaseShipper(ctx, opts.evidence_bucket, "release"),
        extra=lambda data: data.update(snapshots_kept=ctx.record.get("snapshots", [])))
