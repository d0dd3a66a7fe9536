"""Which runbook answers a finding: the most specific finding-type pattern wins.

Specificity: an exact type beats a pattern, a longer literal part beats a shorter one, and a
pattern limited to the finding's resource role beats one that is not. A finding nothing
answers gets the closest runbooks by how alike their patterns are to its type.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ircli.runbook.model import FindingPattern, Runbook
from ircli.triage.applicable import fits
from ircli.triage.finding import Finding

_WILDCARDS = re.compile(r"[*?\[\]]")


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    pattern: FindingPattern
    also: list[str] = field(default_factory=list)  # other runbooks that match less closely

    def to_dict(self) -> dict[str, Any]:
        return {"runbook": self.runbook.name, "pattern": self.pattern.to_dict(),
                "also_matching": self.also, "source": self.runbook.source,
                "file": str(self.runbook.path)}


def _specificity(pattern: FindingPattern) -> tuple[int, int, int]:
    literal = len(_WILDCARDS.sub("", pattern.pattern))
    exact = 0 if _WILDCARDS.search(pattern.pattern) else 1
    return exact, literal, 1 if pattern.resource_role else 0


def _matches(pattern: FindingPattern, finding: Finding) -> bool:
    if pattern.resource_role and finding.resource_role and \
            pattern.resource_role != finding.resource_role:
        return False
    return fnmatchcase(finding.type, pattern.pattern)


def match_runbook(finding: Finding, runbooks: list[Runbook]) -> Match | None:
    """The best runbook for the finding, or None when no pattern answers its type."""
    candidates = []
    for runbook in runbooks:
        if not fits(finding, runbook.target):
            continue  # a pod-only finding never gets the instance runbook, a role no key one
        hits = [p for p in runbook.finding_types if _matches(p, finding)]
        if hits:
            best = max(hits, key=_specificity)
            candidates.append((_specificity(best), runbook.name, runbook, best))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[1])
    candidates.sort(key=lambda c: c[0], reverse=True)  # stable: by name among equals
    _, _, runbook, pattern = candidates[0]
    return Match(runbook, pattern, [c[1] for c in candidates[1:]])


def closest_runbooks(finding: Finding, runbooks: list[Runbook], n: int = 3
                     ) -> list[dict[str, Any]]:
    """The ``n`` runbooks whose patterns look most like the finding's type."""
    scored: list[dict[str, Any]] = []
    for runbook in runbooks:
        if not runbook.finding_types or not fits(finding, runbook.target):
            continue
        best = max(runbook.finding_types, key=lambda p: _likeness(finding.type, p.pattern))
        scored.append({"runbook": runbook.name, "pattern": best.pattern,
                       "similarity": round(_likeness(finding.type, best.pattern), 2)})
    scored.sort(key=lambda s: str(s["runbook"]))
    scored.sort(key=lambda s: float(s["similarity"]), reverse=True)
    return scored[:n]


def _likeness(finding_type: str, pattern: str) -> float:
    """0..1; the resource part (``EC2``, ``IAMUser``) counts double: it decides the target."""
    literal = _WILDCARDS.sub("", pattern)
    whole = difflib.SequenceMatcher(None, finding_type, literal).ratio()
    resource = _resource(finding_type) == _resource(pattern)
    return (whole + (1.0 if resource else 0.0)) / 2


def _resource(finding_type: str) -> str:
    """``Recon:EC2/PortProbe`` -> ``EC2``."""
    return finding_type.partition(":")[2].partition("/")[0]
