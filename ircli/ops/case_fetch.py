"""A case that is not on this machine comes from the evidence bucket, its shared home.

The case may have been opened on another laptop or by the automation (Step Functions); its
record in the bucket is all ``release`` and ``case show`` need. A real run copies it into
``IRCLI_HOME`` (and ships its own records back to the same prefix); a dry-run reads it into
memory only, as a dry-run writes nothing anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ircli.core.case import CASE_ID_PATTERN, Case, cases_root
from ircli.core.engine import RunContext
from ircli.core.errors import UserError
from ircli.core.session import AwsSession
from ircli.evidence import casestore as cs
from ircli.evidence.bucket_cases import read_remote, require
from ircli.evidence.fetch import fetch_case
from ircli.evidence.shipper import evidence_session
from ircli.evidence.verify import list_versions
from ircli.evidence.verify_shared import case_record_problems
from ircli.ops.common import open_run_case


@dataclass
class Fetched:
    case_id: str
    bucket: str
    prefix: str
    data: dict[str, Any]
    files: list[str]

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def is_local(case_id: str) -> bool:
    return (cases_root() / case_id / "case.json").exists()


def read_from_bucket(aws: AwsSession, bucket: str, case_id: str) -> Fetched:
    """The case's record in the bucket (either depth); one-sentence errors when the bucket
    or the case is not there."""
    s3 = evidence_session(aws).client("s3")
    prefix = require(s3, bucket, case_id)
    return Fetched(case_id, bucket, prefix, read_remote(s3, bucket, prefix), [])


def check_history(aws: AwsSession, found: Fetched) -> None:
    """Refuse a case whose ``case.json`` history shows a rewrite (a dropped record, a changed
    pre-change state): release restores what the record says, so a record rewritten by
    whoever could write the bucket must not decide what an instance goes back to."""
    s3 = evidence_session(aws).client("s3")
    key = found.prefix + cs.CASE_JSON
    try:
        listing = list_versions(s3, found.bucket, key)
        problems = case_record_problems(
            lambda k, v: bytes(s3.get_object(Bucket=found.bucket, Key=k, VersionId=v)[
                "Body"].read()),
            found.prefix, found.case_id, listing.versions, listing.markers)
    except botocore.exceptions.ClientError as err:
        raise cs.bucket_error(err, found.bucket, "read the case's history") from err
    if problems:
        raise UserError(f"The record of case {found.case_id} in {found.where} was rewritten "
                        f"({problems[0]}), so ircli will not act on it.",
                        f"Run `ircli evidence verify {found.case_id} --evidence-bucket "
                        f"{found.bucket}` and settle the case record first.")


def fetch_here(aws: AwsSession, bucket: str, case_id: str) -> Fetched:
    """Copy the case from the bucket into ``IRCLI_HOME``."""
    found = read_from_bucket(aws, bucket, case_id)
    try:
        found.files = fetch_case(evidence_session(aws).client("s3"), bucket, case_id,
                                 cases_root() / case_id, found.prefix)
    except botocore.exceptions.ClientError as err:
        raise cs.bucket_error(err, bucket, "read the case") from err
    return found


def bucket_case_for(ctx: RunContext, tagged: str | None, bucket: str | None) -> str | None:
    """The case an instance's ``ircli:case-id`` tag names, when this machine does not hold it
    and the bucket's record of it holds this target (a tag is a hint, never an order)."""
    if not tagged or not bucket or not CASE_ID_PATTERN.match(tagged) or is_local(tagged):
        return None
    try:
        found = read_from_bucket(ctx.aws, bucket, tagged)
    except UserError:
        return None
    targets = found.data.get("targets")
    return tagged if isinstance(targets, dict) and ctx.target_id in targets else None


def open_shared_case(ctx: RunContext, case_id: str, bucket: str | None) -> Case:
    """:func:`~ircli.ops.common.open_run_case`, after bringing the case from the bucket when
    it is not on this machine (said in the run's warnings)."""
    if bucket and not is_local(case_id):
        if ctx.dry_run:
            found = read_from_bucket(ctx.aws, bucket, case_id)
            check_history(ctx.aws, found)
            case = Case(case_id, cases_root() / case_id, found.data)
            ctx.bind_case(case)
            ctx.warnings.append(f"case {case_id} read from {found.where} (a dry-run copies "
                                "nothing here)")
            return case
        check_history(ctx.aws, read_from_bucket(ctx.aws, bucket, case_id))
        found = fetch_here(ctx.aws, bucket, case_id)
        ctx.warnings.append(f"case {case_id} fetched from {found.where}")
    return open_run_case(ctx, case_id)
