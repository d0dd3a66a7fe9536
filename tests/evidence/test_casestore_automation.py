"""A case the automation opened, as Step Functions writes it (compact JSON, keys in the order
the state machine built them, never sorted), in the central bucket's per-account prefix:
listed, shown, verified and released from a machine that never saw it; and the attacker who
can write the bucket planting entries or rewriting case.json is named by `evidence verify`."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from tests.evidence.conftest import RunCli, cli_json
from tests.fakes import FakeClock
from tests.helpers import eni_groups

ACCOUNT = "123456789012"
CASE = "ir-20261201-030000-a1b2"
PREFIX = f"cases/{ACCOUNT}/{CASE}/"
MACHINE = f"automation:arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:ircli-ec2-compromise"


def _compact(value: Any) -> bytes:
    """JSON as States.JsonToString makes it: no spaces, keys in insertion order."""
    return json.dumps(value, separators=(",", ":")).encode()


def _put(s3: Any, bucket: str, key: str, body: bytes, **condition: str) -> Any:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ContentMD5=md5, **condition)


def _entry(seq: int, prev: str, action: str, detail: dict[str, Any]) -> bytes:
    # the order the state machine's Pass state builds it, which is not sorted
    return _compact({"seq": seq, "time": f"2026-12-01T03:00:{seq:02d}Z", "actor": MACHINE,
                     "action": action, "detail": detail, "prev": prev})


def write_automation_case(s3: Any, bucket: str, record: dict[str, Any], actions: int = 4
                          ) -> list[bytes]:
    """case.json (If-None-Match: *) and ``actions`` chained audit entries, each written once."""
    body = _compact({"targets": record["targets"], "opened_by": MACHINE, "case_id": CASE,
                     "created_at": record.get("created_at", "2026-12-01T03:00:00Z")})
    _put(s3, bucket, PREFIX + "case.json", body, IfNoneMatch="*")
    prev, written = "0" * 64, []
    for seq in range(actions):
        raw = _entry(seq, prev, "step-end", {"step": f"state-{seq}", "status": "done"})
        _put(s3, bucket, f"{PREFIX}audit/{seq:08d}.json", raw, IfNoneMatch="*")
        prev = hashlib.sha256(raw).hexdigest()
        written.append(raw)
    return written


def _hand_record() -> dict[str, Any]:
    return {"targets": {"i-0aaaabbbbccccdddd": {
        "status": "contained", "region": "us-east-1", "account": ACCOUNT,
        "steps": {"isolate": {"status": "done", "at": "2026-12-01T03:00:02Z"}},
        "pre_state": {"network_interfaces": [{"id": "eni-1", "groups": ["sg-1"]}]}}}}


def _verify(cli: RunCli, bucket: str) -> tuple[int, dict[str, Any]]:
    return cli_json(cli, "evidence", "verify", CASE, "--evidence-bucket", bucket)


def test_automation_case_is_listed_shown_and_verified(clients: Any, cli: RunCli,
                                                      evidence_bucket: str) -> None:
    s3 = clients("s3")
    write_automation_case(s3, evidence_bucket, _hand_record())
    own = {"case_id": "ir-cli-1", "created_at": "2026-11-30T10:00:00Z", "opened_by":
           "cli:ana@laptop", "targets": {"i-0eeee": {"status": "released", "steps": {}}}}
    _put(s3, evidence_bucket, "cases/ir-cli-1/case.json", _compact(own))

    code, listed = cli_json(cli, "case", "list", "--bucket", evidence_bucket)
    assert code == 0
    rows = {r["case_id"]: r for r in listed["cases"]}
    assert set(rows) == {CASE, "ir-cli-1"}  # both depths
    assert rows[CASE]["opened_by"] == MACHINE and rows[CASE]["accounts"] == [ACCOUNT]
    assert rows[CASE]["statuses"] == ["contained"] and rows[CASE]["prefix"] == PREFIX
    assert rows["ir-cli-1"]["opened_by"] == "cli:ana@laptop"
    code, out, _err = cli("case", "list", "--bucket", evidence_bucket)
    assert code == 0 and CASE in out and MACHINE in out and "ir-cli-1" in out
    # --bucket alone: the configured evidence bucket
    code, again = cli_json(cli, "case", "list", "--bucket", "--evidence-bucket", evidence_bucket)
    assert code == 0 and again == listed

    code, shown = cli_json(cli, "case", "show", CASE, "--bucket", evidence_bucket)
    assert code == 0 and shown["targets"] == _hand_record()["targets"]
    code, out, _err = cli("case", "show", CASE, "--bucket", evidence_bucket)
    assert code == 0 and f"Opened by: {MACHINE}" in out and f"s3://{evidence_bucket}/{PREFIX}" \
        in out and "isolate" in out

    code, report = _verify(cli, evidence_bucket)
    assert code == 0, report["mismatches"]
    assert report["ok"] and {o["key"] for o in report["objects"]} == {
        PREFIX + "case.json", PREFIX + "audit/"}
    assert any("no manifest" in w and "Not proven" in w for w in report["warnings"])


def test_case_not_in_bucket_and_missing_bucket_are_one_sentence(cli: RunCli,
                                                                evidence_bucket: str) -> None:
    code, _out, err = cli("case", "show", "ir-nowhere", "--bucket", evidence_bucket)
    assert code == 2 and "Case ir-nowhere is not in s3://" in err and "Traceback" not in err
    code, _out, err = cli("case", "list", "--bucket", "no-such-bucket-here")
    assert code == 2 and "The evidence bucket no-such-bucket-here does not exist." in err


@pytest.mark.parametrize("attack, expected", [
    ("wrong-prev", "audit/00000004.json: its prev is not the SHA-256 of the entry before it"),
    ("gap", "audit/00000005.json: entries 4–4 are missing"),
    ("overwrite", "audit/00000002.json: written 2 times"),
    ("stray", "audit/notes.json: not an audit entry"),
])
def test_planted_audit_entries_fail_verify(clients: Any, cli: RunCli, evidence_bucket: str,
                                           attack: str, expected: str) -> None:
    s3 = clients("s3")
    written = write_automation_case(s3, evidence_bucket, _hand_record())
    last = hashlib.sha256(written[-1]).hexdigest()
    if attack == "wrong-prev":  # appended, chained to a forged predecessor
        _put(s3, evidence_bucket, PREFIX + "audit/00000004.json",
             _entry(4, "f" * 64, "release", {"note": "nothing happened"}))
    elif attack == "gap":  # chained right, but entry 4 skipped (or deleted before locking)
        _put(s3, evidence_bucket, PREFIX + "audit/00000005.json",
             _entry(5, last, "release", {}))
    elif attack == "overwrite":  # a second version of an entry (Object Lock keeps the first)
        _put(s3, evidence_bucket, PREFIX + "audit/00000002.json",
             _entry(2, "0" * 64, "nothing", {}))
    else:
        _put(s3, evidence_bucket, PREFIX + "audit/notes.json", b"{}")
    code, report = _verify(cli, evidence_bucket)
    assert code == 3 and not report["ok"]
    assert any(m.startswith(f"{PREFIX}audit/: {expected}") for m in report["mismatches"]), \
        report["mismatches"]


@pytest.mark.parametrize("attack, expected", [
    ("pre-state", "changes the recorded pre-change state of i-0aaaabbbbccccdddd"),
    ("drop-step", "drops the record of step isolate of i-0aaaabbbbccccdddd"),
    ("other-case", "records case ir-other"),
    ("not-json", "is not a JSON case record"),
])
def test_tampered_case_json_fails_verify(clients: Any, cli: RunCli, evidence_bucket: str,
                                         attack: str, expected: str) -> None:
    """The attacker rewrites case.json: e.g. the recorded groups, so that release "restores"
    the instance into a group of their choosing."""
    s3 = clients("s3")
    write_automation_case(s3, evidence_bucket, _hand_record())
    record = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())
    target = record["targets"]["i-0aaaabbbbccccdddd"]
    if attack == "pre-state":
        target["pre_state"]["network_interfaces"][0]["groups"] = ["sg-attacker"]
    elif attack == "drop-step":
        target["steps"].pop("isolate")
    elif attack == "other-case":
        record["case_id"] = "ir-other"
    body = b"not json" if attack == "not-json" else _compact(record)
    _put(s3, evidence_bucket, PREFIX + "case.json", body)
    code, report = _verify(cli, evidence_bucket)
    assert code == 3
    assert any(m.startswith(f"{PREFIX}case.json: version ") and expected in m
               for m in report["mismatches"]), report["mismatches"]


def test_automation_case_released_from_a_fresh_home(
        clients: Any, cli: RunCli, evidence_bucket: str, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The record is what the automation wrote after containing (taken here from a contain
    on another home, the same fields); this machine has never seen the case."""
    lab = seed_web_compromise(clients, "us-east-1")
    ec2 = clients("ec2")
    original = eni_groups(ec2, lab.suspect_enis)
    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "automation-scratch"))
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(lab.suspect,
                                                                       snapshot=False))
    assert summary.exit_code in (0, 3), summary.data
    record = json.loads(Path(summary.data["case_dir"], "case.json").read_text())
    s3 = clients("s3")
    written = write_automation_case(s3, evidence_bucket, record)
    assert eni_groups(ec2, lab.suspect_enis) != original

    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-b"))
    code, out, err = cli("release", lab.suspect, "--case-id", CASE, "--dry-run",
                         "--evidence-bucket", evidence_bucket, "-o", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["status"] == "planned" and f"case {CASE} read from s3://{evidence_bucket}/" \
        f"{PREFIX} (a dry-run copies nothing here)" in plan["warnings"]
    assert not (tmp_path / "responder-b" / "cases" / CASE).exists()  # a dry-run wrote nothing
    assert eni_groups(ec2, lab.suspect_enis) != original
    code, out, err = cli("release", lab.suspect, "--case-id", CASE, "--yes",
                         "--evidence-bucket", evidence_bucket, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "released"
    assert f"case {CASE} fetched from s3://{evidence_bucket}/{PREFIX}" in data["warnings"]
    assert eni_groups(ec2, lab.suspect_enis) == original

    # release's records went back to the same prefix: merged case.json, chain extended
    back = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())
    assert back["opened_by"] == MACHINE
    assert back["targets"][lab.suspect]["status"] == "released"
    assert "undo:isolate" in back["targets"][lab.suspect]["steps"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=evidence_bucket,
                                                  Prefix=PREFIX + "audit/")["Contents"]]
    assert len(keys) > len(written)
    first = s3.get_object(Bucket=evidence_bucket, Key=keys[0])["Body"].read()
    assert first == written[0]  # the automation's bytes are untouched
    assert not s3.list_objects_v2(Bucket=evidence_bucket, Prefix=f"cases/{CASE}/").get(
        "Contents")  # nothing written at the other depth
    code, report = _verify(cli, evidence_bucket)
    assert code == 0, report["mismatches"]


