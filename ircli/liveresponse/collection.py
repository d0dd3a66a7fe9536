"""What a collection is asked to do (:class:`CollectSettings`) and what it became
(:class:`Collection`): plain data shared by the ``collect`` step, the operations and runbooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ircli.core.errors import InvalidInput
from ircli.liveresponse.errors import CollectError
from ircli.liveresponse.invocation import delivery_timeout
from ircli.liveresponse.reach import OS_CHOICES
from ircli.liveresponse.upload import URL_MARGIN_SECONDS

# The collectors' sections, in order (both scripts define the same list; a test checks it).
SECTIONS = ("memory", "system", "processes", "process_detail", "sockets", "network_config",
            "sessions", "kernel", "system_state", "open_files", "containers", "temp_files",
            "storage", "filesystem", "findings", "keys", "persistence", "etc", "packages",
            "integrity", "user_activity", "logs")
_SECTIONS = re.compile(r"^(all|[a-z_]{1,32}(,[a-z_]{1,32}){0,31})$")
_COLLECTOR_FIELDS = ("status", "exit_code", "host", "format", "files", "skipped_files",
                     "steps_ok", "steps_failed", "steps_timed_out", "steps_skipped",
                     "failed_steps", "timed_out_steps", "skipped_steps", "upload_http",
                     "upload_error", "archive_kept", "duration_s", "collector_version", "error")


@dataclass
class CollectSettings:
    """What to collect and how long to wait; every field has the default a runbook gets."""

    os: str = "auto"
    timeout: int = 900
    wait: bool = True
    include_memory: bool = False
    sections: str = "all"
    max_total_mb: int = 1024
    max_file_mb: int = 10
    bucket: str | None = None

    def __post_init__(self) -> None:
        """Accept the strings a runbook file may carry ("900", "false")."""
        for name in ("timeout", "max_total_mb", "max_file_mb"):
            value = getattr(self, name)
            if isinstance(value, str) and value.isdigit():
                setattr(self, name, int(value))
        for name in ("wait", "include_memory"):
            value = getattr(self, name)
            if isinstance(value, str) and value.lower() in ("true", "false"):
                setattr(self, name, value.lower() == "true")

    def validate(self) -> None:
        if self.os not in OS_CHOICES:
            raise InvalidInput(f"--os must be one of {', '.join(OS_CHOICES)}.")
        if not 60 <= self.timeout <= 172800:
            raise InvalidInput(f"--timeout {self.timeout} is out of range.",
                               "Give 60 to 172800 seconds (SSM's limit is 48 hours).")
        unknown = sorted(set(self.sections.split(",")) - {"all", *SECTIONS})
        if not _SECTIONS.match(self.sections) or unknown or \
                ("all" in self.sections.split(",") and self.sections != "all"):
            raise InvalidInput(f"--sections {self.sections!r} names no known section set"
                               + (f" ({', '.join(unknown)})" if unknown else "") + ".",
                               f"Use all, or a comma list of: {', '.join(SECTIONS[1:])}.")
        if not (1 <= self.max_file_mb <= self.max_total_mb <= 999999):
            raise InvalidInput("The size caps must satisfy 1 <= --max-file-mb <= "
                               "--max-total-mb <= 999999.")

    def parameters(self, case_id: str) -> dict[str, str]:
        """The document parameters, except the upload URL (minted when the command is sent)."""
        return {"CaseId": case_id, "TimeoutSeconds": str(self.timeout),
                "MaxTotalMB": str(self.max_total_mb), "MaxFileMB": str(self.max_file_mb),
                "IncludeMemory": "true" if self.include_memory else "false",
                "Sections": self.sections}


def url_lifetime(timeout: int) -> int:
    """The upload URL lives as long as the command may take to start and run, plus a margin."""
    return delivery_timeout(timeout) + timeout + URL_MARGIN_SECONDS


@dataclass
class Collection:
    """One collection as the case records it and the result reports it."""

    status: str  # planned | sent | collected | partial | failed
    os: str | None = None
    document: str | None = None
    document_version: str | None = None
    bucket: str | None = None
    key: str | None = None
    command_id: str | None = None
    version_id: str | None = None
    sha256: str | None = None
    size: int | None = None
    requested_at: str | None = None
    completed_at: str | None = None
    url_expires_at: str | None = None
    timeout_seconds: int | None = None
    reason: str | None = None
    message: str | None = None
    remediation: str | None = None
    invocation: dict[str, Any] = field(default_factory=dict)
    collector: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def fail(self, err: CollectError) -> None:
        self.status, self.reason = "failed", err.reason
        self.message, self.remediation = err.message, err.remediation
        details = dict(err.details)
        tail = details.pop("stderr_tail", None)
        self.stderr_tail = str(tail) if tail else self.stderr_tail
        collector = details.pop("collector", None)
        if isinstance(collector, dict):
            self.collector = collector_summary(collector)
        self.invocation.update(details)


def collector_summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in _COLLECTOR_FIELDS if k in result}
