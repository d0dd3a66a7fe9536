"""The session that acts in the forensics account: the caller's credentials, the
``[forensics]`` role assumed there, in the forensics region (through the one session factory)."""

from __future__ import annotations

from dataclasses import replace

from ircli.core.session import AwsSession
from ircli.forensics.settings import ForensicsSettings


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
