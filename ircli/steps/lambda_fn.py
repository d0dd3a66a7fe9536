"""Contain a compromised Lambda function: record it, stop its invocations, close its
resource policy to other accounts and the public, and deny its role to the function's own
sessions. Code is never changed or deleted.

Reserved concurrency 0 throttles every invocation at once and is undone by one call. The
role deny uses ``lambda:SourceFunctionArn``, the condition key Lambda puts on the execution
role's credentials, so other functions sharing the role keep working (as
``ec2:SourceInstanceARN`` does for an instance).
"""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.exceptions

from ircli.core.awserrors import error_code
from ircli.core.engine import RunContext
from ircli.core.errors import InvalidInput
from ircli.core.step import Call, Step, StepPlan, register
from ircli.steps.resource_change import RecordPreState, ResourceChange

_FUNCTION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_function_name(name: str) -> str:
    if not _FUNCTION.match(name):
        raise InvalidInput(f"'{name}' is not a Lambda function name.",
                           "Pass the function's name (letters, digits, - and _), not its ARN.")
    return name


def role_deny_policy_name(case_id: str) -> str:
    return f"ircli-deny-function-{case_id}"


def _fn(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.facts["function"])


def function_policy(ctx: RunContext, name: str) -> dict[str, Any] | None:
    try:
        text = ctx.aws.client("lambda").get_policy(FunctionName=name)["Policy"]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise
    return dict(json.loads(text))


def foreign(statement: dict[str, Any], account: str) -> bool:
    """A statement that lets the public or another account invoke the function."""
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
        return True
    if isinstance(principal, str):  # a bare principal (the emulator renders accounts so)
        if principal.endswith(".amazonaws.com"):
            return False
        principal = {"AWS": principal}
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    values = [aws] if isinstance(aws, str) else list(aws or [])
    return any(str(v).split(":")[4] != account if str(v).startswith("arn:") else
               str(v) != account for v in values)


@register
class RecordFunction(RecordPreState):
    """Write the function's configuration (env var names only), code identity, concurrency
    and resource policy to the case."""

    name = "record-function"
    title = "Record the function's configuration"
    permissions = ("lambda:GetFunction", "lambda:GetFunctionConcurrency", "lambda:GetPolicy")

    def record(self, ctx: RunContext) -> StepPlan:
        found = _fn(ctx)
        config = found["Configuration"]
        code = found.get("Code") or {}
        env = (config.get("Environment") or {}).get("Variables") or {}
        state = {"function": config["FunctionName"], "arn": config["FunctionArn"],
                 "role": config.get("Role"), "runtime": config.get("Runtime"),
                 "handler": config.get("Handler"), "version": config.get("Version"),
                 "code_sha256": config.get("CodeSha256"),
                 "package_type": config.get("PackageType"),
                 "repository_type": code.get("RepositoryType"),
                 "image_uri": code.get("ImageUri"),
                 "layers": [layer.get("Arn") for layer in config.get("Layers") or []],
                 "environment_variable_names": sorted(env),  # values may be secrets
                 "policy": function_policy(ctx, config["FunctionName"])}
        return StepPlan(before=state, notes=[
            f"code {state['code_sha256']}, {len(env)} env var name(s), "
            f"{len(state['layers'])} layer(s); `aws lambda get-function` gives a fresh "
            "download link for the code (a short-lived link is not kept)"])


@register
class ThrottleFunction(ResourceChange):
    """Reserved concurrency 0: no invocation runs until release."""

    name = "function-concurrency-zero"
    title = "Throttle every invocation (reserved concurrency 0)"
    permissions = ("lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency")
    undo_permissions = ("lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency")
    runbook_targets = ("function",)
    critical = True
    subject, setting, already = "function", "reserved", "reserved concurrency already 0"

    def read(self, ctx: RunContext) -> tuple[str, Any]:
        name = str(_fn(ctx)["Configuration"]["FunctionName"])
        return name, ctx.aws.client("lambda").get_function_concurrency(
            FunctionName=name).get("ReservedConcurrentExecutions")

    def change(self, resource: str, current: Any) -> Call | None:
        if current == 0:
            return None
        was = "unreserved" if current is None else current
        return Call("lambda", "put_function_concurrency", {
            "FunctionName": resource, "ReservedConcurrentExecutions": 0},
            f"set reserved concurrency of {resource} to 0 (was {was})")

    def restore(self, resource: str, recorded: Any) -> Call:
        if recorded is None:
            return Call("lambda", "delete_function_concurrency", {"FunctionName": resource},
                        f"remove the reserved concurrency of {resource}")
        return Call("lambda", "put_function_concurrency", {
            "FunctionName": resource, "ReservedConcurrentExecutions": recorded},
            f"restore reserved concurrency {recorded} on {resource}")


