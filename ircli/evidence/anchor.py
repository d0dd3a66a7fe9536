"""Anchors: the chain head of a case, signed with a KMS asymmetric key on every ship.

The audit log's hash chain shows an edited line, but anyone who can write the bucket can
recompute a whole chain and a manifest to match. An anchor names the head (the sha256 of the
last audit line, the line count, the manifest's sha256 and version id, the case id and the
anchor's own sequence number, chained to the anchor before it) and carries a KMS ``Sign``
signature over it. Without the private key, which never leaves KMS, nobody can make an anchor
for a forged head; ``evidence verify`` checks each with ``Verify`` against the key the verifier
names (never the key an anchor claims). Each anchor is a new key, written once
(``If-None-Match: *``) under Object Lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ircli.core.errors import UserError

DEFAULT_ALIAS = "alias/ircli-evidence-signing"
KEY_SPEC = "ECC_NIST_P256"
ALGORITHM = "ECDSA_SHA_256"
FORMAT = "ircli-evidence-anchor/1"
ANCHORS = "anchors/"
GENESIS = "0" * 64


def anchor_key(prefix: str, seq: int) -> str:
    return f"{prefix}{ANCHORS}{seq:08d}.json"


def audit_head(data: bytes) -> tuple[int, str]:
    """(lines, sha256 of the last line) of an audit log, as its chain sees it."""
    lines = [raw for raw in data.splitlines() if raw.strip()]
    return len(lines), hashlib.sha256(lines[-1]).hexdigest() if lines else GENESIS


def message(payload: dict[str, Any]) -> bytes:
    """The canonical bytes that are signed (well under KMS's 4096-byte RAW limit)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def document_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


@dataclass
class Signer:
    """Signs anchors with one KMS key (``kms:Sign``); the caller's client, its retries."""

    kms: Any
    key_id: str

    def sign(self, payload: dict[str, Any]) -> dict[str, Any]:
        resp = self.kms.sign(KeyId=self.key_id, Message=message(payload), MessageType="RAW",
                             SigningAlgorithm=ALGORITHM)
        return {"format": FORMAT, "payload": payload, "key_id": str(resp["KeyId"]),
                "algorithm": ALGORITHM,
                "signature": base64.b64encode(resp["Signature"]).decode()}


def new_payload(case_id: str, seq: int, prev_anchor: str, manifest_sha256: str,
                manifest_version_id: str, audit: tuple[int, str], signed_at: str
                ) -> dict[str, Any]:
    return {"case_id": case_id, "seq": seq, "prev_anchor_sha256": prev_anchor,
            "manifest_sha256": manifest_sha256, "manifest_version_id": manifest_version_id,
            "audit_lines": audit[0], "audit_head": audit[1], "signed_at": signed_at}


def key_arn(kms: Any, key_id: str) -> str:
    """The ARN behind a key id or alias (an alias can be moved; the ARN cannot)."""
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def signature_valid(kms: Any, key_id: str, document: dict[str, Any]) -> bool:
    """KMS ``Verify`` of an anchor with ``key_id`` (the verifier's key, not the anchor's)."""
    try:
        signature = base64.b64decode(str(document.get("signature")), validate=True)
        payload = document["payload"]
    except (ValueError, KeyError, TypeError):
        return False
    if not isinstance(payload, dict) or not signature:
        return False
    try:
        resp = kms.verify(KeyId=key_id, Message=message(payload), MessageType="RAW",
                          Signature=signature, SigningAlgorithm=ALGORITHM)
    except kms.exceptions.KMSInvalidSignatureException:
        return False
    return bool(resp.get("SignatureValid"))


def checked_key(kms: Any, key_id: str) -> str:
    """The ARN of ``key_id`` once it is an enabled ECDSA P-256 signing key."""
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if meta.get("KeyUsage") != "SIGN_VERIFY" or ALGORITHM not in (
            meta.get("SigningAlgorithms") or []):
        raise UserError(f"KMS key {key_id} is not an asymmetric signing key for {ALGORITHM}.",
                        f"Use a {KEY_SPEC} SIGN_VERIFY key, or omit --signing-key-id to let "
                        "init create one.")
    if meta.get("KeyState") != "Enabled":
        raise UserError(f"KMS key {key_id} is {meta.get('KeyState')}.",
                        "Enable it, or name another key.")
    return str(meta["Arn"])


def planned_signing_key(kms: Any, key_id: str | None) -> str | None:
    """Read-only, for init's plan and init itself: the ARN of the named key or of
    ``alias/ircli-evidence-signing`` once checked (a wrong or moved key raises), None when
    the alias does not exist yet (init creates the key)."""
    if key_id:
        return checked_key(kms, key_id)
    try:
        return checked_key(kms, DEFAULT_ALIAS)
    except kms.exceptions.NotFoundException:
        return None


def ensure_signing_key(kms: Any, key_id: str | None, responder_arn: str,
                       account: str, partition: str) -> tuple[str, str]:
    """The signing key for ``evidence init``: the one named, else ``alias/ircli-evidence-
    signing`` (checked like a named key: an alias can be moved), created when absent.
    Returns (key ARN, what happened)."""
    existing = planned_signing_key(kms, key_id)
    if existing:
        return existing, f"signing key {key_id or DEFAULT_ALIAS} checked"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "OnlyTheResponderSigns", "Effect": "Deny", "Principal": "*",
         "Action": "kms:Sign", "Resource": "*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": responder_arn}}}]}
    meta = kms.create_key(
        KeyUsage="SIGN_VERIFY", KeySpec=KEY_SPEC, Policy=json.dumps(policy),
        Description="ircli evidence: signs each case's chain head (anchors)",
        Tags=[{"TagKey": "ircli:purpose", "TagValue": "evidence-signing"}])["KeyMetadata"]
    kms.create_alias(AliasName=DEFAULT_ALIAS, TargetKeyId=meta["KeyId"])
    return str(meta["Arn"]), f"signing key {meta['Arn']} created as {DEFAULT_ALIAS}"
