"""Turn botocore exceptions into ircli errors with one clear sentence and a remediation."""

from __future__ import annotations

import botocore.exceptions

from ircli.core.errors import (
    AccessDenied,
    CredentialsMissing,
    IrcliError,
    NotFound,
    RegionMissing,
    ServiceUnreachable,
    UserError,
)

_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError, or '' for anything else."""
    if isinstance(err, botocore.exceptions.ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def operation_name(err: BaseException) -> str:
    return str(getattr(err, "operation_name", "") or "")


def translate(err: BaseException) -> IrcliError | None:
    """An :class:`IrcliError` for failures the user can fix, or None for anything else."""
    if isinstance(err, IrcliError):
        return err
    if isinstance(err, botocore.exceptions.NoCredentialsError | botocore.exceptions.
                  PartialCredentialsError):
        return CredentialsMissing(
            "No AWS credentials were found.",
            "Configure credentials with `aws configure`, AWS_PROFILE, or the AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY environment variables (or `eval \"$(ircli lab env)\"` for the "
            "local lab).",
        )
    if isinstance(err, botocore.exceptions.NoRegionError):
        return RegionMissing(
            "No AWS region is set.", "Pass --region, or set AWS_REGION or AWS_DEFAULT_REGION."
        )
    if isinstance(err, botocore.exceptions.ProfileNotFound):
        return UserError(f"{err}.", "Check --profile / AWS_PROFILE against ~/.aws/config.")
    if isinstance(err, botocore.exceptions.EndpointConnectionError | botocore.exceptions.
                  ConnectTimeoutError):
        return ServiceUnreachable(
            f"Could not reach the AWS endpoint {getattr(err, 'kwargs', {}).get('endpoint_url', '')}"
            .rstrip() + ".",
            "Check the region, your network, and AWS_ENDPOINT_URL if you use an emulator.",
        )
    code = error_code(err)
    if code in _DENIED:
        op = operation_name(err)
        return AccessDenied(
            f"AWS refused {op or 'a call'}: {code} ({_message(err)}).",
            "Run `ircli policy` to see the IAM permissions ircli needs, and grant them to the "
            "identity you are using (or pass --role-arn).",
        )
    if code.endswith(".NotFound") or code.endswith("NotFound") or code == "NoSuchEntity":
        return NotFound(f"{_message(err)} ({code}).")
    return None


def _message(err: BaseException) -> str:
    if isinstance(err, botocore.exceptions.ClientError):
        return str(err.response.get("Error", {}).get("Message", "")).rstrip(".")
    return str(err)


def describe(err: BaseException) -> str:
    """A one-line description of any failure, for step details and the audit log."""
    translated = translate(err)
    if translated is not None:
        return translated.message
    code = error_code(err)
    if code:
        return f"{operation_name(err)} failed: {code}: {_message(err)}"
    return f"{type(err).__name__}: {err}"
