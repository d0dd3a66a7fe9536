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

from ircli.aws.ec2 import check_instance_id, display_name
from ircli.core.awserrors import translate
from ircli.core.case import check_case_id
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, StepResult, run_steps
from ircli.core.errors import ExitCode, IrcliError
from ircli.core.session import AwsSession
from ircli.evidence.shipper import CaseShipper
from ircli.liveresponse.collection import CollectSettings
from ircli.ops.common import (
    RunSummary,
    after_each,
    collect_warnings,
    contained_case,
    open_target_case,
    pick_case,
    record_run,
)
from ircli.ops.contain import result_data
from ircli.steps.base import Step
from ircli.steps.collect import Collect
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
        outcome = run_steps(ctx, [ResolveInstance(), Collect(opts.settings)],
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
        instance = ctx.facts["instance"]
        open_target_case(ctx, pick_case(opts.case_id, contained_case(instance), ctx,
                                        f"Instance {opts.instance_id}",
                                        bucket=opts.settings.bucket), stack)
        ctx.record.update(kind="instance", region=ctx.aws.region, name=display_name(instance),
                          account=instance.get("OwnerId"))
        ctx.save()
        ctx.audit("run-start", command="collect", dry_run=opts.dry_run,
                  options={"case_id": opts.case_id, **vars(opts.settings)})

    return after
