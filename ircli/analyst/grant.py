"""Name the analyst role in the evidence bucket's policy, as ``evidence init --analyst-role-arn``
would: the bucket policy denies reads to everyone it does not name.

The statements come from the one builder, :func:`ircli.evidence.policy.desired_statements`,
with the responder and analysts the bucket already names plus this role.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
from tenacity import Retrying, retry_if_exception, wait_exponential

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext, stop_after_clock
from ircli.core.step import Call, Step, StepPlan, register
from ircli.evidence import policy as pol

IAM_PROPAGATION_SECONDS = 60


@register
class GrantEvidenceRead(Step):
    """Add the analyst role to the analysts the evidence bucket policy lets read."""

    name = "analyst-evidence-grant"
    audience = "analyst"
    title = "Bucket policy: analyst may read"
    permissions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy")

    def __init__(self, bucket: str | None) -> None:
        self.bucket = bucket

    def plan(self, ctx: RunContext) -> StepPlan:
        role_arn: str = ctx.facts["analyst_role_arn"]
        if not self.bucket:
            return StepPlan(skip_reason="no evidence bucket configured")
        try:
            raw = ctx.aws.client("s3").get_bucket_policy(Bucket=self.bucket)["Policy"]
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "NoSuchBucketPolicy":
                raise
            raw = None
        statements: list[dict[str, Any]] = json.loads(raw)["Statement"] if raw else []
        responder, analysts = _grants(statements)
        if responder is None:
            return StepPlan(skip_reason=f"s3://{self.bucket} has no ircli evidence policy",
                            warnings=[f"s3://{self.bucket} was not set up by `ircli evidence "
                                      f"init`: run it with --analyst-role-arn {role_arn}."])
        if role_arn in analysts:
            return StepPlan(notes=[f"s3://{self.bucket} already lets {role_arn} read"])
        glass = pol.break_glass_roles(statements) or []  # keep the bucket's exemption
        desired = pol.desired_statements(ctx.aws.partition, self.bucket, responder,
                                         [*analysts, role_arn], glass[0] if glass else None)
        return StepPlan(before={"bucket": self.bucket, "policy": raw}, calls=[Call(
            "s3", "put_bucket_policy", {"Bucket": self.bucket, "Policy": json.dumps(
                {"Version": "2012-10-17", "Statement": desired})},
            f"s3://{self.bucket}: add {role_arn} to the analysts who may read")])

    def apply(self, ctx: RunContext, plan: StepPlan) -> None:
        """S3 refuses a policy naming a role IAM has not propagated yet: retry for a minute."""
        def propagating(err: BaseException) -> bool:
            return error_code(err) == "MalformedPolicy" and "principal" in str(err).lower()

        for call in plan.calls:
            Retrying(retry=retry_if_exception(propagating), wait=wait_exponential(1, max=10),
                     stop=stop_after_clock(ctx, IAM_PROPAGATION_SECONDS), sleep=ctx.clock.sleep,
                     reraise=True)(ctx.execute, call)


def _grants(statements: list[dict[str, Any]]) -> tuple[str | None, list[str]]:
    """The responder and the analysts an ircli bucket policy names."""
    by_sid = {s.get("Sid"): s for s in statements}

    def principals(sid: str) -> list[str]:
        value = by_sid.get(sid, {}).get("Principal", {}).get("AWS", [])
        return [value] if isinstance(value, str) else list(value)

    responders = principals(pol.SID_RESPONDER)
    return (responders[0] if responders else None), principals(pol.SID_ANALYST)
