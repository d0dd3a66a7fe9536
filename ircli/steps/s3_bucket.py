"""Contain an exposed or exfiltrated S3 bucket: record, block public access, deny everyone
but the responders. Objects and versioning are never touched.

The deny names who stays allowed (the caller ircli runs as, and the named break-glass roles)
in an ``ArnNotLike aws:PrincipalArn`` condition, so the responders can still read the
evidence and ``release`` can take the statement out again; release removes only ircli's
statement, keeping any change the owners made to the policy since.
"""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput
from ircli.core.session import AwsSession
from ircli.core.step import Call, Step, StepPlan, register
from ircli.steps.resource_change import RecordPreState, ResourceChange

DENY_SID = "IrcliDenyAllButResponders"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}


def check_bucket_name(name: str) -> str:
    if not _BUCKET.match(name):
        raise InvalidInput(f"'{name}' is not a valid S3 bucket name.",
                           "Pass the bucket's name (3-63 lowercase letters, digits, dots, "
                           "hyphens), not its ARN or URL.")
    return name


def _optional(call: Any, *missing: str) -> Any:
    """The answer, or None when AWS says the thing is not configured."""
    try:
        return call()
    except botocore.exceptions.ClientError as err:
        if error_code(err) in missing:
            return None
        raise


def bucket_policy(aws: AwsSession, bucket: str) -> dict[str, Any] | None:
    text = _optional(lambda: aws.client("s3").get_bucket_policy(Bucket=bucket)["Policy"],
                     "NoSuchBucketPolicy")
    return json.loads(text) if text else None


def public_access_block(aws: AwsSession, bucket: str) -> dict[str, Any] | None:
    found = _optional(lambda: aws.client("s3").get_public_access_block(Bucket=bucket),
                      "NoSuchPublicAccessBlockConfiguration")
    return dict(found["PublicAccessBlockConfiguration"]) if found else None


def access_points(aws: AwsSession, account: str, bucket: str) -> list[dict[str, Any]]:
    """Every access point of the bucket (botocore has no paginator for this call)."""
    client = aws.client("s3control")
    found: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_access_points(AccountId=account, Bucket=bucket, **token)
        found += page.get("AccessPointList", [])
        if not page.get("NextToken"):
            return found
        token = {"NextToken": page["NextToken"]}


def responder_arn(caller_arn: str) -> str:
    """The principal ARN a condition sees: an assumed-role session's role, else the caller."""
    parts = caller_arn.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


@register
class RecordBucket(RecordPreState):
    """Write the bucket's policy, ACL, ownership, public access block and access points to
    the case before anything changes."""

    name = "record-bucket"
    title = "Record the bucket's access configuration"
    permissions = ("s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketOwnershipControls",
                   "s3:GetBucketPublicAccessBlock", "s3:ListAccessPoints",
                   "s3:ListBucket",  # HeadBucket: the run checks the bucket exists first
                   "sts:GetCallerIdentity")

    def record(self, ctx: RunContext) -> StepPlan:
        bucket = str(ctx.facts["bucket"])
        s3 = ctx.aws.client("s3")
        acl = s3.get_bucket_acl(Bucket=bucket)
        ownership = _optional(lambda: s3.get_bucket_ownership_controls(Bucket=bucket)[
            "OwnershipControls"], "OwnershipControlsNotFoundError")
        account = ctx.aws.identity()["account"]
        points = [{"name": p["Name"], "network_origin": p.get("NetworkOrigin"),
                   "vpc": (p.get("VpcConfiguration") or {}).get("VpcId")}
                  for p in access_points(ctx.aws, account, bucket)]
        state = {"bucket": bucket, "policy": bucket_policy(ctx.aws, bucket),
                 "acl": {"owner": acl.get("Owner"), "grants": acl.get("Grants", [])},
                 "ownership": ownership, "public_access_block": public_access_block(
                     ctx.aws, bucket), "access_points": points}
        notes = [f"policy {'present' if state['policy'] else 'absent'}, "
                 f"{len(state['acl']['grants'])} ACL grant(s), {len(points)} access point(s)"]
        warnings = [f"Access point {p['name']} has its own policy: review it (ircli does not "
                    "change access points)." for p in points]
        return StepPlan(before=state, notes=notes, warnings=warnings)


