"""Pieces every operation shares: picking the case, building the result, finishing the run."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from ircli.core.case import Case, cases_root, find_open_case, new_case_id, open_case
from ircli.core.clock import iso
from ircli.core.engine import RunContext, RunOutcome, StepResult, sigint_deferred
from ircli.core.errors import ExitCode, Interrupted, UserError
from ircli.steps.base import Step
from ircli.steps.names import TAG_CASE, TAG_STATUS


@dataclass
class RunSummary:
    """The JSON result every command prints, and the exit code it maps to."""

    data: dict[str, Any]
    exit_code: ExitCode
    warnings: list[str] = field(default_factory=list)


def open_run_case(ctx: RunContext, case_id: str) -> Case:
    """Open the case (in a dry-run only in memory: a dry-run writes nothing anywhere)."""
    path = cases_root() / case_id
    if ctx.dry_run and not (path / "case.json").exists():
        case = Case(case_id, path, {"case_id": case_id, "created_at": iso(ctx.clock.now()),
                                    "targets": {}})
    else:
        case = open_case(case_id, ctx.clock.now())
    ctx.bind_case(case)
    return case


def open_target_case(ctx: RunContext, case_id: str, stack: ExitStack) -> dict[str, Any]:
    """Open and lock the case for this run's target; returns the target's record.

    A target released earlier in the same case starts a fresh record, the old one kept in
    its history, so a second containment never mixes with the first one's "before" state.
    """
    case = open_run_case(ctx, case_id)
    if not ctx.dry_run:
        stack.enter_context(case.locked())
    record = ctx.record
    if record.get("status") == "released":
        case.data["targets"][ctx.target_id] = {
            "steps": {}, "history": [*record.pop("history", []), record]}
    return ctx.record


def pick_case(requested: str | None, tagged: str | None, ctx: RunContext, what: str) -> str:
    """The case to record under: as asked, as tagged on the target, the open one, or new."""
    if requested and tagged and requested != tagged:
        raise UserError(f"{what} is already contained under case {tagged}.",
                        f"Re-run with --case-id {tagged}, or without --case-id.")
    return requested or tagged or find_open_case(ctx.target_id) or new_case_id(ctx.clock.now())


def contained_case(instance: dict[str, Any]) -> str | None:
    """The case an instance's tags say it is contained under, if any."""
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", []) or []}
    return tags.get(TAG_CASE) if tags.get(TAG_STATUS) == "contained" else None


def run_result(ctx: RunContext, command: str, status: str, steps: list[StepResult],
               **target: Any) -> dict[str, Any]:
    """The fields every command's JSON result carries; ``target`` names what it acted on."""
    return {
        "command": command,
        "case_id": ctx.case.case_id if ctx.case else None,
        **target,
        "region": ctx.aws.region,
        "status": status,
        "dry_run": ctx.dry_run,
        "steps": [s.to_dict() for s in steps],
        "metrics": {"api_calls": ctx.metrics.api_calls, "seconds": round(ctx.elapsed(), 3),
                    **{f"{name}_after": m for name, m in ctx.metrics.milestones.items()}},
        "case_dir": str(ctx.case.path) if ctx.case else None,
    }


def steps_summary(outcome: RunOutcome) -> list[dict[str, Any]]:
    return [r.to_dict() for r in outcome.steps]


def collect_warnings(ctx: RunContext, outcome: RunOutcome) -> list[str]:
    seen: list[str] = []
    for warning in [*ctx.warnings, *(w for r in outcome.steps for w in r.warnings)]:
        if warning not in seen:
            seen.append(warning)
    return seen


def record_run(ctx: RunContext, command: str, status: str, started: str) -> None:
    """Append this run to the case's history and save (never in a dry-run)."""
    if ctx.case is None or ctx.dry_run:
        return
    ctx.case.data.setdefault("runs", []).append({
        "command": command, "target": ctx.target_id, "status": status,
        "started_at": started, "ended_at": iso(ctx.clock.now()),
        "caller": ctx.facts.get("caller_arn"),
    })
    ctx.save()


def record_interruption(ctx: RunContext, command: str, stop: Interrupted, started: str) -> None:
    """A run stopped by Ctrl-C: the target's status and the case's run history say so."""
    if ctx.case is None or ctx.dry_run:
        return
    with sigint_deferred():
        _record_interruption(ctx, command, stop, started)


def _record_interruption(ctx: RunContext, command: str, stop: Interrupted, started: str) -> None:
    if stop.summary.get("isolated"):
        ctx.record["status"] = "partial"
    elif ctx.record.get("status") in (None, "containing", "collecting", "blocking"):
        ctx.record["status"] = "interrupted"
    record_run(ctx, command, "interrupted", started)


def still_running(ctx: RunContext, stop: Interrupted,
                  code: ExitCode | None = None) -> Interrupted:
    """Ctrl-C after the command was sent: it keeps running on the host; say how to adopt it
    (``code``: the exit code to give instead, e.g. collect's "not collected")."""
    sent = ctx.facts.get("collection") or {}
    if not sent.get("command_id") or ctx.case is None or ctx.dry_run:
        return stop
    return Interrupted(
        f"{stop.message} SSM command {sent['command_id']} keeps running on {ctx.target_id} and "
        f"will upload to s3://{sent.get('bucket')}/{sent.get('key')}.",
        f"Run `ircli collect --resume {ctx.case.case_id}` to wait for it, verify its archive "
        "and record it (the next collect or evidence verify of the case adopts it too).",
        code or stop.exit_code, {**stop.summary, "command_id": sent["command_id"]})


def keep_result(ctx: RunContext) -> Callable[[Step, StepResult], None]:
    """An ``after_step`` hook keeping each result in ``ctx.facts`` (the notify step reads them)."""
    def keep(_step: Step, result: StepResult) -> None:
        ctx.facts.setdefault("step_results", []).append(result)

    return keep


def after_each(*hooks: Callable[[Step, StepResult], None]
               ) -> Callable[[Step, StepResult], None]:
    """One ``after_step`` hook that runs several, in order."""
    def run(step: Step, result: StepResult) -> None:
        for hook in hooks:
            hook(step, result)

    return run
