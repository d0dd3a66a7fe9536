"""Turn botocore exceptions into ircli errors with one clear sentence and a remediation."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
from botocore.parsers import ResponseParserError

from ircli.core.errors import (
    AccessDenied,
    CredentialsMissing,
    InvalidInput,
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
    "403",  # S3 answers HEAD (and moto some GETs) with a bare status and no error body
    "Forbidden",
    "AuthorizationError",  # SNS
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
    if code == "NoSuchBucket":
        name = _error_field(err, "BucketName")
        return NotFound(
            f"The S3 bucket {name + ' ' if name else ''}does not exist.",
            "Check the bucket name (--evidence-bucket, IRCLI_EVIDENCE_BUCKET or the config "
            "file) and that you are in the account that owns it.")
    if code.endswith(".NotFound") or code.endswith("NotFound") or code == "NoSuchEntity":
        return NotFound(f"{_message(err)} ({code}).")
    if code == "404":
        return NotFound(f"{operation_name(err) or 'A call'} found nothing there (404 Not Found).")
    if isinstance(err, ResponseParserError):
        return ServiceUnreachable(
            "The AWS endpoint answered with something that is not an AWS API response "
            "(an error page).",
            "Check AWS_ENDPOINT_URL and the region; if it is the ircli lab, see "
            "`ircli lab status`.")
    return None


def unknown_region(endpoints: dict[str, Any], region: str) -> InvalidInput | None:
    """An error when ``region`` is in none of the partitions botocore knows (``endpoints``:
    botocore's endpoints data), or None. A mistyped region otherwise surfaces as a DNS failure
    on AWS, or an HTML error page from an emulator, far from its cause."""
    known = {name for partition in endpoints.get("partitions", [])
             for name in partition.get("regions", {})}
    if not known or region in known:
        return None
    return InvalidInput(
        f"'{region}' is not an AWS region.",
        "Check --region, AWS_REGION / AWS_DEFAULT_REGION or your profile (e.g. us-east-1); "
        "if the region is newer than your botocore, upgrade it: pip install -U boto3.")


def _error_field(err: BaseException, name: str) -> str:
    if isinstance(err, botocore.exceptions.ClientError):
        return str(err.response.get("Error", {}).get(name, ""))
    return ""


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
