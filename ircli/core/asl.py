"""Small builders for Amazon States Language states, shared by the steps' ``compile`` methods.

Only what AWS documents: ``arn:aws:states:::aws-sdk:SERVICE:action`` tasks (camelCase actions,
PascalCase parameters), JSONPath with intrinsic functions (no JSONata). Errors of an aws-sdk
task are named ``<Service>.<Exception>`` (EC2's SDK has one exception for every error code:
``Ec2.Ec2Exception``, the code only in the cause), so a retry on EC2 throttling is a retry on
``Ec2.Ec2Exception``, bounded; eventual consistency (a new group not yet visible) is the same
error and the same retry.
"""

from __future__ import annotations

from typing import Any

from ircli.core.step import FAIL, NEXT

# Step Functions' own names for the services ircli calls (not always boto3's).
SERVICE_ERROR = {"ec2": "Ec2", "iam": "Iam", "s3": "S3", "sns": "Sns",
                 "autoscaling": "AutoScaling", "elasticloadbalancingv2": "ElasticLoadBalancingV2"}

# Throttling and eventual consistency: a handful of attempts with jittered exponential backoff.
THROTTLED = ["Ec2.RequestLimitExceeded", "Ec2.Ec2Exception", "Iam.ThrottlingException",
             "AutoScaling.ThrottlingException", "ElasticLoadBalancingV2.ThrottlingException",
             "Sns.ThrottledException", "S3.SlowDownException"]
RETRY_THROTTLED: dict[str, Any] = {"ErrorEquals": THROTTLED, "IntervalSeconds": 1,
                                   "BackoffRate": 2.0, "MaxAttempts": 4,
                                   "JitterStrategy": "FULL"}


def sdk(service: str, action: str) -> str:
    return f"arn:aws:states:::aws-sdk:{service}:{action}"


def task(service: str, action: str, parameters: dict[str, Any], *, next_state: str = NEXT,
         result_path: str | None = None, result_selector: dict[str, Any] | None = None,
         retry: bool = True, catch: str | None = FAIL, comment: str = "") -> dict[str, Any]:
    """One aws-sdk Task; its failures (after the retries) go to ``catch`` with the error at
    ``$.error``."""
    state: dict[str, Any] = {"Type": "Task", "Resource": sdk(service, action),
                             "Parameters": parameters, "ResultPath": result_path}
    if comment:
        state["Comment"] = comment
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    if retry:
        state["Retry"] = [dict(RETRY_THROTTLED)]
    if catch is not None:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": catch}]
    state["Next"] = next_state
    return state


def pass_state(parameters: dict[str, Any] | None, result_path: str | None, next_state: str,
               comment: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Pass", "Next": next_state}
    if parameters is not None:
        state["Parameters"] = parameters
    if result_path is not None or parameters is not None:
        state["ResultPath"] = result_path
    if comment:
        state["Comment"] = comment
    return state


def first(path: str) -> str:
    """The first match of a wildcard path, as an intrinsic (works alike on AWS and moto)."""
    return f"States.ArrayGetItem({path}, 0)"


def choice(choices: list[dict[str, Any]], default: str) -> dict[str, Any]:
    return {"Type": "Choice", "Choices": choices, "Default": default}


def map_state(items_path: str, selector: dict[str, Any], states: dict[str, dict[str, Any]],
              start: str, *, result_path: str | None, next_state: str, catch: str | None = FAIL,
              concurrency: int = 1) -> dict[str, Any]:
    """An inline Map; each iteration gets ``selector`` (``$$.Map.Item.Value`` is the item)."""
    state: dict[str, Any] = {
        "Type": "Map", "ItemsPath": items_path, "ItemSelector": selector,
        "MaxConcurrency": concurrency,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": start,
                          "States": states},
        "ResultPath": result_path, "Next": next_state}
    if catch is not None:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": catch}]
    return state


def end_pass(parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The last state of a Map iteration: its output is the iteration's result."""
    state: dict[str, Any] = {"Type": "Pass", "End": True}
    if parameters is not None:
        state["Parameters"] = parameters
    return state


def fail_with(error: str, cause: str, next_state: str = FAIL) -> dict[str, Any]:
    """Record an error of ircli's own at ``$.error`` and go to the step's failure exit."""
    return {"Type": "Pass", "Result": {"Error": error, "Cause": cause}, "ResultPath": "$.error",
            "Next": next_state}
