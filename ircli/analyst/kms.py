"""How a copy of an encrypted snapshot gets its key, or why this account cannot make one.

A snapshot of this account keeps its key (creating the volume needs ``kms:CreateGrant`` and
``kms:Decrypt`` on it). A snapshot shared by another account can be copied only if that
account's key policy lets this account use the key; the default ``aws/ebs`` key never can be
shared, so such a snapshot must first be copied there to a customer managed key.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ircli.core.engine import RunContext

_KMS_ACTIONS = "kms:DescribeKey, kms:CreateGrant, kms:Decrypt and kms:ReEncrypt*"


def volume_encryption(ctx: RunContext, snapshot: dict[str, Any]
                      ) -> tuple[dict[str, Any], str | None]:
    """CreateVolume's encryption parameters, or a warning saying what sharing is missing."""
    account = ctx.aws.identity()["account"]
    owner = snapshot.get("OwnerId", account)
    key = snapshot.get("KmsKeyId")
    if not snapshot.get("Encrypted") or not key:
        return {"Encrypted": True}, None  # this account's default EBS key
    if owner == account or _key_account(key) == account:  # e.g. a copy under our own key
        return {"Encrypted": True, "KmsKeyId": key}, None
    try:
        manager = ctx.aws.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyManager"]
    except botocore.exceptions.ClientError:
        manager = None  # not shared with this account, or no such key any more
    snap_id = snapshot["SnapshotId"]
    if manager == "CUSTOMER":
        return {"Encrypted": True}, None  # re-encrypted under this account's default EBS key
    if manager == "AWS":
        return {}, (
            f"Snapshot {snap_id} of account {owner} is encrypted with that account's aws/ebs "
            f"key, which AWS never lets another account use. In account {owner}, copy it "
            f"re-encrypted with a customer managed key whose policy allows account {account} "
            f"{_KMS_ACTIONS}, share the copy with {account}, and create the volume from the copy.")
    return {}, (
        f"This account may not use KMS key {key} of account {owner}, which encrypts snapshot "
        f"{snap_id}. In account {owner}, allow account {account} {_KMS_ACTIONS} in the key's "
        "policy (if it is the aws/ebs key, copy the snapshot to a customer managed key first), "
        "then run attach again.")


def _key_account(key: str) -> str | None:
    """The account in a key ARN (``arn:aws:kms:REGION:ACCOUNT:key/ID``); None for a bare id."""
    parts = key.split(":")
    return parts[4] if len(parts) > 5 and parts[2] == "kms" else None
