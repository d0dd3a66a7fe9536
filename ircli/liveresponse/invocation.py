"""Follow one SSM command to its end and read what the collector reported.

Polling uses tenacity on the run's clock (tests move a fake clock instead of sleeping). Every
way an invocation can end without a usable result line becomes one :class:`CollectError` with a
stable ``reason``; a result line is returned for the caller to verify against the bucket.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import botocore.exceptions
from tenacity import RetryCallState, Retrying, retry_if_result, wait_exponential

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext, stop_after_clock
from ircli.liveresponse.errors import CollectError
from ircli.liveresponse.result import ResultError, parse_result_line

TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")
UNDELIVERED = ("Undeliverable", "DeliveryTimedOut", "InvalidPlatform", "AccessDenied",
               "Terminated")
POLL_GRACE_SECONDS = 60
STDERR_TAIL = 2000


def delivery_timeout(timeout: int) -> int:
    """SendCommand's TimeoutSeconds: how long the agent has to *start* (SSM: 30 s or more)."""
    return max(30, min(timeout, 300))


def wait_budget(timeout: int) -> int:
    """How long ircli follows a command: delivery, the collector's own timeout, a grace."""
    return delivery_timeout(timeout) + timeout + POLL_GRACE_SECONDS


def wait_for_invocation(ctx: RunContext, command_id: str, instance_id: str,
                        budget: float) -> dict[str, Any] | None:
    """Poll GetCommandInvocation until a terminal status; the last answer when time runs out."""
    ssm = ctx.aws.client("ssm")
    seen: list[str] = []
    started = ctx.clock.monotonic()

    def say(status: str) -> None:
        """One progress event per status change, with the clock against the deadline."""
        if seen and seen[-1] == status:
            return
        seen.append(status)
        ctx.emit("progress", step="collect", key=command_id, elapsed=round(
            ctx.clock.monotonic() - started, 1), deadline=budget or None,
            message=f"command {command_id} on {instance_id}: {status}")

    def poll() -> dict[str, Any] | None:
        try:
            inv: dict[str, Any] = ssm.get_command_invocation(CommandId=command_id,
                                                             InstanceId=instance_id)
        except botocore.exceptions.ClientError as err:
            if error_code(err) == "InvocationDoesNotExist":  # not yet visible after the send
                say("sent, not yet listed by SSM")
                return None
            raise
        say(str(inv.get("StatusDetails") or inv.get("Status")))
        return inv

    def unfinished(inv: dict[str, Any] | None) -> bool:
        return inv is None or inv.get("Status") not in TERMINAL

    def last(state: RetryCallState) -> dict[str, Any] | None:
        assert state.outcome is not None
        result: dict[str, Any] | None = state.outcome.result()
        return result

    waited: dict[str, Any] | None = Retrying(
        retry=retry_if_result(unfinished), wait=wait_exponential(multiplier=1, min=1, max=15),
        stop=stop_after_clock(ctx, budget), sleep=ctx.clock.sleep, retry_error_callback=last,
        reraise=True)(poll)
    return waited


def _tail(text: str | None) -> str:
    return (text or "")[-STDERR_TAIL:]


def read_invocation(inv: dict[str, Any], instance_id: str, timeout: int) -> dict[str, Any]:
    """The collector's result line from a finished invocation, or why there is none."""
    status = str(inv.get("Status"))
    details = str(inv.get("StatusDetails") or status)
    facts: dict[str, Any] = {"invocation_status": status, "status_details": details,
                             "response_code": inv.get("ResponseCode"),
                             "stderr_tail": _tail(inv.get("StandardErrorContent"))}
    if details in UNDELIVERED:
        within = f" within {delivery_timeout(timeout)} s" if details == "DeliveryTimedOut" else ""
        raise CollectError(
            "undeliverable", f"SSM could not run the command on {instance_id}{within} "
            f"({details}).",
            "Pass --os with the instance's platform." if details == "InvalidPlatform" else
            "Check that the instance runs and its SSM agent is Online and reaches the SSM "
            "endpoints (`aws ssm describe-instance-information`); then run collect again.",
            **facts)
    if status == "Cancelled":
        raise CollectError("cancelled", f"The command on {instance_id} was cancelled before the "
                           "collector finished.", "Run collect again.", **facts)
    try:
        result = parse_result_line(str(inv.get("StandardOutputContent") or ""))
    except ResultError as err:
        if status == "TimedOut":
            raise CollectError(
                "timed-out", f"The collector on {instance_id} did not finish within {timeout} s, "
                "so SSM stopped it.",
                "Run collect again with a longer --timeout or fewer --sections.",
                **facts) from err
        if status == "Success":
            raise CollectError(
                "not-run", f"SSM reports the command on {instance_id} done, but the collector "
                "printed no result: the document's platform precondition skipped it.",
                "Pass --os auto, or --os with the instance's platform.", **facts) from err
        last_line = facts["stderr_tail"].strip().splitlines()[-1:] or [err.message]
        raise CollectError(
            "collector-failed", f"The collector on {instance_id} ended {details} (exit "
            f"{inv.get('ResponseCode')}) without a result: {last_line[0][:300]}",
            "Read stderr_tail in the result and the case record; run collect again.",
            **facts) from err
    if result["status"] == "fatal":
        raise CollectError(
            "collector-failed", f"The collector on {instance_id} stopped: "
            f"{result.get('error') or 'fatal error'}.",
            "Read stderr_tail in the result and the case record; run collect again.",
            collector=result, **facts)
    return result


def not_finished(command_id: str, instance_id: str, budget: float,
                 inv: dict[str, Any] | None) -> CollectError:
    """ircli gave up waiting; the caller cancels the command."""
    status = str((inv or {}).get("StatusDetails") or (inv or {}).get("Status") or "unknown")
    return CollectError(
        "timed-out", f"Command {command_id} on {instance_id} did not end within {budget:.0f} s "
        f"(last status: {status}); ircli cancelled it.",
        "Check the instance's SSM agent (`aws ssm describe-instance-information`); run collect "
        "again, with a longer --timeout if the collector was running.",
        invocation_status=status)


# -- adopting a command an earlier run sent (--no-wait, Ctrl-C, a lost laptop) --------------
def unadopted(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The target's collections that were sent but never judged: their archive may sit in the
    bucket unrecorded until a run adopts the command's result."""
    return [dict(c) for c in record.get("collections", [])
            if c.get("status") == "sent" and c.get("command_id")]


def remaining_budget(entry: dict[str, Any], now: datetime) -> float:
    """How much of the command's own wait budget is left (0 when it should be over)."""
    budget = wait_budget(int(entry.get("timeout_seconds") or 900))
    sent = entry.get("requested_at")
    if not sent:
        return float(budget)
    started = datetime.strptime(str(sent), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)
    return max(0.0, budget - (now - started).total_seconds())
