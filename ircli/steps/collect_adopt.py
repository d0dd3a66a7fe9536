"""Adopt a collection an earlier run sent but never judged (``--no-wait``, Ctrl-C, a lost laptop).

Such a command keeps running on the host and its archive lands in the bucket unrecorded: the
case says "sent", ``evidence verify`` finds an object the manifest does not list. Adopting reads
the command's end (waiting, with ``wait``, for what is left of its budget), verifies the object
against what the host reported — the same path a waiting ``collect`` takes — and records it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ircli.core.clock import iso
from ircli.core.engine import RunContext
from ircli.core.step import Step, StepPlan, register
from ircli.liveresponse.collection import Collection
from ircli.liveresponse.errors import CollectError
from ircli.liveresponse.invocation import (
    TERMINAL,
    not_finished,
    remaining_budget,
    unadopted,
    wait_for_invocation,
)

# The one verification path of a collection (read the result, read back S3, record).
from ircli.steps.collect import _cancel, _judge, _save

_FIELDS = {f.name for f in fields(Collection)}


@register
class AdoptCollection(Step):
    """Judge the SSM commands an earlier collect sent: verify their archives and record them."""

    name = "collect-adopt"
    title = "Adopt earlier collection"
    permissions = ("ssm:GetCommandInvocation", "ssm:CancelCommand", "s3:ListBucket",
                   "s3:GetObject", "s3:GetObjectVersion")

    def __init__(self, wait: bool = False) -> None:
        self.wait = wait

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None, "collect-adopt needs the case bound"
        pending = unadopted(ctx.record)
        if not pending:
            return StepPlan(skip_reason="no collection sent earlier is waiting to be adopted")
        return StepPlan(local_change=True, pending={"entries": pending}, notes=[
            f"adopt SSM command {e['command_id']} (sent {e.get('requested_at')}): verify "
            f"s3://{e.get('bucket')}/{e.get('key')} and record it" for e in pending])

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        adopted: list[dict[str, Any]] = ctx.facts.setdefault("adopted", [])
        for entry in plan.pending["entries"]:
            collection = Collection(**{k: v for k, v in entry.items() if k in _FIELDS})
            adopted.append(self._adopt(ctx, collection))

    def _adopt(self, ctx: RunContext, collection: Collection) -> dict[str, Any]:
        assert collection.command_id is not None and ctx.case is not None
        command_id, iid = collection.command_id, ctx.target_id
        budget = remaining_budget(collection.to_dict(), ctx.clock.now()) if self.wait else 0.0
        inv = wait_for_invocation(ctx, command_id, iid, budget)
        if inv is None or inv.get("Status") not in TERMINAL:
            status = str((inv or {}).get("StatusDetails") or (inv or {}).get("Status")
                         or "not yet visible")
            if not self.wait:
                ctx.warnings.append(
                    f"SSM command {command_id} (sent {collection.requested_at}) is still "
                    f"{status}; `ircli collect --resume {ctx.case.case_id}` adopts its archive "
                    "when it ends")
                return collection.to_dict()
            _cancel(ctx, command_id, iid)
            err: CollectError = not_finished(command_id, iid, budget, inv)
            self._failed(ctx, collection, err)
            return collection.to_dict()
        collection.completed_at = str(inv.get("ExecutionEndDateTime") or "") or \
            iso(ctx.clock.now())
        try:
            _judge(ctx, collection, inv, int(collection.timeout_seconds or 900))
        except CollectError as err:
            self._failed(ctx, collection, err)
            return collection.to_dict()
        _save(ctx, collection)
        ctx.audit("collect-adopted", command_id=command_id, key=collection.key,
                  status=collection.status)
        return collection.to_dict()

    def _failed(self, ctx: RunContext, collection: Collection, err: CollectError) -> None:
        collection.fail(err)
        ctx.facts.setdefault("adopt_errors", []).append(err)
        ctx.audit("collect-failed", command_id=collection.command_id, reason=collection.reason,
                  error=collection.message)
        _save(ctx, collection)
