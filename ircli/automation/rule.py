"""The EventBridge pattern that starts a runbook's state machine: GuardDuty findings of the
runbook's types at or above a minimum severity.

A runbook names finding types as GuardDuty type patterns (``Backdoor:EC2/*``,
``*:Runtime/*``). EventBridge has no fnmatch: an exact type stays a string, a pattern whose
only ``*`` ends it becomes a ``prefix`` matcher, any other ``*`` a ``wildcard`` matcher. A
type limited to one resource role (``TARGET``/``ACTOR``) also matches
``detail.service.resourceRole``; types with different roles are ORed (``$or``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ircli.core.errors import UserError
from ircli.runbook.model import FindingPattern

SOURCE = "aws.guardduty"
DETAIL_TYPE = "GuardDuty Finding"
MAX_PATTERN_CHARS = 4096  # PutRule's EventPattern length limit
# GuardDuty severities: low 1-3.9, medium 4-6.9, high 7-8.9, critical 9-10 (attack sequences)
SEVERITY_RANGE = (1.0, 10.0)


class PatternNotExpressible(UserError):
    """A finding type pattern EventBridge cannot match (fnmatch ``?`` or ``[...]``)."""


def type_matcher(pattern: str) -> str | dict[str, str]:
    """The EventBridge matcher of one GuardDuty finding type pattern."""
    if "?" in pattern or "[" in pattern or "\\" in pattern:
        raise PatternNotExpressible(
            f"The finding type pattern {pattern!r} uses ?, [ ] or \\, which an EventBridge "
            "rule cannot match.",
            "Write the runbook's finding types with * only (e.g. Backdoor:EC2/*).")
    if "*" not in pattern:
        return pattern
    if pattern.count("*") == 1 and pattern.endswith("*") and len(pattern) > 1:
        return {"prefix": pattern[:-1]}
    return {"wildcard": pattern}


def _as_pattern(value: FindingPattern | str) -> FindingPattern:
    return value if isinstance(value, FindingPattern) else FindingPattern(value)


def _matchers(patterns: Iterable[FindingPattern]) -> list[Any]:
    found: list[Any] = []
    for pattern in patterns:
        matcher = type_matcher(pattern.pattern)
        if matcher not in found:
            found.append(matcher)
    return found


def check_severity(severity: float) -> float:
    low, high = SEVERITY_RANGE
    if not low <= severity <= high:
        raise UserError(f"A minimum severity of {severity:g} is outside GuardDuty's range "
                        f"({low:g} to {high:g}).",
                        "Pass --severity between 1 (low) and 10; 4 is medium, 7 high, 9 critical.")
    return severity


def event_pattern(finding_types: Sequence[FindingPattern | str],
                  min_severity: float) -> dict[str, Any]:
    """The rule's event pattern for these finding types, ``detail.severity >= min_severity``."""
    if not finding_types:
        raise UserError("The runbook names no finding types, so no GuardDuty finding can "
                        "start it.", "Add finding_types to the runbook.")
    check_severity(min_severity)
    by_role: dict[str | None, list[FindingPattern]] = {}
    for value in finding_types:
        finding = _as_pattern(value)
        by_role.setdefault(finding.resource_role, []).append(finding)
    clauses: list[dict[str, Any]] = []
    for role, patterns in by_role.items():
        clause: dict[str, Any] = {"type": _matchers(patterns)}
        if role is not None:
            clause["service"] = {"resourceRole": [role]}
        clauses.append(clause)
    detail: dict[str, Any] = {"severity": [{"numeric": [">=", min_severity]}]}
    if len(clauses) == 1:
        detail.update(clauses[0])
    else:
        detail["$or"] = clauses
    pattern: dict[str, Any] = {"source": [SOURCE], "detail-type": [DETAIL_TYPE], "detail": detail}
    size = len(pattern_json(pattern))
    if size > MAX_PATTERN_CHARS:
        raise UserError(f"The runbook's finding types make an EventBridge pattern of {size} "
                        f"characters; a rule takes at most {MAX_PATTERN_CHARS}.",
                        "Merge finding types into wildcards (e.g. Backdoor:EC2/*).")
    return pattern


def pattern_json(pattern: dict[str, Any]) -> str:
    """The pattern as PutRule takes it (compact, keys in a stable order)."""
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))
