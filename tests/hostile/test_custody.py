"""An insider who can write the evidence bucket tries to rewrite a case's custody record.

The attacker uses plain S3 and KMS calls (no ircli code): Object Lock stops them deleting or
overwriting versions in place, so they add new versions, delete markers and forged anchors.
``evidence verify`` must name each attempt; an untouched case must pass, anchored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from ircli.core.session import AwsSession, AwsSettings
from ircli.evidence import anchor as anc
from ircli.evidence.settings import ENV_SIGNING_KEY
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from tests.evidence.conftest import RunCli, cli, cli_json, evidence_bucket  # noqa: F401
from tests.fakes import FakeClock

REGION = "us-east-1"


@pytest.fixture
def signing_key(clients: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The responders' signing key, configured the way a user would (the environment)."""
    meta = clients("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
    arn = str(meta["KeyMetadata"]["Arn"])
    monkeypatch.setenv(ENV_SIGNING_KEY, arn)
    return arn


@pytest.fixture
def case_id(clients: Any, clock: FakeClock, evidence_bucket: str,  # noqa: F811
            signing_key: str) -> str:
    lab = seed_web_compromise(clients, REGION)
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket))
    evidence = summary.data["evidence"]
    assert evidence["shipped"] is True and evidence["anchored"] is True, evidence
    return str(summary.data["case_id"])


def _verify(cli: RunCli, case_id: str, *extra: str) -> tuple[int, dict[str, Any]]:  # noqa: F811
    return cli_json(cli, "evidence", "verify", case_id, "--evidence-bucket", "ircli-evidence-test",
                    *extra)


def _put(s3: Any, key: str, body: bytes) -> str:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return str(s3.put_object(Bucket="ircli-evidence-test", Key=key, Body=body,
                             ContentMD5=md5)["VersionId"])


def _get(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket="ircli-evidence-test", Key=key)["Body"].read())


