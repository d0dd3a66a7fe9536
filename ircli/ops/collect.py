"""``collect``: live response on one instance, recorded in its case, the archive verified.

Exit codes: 0 collected (or sent, with --no-wait), 3 partial (verified, some sections
incomplete), 2 the instance cannot be collected from as things stand (not running, not managed
by SSM, agent offline, no or missing evidence bucket), 5 sent but no verified evidence came back
(undeliverable, timed out, collector failed, upload failed or missing, hash mismatch).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ircli.aws.ec2 import check_instance_id
from ircli.core.awserrors import translate
from ircli.core.case import check_case_id, open_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, StepResult, run_steps
from ircli.core.errors import ExitCode, Interrupted, IrcliError, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.shipper import CaseShipper
from ircli.liveresponse.collection import CollectSettings
from ircli.liveresponse.invocation import unadopted
from ircli.ops.common import (
    RunSummary,
    after_each,
    collect_warnings,
    interruption_recorded,
    open_instance_case,
    open_run_case,
    record_interruption,
    record_run,
)
from ircli.ops.contain import result_data
from ircli.steps.collect import Collect
from ircli.steps.collect_adopt import AdoptCollection
from ircli.steps.instance_state import ResolveInstance


@dataclass
class CollectOptions:
    instance_id: str
    case_id: str | None = None
    dry_run: bool = False
    settings: CollectSettings = field(default_factory=CollectSettings)

    def validate(self) -> None:
        check_instance_id(self.instance_id)
        if self.case_id:
            check_case_id(self.case_id)
        self.settings.validate()


def collection_result(ctx: RunContext) -> dict[str, Any] | None:
    """The collection this run planned, sent or verified (None when collect did not run)."""
    found: dict[str, Any] | None = ctx.facts.get("collection")
    return found


def collect_exit_code(ctx: RunContext, status: str) -> ExitCode:
    """The documented exit code for a collect run that ended in ``status``."""
    if status in ("collected", "sent", "planned"):
        return ExitCode.OK
    if status == "partial":
        return ExitCode.PARTIAL
    err = ctx.facts.get("collect_error")
    if isinstance(err, IrcliError):
        return err.exit_code
    known = translate(err) if err is not None else None
    if known is not None:
        return known.exit_code
    if err is None or isinstance(err, botocore.exceptions.ClientError):
        return ExitCode.NOT_COLLECTED
    return ExitCode.BUG


def collect(aws: AwsSession, clock: Clock, opts: CollectOptions,
            emit: Emit | None = None) -> RunSummary:
    """Collect from the instance (or plan it, with ``dry_run``) and return the result."""
    opts.validate()
    ctx = RunContext(aws, clock, opts.instance_id, dry_run=opts.dry_run, emit=emit)
    started = iso(clock.now())
    shipper = CaseShipper(ctx, opts.settings.bucket, "collect")
    with ExitStack() as stack:
        with interruption_recorded(ctx, "collect", started, ExitCode.NOT_COLLECTED):
            outcome = run_steps(ctx, [ResolveInstance(), AdoptCollection(),
                                      Collect(opts.settings)],
                                after_step=after_each(_bind_case(ctx, opts, stack),
                                                      shipper.after_step))
        collection = collection_result(ctx) or {"status": "failed"}
        status = str(collection["status"])
        data = result_data(ctx, "collect", status, outcome.steps)
        data.update({k: v for k, v in collection.items() if k != "status"})
        data["warnings"] = collect_warnings(ctx, outcome)
        if ctx.case is not None and not opts.dry_run:
            record_run(ctx, "collect", status, started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    code = collect_exit_code(ctx, status)
    if outcome.steps[0].status == "failed":
        code = ExitCode.USER  # could not even resolve the instance
    return RunSummary(data, code, data["warnings"])


def _bind_case(ctx: RunContext, opts: CollectOptions, stack: ExitStack
               ) -> Callable[[Step, StepResult], None]:
    """After resolve: the case to record under (as asked, as tagged, the open one, or new)."""
    def after(step: Step, result: StepResult) -> None:
        if step.name != "resolve" or result.status == "failed":
            return
        open_instance_case(ctx, opts.case_id, opts.settings.bucket, stack)
        ctx.save()
        ctx.audit("run-start", command="collect", dry_run=opts.dry_run,
                  options={"case_id": opts.case_id, **vars(opts.settings)})

    return after


@dataclass
class ResumeOptions:
    case_id: str
    instance_id: str | None = None
    wait: bool = True  # wait for what is left of the command's budget

    def validate(self) -> None:
        check_case_id(self.case_id)
        if self.instance_id:
            check_instance_id(self.instance_id)


def resume_collection(aws: AwsSession, clock: Clock, opts: ResumeOptions,
                      emit: Emit | None = None) -> RunSummary:
    """``collect --resume CASE``: adopt the case's sent command, verify its archive, record it."""
    opts.validate()
    case = open_case(opts.case_id, clock.now(), create=False)
    iid = _resume_target(case.data, opts)
    ctx = RunContext(aws, clock, iid, emit=emit)
    started = iso(clock.now())
    with ExitStack() as stack:
        stack.enter_context(open_run_case(ctx, opts.case_id).locked())
        entries = unadopted(ctx.record)
        bucket = next((e.get("bucket") for e in entries), None) or _last(ctx).get("bucket")
        shipper = CaseShipper(ctx, bucket, "collect --resume")
        try:
            outcome = run_steps(ctx, [AdoptCollection(wait=opts.wait)],
                                after_step=shipper.after_step)
        except Interrupted as stop:
            record_interruption(ctx, "collect --resume", stop, started)
            raise
        collection = (ctx.facts.get("adopted") or [_last(ctx)])[-1]
        status = str(collection.get("status") or "failed")
        data = result_data(ctx, "collect", status, outcome.steps)
        data.update({k: v for k, v in collection.items() if k != "status"})
        data["resumed"] = True
        data["adopted"] = ctx.facts.get("adopted", [])
        data["warnings"] = collect_warnings(ctx, outcome)
        record_run(ctx, "collect --resume", status, started)
        data["evidence"] = shipper.finish()
        data["warnings"] += shipper.warnings()
    errors = ctx.facts.get("adopt_errors") or []
    if errors:
        ctx.facts["collect_error"] = errors[-1]
    code = ExitCode.NOT_COLLECTED if outcome.failed and not errors else \
        collect_exit_code(ctx, status)
    return RunSummary(data, code, data["warnings"])


