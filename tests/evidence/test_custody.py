"""Shipping a case during `contain`, and `evidence verify` catching every kind of tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

import ircli.evidence.shipper as shipper_mod
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from tests.evidence.conftest import RunCli, cli_json
from tests.fakes import FakeClock

REGION = "us-east-1"


def _contain(cli: RunCli, instance: str, *extra: str) -> tuple[int, dict[str, Any]]:
    return cli_json(cli, "contain", instance, "--yes", "--no-snapshot", *extra)


def _put(s3: Any, bucket: str, key: str, body: bytes) -> str:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=md5)["VersionId"])


def _groups(clients: Any, eni: str) -> set[str]:
    eni_data = clients("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni])
    return {g["GroupId"] for g in eni_data["NetworkInterfaces"][0]["Groups"]}


@pytest.fixture
def contained(clients: Any, clock: FakeClock, evidence_bucket: str) -> dict[str, Any]:
    """A case contained through the operation with the fake clock (the CLI path, with its
    real clock, is covered by the tests that call `contain` themselves)."""
    lab = seed_web_compromise(clients, REGION)
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket))
    assert summary.exit_code in (0, 3), summary.data
    assert summary.data["evidence"]["shipped"] is True
    return summary.data


def test_contain_ships_case_and_manifest_and_verify_passes(
        clients: Any, cli: RunCli, evidence_bucket: str) -> None:
    lab = seed_web_compromise(clients, REGION)
    code, contained = _contain(cli, lab.suspect, "--evidence-bucket", evidence_bucket)
    assert code in (0, 3), contained
    s3, case_id = clients("s3"), contained["case_id"]
    assert contained["evidence"]["shipped"] is True
    prefix = f"cases/{case_id}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=evidence_bucket,
                                                  Prefix=prefix)["Contents"]}
    assert {prefix + "case.json", prefix + "audit.jsonl", prefix + "manifest.json"} <= keys
    manifest = json.loads(s3.get_object(Bucket=evidence_bucket,
                                        Key=prefix + "manifest.json")["Body"].read())
    case_dir = Path(contained["case_dir"])
    # The per-entry audit objects are the shared chain (checked by verify on their own), one
    # per audit.jsonl line; the manifest lists every other object.
    entries = {k for k in keys if k.startswith(prefix + "audit/")}
    assert len(entries) == len((case_dir / "audit.jsonl").read_bytes().splitlines())
    assert {e["key"] for e in manifest["objects"]} == keys - {prefix + "manifest.json"} - entries
    for entry in manifest["objects"]:
        obj = s3.get_object(Bucket=evidence_bucket, Key=entry["key"])
        body = obj["Body"].read()
        assert obj["VersionId"] == entry["version_id"]  # the latest upload is the recorded one
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert len(body) == entry["size"] and entry["produced_by"] == "contain"
        assert body == (case_dir / entry["path"]).read_bytes()  # the whole local file shipped
        assert obj["ObjectLockRetainUntilDate"] is not None
    code, data = cli_json(cli, "evidence", "verify", case_id, "--evidence-bucket",
                          evidence_bucket)
    assert code == 0, data["mismatches"]
    assert data["ok"] and len(data["objects"]) == len(manifest["objects"]) + 2  # + audit/
    code, out, _err = cli("evidence", "verify", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0 and "every object verified" in out


def test_nothing_talks_to_s3_before_isolation(
        clients: Any, cli: RunCli, evidence_bucket: str, monkeypatch: pytest.MonkeyPatch,
        aws_env: Path) -> None:
    lab = seed_web_compromise(clients, REGION)
    seen: list[str] = []
    real = shipper_mod.evidence_session

    def spy(aws: AwsSession) -> AwsSession:
        case_file = next((aws_env / "cases").glob("*/case.json"))
        target = json.loads(case_file.read_text())["targets"][lab.suspect]
        seen.append(target["steps"]["isolate"]["status"])
        return real(aws)

    monkeypatch.setattr(shipper_mod, "evidence_session", spy)
    code, _data = _contain(cli, lab.suspect, "--evidence-bucket", evidence_bucket)
    assert code in (0, 3)
    assert seen == ["done"]  # one evidence client, first made once isolation was done


def test_overwritten_object_fails_verify_and_is_named(
        clients: Any, cli: RunCli, contained: dict[str, Any], evidence_bucket: str) -> None:
    key = f"cases/{contained['case_id']}/case.json"
    _put(clients("s3"), evidence_bucket, key, b'{"forged": true}\n')
    code, data = cli_json(cli, "evidence", "verify", contained["case_id"],
                          "--evidence-bucket", evidence_bucket)
    assert code == 3
    assert [m for m in data["mismatches"] if m.startswith(key + ": overwritten")]
    code, out, _err = cli("evidence", "verify", contained["case_id"],
                          "--evidence-bucket", evidence_bucket)
    assert code == 3 and key in out


def test_edited_audit_line_fails_verify(
        clients: Any, cli: RunCli, contained: dict[str, Any], evidence_bucket: str) -> None:
    case_id, case_dir = contained["case_id"], Path(contained["case_dir"])
    audit = case_dir / "audit.jsonl"
    lines = audit.read_bytes().splitlines()
    record = json.loads(lines[1])
    record["event"] = "nothing-happened"
    lines[1] = json.dumps(record, sort_keys=True).encode()
    audit.write_bytes(b"\n".join(lines) + b"\n")
    # Shipped through ircli itself, so version and checksum match: only the chain can tell.
    code, _out, err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
    code, data = cli_json(cli, "evidence", "verify", case_id, "--evidence-bucket",
                          evidence_bucket)
    assert code == 3
    key = f"cases/{case_id}/audit.jsonl"
    assert data["mismatches"][0] == \
        f"{key}: audit chain: line 3 does not follow the line before it (edited or removed)"
    # ... and the stored history shows the shipped log was rewritten, not appended to.
    assert data["mismatches"][1].startswith(f"{key}: version ")
    assert data["mismatches"][1].endswith("the log is append-only")
    # ... and the shared chain's entry mirrored from that line no longer matches it.
    assert data["mismatches"][2:] == [f"cases/{case_id}/audit/: audit/00000001.json: does not "
                                      "match line 2 of the shipped audit.jsonl"]


def test_deleted_manifest_entry_fails_verify_and_names_the_object(
        clients: Any, cli: RunCli, contained: dict[str, Any], evidence_bucket: str) -> None:
    s3, prefix = clients("s3"), f"cases/{contained['case_id']}/"
    manifest = json.loads(s3.get_object(Bucket=evidence_bucket,
                                        Key=prefix + "manifest.json")["Body"].read())
    manifest["objects"] = [e for e in manifest["objects"] if e["path"] != "case.json"]
    _put(s3, evidence_bucket, prefix + "manifest.json", json.dumps(manifest).encode())
    code, data = cli_json(cli, "evidence", "verify", contained["case_id"],
                          "--evidence-bucket", evidence_bucket)
    assert code == 3
    assert data["mismatches"][-1] == f"{prefix}case.json: in the bucket but not in the manifest"
    assert len(data["mismatches"]) == 2 and " drops case.json, which version " in \
        data["mismatches"][0]  # the manifest's own history shows the entry was removed


def test_release_ships_new_versions_and_verify_still_passes(
        clients: Any, cli: RunCli, contained: dict[str, Any], evidence_bucket: str) -> None:
    s3, case_id = clients("s3"), contained["case_id"]
    key = f"cases/{case_id}/audit.jsonl"
    before = s3.head_object(Bucket=evidence_bucket, Key=key)["VersionId"]
    code, data = cli_json(cli, "release", contained["instance_id"], "--yes",
                          "--evidence-bucket", evidence_bucket)
    assert code == 0, data
    assert data["evidence"]["shipped"] is True and key in data["evidence"]["uploaded"]
    assert s3.head_object(Bucket=evidence_bucket, Key=key)["VersionId"] != before
    code, data = cli_json(cli, "evidence", "verify", case_id, "--evidence-bucket",
                          evidence_bucket)
    assert code == 0, data["mismatches"]


def test_unset_bucket_still_contains_and_says_so(clients: Any, cli: RunCli) -> None:
    lab = seed_web_compromise(clients, REGION)
    code, data = _contain(cli, lab.suspect)
    assert code in (0, 3) and data["status"] in ("contained", "partial")
    assert data["evidence"]["shipped"] is False and data["evidence"]["pending"] is True
    assert "IRCLI_EVIDENCE_BUCKET" in data["evidence"]["remediation"]
    code, _out, err = cli("evidence", "sync", data["case_id"])
    assert code == 2 and "--evidence-bucket" in err and "IRCLI_EVIDENCE_BUCKET" in err


def test_missing_bucket_contains_then_sync_uploads_everything(
        clients: Any, cli: RunCli, evidence_bucket: str) -> None:
    lab = seed_web_compromise(clients, REGION)
    code, data = _contain(cli, lab.suspect, "--evidence-bucket", "no-such-evidence-bucket")
    assert code in (0, 3), data
    assert data["isolation_group_id"] in _groups(clients, lab.suspect_enis[0])
    assert data["evidence"] == {**data["evidence"], "shipped": False, "pending": True}
    assert any("evidence sync" in w for w in data["warnings"])
    case_id = data["case_id"]
    code, out, err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
    assert f"cases/{case_id}/audit.jsonl" in out and f"cases/{case_id}/manifest.json" in out
    code, out, _err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0 and "Nothing pending" in out
    code, result = cli_json(cli, "evidence", "verify", case_id, "--evidence-bucket",
                            evidence_bucket)
    assert code == 0, result["mismatches"]


def test_refused_connection_costs_seconds_and_sync_recovers(
        clients: Any, cli: RunCli, evidence_bucket: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = seed_web_compromise(clients, REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    started = time.monotonic()
    code, data = _contain(cli, lab.suspect, "--evidence-bucket", evidence_bucket)
    assert time.monotonic() - started < 20
    assert code in (0, 3) and data["status"] in ("contained", "partial")
    assert data["isolation_group_id"] in _groups(clients, lab.suspect_enis[0])
    assert data["evidence"]["shipped"] is False
    assert "127.0.0.1" in data["evidence"]["reason"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    code, _out, err = cli("evidence", "sync", data["case_id"], "--evidence-bucket",
                          evidence_bucket)
    assert code == 0, err
    code, result = cli_json(cli, "evidence", "verify", data["case_id"], "--evidence-bucket",
                            evidence_bucket)
    assert code == 0, result["mismatches"]


def test_wrong_recorded_sha256_fails_verify(
        clients: Any, cli: RunCli, contained: dict[str, Any], evidence_bucket: str) -> None:
    s3, prefix = clients("s3"), f"cases/{contained['case_id']}/"
    manifest = json.loads(s3.get_object(Bucket=evidence_bucket,
                                        Key=prefix + "manifest.json")["Body"].read())
    entry = next(e for e in manifest["objects"] if e["path"] == "case.json")
    entry["sha256"] = "0" * 64
    _put(s3, evidence_bucket, prefix + "manifest.json", json.dumps(manifest).encode())
    code, data = cli_json(cli, "evidence", "verify", contained["case_id"],
                          "--evidence-bucket", evidence_bucket)
    assert code == 3
    assert [m for m in data["mismatches"] if m.startswith(f"{prefix}case.json: sha256 ")]
