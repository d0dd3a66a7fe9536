"""``block-ip``, ``unblock-ip`` and ``block-ip --expire``: address blocks with an expiry.

A block is recorded in a case like any containment. Lifting one (now, or when it expires)
runs wherever the scheduler runs, which may not hold the case: the ACL tag names the case, and
when that case is on this machine the lift is written to its audit log too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from ircli.aws.nacl import parse_address
from ircli.core.case import cases_root, check_case_id, find_open_case, new_case_id, open_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, StepResult, run_steps
from ircli.core.errors import ExitCode, InvalidInput
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.ops.common import (
    RunSummary,
    after_each,
    collect_warnings,
    keep_result,
    open_run_case,
    record_run,
    run_result,
    ship_after,
    ship_case,
)
from ircli.steps.nacl import BlockIp, ExpireBlocks, ResolveNetwork, UnblockIp


def ip_target(address: str) -> str:
    """The case's target id for an address (normalised, so one address is one target)."""
    return f"ip/{parse_address(address)}"


@dataclass
class IpRun:
    """One run of address steps: what it acts on, where, and how it records itself."""

    command: str
    done: str  # the status of a run in which nothing failed
    address: str | None = None
    vpc: str | None = None
    subnets: list[str] = field(default_factory=list)
    case_id: str | None = None  # block: the case to record under
    records_case: bool = True  # False: lifts are noted in the cases their tags name
    reason: str | None = None
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    evidence_bucket: str | None = None  # where this run's case (and lifted ones) are shipped


@dataclass
class BlockOptions:
    address: str
    vpc: str | None = None
    subnets: list[str] = field(default_factory=list)
    hours: int = 24
    force: bool = False
    case_id: str | None = None
    reason: str | None = None
    dry_run: bool = False
    evidence_bucket: str | None = None

    def validate(self) -> None:
        parse_address(self.address)
        require_scope(self.vpc, self.subnets)
        if self.case_id:
            check_case_id(self.case_id)
        BlockIp(hours=self.hours, force=self.force)  # the step's own checks (hours)


def require_scope(vpc: str | None, subnets: list[str]) -> None:
    if bool(vpc) == bool(subnets):
        raise InvalidInput("Name where to block: --vpc VPC_ID, or --subnet SUBNET_ID (repeatable)"
                           ", not both.",
                           "--vpc blocks in every network ACL guarding a subnet of the VPC.")


def block_ip(aws: AwsSession, clock: Clock, opts: BlockOptions,
             emit: Emit | None = None) -> RunSummary:
    """Deny the address in and out in the scope's network ACLs until the expiry."""
    opts.validate()
    run = IpRun("block-ip", "blocked", opts.address, opts.vpc, opts.subnets, opts.case_id,
                reason=opts.reason, dry_run=opts.dry_run, options=vars(opts),
                evidence_bucket=opts.evidence_bucket)
    return run_ip_steps(aws, clock, run, [BlockIp(hours=opts.hours, force=opts.force)], emit)


def unblock_ip(aws: AwsSession, clock: Clock, address: str, *, vpc: str | None = None,
               subnets: list[str] | None = None, dry_run: bool = False,
               emit: Emit | None = None, evidence_bucket: str | None = None) -> RunSummary:
    """Lift ircli's blocks of the address now (in the scope, or in every ACL of the region)."""
    parse_address(address)
    run = IpRun("unblock-ip", "unblocked", address, vpc, list(subnets or []),
                records_case=False, dry_run=dry_run, evidence_bucket=evidence_bucket)
    return run_ip_steps(aws, clock, run, [UnblockIp()], emit)


def expire_blocks(aws: AwsSession, clock: Clock, *, vpc: str | None = None,
                  dry_run: bool = False, emit: Emit | None = None,
                  evidence_bucket: str | None = None) -> RunSummary:
    """Lift every ircli block past its expiry (in the VPC, or in the whole region)."""
    run = IpRun("block-ip --expire", "expired", vpc=vpc, records_case=False, dry_run=dry_run,
                evidence_bucket=evidence_bucket)
    return run_ip_steps(aws, clock, run, [ExpireBlocks()], emit)


