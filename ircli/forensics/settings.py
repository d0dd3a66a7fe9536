"""Where member accounts' evidence goes: the ``[forensics]`` section of the config file::

    [forensics]
    account = "999999999999"          # the forensics account
    region = "us-east-1"              # where its key, bucket and analysts live
    role_name = "ircli-forensics"     # the role ircli assumes there (analyst, verify, check)
    kms_key = "arn:aws:kms:us-east-1:999999999999:key/…"   # customer-managed, for the copies
    bucket = "acme-forensics-evidence"                     # the central evidence bucket
    organization_id = "o-…"           # optional: what `forensics check` expects the policies
                                      # to admit (default: asked of AWS Organizations)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from ircli.core.config import FORENSICS_KEYS, config_path, forensics_config
from ircli.core.errors import UserError

ACCOUNT = re.compile(r"^\d{12}$")
KEY_ID = re.compile(r"^(?:mrk-)?[0-9a-f-]{32,36}$|^mrk-[0-9a-f]{32}$")
KEY_ARN = re.compile(r"^arn:([\w-]+):kms:([\w-]+):(\d{12}):(key|alias)/(.+)$")
ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")


@dataclass(frozen=True)
class ForensicsSettings:
    """The forensics account's pieces; :meth:`problems` says which are missing or malformed."""

    account: str = ""
    region: str = ""
    role_name: str = ""
    kms_key: str = ""
    bucket: str = ""
    organization_id: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> ForensicsSettings | None:
        """The settings, or None when the config has no ``[forensics]`` section."""
        table = forensics_config(config)
        if not table:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v.strip() for k, v in table.items() if k in known})

    def problems(self) -> list[str]:
        """What is missing or malformed, one sentence each (empty: usable)."""
        found = [f"[forensics] {key} is not set" for key in FORENSICS_KEYS
                 if not getattr(self, key)]
        if self.account and not ACCOUNT.match(self.account):
            found.append(f"[forensics] account {self.account!r} is not a 12-digit account id")
        if self.kms_key and not (KEY_ARN.match(self.kms_key) or KEY_ID.match(self.kms_key)
                                 or self.kms_key.startswith("alias/")):
            found.append(f"[forensics] kms_key {self.kms_key!r} is not a key ARN, key id or "
                         "alias")
        arn = KEY_ARN.match(self.kms_key)
        if arn and self.account and arn.group(3) != self.account:
            found.append(f"[forensics] kms_key is in account {arn.group(3)}, not in the "
                         f"forensics account {self.account}")
        if arn and self.region and arn.group(2) != self.region:
            found.append(f"[forensics] kms_key is in region {arn.group(2)}, not in "
                         f"{self.region}")
        if self.organization_id and not ORG_ID.match(self.organization_id):
            found.append(f"[forensics] organization_id {self.organization_id!r} is not an "
                         "organization id (o-…)")
        return found

    def require(self) -> ForensicsSettings:
        problems = self.problems()
        if problems:
            raise UserError(f"The forensics account is not fully configured: "
                            f"{'; '.join(problems)}.", how_to_configure())
        return self

    def role_arn(self, partition: str) -> str:
        return f"arn:{partition}:iam::{self.account}:role/{self.role_name}"

    def key_arn(self, partition: str) -> str:
        """The key as another account must name it (CopySnapshot across accounts takes only
        a key ARN or an alias ARN)."""
        if KEY_ARN.match(self.kms_key):
            return self.kms_key
        kind = "" if self.kms_key.startswith("alias/") else "key/"
        return f"arn:{partition}:kms:{self.region}:{self.account}:{kind}{self.kms_key}"


def load_forensics(*, strict: bool = True) -> ForensicsSettings | None:
    """The configured settings or None; ``strict=False`` (containment) treats an unreadable
    config file as none, so a typo never stops an isolation."""
    try:
        return ForensicsSettings.from_config()
    except (UserError, OSError):
        if strict:
            raise
        return None


def require_forensics() -> ForensicsSettings:
    settings = load_forensics()
    if settings is None:
        raise UserError("No forensics account is configured.", how_to_configure())
    return settings.require()


def how_to_configure() -> str:
    return (f"Put a [forensics] section in {config_path()} with account, region, role_name, "
            "kms_key and bucket (README: \"The forensics account\").")


__all__ = ["ForensicsSettings", "load_forensics", "require_forensics"]
