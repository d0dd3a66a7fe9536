"""``analyst launch|attach|detach|terminate``: the workstation where the evidence is examined.

Every command works on an existing case (the one containment opened) and records under its
``analyst`` target what it created, so ``detach`` and ``terminate`` remove exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from ircli.analyst import names as n
from ircli.analyst.grant import GrantEvidenceRead
from ircli.analyst.group import AnalystGroup
from ircli.analyst.instance import LaunchAnalyst, ResolveAnalyst
from ircli.analyst.mount import mount_hint
from ircli.analyst.network import ForensicNetwork
from ircli.analyst.record import ANALYST_TARGET
from ircli.analyst.role import AnalystRole
from ircli.analyst.volumes import (
    AttachEvidence,
    DetachEvidence,
    TerminateAnalyst,
    case_snapshots,
    evidence_volumes,
)
from ircli.aws.ec2 import check_instance_id
from ircli.core.case import Case, check_case_id, open_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, run_steps
from ircli.core.errors import ExitCode, InvalidInput, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.forensics.session import forensics_session
from ircli.forensics.settings import load_forensics
from ircli.ops.common import RunSummary, collect_warnings, record_run, run_result

Finish = Callable[[RunContext, dict[str, Any]], None]  # adds a command's own result fields
SUBNET_ID = re.compile(r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


@dataclass
class LaunchOptions:
    case_id: str
    subnet_id: str | None = None
    create_network: bool = False
    instance_type: str = n.DEFAULT_INSTANCE_TYPE
    ami: str | None = None
    key_name: str | None = None
    new: bool = False
    dry_run: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        check_case_id(self.case_id)
        if bool(self.subnet_id) == self.create_network:
            raise InvalidInput("Say where the analyst runs, once.",
                               "Pass either --subnet SUBNET_ID or --create-network.")
        if self.subnet_id and not SUBNET_ID.match(self.subnet_id):
            raise InvalidInput(f"'{self.subnet_id}' is not a subnet id.",
                               "Subnet ids look like subnet-0123456789abcdef0.")


@dataclass
class AnalystOptions:
    """Options of attach, detach and terminate."""

    case_id: str
    instance_id: str | None = None
    dry_run: bool = False
    keep_volumes: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        check_case_id(self.case_id)
        if self.instance_id:
            check_instance_id(self.instance_id)


def launch_steps(opts: LaunchOptions) -> list[Step]:
    """The network first (it checks --subnet before anything changes), the instance last."""
    return [ForensicNetwork(opts.subnet_id, opts.create_network, opts.instance_type),
            AnalystRole(opts.evidence_bucket), GrantEvidenceRead(opts.evidence_bucket),
            AnalystGroup(), LaunchAnalyst(opts.instance_type, opts.ami, opts.key_name, opts.new)]


def launch(aws: AwsSession, clock: Clock, opts: LaunchOptions,
           emit: Emit | None = None) -> RunSummary:
    opts.validate()
    aws = _where(aws, clock, opts)

    def finish(ctx: RunContext, data: dict[str, Any]) -> None:
        facts = ctx.facts
        data.update(analyst_instance_id=_known(facts.get("analyst_id")),
                    vpc_id=_known(facts.get("vpc")), subnet_id=_known(facts.get("subnet")),
                    security_group_id=_known(facts.get("analyst_sg")),
                    role_arn=facts.get("analyst_role_arn"),
                    instance_profile=n.analyst_role_name(opts.case_id),
                    evidence_bucket=opts.evidence_bucket)
        if data["analyst_instance_id"] and data["status"] == "running":
            data["connect"] = f"aws ssm start-session --target {data['analyst_instance_id']}"

    return _run(aws, clock, opts, "analyst launch", launch_steps(opts), "running", finish, emit)


def attach(aws: AwsSession, clock: Clock, opts: AnalystOptions,
           emit: Emit | None = None) -> RunSummary:
    """Attach a copy of every snapshot of the case; partial when one could not be attached."""
    opts.validate()
    aws = _where(aws, clock, opts)

    def finish(ctx: RunContext, data: dict[str, Any]) -> None:
        assert ctx.case is not None
        analysts = ctx.facts.get("analysts") or []
        if not analysts or ctx.dry_run:
            return
        iid = analysts[0]["InstanceId"]
        volumes = evidence_volumes(ctx, ctx.case.case_id, [iid])
        hints = sorted((h for h in (mount_hint(v, iid) for v in volumes) if h),
                       key=lambda h: str(h["device"]))
        attached = {h["snapshot_id"] for h in hints}
        data.update(analyst_instance_id=iid, volumes=hints, not_attached=[
            s["snapshot_id"] for s in case_snapshots(ctx.case, bool(ctx.facts.get(
                "forensic_copies"))) if s["snapshot_id"] not in attached])
        if data["not_attached"] and data["status"] == "attached":
            data["status"] = "partial"

    steps = [ResolveAnalyst(opts.instance_id, require=True), AttachEvidence()]
    return _run(aws, clock, opts, "analyst attach", steps, "attached", finish, emit)


def detach(aws: AwsSession, clock: Clock, opts: AnalystOptions,
           emit: Emit | None = None) -> RunSummary:
    """Detach the evidence copies (and delete them unless ``keep_volumes``)."""
    opts.validate()
    aws = _where(aws, clock, opts)
    steps: list[Step] = [ResolveAnalyst(opts.instance_id),
                         DetachEvidence(delete=not opts.keep_volumes,
                                        only_given=bool(opts.instance_id))]
    return _run(aws, clock, opts, "analyst detach", steps, "detached", _cleaned, emit)


def terminate(aws: AwsSession, clock: Clock, opts: AnalystOptions,
              emit: Emit | None = None) -> RunSummary:
    """Remove the evidence copies, then the instance; snapshots and evidence stay."""
    opts.validate()
    aws = _where(aws, clock, opts)
    steps = [ResolveAnalyst(opts.instance_id),
             DetachEvidence(only_given=bool(opts.instance_id)), TerminateAnalyst()]
    return _run(aws, clock, opts, "analyst terminate", steps, "terminated", _cleaned, emit)


def _cleaned(ctx: RunContext, data: dict[str, Any]) -> None:
    """What this run removed; the snapshots stay, and so do the forensic network (shared by
    every case) and the case's role (the evidence bucket policy names it), for reuse."""
    assert ctx.case is not None
    data.update(deleted_volumes=ctx.facts.get("deleted_volumes", []),
                terminated=ctx.facts.get("terminated", []),
                snapshots_kept=[s["snapshot_id"] for s in case_snapshots(
                    ctx.case, bool(ctx.facts.get("forensic_copies")))],
                left_for_reuse=[f"{c['kind']} {c['id']}" for c in ctx.record.get("created", [])
                                if c["kind"] not in ("instance", "volume")])