def run_ip_steps(aws: AwsSession, clock: Clock, run: IpRun, steps: list[Step],
                 emit: Emit | None = None) -> RunSummary:
    """Find the ACLs (``resolve-network`` first), then run the address steps."""
    target = ip_target(run.address) if run.address else "ip/*"
    ctx = RunContext(aws, clock, target, dry_run=run.dry_run, emit=emit)
    ctx.facts.update(run.facts)
    started = iso(clock.now())
    first = ResolveNetwork(address=run.address, vpc=run.vpc, subnets=run.subnets or None)
    shipper = CaseShipper(ctx, run.evidence_bucket, run.command,
                          start_after=ship_after([first, *steps], "block-ip"))
    with ExitStack() as stack:
        hooks: list[Callable[[Step, StepResult], None]] = [keep_result(ctx), shipper.after_step]
        if run.records_case:
            hooks.insert(0, _bind_case_after_resolve(ctx, run, stack))
        outcome = run_steps(ctx, [first, *steps], after_step=after_each(*hooks))
        status = ("planned" if run.dry_run else "failed" if outcome.failed_critical
                  else "partial" if outcome.failed else run.done)
        data = run_result(ctx, run.command, status, outcome.steps, target=target,
                          address=str(parse_address(run.address)) if run.address else None,
                          vpc_id=run.vpc, subnet_ids=run.subnets, **run.extra)
        data["blocks"] = ctx.facts.get("blocks", [])
        data["lifted"] = ctx.facts.get("lifted", [])
        if "active" in ctx.facts:
            data["active"] = ctx.facts["active"]
        data["warnings"] = collect_warnings(ctx, outcome)
        if ctx.case is not None and not run.dry_run:
            ctx.record.update(status=status, blocks=data["blocks"])
            record_run(ctx, run.command, status, started)
        if run.records_case:
            data["evidence"] = shipper.finish()
            data["warnings"] += shipper.warnings()
    if not run.dry_run and data["lifted"]:
        data["warnings"] += note_lifts(ctx, run.command, data["lifted"], started,
                                       run.evidence_bucket)
        cases = sorted({str(b["case_id"]) for b in data["lifted"]})
        data["case_ids"] = cases
        if data["case_id"] is None and len(cases) == 1 and \
                (cases_root() / cases[0] / "case.json").exists():
            data["case_id"], data["case_dir"] = cases[0], str(cases_root() / cases[0])
    code = {"failed": ExitCode.NOT_CONTAINED, "partial": ExitCode.PARTIAL}.get(status, ExitCode.OK)
    if outcome.steps[0].status == "failed":
        code = ExitCode.USER
    return RunSummary(data, code, data["warnings"])


def _bind_case_after_resolve(ctx: RunContext, run: IpRun, stack: ExitStack
                             ) -> Callable[[Step, StepResult], None]:
    def after(step: Step, result: StepResult) -> None:
        if step.name != "resolve-network" or result.status == "failed":
            return
        case_id = run.case_id or find_open_case(ctx.target_id) or new_case_id(ctx.clock.now())
        case = open_run_case(ctx, case_id)
        if not run.dry_run:
            stack.enter_context(case.locked())
        ctx.record.update(kind="ip-address", address=str(ctx.facts["address"]),
                          **ctx.aws.location(), vpc_ids=ctx.facts["vpc_ids"],
                          network_acls=[a["NetworkAclId"] for a in ctx.facts["network_acls"]])
        if run.reason:
            ctx.record["reason"] = run.reason
        ctx.record.setdefault("status", "blocking")
        ctx.save()
        ctx.audit("run-start", command=run.command, reason=run.reason, dry_run=run.dry_run,
                  options=run.options)

    return after


def note_lifts(ctx: RunContext, command: str, lifted: list[dict[str, Any]],
               started: str | None = None, bucket: str | None = None) -> list[str]:
    """Write each lift into the case that made the block, where it is local: its audit log,
    the target's record (``unblocked``/``expired`` once none of its blocks is left) and the
    case's run history; then ship that case to the evidence bucket."""
    missing: list[str] = []
    warnings: list[str] = []
    for case_id in sorted({str(b["case_id"]) for b in lifted}):
        if not (cases_root() / case_id / "case.json").exists():
            missing.append(case_id)
            continue
        case = open_case(case_id, ctx.clock.now(), create=False)
        mine = [b for b in lifted if b["case_id"] == case_id]
        with case.locked():
            for block in mine:
                case.audit.append({"time": iso(ctx.clock.now()), "event": "block-lifted",
                                   "target": f"ip/{block['address']}", "command": command,
                                   "block": block})
                record = case.target(f"ip/{block['address']}")
                record.setdefault("lifted", []).append({**block, "at": iso(ctx.clock.now()),
                                                        "by": command})
            for target in sorted({f"ip/{b['address']}" for b in mine}):
                record = case.target(target)
                gone = {(b["network_acl_id"], b["rule_number"]) for b in record["lifted"]}
                left = [b for b in record.get("blocks", [])
                        if (b["network_acl_id"], b["rule_number"]) not in gone]
                status = "partial" if left else \
                    "expired" if command.endswith("--expire") else "unblocked"
                if record.get("status") in ("blocked", "blocking", "partial"):
                    record["status"] = status
                case.data.setdefault("runs", []).append({
                    "command": command, "target": target, "status": status,
                    "started_at": started or iso(ctx.clock.now()),
                    "ended_at": iso(ctx.clock.now()), "caller": ctx.facts.get("caller_arn")})
            case.save()
            warnings += ship_case(ctx, case, bucket, command)
    if missing:
        warnings.append(f"case(s) {', '.join(missing)} are not on this machine: the lift is "
                        "recorded only in this result and in CloudTrail")
    return warnings