@register
class BlockBucketPublicAccess(ResourceChange):
    """Turn on all four settings of the bucket's public access block."""
    audience = "contain-resources"  # rewrites a policy of any resource of its kind

    name = "bucket-public-access-block"
    title = "Block public access to the bucket"
    permissions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
    undo_permissions = ("s3:PutBucketPublicAccessBlock",)
    runbook_targets = ("bucket",)
    critical = True
    subject, setting, already = "bucket", "configuration", "public access already blocked"

    def read(self, ctx: RunContext) -> tuple[str, Any]:
        bucket = str(ctx.facts["bucket"])
        return bucket, public_access_block(ctx.aws, bucket)

    def change(self, resource: str, current: Any) -> Call | None:
        return None if current == ALL_BLOCKED else Call("s3", "put_public_access_block", {
            "Bucket": resource, "PublicAccessBlockConfiguration": dict(ALL_BLOCKED)},
            f"block public access to bucket {resource} (ACLs and policies)")

    def restore(self, resource: str, recorded: Any) -> Call:
        if recorded is None:
            return Call("s3", "delete_public_access_block", {"Bucket": resource},
                        f"remove the public access block of {resource} (it had none)")
        return Call("s3", "put_public_access_block", {
            "Bucket": resource, "PublicAccessBlockConfiguration": recorded},
            f"restore the recorded public access block of {resource}")


@register
class DenyBucketAccess(Step):
    """Add one deny-all statement to the bucket policy, except the responders."""
    audience = "contain-resources"  # rewrites a policy of any resource of its kind

    name = "bucket-deny-all"
    title = "Deny everyone but the responders access to the bucket"
    permissions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "sts:GetCallerIdentity")
    undo_permissions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
    runbook_targets = ("bucket",)
    critical = True

    def __init__(self, break_glass: list[str] | None = None) -> None:
        self.break_glass = list(break_glass or [])

    def plan(self, ctx: RunContext) -> StepPlan:
        bucket = str(ctx.facts["bucket"])
        partition = ctx.aws.identity()["arn"].split(":")[1]
        exempt = sorted({responder_arn(ctx.aws.identity()["arn"]), *self.break_glass})
        current = bucket_policy(ctx.aws, bucket)
        statements = [s for s in (current or {}).get("Statement", []) if s.get("Sid") != DENY_SID]
        ours = {"Sid": DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:{partition}:s3:::{bucket}",
                             f"arn:{partition}:s3:::{bucket}/*"],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}}}
        document = {"Version": (current or {}).get("Version", "2012-10-17"),
                    "Statement": [*statements, ours]}
        plan = StepPlan(before={"bucket": bucket, "policy": current},
                        data={"exempt_principals": exempt}, warnings=[
                            f"Everyone but {', '.join(exempt)} is denied every S3 action on "
                            f"{bucket}: applications using it stop until release."])
        if current == document:
            plan.notes.append("deny statement already in the bucket policy")
            return plan
        plan.calls.append(Call("s3", "put_bucket_policy", {
            "Bucket": bucket, "Policy": json.dumps(document)},
            f"deny all access to {bucket} except {', '.join(exempt)}"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        bucket = record["before"]["bucket"]
        current = bucket_policy(ctx.aws, bucket)
        if current is None or not any(s.get("Sid") == DENY_SID
                                      for s in current.get("Statement", [])):
            return StepPlan(notes=["ircli's deny statement is no longer there"])
        kept = [s for s in current["Statement"] if s.get("Sid") != DENY_SID]
        if not kept:
            return StepPlan(calls=[Call("s3", "delete_bucket_policy", {"Bucket": bucket},
                                        f"remove the bucket policy of {bucket} (it had only "
                                        "ircli's deny)")])
        return StepPlan(calls=[Call("s3", "put_bucket_policy", {
            "Bucket": bucket, "Policy": json.dumps({**current, "Statement": kept})},
            f"remove ircli's deny statement from the policy of {bucket}")])