def _run(aws: AwsSession, clock: Clock, opts: LaunchOptions | AnalystOptions, command: str,
         steps: list[Step], done: str, finish: Finish, emit: Emit | None) -> RunSummary:
    """Open the (existing) case, lock it, run the steps under its ``analyst`` target.

    The case is shipped to the evidence bucket after each step, as containment does.
    """
    dry_run = opts.dry_run
    ctx = RunContext(aws, clock, ANALYST_TARGET, dry_run=dry_run, emit=emit)
    started = iso(clock.now())
    case = open_case(opts.case_id, clock.now(), create=False)
    ctx.bind_case(case)
    member = _forensic_member(case)
    if member is not None:  # a member account's case, examined in the forensics account
        ctx.facts.update(forensic_copies=True, evidence_account=member)
    with case.locked() if not dry_run else nullcontext():
        ctx.record.update(kind="analyst-workstation", region=aws.region)
        if member is not None:
            ctx.record.update(account=aws.account, forensics_account=True)
        ctx.facts["suspect_vpcs"] = suspect_vpcs(case)
        ctx.save()
        ctx.audit("run-start", command=command, dry_run=dry_run, options=vars(opts))
        shipper = CaseShipper(ctx, opts.evidence_bucket, command)
        outcome = run_steps(ctx, steps, after_step=shipper.after_step)
        status = ("planned" if dry_run else "failed" if outcome.failed_critical
                  else "partial" if outcome.failed else done)
        data = run_result(ctx, command, status, outcome.steps, target=ANALYST_TARGET)
        data["warnings"] = collect_warnings(ctx, outcome)
        finish(ctx, data)
        record_run(ctx, command, data["status"], started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    code = ExitCode.PARTIAL if data["status"] in ("failed", "partial") else ExitCode.OK
    return RunSummary(data, code, data["warnings"])


def suspect_vpcs(case: Case) -> list[str]:
    """The VPCs of every instance the case contained (recorded before containment)."""
    found: set[str] = set()
    for target in case.data.get("targets", {}).values():
        state = target.get("pre_state") or {}
        found |= {v for v in [state.get("vpc_id"), *(e.get("vpc_id") for e in
                                                    state.get("network_interfaces", []))] if v}
    return sorted(found)


def _known(value: Any) -> str | None:
    """An id, or None while it is still a placeholder (a dry-run's not-yet-created thing)."""
    return value if isinstance(value, str) else None


def _forensic_member(case: Case) -> str | None:
    """The member account whose case this is, when a forensics account is configured and the
    case's instances live in another account than it; None: the analyst works where they do."""
    settings = load_forensics(strict=False)
    if settings is None or settings.problems():
        return None
    accounts = {t.get("account") for t in case.data.get("targets", {}).values()
                if t.get("kind") == "instance" and t.get("account")}
    others = sorted(a for a in accounts if a != settings.account)
    return others[0] if others else None


def _where(aws: AwsSession, clock: Clock, opts: LaunchOptions | AnalystOptions) -> AwsSession:
    """The session the analyst commands act through: for a member account's case, the
    forensics account's (its role, region and bucket); otherwise the caller's."""
    try:
        case = open_case(opts.case_id, clock.now(), create=False)
    except UserError:
        return aws  # _run says the case is unknown, the way it always has
    if _forensic_member(case) is None:
        return aws
    settings = load_forensics(strict=False)
    assert settings is not None
    opts.evidence_bucket = settings.bucket
    return forensics_session(aws, settings, f"ircli-analyst-{opts.case_id}")
