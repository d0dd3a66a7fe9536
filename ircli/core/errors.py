"""Errors the core raises, each with one sentence for the user and what to do next.

The CLI maps them to exit codes at one boundary (see ``ircli.cli.main``): the core only
decides *what* went wrong, never how it is shown.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    BUG = 1
    USER = 2
    PARTIAL = 3
    NOT_CONTAINED = 4
    NOT_COLLECTED = 5  # live response ran (or was sent) but no verified evidence came back
    INTERRUPTED = 130  # Ctrl-C before anything changed (or in a command that isolates nothing)


# From best to worst, for a run over many targets: one "not contained" outweighs any number of
# targets done; a bug outweighs everything (README, "Exit codes").
_SEVERITY = (ExitCode.OK, ExitCode.USER, ExitCode.PARTIAL, ExitCode.NOT_COLLECTED,
             ExitCode.NOT_CONTAINED, ExitCode.BUG)


def worst_exit_code(codes: list[int]) -> int:
    """The exit code of a run over many targets: the worst of theirs."""
    def rank(code: int) -> int:
        try:
            return _SEVERITY.index(ExitCode(code))
        except ValueError:  # an undocumented code (130: interrupted) ranks worst
            return len(_SEVERITY)

    return max(codes, key=rank, default=int(ExitCode.OK))


class IrcliError(Exception):
    """A failure the user can act on: a message and, where useful, a remediation."""

    exit_code: ExitCode = ExitCode.USER

    def __init__(self, message: str, remediation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation

    def to_dict(self) -> dict[str, object]:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "remediation": self.remediation,
            "exit_code": int(self.exit_code),
        }


class UserError(IrcliError):
    """The user's input or situation is wrong (exit 2)."""


class InvalidInput(UserError):
    """A malformed identifier or option value."""


class NotFound(UserError):
    """The named resource does not exist where we looked."""


class AccessDenied(UserError):
    """The caller lacks an IAM permission ircli needs."""


class CredentialsMissing(UserError):
    """No usable AWS credentials."""


class RegionMissing(UserError):
    """No AWS region configured."""


class ConfirmationRefused(UserError):
    """The user declined, or no terminal was there to ask."""


class ServiceUnreachable(UserError):
    """The AWS endpoint (or the emulator behind AWS_ENDPOINT_URL) cannot be reached."""


class StepFailed(IrcliError):
    """A step failed after it started changing AWS; the run result says how far it got."""

    exit_code = ExitCode.PARTIAL


class Interrupted(IrcliError):
    """Ctrl-C stopped a run: the message says what state it leaves, the exit code how far it got
    (3 isolated, 4 changes began but isolation was not reached, 130 otherwise)."""

    def __init__(self, message: str, remediation: str | None, exit_code: ExitCode,
                 summary: dict[str, object]) -> None:
        super().__init__(message, remediation)
        self.exit_code = exit_code
        self.summary = summary

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "interrupted": self.summary}
