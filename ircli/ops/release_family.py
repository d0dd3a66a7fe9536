"""``release --bucket`` / ``--trail``: give a bucket or trail back what the case recorded.

The public access block returns to its recorded settings (or is removed if there was none);
only ircli's deny statement leaves the bucket policy, so a change the owners made to the
policy during the incident stays.
"""

from __future__ import annotations

from typing import Any

from ircli.core.case import check_case_id
from ircli.core.clock import Clock
from ircli.core.engine import Emit, RunContext
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.ops.common import RunSummary, open_release_case, run_release, run_result
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
    case = open_release_case(ctx, case_id, never=f"{target} was never contained by ircli: no "
                             "case on this machine records it.")
    return run_release(ctx, case, steps,
                       lambda status, done: run_result(ctx, "release", status, done, **fields))
