"""What a user meets when the shared case cannot be read or written: one sentence, an exit
code, no traceback; and what an attacker writes into the bucket reaches the terminal as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain
from tests.evidence.conftest import RunCli
from tests.evidence.test_casestore_automation import _compact, _put
from tests.fakes import FakeClock


def test_a_change_the_other_writer_made_differently_stops_sync(
        clients: Any, cli: RunCli, evidence_bucket: str, clock: FakeClock) -> None:
    lab = seed_web_compromise(clients, "us-east-1")
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket, reason="first"))
    case_id, case_dir = summary.data["case_id"], Path(summary.data["case_dir"])
    s3, key = clients("s3"), f"cases/{summary.data['case_id']}/case.json"
    remote = s3.get_object(Bucket=evidence_bucket, Key=key)
    other = json.loads(remote["Body"].read())
    other["targets"][lab.suspect]["reason"] = "changed by the other writer"
    _put(s3, evidence_bucket, key, _compact(other), IfMatch=remote["ETag"])
    local = json.loads((case_dir / "case.json").read_text())
    local["targets"][lab.suspect]["reason"] = "changed here"
    (case_dir / "case.json").write_text(json.dumps(local))

    code, _out, err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 2 and "Traceback" not in err
    assert f"Case {case_id} in s3://{evidence_bucket} was changed by another writer at " \
           f"targets.{lab.suspect}.reason in a way that cannot be merged" in err
    after = json.loads(s3.get_object(Bucket=evidence_bucket, Key=key)["Body"].read())
    assert after["targets"][lab.suspect]["reason"] == "changed by the other writer"  # kept


def test_a_bucket_this_identity_may_not_read(clients: Any, cli: RunCli,
                                            evidence_bucket: str) -> None:
    s3 = clients("s3")
    _put(s3, evidence_bucket, "cases/ir-x/case.json", _compact({"case_id": "ir-x"}))
    s3.put_bucket_policy(Bucket=evidence_bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{evidence_bucket}/*"}]}))
    code, _out, err = cli("case", "show", "ir-x", "--bucket", evidence_bucket)
    assert code == 2 and "Traceback" not in err
    assert f"This identity may not read the case in s3://{evidence_bucket}" in err


def test_attacker_text_in_a_bucket_case_is_plain_text(clients: Any, cli: RunCli,
                                                      evidence_bucket: str) -> None:
    evil = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\ [bold]x[/] \u202e"
    record = {"case_id": "ir-evil", "opened_by": evil, "created_at": evil,
              "targets": {"i-0evil": {"status": evil, "name": evil,
                                      "steps": {evil: {"status": evil}}}},
              "runs": [{"command": evil}, "not a run"]}
    _put(clients("s3"), evidence_bucket, "cases/ir-evil/case.json", _compact(record))
    for args in (("case", "list", "--bucket", evidence_bucket),
                 ("case", "show", "ir-evil", "--bucket", evidence_bucket)):
        code, out, err = cli(*args)
        assert code == 0, err
        assert "\x1b" not in out and "\u202e" not in out and "Traceback" not in err
        assert "ir-evil" in out


def test_mirroring_resumes_without_writing_a_line_twice(
        clients: Any, cli: RunCli, evidence_bucket: str, clock: FakeClock) -> None:
    """A run killed between an entry's PUT and the record of it, or a lost .evidence.json:
    the next ship finds what it mirrored from the entries themselves."""
    lab = seed_web_compromise(clients, "us-east-1")
    summary = contain(AwsSession(AwsSettings()), clock, ContainOptions(
        lab.suspect, snapshot=False, evidence_bucket=evidence_bucket))
    case_id, case_dir = summary.data["case_id"], Path(summary.data["case_dir"])
    s3, prefix = clients("s3"), f"cases/{case_id}/audit/"

    def entries() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=evidence_bucket,
                                                             Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    lines = len((case_dir / "audit.jsonl").read_bytes().splitlines())
    assert len(entries()) == lines
    state_path = case_dir / ".evidence.json"
    state = json.loads(state_path.read_text())
    state.update(audit_mirrored=lines - 1, audit_pending=lines - 1)  # killed after the PUT
    state_path.write_text(json.dumps(state))
    code, _out, err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
    assert len(entries()) == lines
    state_path.unlink()  # state lost altogether
    code, _out, err = cli("evidence", "sync", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
    assert len(entries()) == lines
    code, _out, err = cli("evidence", "verify", case_id, "--evidence-bucket", evidence_bucket)
    assert code == 0, err
