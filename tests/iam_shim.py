"""Named shims for how moto enforces IAM, read from moto 5.2's source.

``moto/iam/access_control.py`` (``IAMPolicyStatement.is_action_permitted``) and
``moto/core/responses.py`` (``call_action`` → ``_determine_resource``):

* **Resources.** moto matches a statement's ``Resource`` against the request's resource ARN
  only for S3 (bucket / object ARNs), for IAM requests that name a ``RoleName`` (the role's
  ARN), STS ``AssumeRole`` and SQS. Every other request is checked against the literal ``*``,
  which a scoped resource pattern never matches. :func:`moto_view` widens, in the copy of a
  policy handed to moto, the resources of exactly those actions to ``*``; AWS checks them.
* **Conditions.** A condition in the caller's policy is treated as met: the request carries no
  condition values, and ``TrustCondition.verify_condition`` passes on an empty list. So an
  ``Allow`` with ``iam:PolicyARN`` or ``iam:PassedToService`` allows whatever the condition
  would refuse. :func:`allows` evaluates a statement's resources and its ``ArnLike`` /
  ``StringLike`` / ``ArnEquals`` / ``StringEquals`` conditions as IAM documents them, for the
  tests that must show such a condition refusing.
* **PassRole** is never checked by moto (``RunInstances`` does not ask for it).
"""

from __future__ import annotations

import copy
import fnmatch
from functools import cache
from typing import Any

import botocore.session


@cache
def _iam_role_actions() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("iam")
    shapes = {name: model.operation_model(name).input_shape for name in model.operation_names}
    return frozenset(f"iam:{name}" for name, shape in shapes.items()
                     if shape is not None and "RoleName" in shape.members)


def moto_checks_resource(action: str) -> bool:
    return action.startswith("s3:") or action in _iam_role_actions() or action == "sts:AssumeRole"


def moto_view(policy: dict[str, Any]) -> dict[str, Any]:
    """``policy`` as moto can enforce it: scoped actions moto checks against ``*`` get ``*``."""
    out = copy.deepcopy(policy)
    widened = []
    for statement in out["Statement"]:
        resources = statement["Resource"]
        if resources == "*" or statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        blind = [a for a in actions if not moto_checks_resource(a)]
        if blind:
            statement["Action"] = [a for a in actions if a not in blind]
            widened.append({"Sid": statement["Sid"] + "MotoShim", "Effect": "Allow",
                            "Action": blind, "Resource": "*"})
    out["Statement"] = [s for s in out["Statement"] if s["Action"]] + widened
    return out


def _match(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character (case-sensitive)."""
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in ("ArnLike", "StringLike", "ArnEquals", "StringEquals"):
            raise NotImplementedError(operator)
        for key, expected in keys.items():
            expected = [expected] if isinstance(expected, str) else expected
            if key not in context:
                return False
            if operator.endswith("Like"):
                ok = any(_match(p, context[key]) for p in expected)
            else:
                ok = context[key] in expected
            if not ok:
                return False
    return True


def allows(policy: dict[str, Any], action: str, resource: str,
           context: dict[str, str] | None = None) -> bool:
    """Whether ``policy`` allows ``action`` on ``resource`` with these condition values."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) \
            else [statement["Resource"]]
        if not any(_match(a, action) for a in actions):
            continue
        if not any(_match(r, resource) for r in resources):
            continue
        if _condition_holds(statement.get("Condition", {}), context or {}):
            return True
    return False


def _resolve(value: str, context: dict[str, str]) -> str | None:
    """A ``${key}`` policy variable's value; None when the request has no such key."""
    if value.startswith("${") and value.endswith("}"):
        return context.get(value[2:-1])
    return value


def _deny_condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """The conditions ircli's deny uses, as AWS documents them. A negated operator matches a
    request without the key; a variable without a value is taken as matching nothing (the
    most lenient reading, so the deny is shown to hold even then)."""
    for operator, keys in condition.items():
        for key, expected in keys.items():
            expected = [expected] if isinstance(expected, str) else expected
            present = key in context
            if operator == "Null":
                if (not present) != (expected == ["true"]):
                    return False
            elif operator == "StringLike":
                if not present or not any(_match(p, context[key]) for p in expected):
                    return False
            elif operator == "StringNotEquals":
                values = [_resolve(v, context) for v in expected]
                if None in values:
                    return False
                if present and context[key] in values:
                    return False
            else:
                raise NotImplementedError(operator)
    return True


def denies(policy: dict[str, Any], action: str, context: dict[str, str]) -> bool:
    """Whether a Deny statement of ``policy`` (on ``*``) refuses ``action`` in ``context``."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny":
            continue
        if "NotAction" in statement:
            concerned = not any(_match(a, action) for a in statement["NotAction"])
        else:
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            concerned = any(_match(a, action) for a in actions)
        if concerned and _deny_condition_holds(statement.get("Condition", {}), context):
            return True
    return False
