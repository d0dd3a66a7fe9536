"""``contain``: isolate a compromised instance, keep it as evidence, record everything."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ircli.aws.ec2 import check_instance_id, check_sg_id, display_name, tag_value
from ircli.core.case import check_case_id, find_open_case, new_case_id
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, StepResult, run_steps
from ircli.core.errors import ExitCode, InvalidInput, UserError
from ircli.core.session import AwsSession
from ircli.evidence.shipper import CaseShipper
from ircli.liveresponse.collection import CollectSettings
from ircli.ops.common import (
    RunSummary,
    after_each,
    collect_warnings,
    open_target_case,
    record_run,
    run_result,
    steps_summary,
)
from ircli.steps.base import Step
from ircli.steps.collect import Collect
from ircli.steps.credentials import CutCredentials
from ircli.steps.instance_state import RecordState, ResolveInstance
from ircli.steps.isolate import DisassociateElasticIps, Isolate
from ircli.steps.names import SSM_EGRESS_MODES, TAG_CASE, TAG_STATUS
from ircli.steps.protect import Protect
from ircli.steps.service import RemoveFromService
from ircli.steps.snapshots import Snapshot
from ircli.steps.tagging import TagContained


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
    """The containment sequence; isolation is the first change to AWS."""
    return [
        ResolveInstance(),
        RecordState(),
        Isolate(ssm_egress=opts.ssm_egress, analyst_sg=opts.analyst_sg),
        DisassociateElasticIps(),
        Protect(),
        RemoveFromService(),
        CutCredentials(detach_profile=opts.detach_profile,
                       revoke_role_sessions=opts.revoke_role_sessions),
        TagContained(),
        Snapshot(enabled=opts.snapshot, wait=opts.wait_snapshots),
        *([Collect(opts.collect)] if opts.collect else []),
    ]


def contain(aws: AwsSession, clock: Clock, opts: ContainOptions,
            emit: Emit | None = None) -> RunSummary:
    """Run containment (or its plan, with ``dry_run``) and return the result."""
    opts.validate()
    ctx = RunContext(aws, clock, opts.instance_id, dry_run=opts.dry_run, emit=emit)
    started = iso(clock.now())
    steps = contain_steps(opts)
    shipper = CaseShipper(ctx, opts.evidence_bucket, "contain", start_after="isolate")
    with ExitStack() as stack:
        outcome = run_steps(ctx, steps, after_step=after_each(
            _bind_case_after_resolve(ctx, opts, stack), shipper.after_step))
        status = ("planned" if opts.dry_run else "failed" if outcome.failed_critical
                  else "partial" if outcome.failed else "contained")
        snapshot_step = next(s for s in steps if isinstance(s, Snapshot))
        data = result_data(ctx, "contain", status, outcome.steps)
        data["snapshots"] = snapshot_step.after(ctx)
        groups = ctx.facts.get("isolation_groups", {})
        data["isolation_group_id"] = next(iter(groups.values()), None)
        data["warnings"] = collect_warnings(ctx, outcome)
        if opts.collect:
            data["collection"] = ctx.facts.get("collection")
            if opts.detach_profile:
                data["warnings"].append("--detach-profile with --collect: without its instance "
                                        "profile the SSM agent may lose its credentials (unless "
                                        "Default Host Management is on)")
        if ctx.case is not None and not opts.dry_run:
            ctx.record.update(status=status, snapshots=data["snapshots"],
                              isolation_group_id=data["isolation_group_id"])
            record_run(ctx, "contain", status, started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    code = {"failed": ExitCode.NOT_CONTAINED, "partial": ExitCode.PARTIAL}.get(status, ExitCode.OK)
    if outcome.steps[0].status == "failed":
        code = ExitCode.USER  # could not even resolve the instance: the input is wrong
    return RunSummary(data, code, data["warnings"])


def _bind_case_after_resolve(ctx: RunContext, opts: ContainOptions, stack: ExitStack
                             ) -> Callable[[Step, StepResult], None]:
    def after(step: Step, result: StepResult) -> None:
        if step.name != "resolve" or result.status == "failed":
            return
        instance = ctx.facts["instance"]
        tagged = tag_value(instance, TAG_CASE) if tag_value(instance, TAG_STATUS) == \
            "contained" else None
        if opts.case_id and tagged and opts.case_id != tagged:
            raise UserError(
                f"Instance {opts.instance_id} is already contained under case {tagged}.",
                f"Re-run with --case-id {tagged}, or without --case-id.")
        case_id = opts.case_id or tagged or find_open_case(opts.instance_id) or \
            new_case_id(ctx.clock.now())
        record = open_target_case(ctx, case_id, stack)
        record.update(kind="instance", region=ctx.aws.region, name=display_name(instance),
                      account=instance.get("OwnerId"))
        if opts.reason:
            record["reason"] = opts.reason
        record.setdefault("status", "containing")
        ctx.save()
        ctx.audit("run-start", command="contain", reason=opts.reason, dry_run=opts.dry_run,
                  options={k: v for k, v in vars(opts).items() if k != "reason"})

    return after


def result_data(ctx: RunContext, command: str, status: str, steps: list[StepResult]
                ) -> dict[str, Any]:
    """The fields every instance command's JSON result carries."""
    instance = ctx.facts.get("instance", {})
    return run_result(ctx, command, status, steps, instance_id=ctx.target_id,
                      instance_name=tag_value(instance, "Name") if instance else None)


__all__ = ["ContainOptions", "contain", "contain_steps", "steps_summary"]
