"""Errors raised by live response; each carries a one-sentence message and a remediation.

They are user errors of the core hierarchy, so the CLI boundary shows them as one sentence
with a remediation and exit code 2.
"""

from __future__ import annotations

from ircli.core.errors import UserError


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