def test_release_refuses_a_case_record_rewritten_in_the_bucket(
        clients: Any, cli: RunCli, evidence_bucket: str, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The attacker who can write the bucket rewrites the recorded groups to one of theirs:
    release on a machine without the case would "restore" the instance into it."""
    lab = seed_web_compromise(clients, "us-east-1")
    ec2 = clients("ec2")
    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "automation-scratch"))
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(lab.suspect,
                                                                       snapshot=False))
    record = json.loads(Path(summary.data["case_dir"], "case.json").read_text())
    s3 = clients("s3")
    write_automation_case(s3, evidence_bucket, record)
    isolated = eni_groups(ec2, lab.suspect_enis)
    attacker = ec2.create_security_group(GroupName="attacker-open", Description="x",
                                         VpcId=lab.vpc_id)["GroupId"]
    forged = json.loads(s3.get_object(Bucket=evidence_bucket, Key=PREFIX + "case.json")[
        "Body"].read())
    for eni in forged["targets"][lab.suspect]["pre_state"]["network_interfaces"]:
        eni["groups"] = [attacker]
    _put(s3, evidence_bucket, PREFIX + "case.json", _compact(forged))

    monkeypatch.setenv("IRCLI_HOME", str(tmp_path / "responder-b"))
    code, _out, err = cli("release", lab.suspect, "--case-id", CASE, "--yes",
                          "--evidence-bucket", evidence_bucket)
    assert code == 2 and "Traceback" not in err
    assert f"The record of case {CASE} in s3://{evidence_bucket}/{PREFIX} was rewritten" in err
    assert "changes the recorded pre-change state" in err
    assert eni_groups(ec2, lab.suspect_enis) == isolated  # still isolated, not "restored"
