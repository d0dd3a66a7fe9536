"""A small evaluator of resource policies (bucket and key policies), for what ircli checks.

AWS evaluates these policies; the emulator does not evaluate their conditions. ``forensics
check`` and the tests still need to know whether a statement set lets a member account's role
write under its own prefix only, so this answers one question: for this request, does the
policy end in an explicit Deny, an Allow, or neither? It knows the parts ircli's policies use:
``Principal``/``*``, ``Action``/``NotAction`` and ``Resource``/``NotResource`` with wildcards,
``${aws:…}`` variables in resources, and the String/Arn/Bool/Null condition operators (a
missing key fails a positive operator and satisfies a negated one, as in IAM). It is not a
general IAM engine: an identity policy must allow a cross-account request too.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_VARIABLE = re.compile(r"\$\{([\w:/-]+)\}")


@dataclass(frozen=True)
class Request:
    """Who asks for what: ``context`` holds the condition keys (``aws:PrincipalOrgID``…)."""

    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> str:
        parts = self.principal_arn.split(":")
        return parts[4] if len(parts) > 4 else ""

    def keys(self) -> dict[str, Any]:
        return {"aws:PrincipalArn": self.principal_arn, "aws:PrincipalAccount": self.account,
                **self.context}


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _principal_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        return False  # ircli writes none; treat as matching nobody rather than guess
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _values(principal.get("AWS", [])):
        value = str(value)
        if value == "*" or value == request.principal_arn:
            return True
        if value in (request.account, f"arn:aws:iam::{request.account}:root") or \
                re.fullmatch(rf"arn:[\w-]+:iam::{request.account}:root", value):
            return True
    return False


def _expand(pattern: str, keys: Mapping[str, Any]) -> str:
    return _VARIABLE.sub(lambda m: str(keys.get(m.group(1), "\0missing")), pattern)


def _listed(patterns: Iterable[Any], value: str, keys: Mapping[str, Any], *,
            case: bool) -> bool:
    return any(_like(_expand(str(p), keys), value, case=case) for p in patterns)


def _action_matches(statement: Mapping[str, Any], request: Request) -> bool:
    keys = request.keys()
    if "NotAction" in statement:
        return not _listed(_values(statement["NotAction"]), request.action, keys, case=False)
    return _listed(_values(statement.get("Action", [])), request.action, keys, case=False)


def _resource_matches(statement: Mapping[str, Any], request: Request) -> bool:
    keys = request.keys()
    if "NotResource" in statement:
        return not _listed(_values(statement["NotResource"]), request.resource, keys, case=True)
    return _listed(_values(statement.get("Resource", "*")), request.resource, keys, case=True)


def _operator(name: str, wanted: list[Any], present: Any) -> bool:
    base = name.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        return (present is None) == (str(wanted[0]).lower() == "true")
    negated = "Not" in base
    if present is None:
        return negated or if_exists
    have = [str(v) for v in _values(present)]
    if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        hit = any(h == str(w) for h in have for w in wanted)
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = any(h.lower() == str(w).lower() for h in have for w in wanted)
    elif base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        hit = any(_like(str(w), h) for h in have for w in wanted)
    elif base == "Bool":
        hit = any(h.lower() == str(w).lower() for h in have for w in wanted)
    else:
        raise ValueError(f"condition operator {name} is not known to this evaluator")
    return not hit if negated else hit


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    keys = {k.lower(): v for k, v in request.keys().items()}
    for operator, block in (statement.get("Condition") or {}).items():
        for key, wanted in block.items():
            if not _operator(operator, _values(wanted), keys.get(key.lower())):
                return False
    return True


def applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (_principal_matches(statement, request) and _action_matches(statement, request)
            and _resource_matches(statement, request) and _conditions_hold(statement, request))


def decide(statements: Iterable[Mapping[str, Any]], request: Request) -> str:
    """``"deny"`` (an explicit Deny applies), ``"allow"`` or ``"implicit-deny"``."""
    matched = [s for s in statements if applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in matched):
        return "deny"
    return "allow" if any(s.get("Effect") == "Allow" for s in matched) else "implicit-deny"


def allowed(statements: Iterable[Mapping[str, Any]], request: Request) -> bool:
    return decide(list(statements), request) == "allow"
