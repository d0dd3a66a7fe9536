"""A runbook as loaded: its header, its steps with their arguments, and any load errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ircli.core.errors import UserError

TARGET_PLACEHOLDER = "${target}"


@dataclass(frozen=True)
class RunbookError:
    """One problem in a runbook file: where it is, what is wrong, how to fix it."""

    path: Path
    line: int
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "line": self.line, "message": self.message,
                "fix": self.fix}


@dataclass(frozen=True)
class FindingPattern:
    """A GuardDuty finding type pattern (fnmatch), optionally only for one resource role."""

    pattern: str
    resource_role: str | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.pattern, "resource_role": self.resource_role}


@dataclass(frozen=True)
class StepSpec:
    """One entry of ``steps``: a registered step name and the arguments for its ``__init__``."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass
class Runbook:
    name: str
    path: Path
    source: str  # shipped | user | file
    description: str = ""
    target: str = ""
    finding_types: list[FindingPattern] = field(default_factory=list)
    steps: list[StepSpec] = field(default_factory=list)
    errors: list[RunbookError] = field(default_factory=list)
    overrides: Path | None = None  # the shipped file a user runbook of the same name replaces

    @property
    def valid(self) -> bool:
        return not self.errors

    def require_valid(self) -> None:
        """Raise the load errors as one user error (exit 2) naming file, line and fix."""
        if self.errors:
            raise RunbookInvalid(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.path), "source": self.source,
                "description": self.description, "target": self.target,
                "finding_types": [p.to_dict() for p in self.finding_types],
                "steps": [{"step": s.name, "args": s.args} for s in self.steps],
                "valid": self.valid, "errors": [e.to_dict() for e in self.errors],
                "overrides": str(self.overrides) if self.overrides else None}


class RunbookInvalid(UserError):
    """A runbook that does not load; the message names the first problem's file and line."""

    def __init__(self, errors: list[RunbookError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        super().__init__(f"{first.path}:{first.line}: {first.message}{more}",
                         first.fix or f"Run `ircli runbook validate {first.path}` for the list.")
        self.errors = errors
