"""``contain``: isolate a compromised instance, keep it as evidence, record everything."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, cast

from ircli.aws.ec2 import check_instance_id, check_sg_id, tag_value
from ircli.core.case import check_case_id
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, StepResult, run_steps
from ircli.core.errors import ExitCode, InvalidInput
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.forensics.settings import load_forensics
from ircli.liveresponse.collection import CollectSettings
from ircli.ops.common import (
    RunSummary,
    after_each,
    collect_warnings,
    interruption_recorded,
    keep_result,
    open_instance_case,
    record_run,
    run_result,
    steps_summary,
)
from ircli.steps.collect import Collect
from ircli.steps.credentials import CutCredentials
from ircli.steps.forensic_copy import ShareForensicCopies
from ircli.steps.instance_state import RecordState, ResolveInstance
from ircli.steps.isolate import DisassociateElasticIps, Isolate
from ircli.steps.names import SSM_EGRESS_MODES, SsmEgress, isolation_group_name
from ircli.steps.protect import Protect
from ircli.steps.service import LeaveAutoScaling, RemoveFromService
from ircli.steps.snapshots import Snapshot
from ircli.steps.tagging import TagContained
from ircli.steps.tracked_paths import CutTrackedPaths


@dataclass
class ContainOptions:
    instance_id: str
    case_id: str | None = None
    reason: str | None = None
    dry_run: bool = False
    snapshot: bool = True
    wait_snapshots: bool = False
    ssm_egress: str = "endpoints"
    analyst_sg: str | None = None
    detach_profile: bool = False
    revoke_role_sessions: bool = False
    evidence_bucket: str | None = None
    collect: CollectSettings | None = None  # live response right after containment

    def validate(self) -> None:
        check_instance_id(self.instance_id)
        if self.case_id:
            check_case_id(self.case_id)
        if self.analyst_sg:
            check_sg_id(self.analyst_sg)
        if self.ssm_egress not in SSM_EGRESS_MODES:
            raise InvalidInput(f"--ssm-egress must be one of {', '.join(SSM_EGRESS_MODES)}.")
        if self.collect:
            self.collect.validate()
            if self.ssm_egress == "none":
                raise InvalidInput("--collect needs the isolated instance to reach SSM and S3, "
                                   "which --ssm-egress none forbids.",
                                   "Use --ssm-egress endpoints (or any), or drop --collect.")


def contain_steps(opts: ContainOptions) -> list[Step]:
    """The containment sequence; leaving the Auto Scaling group, then isolation, are the first
    changes to AWS (an isolated instance in the group would fail its health checks and be
    terminated).

    The same steps as the shipped ``ec2-compromise`` runbook (which adds ``collect``); a test
    holds the two to the same steps, arguments and resulting AWS state. With a forensics
    account configured, the snapshots are then copied and shared there, last (the runbook's
    step says "skipped" without one).
    """
    return [
        ResolveInstance(),
        RecordState(),
        LeaveAutoScaling(),
        Isolate(ssm_egress=cast(SsmEgress, opts.ssm_egress), analyst_sg=opts.analyst_sg),
        CutTrackedPaths(),
        DisassociateElasticIps(),
        Protect(),
        RemoveFromService(),
        CutCredentials(detach_profile=opts.detach_profile,
                       revoke_role_sessions=opts.revoke_role_sessions),
        TagContained(),
        Snapshot(enabled=opts.snapshot, wait=opts.wait_snapshots),
        *([Collect(opts.collect)] if opts.collect else []),
        *([ShareForensicCopies()] if load_forensics(strict=False) else []),
    ]


@dataclass
class InstanceRun:
    """How one run of instance steps records itself (``contain``, or a runbook)."""

    command: str
    instance_id: str
    case_id: str | None = None
    reason: str | None = None
    dry_run: bool = False
    evidence_bucket: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # for the audit's run-start line
    facts: dict[str, Any] = field(default_factory=dict)  # seeded into the run context
    extra: dict[str, Any] = field(default_factory=dict)  # added to the result


def contain(aws: AwsSession, clock: Clock, opts: ContainOptions,
            emit: Emit | None = None) -> RunSummary:
    """Run containment (or its plan, with ``dry_run``) and return the result."""
    opts.validate()
    run = InstanceRun("contain", opts.instance_id, opts.case_id, opts.reason, opts.dry_run,
                      opts.evidence_bucket,
                      options={k: v for k, v in vars(opts).items() if k != "reason"})
    result = run_instance_steps(aws, clock, run, contain_steps(opts), emit=emit)
    if opts.collect and opts.detach_profile:
        result.data["warnings"].append(
            "--detach-profile with --collect: without its instance profile the SSM agent may "
            "lose its credentials (unless Default Host Management is on)")
    return result


def run_instance_steps(aws: AwsSession, clock: Clock, run: InstanceRun, steps: list[Step],
                       emit: Emit | None = None) -> RunSummary:
    """Run instance steps (``resolve`` first) under the instance's case; return the result."""
    ctx = RunContext(aws, clock, run.instance_id, dry_run=run.dry_run, emit=emit)
    ctx.facts.update(run.facts)
    started = iso(clock.now())
    shipper = CaseShipper(ctx, run.evidence_bucket, run.command, start_after="isolate"
                          if any(s.name == "isolate" for s in steps) else "record")
    with ExitStack() as stack:
        with interruption_recorded(ctx, run.command, started):
            outcome = run_steps(ctx, steps, after_step=after_each(
                _bind_case_after_resolve(ctx, run, stack), keep_result(ctx),
                shipper.after_step))
        status = ("planned" if run.dry_run else "failed" if outcome.failed_critical
                  else "partial" if outcome.failed else "contained")
        snapshot_step = next((s for s in steps if isinstance(s, Snapshot)), None)
        data = result_data(ctx, run.command, status, outcome.steps)
        data.update(run.extra)
        data["snapshots"] = snapshot_step.after(ctx) if snapshot_step else []
        paths = ctx.facts.get("tracked_paths")
        if paths is not None:  # isolation is complete only when no tracked path stays open
            data["isolation"] = {"complete": not paths["open"] and not outcome.failed_critical,
                                 "open_paths": paths["open"], "cut_paths": paths["cut"]}
        groups = ctx.facts.get("isolation_groups", {})
        data["isolation_group_id"] = next(iter(groups.values()), None)
        isolate = next((s for s in steps if isinstance(s, Isolate)), None)
        data["isolation_group_name"] = isolation_group_name(
            isolate.ssm_egress, isolate.analyst_sg) if isolate else None
        data["warnings"] = collect_warnings(ctx, outcome)
        if any(isinstance(s, Collect) for s in steps):
            data["collection"] = ctx.facts.get("collection")
        if ctx.case is not None and not run.dry_run:
            ctx.record.update(status=status, snapshots=data["snapshots"],
                              isolation_group_id=data["isolation_group_id"])
            record_run(ctx, run.command, status, started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    code = {"failed": ExitCode.NOT_CONTAINED, "partial": ExitCode.PARTIAL}.get(status, ExitCode.OK)
    if outcome.steps[0].status == "failed":
        code = ExitCode.USER  # could not even resolve the instance: the input is wrong
    return RunSummary(data, code, data["warnings"])


def _bind_case_after_resolve(ctx: RunContext, run: InstanceRun, stack: ExitStack
                             ) -> Callable[[Step, StepResult], None]:
    def after(step: Step, result: StepResult) -> None:
        if step.name != "resolve" or result.status == "failed":
            return
        record = open_instance_case(ctx, run.case_id, run.evidence_bucket, stack)
        if run.reason:
            record["reason"] = run.reason
        record.setdefault("status", "containing")
        ctx.save()
        ctx.audit("run-start", command=run.command, reason=run.reason, dry_run=run.dry_run,
                  options=run.options)

    return after


def result_data(ctx: RunContext, command: str, status: str, steps: list[StepResult]
                ) -> dict[str, Any]:
    """The fields every instance command's JSON result carries."""
    instance = ctx.facts.get("instance", {})
    return run_result(ctx, command, status, steps, instance_id=ctx.target_id,
                      instance_name=tag_value(instance, "Name") if instance else None)


__all__ = ["ContainOptions", "InstanceRun", "contain", "contain_steps", "run_instance_steps",
           "steps_summary"]
