"""Errors raised by live response; each carries a one-sentence message and a remediation.

They are user errors of the core hierarchy, so the CLI boundary shows them as one sentence
with a remediation and exit code 2 — except a collection that was sent but gave no verified
evidence (:class:`CollectError` with ``started``), exit 5.
"""

from __future__ import annotations

from ircli.core.errors import ExitCode, UserError


class LiveResponseError(UserError):
    """Base error: `message` says what went wrong, `remediation` what to do about it."""

    def __init__(self, message: str, remediation: str) -> None:
        super().__init__(message, remediation)

    def __str__(self) -> str:
        return f"{self.message} Remediation: {self.remediation}"


class DocumentNotFoundError(LiveResponseError):
    """A shipped SSM document could not be located on disk."""


class DocumentInvalidError(LiveResponseError):
    """An SSM document failed the offline checks."""


class ParameterError(LiveResponseError):
    """A parameter value is missing, unknown or does not match its allowedPattern."""


class EmulatorInternalsError(LiveResponseError):
    """moto's SSM internals no longer look like what the agent substitute expects."""


class AgentError(LiveResponseError):
    """The agent substitute could not run a command."""


class CollectError(LiveResponseError):
    """Live response could not start (exit 2) or gave no verified evidence (exit 5).

    ``reason`` is a stable word for playbooks (``not-managed``, ``timed-out``, ...); ``details``
    carries what was learned on the way (stderr tail, HTTP status) for the case record.
    """

    def __init__(self, reason: str, message: str, remediation: str, *, started: bool = True,
                 **details: object) -> None:
        super().__init__(message, remediation)
        self.reason = reason
        self.details = details
        self.exit_code = ExitCode.NOT_COLLECTED if started else ExitCode.USER