def _forge_audit(s3: Any, prefix: str, lines: list[bytes]) -> None:
    """Upload an audit log and a manifest that lists it, like an insider would."""
    body = b"\n".join(lines) + b"\n"
    version = _put(s3, prefix + "audit.jsonl", body)
    manifest = json.loads(_get(s3, prefix + "manifest.json"))
    entry = next(e for e in manifest["objects"] if e["path"] == "audit.jsonl")
    entry.update(version_id=version, sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    _put(s3, prefix + "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())


def _chained(records: list[dict[str, Any]]) -> list[bytes]:
    """A hash chain recomputed from scratch, as ircli's audit log writes it."""
    out, prev = [], "0" * 64
    for seq, record in enumerate(records):
        line = json.dumps({**record, "seq": seq, "prev": prev}, sort_keys=True).encode()
        out.append(line)
        prev = hashlib.sha256(line).hexdigest()
    return out


def test_untouched_case_verifies_and_is_anchored(cli: RunCli, case_id: str,  # noqa: F811
                                                  signing_key: str) -> None:
    code, data = _verify(cli, case_id)
    assert code == 0, data["mismatches"]
    assert data["anchored"] is True and data["anchors"] >= 2 and data["warnings"] == []
    assert data["signing_key"] == signing_key
    code, out, _err = cli("evidence", "verify", case_id, "--evidence-bucket",
                          "ircli-evidence-test")
    assert code == 0 and f"the chain head is signed by {signing_key}" in out


def test_dropped_audit_lines_and_rewritten_manifest_fail(
        clients: Any, cli: RunCli, case_id: str) -> None:  # noqa: F811
    s3, prefix = clients("s3"), f"cases/{case_id}/"
    lines = _get(s3, prefix + "audit.jsonl").splitlines()
    _forge_audit(s3, prefix, lines[:-2])  # the chain of what is left still holds
    code, data = _verify(cli, case_id)
    assert code == 3 and data["anchored"] is False
    audit = [m for m in data["mismatches"] if m.startswith(prefix + "audit.jsonl: ")]
    assert len(audit) == 1 and "does not extend version" in audit[0] \
        and "append-only" in audit[0]
    assert any(m.startswith(prefix + "anchors/: the current manifest (version ")
               and "is not signed" in m for m in data["mismatches"])


def test_recomputed_chain_with_a_forged_anchor_fails_on_the_signature(
        clients: Any, cli: RunCli, case_id: str, signing_key: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cleverest insider: the forged log extends the real one (so the history holds),
    the chain is recomputed, and a matching anchor is signed with a key of their own."""
    s3, kms, prefix = clients("s3"), clients("kms"), f"cases/{case_id}/"
    real = [json.loads(line) for line in _get(s3, prefix + "audit.jsonl").splitlines()]
    for record in real:
        record.pop("seq"), record.pop("prev")
    forged = _chained([*real, {"event": "released", "note": "false alarm, nothing happened"}])
    _forge_audit(s3, prefix, forged)
    listing = s3.list_objects_v2(Bucket="ircli-evidence-test", Prefix=prefix + "anchors/")
    anchors = sorted(o["Key"] for o in listing["Contents"])
    last = _get(s3, anchors[-1])
    manifest = s3.get_object(Bucket="ircli-evidence-test", Key=prefix + "manifest.json")
    manifest_body = manifest["Body"].read()
    own_key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
    payload = anc.new_payload(case_id, len(anchors) + 1, hashlib.sha256(last).hexdigest(),
                              hashlib.sha256(manifest_body).hexdigest(),
                              manifest["VersionId"], anc.audit_head(b"\n".join(forged)),
                              "2026-11-28T04:00:00Z")
    document = anc.Signer(kms, own_key["KeyMetadata"]["Arn"]).sign(payload)
    _put(s3, anc.anchor_key(prefix, len(anchors) + 1), anc.document_bytes(document))

    code, data = _verify(cli, case_id)
    assert code == 3 and data["anchored"] is False
    assert data["mismatches"] == [
        f"{prefix}anchors/: anchors/{len(anchors) + 1:08d}.json: the signature does not "
        f"verify with {signing_key}: the head it names was not signed by that key"]
    # Without the key pinned, the forged anchor checks out against the key it names itself:
    # verify says so instead of claiming the chain is anchored.
    monkeypatch.delenv(ENV_SIGNING_KEY)
    code, data = _verify(cli, case_id)
    assert data["anchored"] is False
    assert any("anyone could have made" in w for w in data["warnings"])


def test_whole_case_rewritten_from_scratch_fails(
        clients: Any, cli: RunCli, case_id: str) -> None:  # noqa: F811
    s3, prefix = clients("s3"), f"cases/{case_id}/"
    _forge_audit(s3, prefix, _chained([{"event": "case-opened"}, {"event": "nothing-found"}]))
    code, data = _verify(cli, case_id)
    assert code == 3
    assert any("does not extend version" in m for m in data["mismatches"])
    assert any("is not signed" in m for m in data["mismatches"])


@pytest.mark.parametrize("name", ["manifest.json", "audit.jsonl"])
def test_delete_marker_is_reported_as_tampering(
        clients: Any, cli: RunCli, case_id: str, name: str) -> None:  # noqa: F811
    s3, key = clients("s3"), f"cases/{case_id}/{name}"
    s3.delete_object(Bucket="ircli-evidence-test", Key=key)  # allowed under Object Lock
    code, data = _verify(cli, case_id)
    assert code == 3
    assert any(m.startswith(f"{key}: tampering: a delete marker (version ")
               for m in data["mismatches"]), data["mismatches"]


def test_anchor_written_twice_or_deleted_fails(
        clients: Any, cli: RunCli, case_id: str) -> None:  # noqa: F811
    s3, prefix = clients("s3"), f"cases/{case_id}/"
    first = anc.anchor_key(prefix, 1)
    _put(s3, first, _get(s3, first))  # same bytes, a second version
    s3.delete_object(Bucket="ircli-evidence-test", Key=anc.anchor_key(prefix, 2))
    code, data = _verify(cli, case_id)
    assert code == 3
    assert f"{prefix}anchors/: anchors/00000001.json: written 2 times (an anchor is written " \
        "once)" in data["mismatches"]
    assert any("anchors/00000002.json: tampering: a delete marker" in m
               for m in data["mismatches"])


def test_without_a_signing_key_verify_warns_the_chain_is_not_anchored(
        clients: Any, clock: FakeClock, cli: RunCli, evidence_bucket: str) -> None:  # noqa: F811
    lab = seed_web_compromise(clients, REGION)
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket))
    assert summary.data["evidence"]["anchored"] is False
    assert "not signed" in summary.data["evidence"]["anchor_note"]
    code, data = _verify(cli, summary.data["case_id"])
    assert code == 0 and data["anchored"] is False
    assert any("not anchored" in w for w in data["warnings"])
    code, out, _err = cli("evidence", "verify", summary.data["case_id"], "--evidence-bucket",
                          evidence_bucket)
    assert "NOT anchored" in out


def test_interrupted_signing_is_finished_by_sync(
        clients: Any, clock: FakeClock, cli: RunCli, evidence_bucket: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A ship whose KMS call fails leaves the head unsigned; `evidence sync` signs it."""
    lab = seed_web_compromise(clients, REGION)
    monkeypatch.setenv(ENV_SIGNING_KEY, "arn:aws:kms:us-east-1:123456789012:key/"
                                            "00000000-0000-0000-0000-000000000000")
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket))
    assert summary.data["evidence"]["shipped"] is False  # the anchor is pending
    key = clients("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
    monkeypatch.setenv(ENV_SIGNING_KEY, key["KeyMetadata"]["Arn"])
    case = summary.data["case_id"]
    code, out, err = cli("evidence", "sync", case, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
    assert f"cases/{case}/anchors/00000001.json" in out
    code, data = _verify(cli, case)
    assert code == 0 and data["anchored"] is True, data["mismatches"]


def test_an_edited_or_garbage_anchor_does_not_verify(clients: Any, signing_key: str) -> None:
    kms = clients("kms")
    document = anc.Signer(kms, signing_key).sign(anc.new_payload(
        "ir-x", 1, anc.GENESIS, "a" * 64, "v1", (3, "b" * 64), "2026-11-28T03:00:00Z"))
    assert anc.signature_valid(kms, signing_key, document)
    edited = {**document, "payload": {**document["payload"], "audit_lines": 2}}
    assert not anc.signature_valid(kms, signing_key, edited)
    for garbage in ("AAAA", "not base64!!", "", None):
        assert not anc.signature_valid(kms, signing_key, {**document, "signature": garbage})
    assert not anc.signature_valid(kms, signing_key, {"signature": document["signature"]})
