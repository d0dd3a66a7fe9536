"""Pieces every operation shares: picking the case, building the result, finishing the run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from ircli.aws.ec2 import display_name
from ircli.core.awserrors import describe
from ircli.core.case import (
    CASE_ID_PATTERN,
    Case,
    cases_root,
    find_any_case,
    find_open_case,
    new_case_id,
    open_case,
)
from ircli.core.clock import iso
from ircli.core.engine import RunContext, RunOutcome, StepResult, run_steps, sigint_deferred
from ircli.core.errors import ExitCode, Interrupted, NotFound, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.fetch import fetch_case, remote_case
from ircli.evidence.settings import central_account
from ircli.evidence.ship import CaseUploader
from ircli.evidence.shipper import CaseShipper, evidence_session
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


def pick_case(requested: str | None, tagged: str | None, ctx: RunContext, what: str, *,
              bucket: str | None = None) -> str:
    """The case to record under: as asked, else the tagged one when it is a case ircli knows
    for this target, else the target's open case, else a new one.

    The target's tags are written by whoever controls it, so a tag is a hint, never an order:
    one that names no known case (malformed, ``../../x``, unknown, or a case that does not
    record this target) is warned about, kept in the audit log as data, and ignored; nothing
    in a tag makes the run refuse. When the tag is confirmed (a case here or in the bucket
    records this target, not released) that case keeps the target, even over ``--case-id``:
    it holds the pre-change state release needs. A case that is in the evidence bucket but
    not on this machine is fetched first, so the run extends its record.
    """
    record = tag_hint(ctx, tagged, what, bucket) if tagged is not None else None
    trusted = tagged if record is not None else None
    if requested and trusted and requested != trusted:
        if record is not None and record.get("status") != "released":
            ctx.warnings.append(f"{what} is contained under case {trusted}, which holds its "
                                f"pre-change state: recording there, not under {requested}")
            ctx.audit("case-kept", case_id=trusted, requested=requested)
            requested = trusted
        else:
            ctx.warnings.append(f"{what} was contained under case {trusted} (released); "
                                f"recording under case {requested} as asked")
    named = requested or trusted
    case_id = named or find_open_case(ctx.target_id) or new_case_id(ctx.clock.now())
    if named and bucket and not ctx.dry_run and not (cases_root() / named / "case.json").exists():
        _continue_from_bucket(ctx, named, bucket)
    return case_id


def tag_hint(ctx: RunContext, tagged: str, what: str, bucket: str | None
             ) -> dict[str, Any] | None:
    """The target's record in the case ``tagged`` names, when that case is known (on this
    machine or in the evidence bucket) and records this target; otherwise None, with a
    warning and an audit line holding the planted value (as data)."""
    record, why = _known_record(ctx, tagged, bucket)
    if record is not None:
        return record
    shown = tagged if len(tagged) <= 80 else tagged[:80] + "…"
    ctx.warnings.append(f"{what} carries {TAG_CASE}={shown!r}, which {why}: the tag is ignored "
                        "(anyone who controls the target can write its tags)")
    ctx.audit("untrusted-tag", tag=TAG_CASE, value=tagged, why=why)
    return None


def _known_record(ctx: RunContext, case_id: str, bucket: str | None
                  ) -> tuple[dict[str, Any] | None, str]:
    """(the target's record in ``case_id``, "") or (None, why the case is not known)."""
    if not CASE_ID_PATTERN.match(case_id):
        return None, "is not a case id"
    local = cases_root() / case_id / "case.json"
    data: dict[str, Any] | None
    if local.exists():
        try:
            data = json.loads(local.read_text())
        except ValueError:
            return None, f"names case {case_id}, whose case.json here is unreadable"
    elif not bucket:
        return None, (f"names case {case_id}, which is not on this machine (and no evidence "
                      "bucket is configured to look in)")
    else:
        data = remote_case(_evidence_s3(ctx), bucket, case_id)
        if data is None:
            return None, (f"names case {case_id}, which is neither on this machine nor in "
                          f"s3://{bucket}")
    targets = data.get("targets") if isinstance(data, dict) else None
    record = targets.get(ctx.target_id) if isinstance(targets, dict) else None
    if not isinstance(record, dict):
        return None, f"names case {case_id}, which does not record {ctx.target_id}"
    return record, ""


def local_case_for(case_id: str | None, target_id: str) -> str | None:
    """``case_id`` (from a tag) when it is a well-formed id of a case on this machine that
    records ``target_id``; None otherwise (``release`` looks further, it never trusts a tag)."""
    if not case_id or not CASE_ID_PATTERN.match(case_id):
        return None
    try:
        data = json.loads((cases_root() / case_id / "case.json").read_text())
    except (OSError, ValueError):
        return None
    return case_id if target_id in data.get("targets", {}) else None


def _continue_from_bucket(ctx: RunContext, case_id: str, bucket: str) -> None:
    """Bring the case's record down from the bucket when it is there and not here."""
    s3 = _evidence_s3(ctx)
    if remote_case(s3, bucket, case_id) is None:
        return
    fetched = fetch_case(s3, bucket, case_id, cases_root() / case_id)
    ctx.warnings.append(f"case {case_id} was not on this machine: continued from "
                        f"s3://{bucket} ({', '.join(fetched)})")


# A look-up in the bucket runs before isolation: one try, short timeouts (a slow or absent
# bucket costs at most a few seconds, and a miss only means "not known").
LOOKUP_CONNECT_TIMEOUT = 1.0
LOOKUP_READ_TIMEOUT = 2.0


def _evidence_s3(ctx: RunContext) -> Any:
    """Its own session (no call observers: a look-up is not an audit event)."""
    return AwsSession(replace(ctx.aws.settings, max_attempts=1,
                              connect_timeout=LOOKUP_CONNECT_TIMEOUT,
                              read_timeout=LOOKUP_READ_TIMEOUT)).client("s3")


def run_under_case(ctx: RunContext, command: str, case_id: str, steps: list[Step], done: str,
                   record: dict[str, Any], fields: dict[str, Any], *, options: dict[str, Any],
                   follow_up: Callable[[], list[str]], shipper: CaseShipper | None = None,
                   extra: dict[str, Any] | None = None) -> RunSummary:
    """Run a target's containment ``steps`` under its case, opened and locked (the target's
    ``record`` says what and where it is), and build the result: ``done`` is the status when
    every step succeeded, a failed critical step is exit 4, any other failure exit 3.

    ``follow_up`` (what ircli leaves to the responder) is asked after the steps ran;
    ``shipper`` ships the case as the steps go; ``extra`` adds the command's own fields.
    """
    started = iso(ctx.clock.now())
    hooks = [keep_result(ctx), *([shipper.after_step] if shipper else [])]
    with ExitStack() as stack:
        open_target_case(ctx, case_id, stack)
        ctx.record.update(**{**ctx.aws.location(), "account": ctx.aws.account}, **record)
        ctx.record.setdefault("status", "containing")
        ctx.save()
        ctx.audit("run-start", command=command, dry_run=ctx.dry_run, options=options)
        outcome = run_steps(ctx, steps, after_step=after_each(*hooks))
        status = ("planned" if ctx.dry_run else "failed" if outcome.failed_critical
                  else "partial" if outcome.failed else done)
        data = run_result(ctx, command, status, outcome.steps, **fields)
        data.update(extra or {})
        data["manual_follow_up"] = follow_up()
        data["warnings"] = collect_warnings(ctx, outcome)
        if not ctx.dry_run:
            ctx.record["status"] = status
            record_run(ctx, command, status, started)
        if shipper is not None:
            data["evidence"] = shipper.finish()
            data["warnings"] += shipper.warnings()
    code = {"failed": ExitCode.NOT_CONTAINED, "partial": ExitCode.PARTIAL}.get(status, ExitCode.OK)
    return RunSummary(data, code, data["warnings"])


PASS_CASE_ID = ("Pass --case-id (copy the case directory to IRCLI_HOME first); `ircli case list` "
                "shows the cases here.")


def open_release_case(ctx: RunContext, requested: str | None, *, never: str,
                      never_hint: str = PASS_CASE_ID, tagged: str | None = None,
                      recorded: str = "steps",
                      unrecorded_hint: str = "Pass the --case-id of the case that contained it.",
                      known_only: bool = True,
                      elsewhere: Callable[[], str | None] | None = None,
                      opener: Callable[[RunContext, str], Case] | None = None) -> Case:
    """The case that contained ``ctx.target_id``, bound to ``ctx``: as asked, else the one
    its tag names when that case is here and records it (a tag is never trusted further),
    else the newest case here that records it.

    Refused (``never``) when no case records the target, and when the case holds no
    ``recorded`` entry for it; with ``known_only`` a ``--case-id`` naming no case here is
    refused instead of opening a new, empty one. ``elsewhere`` is the last place to look (the
    evidence bucket) and ``opener`` opens what it found (bringing it here first).
    """
    case_id = requested or local_case_for(tagged, ctx.target_id) or \
        find_any_case(ctx.target_id) or (elsewhere() if elsewhere else None)
    if not case_id:
        raise UserError(never, never_hint)
    if known_only:
        open_case(case_id, ctx.clock.now(), create=False)
    case = (opener or open_run_case)(ctx, case_id)
    if not case.has_target(ctx.target_id) or not ctx.record.get(recorded):
        raise NotFound(f"Case {case.case_id} has no containment record for {ctx.target_id}.",
                       unrecorded_hint)
    return case


ResultData = Callable[[str, list[StepResult]], dict[str, Any]]


def run_release(ctx: RunContext, case: Case, steps: list[Step], result: ResultData, *,
                earlier: Sequence[StepResult] = (), shipper: CaseShipper | None = None,
                started: str | None = None,
                extra: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Undo ``steps`` under the case's lock and record the outcome; a target released
    already is said so (exit 0) and nothing runs.

    ``result`` builds the command's JSON result from a status and the steps' results
    (``earlier`` ones first, e.g. the look-up that found the target); ``extra`` adds the
    command's own fields to it; ``shipper`` ships the case as the steps go.
    """
    if ctx.record.get("status") == "released":
        data = result("released", list(earlier))
        data["warnings"] = [f"already released at {ctx.record.get('released_at')}"]
        return RunSummary(data, ExitCode.OK, data["warnings"])
    started = started or iso(ctx.clock.now())
    with case.locked() if not ctx.dry_run else nullcontext():
        ctx.audit("run-start", command="release", dry_run=ctx.dry_run)
        outcome = run_steps(ctx, steps, after_step=shipper.after_step if shipper else None)
        status = "planned" if ctx.dry_run else "partial" if outcome.failed else "released"
        data = result(status, [*earlier, *outcome.steps])
        data["warnings"] = collect_warnings(ctx, outcome)
        if extra is not None:
            extra(data)
        if not ctx.dry_run:
            ctx.record["status"] = status
            if status == "released":
                ctx.record["released_at"] = iso(ctx.clock.now())
            record_run(ctx, "release", status, started)
        if shipper is not None:
            data["evidence"] = shipper.finish()
            data["warnings"] += shipper.warnings()
    return RunSummary(data, ExitCode.PARTIAL if status == "partial" else ExitCode.OK,
                      data["warnings"])


def open_instance_case(ctx: RunContext, requested: str | None, bucket: str | None,
                       stack: ExitStack) -> dict[str, Any]:
    """Once the instance is resolved: open and lock its case (see :func:`pick_case`) and note
    in its record what and where the instance is; returns the record."""
    instance = ctx.facts["instance"]
    case_id = pick_case(requested, contained_case(instance), ctx, f"Instance {ctx.target_id}",
                        bucket=bucket)
    record = open_target_case(ctx, case_id, stack)
    record.update(kind="instance", **{**ctx.aws.location(), "account": instance.get("OwnerId")},
                  name=display_name(instance))
    return record


def contained_case(instance: dict[str, Any]) -> str | None:
    """The case an instance's tags say it is contained under, if any (a hint: see
    :func:`pick_case`)."""
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


@contextmanager
def interruption_recorded(ctx: RunContext, command: str, started: str,
                          code: ExitCode | None = None) -> Iterator[None]:
    """Ctrl-C inside: the case records it (:func:`record_interruption`), and a collection
    already sent says how to adopt it (:func:`still_running`, with ``code``)."""
    try:
        yield
    except Interrupted as stop:
        record_interruption(ctx, command, stop, started)
        amended = still_running(ctx, stop, code)
        if amended is stop:
            raise
        raise amended from stop


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


def ship_after(steps: list[Step], door: str) -> str:
    """The step after which a run starts shipping its case: the one that shuts the door when
    the run has it, else the last (the bucket never delays what contains)."""
    return door if any(s.name == door for s in steps) else steps[-1].name


def ship_case(ctx: RunContext, case: Case, bucket: str | None, command: str) -> list[str]:
    """Ship one case (held locked by the caller) now; warnings instead of errors."""
    if not bucket or ctx.dry_run:
        return []
    try:
        CaseUploader(evidence_session(ctx.aws).client("s3"), bucket, case,
                     central_account(bucket, case.data)).ship(
            command, ctx.clock.now())
    except Exception as err:  # evidence storage must never break the operation
        return [f"case {case.case_id} not shipped to s3://{bucket}: {describe(err)}; it is "
                f"complete on local disk — run `ircli evidence sync {case.case_id}` later"]
    return []
