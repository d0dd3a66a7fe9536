"""The hook operations use to ship their case as they go. It never raises and never waits long.

Containment must not depend on evidence storage: the shipper starts only after the step it is
told to wait for (``isolate`` for ``contain``), uses its own S3 client with short timeouts and
one retry, and after the first failure stops trying for the rest of the run. The case stays
complete on disk; ``ircli evidence sync CASE_ID`` uploads what is pending.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

import botocore.exceptions

from ircli.core.awserrors import describe, translate
from ircli.core.case import open_case
from ircli.core.config import how_to_set_bucket
from ircli.core.engine import RunContext, StepResult
from ircli.core.errors import UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.evidence.anchor import Signer
from ircli.evidence.settings import central_account, signing_key
from ircli.evidence.ship import CaseUploader, ShipResult

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
MAX_ATTEMPTS = 2


def evidence_session(aws: AwsSession) -> AwsSession:
    """A session for evidence uploads: same identity, short timeouts, and no call observers.

    No observers, because uploading ``audit.jsonl`` must not append to ``audit.jsonl``
    (the shipped log would never be the whole log); the manifest is the upload record.
    """
    return AwsSession(replace(aws.settings, max_attempts=MAX_ATTEMPTS,
                              connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT))


class CaseShipper:
    """Ships ``ctx.case`` after each step from ``start_after`` on, and at :meth:`finish`."""

    # Every command that changes or collects something ships its case: `ircli policy` adds
    # these to the steps' own permissions (GetObject: a case only in the bucket is continued,
    # and a tagged case is confirmed there, see ircli.evidence.fetch; kms:Sign for the
    # anchors, with a signing key; ListBucket: the end of the shared audit chain, see
    # ircli.evidence.casestore).
    permissions: ClassVar[tuple[str, ...]] = ("s3:PutObject", "s3:GetObject", "s3:ListBucket",
                                              "kms:Sign")

    def __init__(self, ctx: RunContext, bucket: str | None, command: str, *,
                 start_after: str | None = None, signing_key: str | None = None) -> None:
        self.ctx = ctx
        self.bucket = bucket
        self.command = command
        self.armed = start_after is None
        self.start_after = start_after
        self.failure: str | None = None
        self.last: ShipResult | None = None
        self.uploaded: list[str] = []
        self.signing_key = signing_key
        self._s3: Any = None
        self._signer: Signer | None = None

    def after_step(self, step: Step, result: StepResult) -> None:
        if step.name == self.start_after:
            self.armed = True
        if self.armed:
            self.ship(mirror=False)

    def ship(self, *, mirror: bool = True) -> None:
        case = self.ctx.case
        if self.ctx.dry_run or case is None or not self.bucket or self.failure:
            return
        try:
            if self._s3 is None:
                session = evidence_session(self.ctx.aws)
                self._s3 = session.client("s3")
                key = self.signing_key or signing_key(strict=False)
                self._signer = Signer(session.client("kms"), key) if key else None
            uploader = CaseUploader(self._s3, self.bucket, case,
                                    central_account(self.bucket, case.data))
            self.last = uploader.ship(self.command, self.ctx.clock.now(), self._signer,
                                      mirror=mirror)
            self.uploaded += [k for k in self.last.uploaded if k not in self.uploaded]
        except Exception as err:  # evidence storage must never break the operation
            self.failure = describe(err)

    def finish(self) -> dict[str, Any] | None:
        """The result's ``evidence`` field (None in a dry-run); ships one last time."""
        if self.ctx.dry_run or self.ctx.case is None:
            return None
        case_id = self.ctx.case.case_id
        if not self.bucket:
            return {"shipped": False, "pending": True, "bucket": None,
                    "reason": "no evidence bucket is configured",
                    "remediation": how_to_set_bucket()}
        self.armed = True
        self.ship()
        if self.failure:
            return {"shipped": False, "pending": True, "bucket": self.bucket,
                    "reason": self.failure,
                    "remediation": f"The case is complete on local disk; run `ircli evidence "
                                   f"sync {case_id}` when the bucket is reachable."}
        assert self.last is not None
        data = {"shipped": True, "pending": False, **self.last.to_dict(),
                "uploaded": self.uploaded}
        if self._signer is None:
            data["anchor_note"] = ("no [evidence] signing_key is configured: the chain head "
                                   "is not signed, so `evidence verify` cannot tell a "
                                   "recomputed chain from this one")
        return data

    def warnings(self) -> list[str]:
        if self.failure:
            return [f"evidence not shipped to s3://{self.bucket}: {self.failure}; the case is "
                    f"complete on local disk — run `ircli evidence sync` later"]
        return []


def sync_case(aws: AwsSession, bucket: str, case_id: str, now: datetime,
              key_id: str | None = None) -> dict[str, Any]:
    """Upload whatever of a local case is not yet in the bucket (``ircli evidence sync``),
    and sign its head when a signing key is configured."""
    case = open_case(case_id, now, create=False)
    runs = case.data.get("runs") or [{}]
    key_id = signing_key(key_id)
    signer = Signer(aws.client("kms"), key_id) if key_id else None
    with case.locked():
        uploader = CaseUploader(aws.client("s3"), bucket, case,
                                central_account(bucket, case.data))
        pending = uploader.pending(signed=signer is not None)
        try:
            result = uploader.ship(str(runs[-1].get("command") or "unknown"), now, signer)
        except botocore.exceptions.ClientError as err:
            known = translate(err)
            if known is not None:
                raise known from err
            raise UserError(f"Could not ship case {case_id} to s3://{bucket}: {describe(err)}.",
                            "Check the bucket name (`ircli evidence check`) and that this "
                            "identity is the responder the bucket policy names.") from err
    return {"case_id": case_id, "pending_before": pending, **result.to_dict()}
