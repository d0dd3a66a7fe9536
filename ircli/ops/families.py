"""Runbooks on the target kinds beyond instances, keys and addresses: roles and containers.

Each runs like ``revoke-sessions`` does: the target resolved before the run (a role that
does not exist is a clear error before any plan), then the kind's preamble and the
runbook's steps under the target's case, with the same record, audit and result.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ircli.aws.iam_identity import get_role
from ircli.core.awserrors import error_code
from ircli.core.clock import Clock
from ircli.core.engine import Emit, RunContext
from ircli.core.errors import NotFound, UserError
from ircli.core.session import AwsSession
from ircli.core.step import Step
from ircli.ops.common import (
    RunSummary,
    pick_case,
    run_under_case,
)
from ircli.ops.identity import role_target
from ircli.steps.advice import parse_workload
from ircli.steps.lambda_fn import check_function_name
from ircli.steps.rds import check_db_identifier
from ircli.steps.s3_bucket import check_bucket_name
from ircli.steps.trail import check_trail_name

FAMILY_KINDS = ("role", "container", "bucket", "trail", "function", "db")
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"


def container_target(target: str) -> str:
    cluster, namespace, pod = parse_workload(target)
    return f"workload/{cluster}" + (f"/{namespace}/{pod}" if namespace else "")


def resolve_role(aws: AwsSession, name: str) -> dict[str, Any]:
    """The role (GetRole); roles whose sessions IAM cannot deny are refused with the way out."""
    role = get_role(aws, name)
    path = str(role.get("Path", ""))
    if path.startswith("/aws-service-role/"):
        raise UserError(f"{name} is a service-linked role, whose sessions AWS does not let "
                        "anyone revoke.",
                        "Contain what uses it instead (the instance, the user, the service).")
    if path.startswith(SSO_PATH):
        raise UserError(f"{name} belongs to an IAM Identity Center permission set, which IAM "
                        "does not let anyone change.",
                        "In Identity Center, disable the user and add an aws:TokenIssueTime "
                        "deny to the permission set's inline policy, then re-provision it.")
    return role


def resolve_bucket(aws: AwsSession, name: str) -> str:
    """The bucket, if it exists and this account may see it; one sentence otherwise."""
    check_bucket_name(name)
    try:
        aws.client("s3").head_bucket(Bucket=name)
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("404", "NoSuchBucket", "NotFound"):
            raise NotFound(f"S3 bucket {name} does not exist.",
                           "Check the bucket name (the finding names it).") from err
        raise
    return name


def resolve_trail(aws: AwsSession, name: str) -> dict[str, Any]:
    check_trail_name(name)
    try:
        return dict(aws.client("cloudtrail").get_trail(Name=name)["Trail"])
    except botocore.exceptions.ClientError as err:
        if error_code(err) in ("TrailNotFoundException", "InvalidTrailNameException"):
            raise NotFound(f"CloudTrail trail {name} was not found in {aws.region}.",
                           "Check the name, and pass --region of the trail's home region.") \
                from err
        raise


def resolve_function(aws: AwsSession, name: str) -> dict[str, Any]:
    check_function_name(name)
    try:
        return dict(aws.client("lambda").get_function(FunctionName=name))
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            raise NotFound(f"Lambda function {name} was not found in {aws.region}.",
                           "Check the name and --region.") from err
        raise


def resolve_db(aws: AwsSession, name: str) -> dict[str, Any]:
    check_db_identifier(name)
    try:
        found = aws.client("rds").describe_db_instances(DBInstanceIdentifier=name)
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "DBInstanceNotFound":
            raise NotFound(f"RDS DB instance {name} was not found in {aws.region}.",
                           "Check the identifier and --region (Aurora clusters: contain "
                           "each instance).") from err
        raise
    return dict(found["DBInstances"][0])


def run_family_steps(aws: AwsSession, clock: Clock, kind: str, target: str, steps: list[Step],
                     *, case_id: str | None, dry_run: bool, command: str,
                     facts: dict[str, Any], options: dict[str, Any], extra: dict[str, Any],
                     emit: Emit | None = None) -> RunSummary:
    """Run ``steps`` (the kind's preamble first) on a role or a container workload."""
    if kind == "role":
        role = resolve_role(aws, target)
        ctx = RunContext(aws, clock, role_target(role["RoleName"]), dry_run=dry_run, emit=emit)
        ctx.facts["role"] = role
        record = {"kind": "iam-role", "name": role["RoleName"], "arn": role["Arn"]}
        fields = {"target": ctx.target_id, "role_name": role["RoleName"],
                  "role_arn": role["Arn"]}
        done = "contained"
        follow_up = [f"New sessions of role {role['RoleName']} still work: contain whatever "
                     "let the attacker assume it (a user's key, another role, the trust "
                     "policy), then look in CloudTrail for what the sessions did.",
                     f"`ircli release --role {role['RoleName']}` lifts the revocation and "
                     "restores a trust policy ircli changed."]
    elif kind == "bucket":
        bucket = resolve_bucket(aws, target)
        ctx = RunContext(aws, clock, f"bucket/{bucket}", dry_run=dry_run, emit=emit)
        ctx.facts["bucket"] = bucket
        record = {"kind": "s3-bucket", "name": bucket}
        fields = {"target": ctx.target_id, "bucket": bucket}
        done = "contained"
        follow_up = ["ircli did not touch objects or versioning: look in CloudTrail data "
                     "events and server access logs for what was read or written, and "
                     "contain the caller the finding names (its key or role).",
                     f"`ircli release --bucket {bucket}` restores the public access block and "
                     "removes ircli's deny statement."]
    elif kind == "db":
        db = resolve_db(aws, target)
        ctx = RunContext(aws, clock, f"db/{db['DBInstanceIdentifier']}", dry_run=dry_run,
                         emit=emit)
        ctx.facts["db"] = db
        record = {"kind": "rds-db-instance", "name": db["DBInstanceIdentifier"],
                  "arn": db.get("DBInstanceArn")}
        fields = {"target": ctx.target_id, "db": db["DBInstanceIdentifier"]}
        done = "contained"
        follow_up = ["Rotate the database users' passwords (the finding names the user) and "
                     "review the database's own audit log; ircli changed no data.",
                     f"`ircli release --db {db['DBInstanceIdentifier']}` restores the "
                     "groups, public accessibility and deletion protection (the snapshot "
                     "stays)."]
    elif kind == "function":
        found = resolve_function(aws, target)
        name = found["Configuration"]["FunctionName"]
        ctx = RunContext(aws, clock, f"function/{name}", dry_run=dry_run, emit=emit)
        ctx.facts["function"] = found
        record = {"kind": "lambda-function", "name": name,
                  "arn": found["Configuration"]["FunctionArn"]}
        fields = {"target": ctx.target_id, "function": name,
                  "function_arn": found["Configuration"]["FunctionArn"]}
        done = "contained"
        follow_up = ["Review the function's code and layers against the recorded CodeSha256, "
                     "its event source mappings and function URL; rotate the secrets its "
                     "environment variables name.",
                     f"`ircli release --function {name}` restores concurrency, the removed "
                     "statements and the role."]
    elif kind == "trail":
        trail = resolve_trail(aws, target)
        ctx = RunContext(aws, clock, f"trail/{trail['Name']}", dry_run=dry_run, emit=emit)
        ctx.facts["trail"] = trail["Name"]
        record = {"kind": "cloudtrail-trail", "name": trail["Name"],
                  "arn": trail.get("TrailARN")}
        fields = {"target": ctx.target_id, "trail": trail["Name"],
                  "trail_arn": trail.get("TrailARN")}
        done = "contained"
        follow_up = ["Contain the principal that stopped the trail (the finding's access "
                     "key): `ircli disable-keys --access-key-id KEY` for an IAM user's key, "
                     "`ircli revoke-sessions --role ROLE` for a role's session.",
                     "Check the trail's bucket policy, KMS key and log file validation: "
                     "tampering rarely stops at StopLogging."]
    else:
        ctx = RunContext(aws, clock, container_target(target), dry_run=dry_run, emit=emit)
        ctx.facts["workload"] = target
        record = {"kind": "container-workload", "name": target}
        fields = {"target": ctx.target_id, "workload": target}
        done = "manual"
        follow_up = ["ircli changed nothing in Kubernetes: run the actions in the plan, then "
                     "contain the node with `ircli contain INSTANCE_ID` if the pod escaped."]
    ctx.facts.update(facts)
    case = pick_case(case_id, None, ctx, ctx.target_id)
    return run_under_case(ctx, command, case, steps, done, record, fields, options=options,
                          follow_up=lambda: follow_up, extra=extra)
