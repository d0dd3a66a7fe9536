"""``release --bucket`` / ``--trail``: give a bucket or trail back what the case recorded.

The public access block returns to its recorded settings (or is removed if there was none);
only ircli's deny statement leaves the bucket policy, so a change the owners made to the
policy during the incident stays.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from ircli.core.case import check_case_id, find_any_case, open_case
from ircli.core.clock import Clock, iso
from ircli.core.engine import Emit, RunContext, run_steps
from ircli.core.errors import ExitCode, NotFound, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.ops.common import RunSummary, collect_warnings, open_run_case, record_run, run_result
from ircli.ops.families import resolve_bucket, resolve_db, resolve_function, resolve_trail
from ircli.ops.release import Undo
from ircli.steps.lambda_fn import CloseFunctionPolicy, DenyFunctionRole, ThrottleFunction
from ircli.steps.rds import IsolateDb
from ircli.steps.s3_bucket import BlockBucketPublicAccess, DenyBucketAccess
from ircli.steps.trail import RestoreTrailSelectors


def release_bucket(aws: AwsSession, clock: Clock, bucket: str, *, case_id: str | None = None,
                   dry_run: bool = False, emit: Emit | None = None) -> RunSummary:
    """Undo the bucket runbooks as the case recorded them."""
    bucket = resolve_bucket(aws, bucket)
    # The block first: S3 rejects putting back a public policy while BlockPublicPolicy is on.
    steps: list[Step] = [Undo(BlockBucketPublicAccess()), Undo(DenyBucketAccess())]
    return _release(aws, clock, f"bucket/{bucket}", {"bucket": bucket}, {"bucket": bucket},
                    steps, case_id=case_id, dry_run=dry_run, emit=emit)


def release_function(aws: AwsSession, clock: Clock, function: str, *,
                     case_id: str | None = None, dry_run: bool = False,
                     emit: Emit | None = None) -> RunSummary:
    """The role first, then the statements, then invocations run again."""
    found = resolve_function(aws, function)
    name = str(found["Configuration"]["FunctionName"])
    steps: list[Step] = [Undo(DenyFunctionRole()), Undo(CloseFunctionPolicy()),
                         Undo(ThrottleFunction())]
    return _release(aws, clock, f"function/{name}", {"function": found},
                    {"function": name}, steps, case_id=case_id, dry_run=dry_run, emit=emit)


def release_db(aws: AwsSession, clock: Clock, db: str, *, case_id: str | None = None,
               dry_run: bool = False, emit: Emit | None = None) -> RunSummary:
    """Groups, public accessibility and deletion protection back; the snapshot stays."""
    found = resolve_db(aws, db)
    name = str(found["DBInstanceIdentifier"])
    return _release(aws, clock, f"db/{name}", {"db": found}, {"db": name},
                    [Undo(IsolateDb())], case_id=case_id, dry_run=dry_run, emit=emit)


def release_trail(aws: AwsSession, clock: Clock, trail: str, *, case_id: str | None = None,
                  dry_run: bool = False, emit: Emit | None = None) -> RunSummary:
    """Put back the selectors ircli replaced; logging stays on (never stopped again)."""
    name = str(resolve_trail(aws, trail)["Name"])
    return _release(aws, clock, f"trail/{name}", {"trail": name}, {"trail": name},
                    [Undo(RestoreTrailSelectors())], case_id=case_id, dry_run=dry_run,
                    emit=emit)


def _release(aws: AwsSession, clock: Clock, target: str, facts: dict[str, Any],
             fields: dict[str, Any], steps: list[Step], *, case_id: str | None,
             dry_run: bool, emit: Emit | None) -> RunSummary:
    if case_id:
        check_case_id(case_id)
    fields = {"target": target, **fields}
    ctx = RunContext(aws, clock, target, dry_run=dry_run, emit=emit)
    ctx.facts.update(facts)
    found = case_id or find_any_case(target)
    if not found:
        raise UserError(f"{target} was never contained by ircli: no case on this machine "
                        "records it.", "Pass --case-id (copy the case directory to "
                        "IRCLI_HOME first); `ircli case list` shows the cases here.")
    open_case(found, clock.now(), create=False)  # a wrong --case-id must not create one
    case = open_run_case(ctx, found)
    if not case.has_target(target) or not ctx.record.get("steps"):
        raise NotFound(f"Case {case.case_id} has no containment record for {target}.",
                       "Pass the --case-id of the case that contained it.")
    if ctx.record.get("status") == "released":
        data = run_result(ctx, "release", "released", [], **fields)
        data["warnings"] = [f"already released at {ctx.record.get('released_at')}"]
        return RunSummary(data, ExitCode.OK, data["warnings"])
    started = iso(clock.now())
    with case.locked() if not dry_run else nullcontext():
        ctx.audit("run-start", command="release", dry_run=dry_run)
        outcome = run_steps(ctx, steps)
        status = "planned" if dry_run else "partial" if outcome.failed else "released"
        data = run_result(ctx, "release", status, outcome.steps, **fields)
        data["warnings"] = collect_warnings(ctx, outcome)
        if not dry_run:
            ctx.record["status"] = status
            if status == "released":
                ctx.record["released_at"] = iso(clock.now())
            record_run(ctx, "release", status, started)
    return RunSummary(data, ExitCode.PARTIAL if status == "partial" else ExitCode.OK,
                      data["warnings"])