@register
class CloseFunctionPolicy(Step):
    """Remove the statements that let the public or other accounts invoke the function."""
    audience = "contain-resources"  # rewrites a policy of any resource of its kind

    name = "function-policy-close"
    title = "Remove public and cross-account statements from the function's policy"
    permissions = ("lambda:GetPolicy", "lambda:RemovePermission")
    undo_permissions = ("lambda:AddPermission",)
    runbook_targets = ("function",)

    def plan(self, ctx: RunContext) -> StepPlan:
        config = _fn(ctx)["Configuration"]
        name = config["FunctionName"]
        account = config["FunctionArn"].split(":")[4]
        policy = function_policy(ctx, name) or {}
        remove = [s for s in policy.get("Statement", []) if foreign(s, account)]
        plan = StepPlan(before={"function": name, "statements": remove})
        if not remove:
            plan.notes.append("no public or cross-account statement")
        for statement in remove:
            plan.calls.append(Call("lambda", "remove_permission", {
                "FunctionName": name, "StatementId": statement["Sid"]},
                f"remove statement {statement['Sid']} ({json.dumps(statement['Principal'])})",
                tolerate=("ResourceNotFoundException",)))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        return StepPlan(calls=[Call("lambda", "add_permission", _add_permission(
            before["function"], s), f"put statement {s['Sid']} back",
            tolerate=("ResourceConflictException",)) for s in before["statements"]])


def _add_permission(function: str, statement: dict[str, Any]) -> dict[str, Any]:
    """AddPermission parameters that recreate a recorded policy statement."""
    principal = statement["Principal"]
    if isinstance(principal, dict):
        principal = principal.get("AWS") or principal.get("Service") or "*"
    params: dict[str, Any] = {"FunctionName": function, "StatementId": statement["Sid"],
                              "Action": statement["Action"], "Principal": principal}
    condition = statement.get("Condition") or {}
    source_arn = (condition.get("ArnLike") or {}).get("AWS:SourceArn")
    source_account = (condition.get("StringEquals") or {}).get("AWS:SourceAccount")
    org = (condition.get("StringEquals") or {}).get("aws:PrincipalOrgID")
    url_auth = (condition.get("StringEquals") or {}).get("lambda:FunctionUrlAuthType")
    for key, value in (("SourceArn", source_arn), ("SourceAccount", source_account),
                       ("PrincipalOrgID", org), ("FunctionUrlAuthType", url_auth)):
        if value:
            params[key] = value
    return params


@register
class DenyFunctionRole(Step):
    """Deny everything to credentials the function's role issued to this function only."""
    audience = "contain-resources"  # rewrites a policy of any resource of its kind

    name = "function-role-deny"
    title = "Deny the execution role to this function's sessions"
    permissions = ("iam:GetRolePolicy", "iam:PutRolePolicy")
    undo_permissions = ("iam:DeleteRolePolicy",)
    runbook_targets = ("function",)
    critical = True

    def plan(self, ctx: RunContext) -> StepPlan:
        assert ctx.case is not None
        config = _fn(ctx)["Configuration"]
        role = str(config["Role"]).rsplit("/", 1)[-1]
        name = role_deny_policy_name(ctx.case.case_id)
        document = {"Version": "2012-10-17", "Statement": [{
            "Sid": "IrcliDenyFunctionSessions", "Effect": "Deny", "Action": "*",
            "Resource": "*", "Condition": {"ArnEquals": {
                "lambda:SourceFunctionArn": config["FunctionArn"]}}}]}
        plan = StepPlan(before={"role": role, "policy_name": name})
        try:
            current = ctx.aws.client("iam").get_role_policy(RoleName=role, PolicyName=name)[
                "PolicyDocument"]
        except botocore.exceptions.ClientError as err:
            if error_code(err) != "NoSuchEntity":
                raise
            current = None
        if current == document:
            plan.notes.append(f"{name} already on role {role}")
            return plan
        plan.calls.append(Call("iam", "put_role_policy", {
            "RoleName": role, "PolicyName": name, "PolicyDocument": json.dumps(document)},
            f"deny role {role} to credentials of function {config['FunctionName']}"))
        return plan

    def undo(self, ctx: RunContext, record: dict[str, Any]) -> StepPlan | None:
        before = record["before"]
        return StepPlan(calls=[Call("iam", "delete_role_policy", {
            "RoleName": before["role"], "PolicyName": before["policy_name"]},
            f"remove {before['policy_name']} from role {before['role']}",
            tolerate=("NoSuchEntity",))])
