"""The session that acts in the forensics account: the caller's credentials, the
``[forensics]`` role assumed there, in the forensics region (through the one session factory)."""

from __future__ import annotations

from dataclasses import replace

from ircli.core.session import AwsSession
from ircli.forensics.settings import ForensicsSettings, load_forensics


def forensics_session(aws: AwsSession, settings: ForensicsSettings,
                      label: str | None = None) -> AwsSession:
    """Assume ``role_name`` in the forensics account (or use the caller's own credentials when
    the caller already is in that account)."""
    mine = aws.identity()["account"] if not aws.settings.account else None
    own = mine == settings.account and aws.region == settings.region
    if own:
        return aws
    return AwsSession(replace(aws.settings, account=settings.account, role_arn=None,
                              role_name=settings.role_name, region=settings.region,
                              external_id=None, duration_seconds=None,
                              session_label=label or aws.settings.session_label))


def upload_reader(aws: AwsSession, bucket: str) -> AwsSession:
    """Who reads back what a run uploaded to ``bucket``: the caller, except in the central
    forensics bucket, where a member account's role may only write (the bucket policy) and
    the forensics account's role reads it back to verify it."""
    settings = load_forensics(strict=False)
    if settings is None or settings.problems() or settings.bucket != bucket or \
            aws.account == settings.account:
        return aws
    return forensics_session(aws, settings, "ircli-upload-check")