def adopt_pending(aws: AwsSession, clock: Clock, case_id: str) -> list[str]:
    """Adopt, without waiting, every finished command the local case sent and never judged
    (``evidence verify`` and ``sync`` call this first); one line per command for the user."""
    try:
        case = open_case(case_id, clock.now(), create=False)
    except UserError:
        return []  # the case is not on this machine: nothing to adopt here
    said: list[str] = []
    for iid, record in case.data.get("targets", {}).items():
        if not unadopted(record):
            continue
        result = resume_collection(aws, clock, ResumeOptions(case_id, iid, wait=False))
        for entry in result.data.get("adopted") or []:
            said.append(f"adopted SSM command {entry['command_id']} on {iid}: {entry['status']}"
                        + (f" ({entry['reason']})" if entry.get("reason") else ""))
        said += [f"could not adopt the collection sent to {iid}: {step['detail']}"
                 for step in result.data["steps"] if step["status"] == "failed"]
        said += result.warnings
    return said


def _resume_target(case: dict[str, Any], opts: ResumeOptions) -> str:
    targets: dict[str, Any] = case.get("targets", {})
    if opts.instance_id:
        if opts.instance_id not in targets:
            raise UserError(f"Case {opts.case_id} holds no record of {opts.instance_id}.",
                            f"See `ircli case show {opts.case_id}` for its targets.")
        return opts.instance_id
    waiting = [t for t, record in targets.items() if unadopted(record)]
    collected = [t for t, record in targets.items() if record.get("collections")]
    choice = waiting or collected
    if len(choice) == 1:
        return choice[0]
    if not choice:
        raise UserError(f"Case {opts.case_id} holds no collection to resume.",
                        "Start one with `ircli collect INSTANCE_ID --case-id "
                        f"{opts.case_id}`.")
    raise UserError(f"Case {opts.case_id} has collections on {', '.join(choice)}.",
                    "Name the instance: `ircli collect INSTANCE_ID --resume CASE_ID`.")


def _last(ctx: RunContext) -> dict[str, Any]:
    found: list[dict[str, Any]] = ctx.record.get("collections") or [{}]
    return found[-1]
