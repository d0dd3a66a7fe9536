"""`ircli collect` through the CLI entry: the real collector runs, S3 and the case are checked."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.exceptions import ClientError

from ircli.liveresponse.agent import report_to_moto
from ircli.liveresponse.documents import LINUX_DOCUMENT
from ircli.liveresponse.result import verify_archive
from tests.collect.conftest import BUCKET, FAST, Lab
from tests.evidence.conftest import RunCli, cli_json


def collect(cli: RunCli, lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json(cli, "collect", lab.suspect, "--yes", *args)


def audit(lab: Lab, case_id: str) -> list[dict[str, Any]]:
    text = (lab.case(case_id) / "audit.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def commands(lab: Lab) -> list[dict[str, Any]]:
    return list(lab.clients("ssm").list_commands()["Commands"])


def test_collect_runs_the_collector_and_verifies_the_archive(cli: RunCli, lab: Lab) -> None:
    lab.agent()
    code, data = collect(cli, lab, "--case-id", "ir-c1", "--timeout", "120", *FAST)
    assert code == 0, data
    assert data["status"] == "collected" and data["reason"] is None
    key = data["key"]
    assert key.startswith(f"cases/ir-c1/collect/{lab.suspect}-") and key.endswith(".tar.gz")

    s3 = lab.clients("s3")
    obj = s3.get_object(Bucket=BUCKET, Key=key)
    body = obj["Body"].read()
    assert obj["VersionId"] == data["version_id"]
    assert (len(body), hashlib.sha256(body).hexdigest()) == (data["size"], data["sha256"])
    assert obj["ObjectLockMode"] == "COMPLIANCE"  # the bucket's default retention applies
    assert verify_archive(body).problems == []
    assert data["collector"]["status"] == "complete"
    assert data["collector"]["steps_ok"] == 3 and data["collector"]["steps_failed"] == 0

    [sent] = commands(lab)
    assert sent["CommandId"] == data["command_id"] and sent["DocumentName"] == LINUX_DOCUMENT
    url = sent["Parameters"]["UploadUrl"][0]
    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path.endswith(key) and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert int(query["X-Amz-Expires"][0]) == 120 + 120 + 300  # delivery + timeout + margin
    assert sent["Parameters"]["Sections"] == ["system,processes,sockets"]
    assert lab.clients("ssm").describe_document(Name=LINUX_DOCUMENT)["Document"][
        "DefaultVersion"] == "1"

    record = json.loads((lab.case("ir-c1") / "case.json").read_text())["targets"][lab.suspect]
    [entry] = record["collections"]
    assert (entry["status"], entry["command_id"], entry["sha256"]) == (
        "collected", data["command_id"], data["sha256"])
    events = audit(lab, "ir-c1")
    assert [e["event"] for e in events if e["event"].startswith("collect-")] == [
        "collect-sent", "collect-verified"]
    [send] = [e for e in events if e.get("operation") == "SendCommand"]
    assert send["params"]["Parameters"]["UploadUrl"] == "<redacted>"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="cases/ir-c1/manifest.json")[
        "Body"].read())
    [listed] = [o for o in manifest["objects"] if o["key"] == key]
    assert (listed["sha256"], listed["version_id"]) == (data["sha256"], data["version_id"])
    assert data["evidence"]["shipped"] is True
    code, report = cli_json(cli, "evidence", "verify", "ir-c1")
    assert code == 0 and report["ok"], report["mismatches"]
    for path in lab.case("ir-c1").rglob("*"):  # the URL is a bearer token until it expires
        assert not path.is_file() or "X-Amz-Signature" not in path.read_text(errors="replace")


def test_a_partial_collection_is_kept_and_says_what_is_missing(cli: RunCli, lab: Lab) -> None:
    lab.agent()  # no memory tool is staged here, so the memory section fails
    code, data = collect(cli, lab, "--case-id", "ir-part", "--include-memory", "--sections",
                         "system")
    assert code == 3 and data["status"] == "partial", data
    assert data["collector"]["failed_steps"] == ["memory"]
    assert data["invocation"]["response_code"] == 2  # SSM calls the exit-2 run Failed
    body = lab.clients("s3").get_object(Bucket=BUCKET, Key=data["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == data["sha256"]
    assert any("partial (failed: memory)" in w for w in data["warnings"])
    assert any("5 GB" in w for w in data["warnings"])


def test_dry_run_sends_nothing_and_writes_nothing(cli: RunCli, lab: Lab) -> None:
    lab.agent()
    code, data = cli_json(cli, "collect", lab.suspect, "--dry-run", "--case-id", "ir-dry")
    assert code == 0 and data["status"] == "planned", data
    step = next(s for s in data["steps"] if s["name"] == "collect")
    assert [c.split(" ")[0:2] for c in step["changes"]] == [["create", "SSM"], ["run",
                                                                                LINUX_DOCUMENT]]
    assert commands(lab) == []
    with pytest.raises(ClientError):
        lab.clients("ssm").describe_document(Name=LINUX_DOCUMENT)
    assert not lab.case("ir-dry").exists()
    assert lab.clients("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize(("ping", "reason"), [(None, "not-managed"),
                                               ("ConnectionLost", "agent-offline")])
def test_an_unreachable_agent_is_refused_before_sending(cli: RunCli, lab: Lab, ping: str | None,
                                                        reason: str) -> None:
    lab.agent(register=ping is not None, ping_status=ping or "Online")
    code, data = collect(cli, lab, "--case-id", "ir-x")
    assert code == 2 and data["status"] == "failed" and data["reason"] == reason, data
    assert data["remediation"]
    assert commands(lab) == []


def test_upload_failure_is_reported_and_nothing_is_claimed(cli: RunCli, lab: Lab) -> None:
    broken = "http://127.0.0.1:{}/ircli-no-such-bucket/x.tar.gz"
    port = urlparse(lab.clients("s3").meta.endpoint_url).port
    lab.agent(extra_env={"SSM_UploadUrl": broken.format(port)})
    code, data = collect(cli, lab, "--case-id", "ir-up", "--sections", "system")
    assert code == 5 and data["status"] == "failed" and data["reason"] == "upload-failed", data
    assert data["version_id"] is None and data["sha256"] is None
    assert data["collector"]["upload_http"] == "404" and data["collector"]["archive_kept"]
    assert "kept on the host" in data["remediation"]
    with pytest.raises(ClientError):
        lab.clients("s3").head_object(Bucket=BUCKET, Key=data["key"])
    record = json.loads((lab.case("ir-up") / "case.json").read_text())["targets"][lab.suspect]
    assert [(c["status"], c["reason"]) for c in record["collections"]] == [
        ("failed", "upload-failed")]
    manifest = json.loads((lab.case("ir-up") / "manifest.json").read_text())
    assert data["key"] not in {o["key"] for o in manifest["objects"]}
    assert [e["event"] for e in audit(lab, "ir-up") if e["event"].startswith("collect-")] == [
        "collect-sent", "collect-failed"]


def test_an_overwritten_archive_is_a_hash_mismatch(cli: RunCli, lab: Lab) -> None:
    lab.agent()
    s3 = lab.clients("s3")

    def overwrite() -> None:
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="cases/ir-hm/collect/").get(
                "Contents", []):
            if obj["Key"].endswith(".tar.gz") and obj["Size"] > 10:
                md5 = base64.b64encode(hashlib.md5(b"tampered").digest()).decode()
                s3.put_object(Bucket=BUCKET, Key=obj["Key"], Body=b"tampered", ContentMD5=md5)

    lab.clock.after_agent.append(overwrite)
    code, data = collect(cli, lab, "--case-id", "ir-hm", "--sections", "system")
    assert code == 5 and data["reason"] == "hash-mismatch", data
    assert "untrusted" in data["remediation"]
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=data["key"])["Versions"]
    assert len(versions) == 2  # the host's upload is still there, under the tampered one
    manifest = json.loads((lab.case("ir-hm") / "manifest.json").read_text())
    assert data["key"] not in {o["key"] for o in manifest["objects"]}


def test_a_command_nobody_runs_times_out_and_is_cancelled(cli: RunCli, lab: Lab) -> None:
    lab.agent(run=False)  # registered and Online, but the command is never picked up
    code, data = collect(cli, lab, "--case-id", "ir-to", "--timeout", "60")
    assert code == 5 and data["reason"] == "timed-out", data
    assert "Pending" in data["message"]
    [sent] = commands(lab)
    # Per instance: moto 5.2.5 also gives a command sent to one instance an invocation for
    # every other instance in the region (empty Targets match all), which stay Pending.
    assert lab.clients("ssm").get_command_invocation(
        CommandId=sent["CommandId"], InstanceId=lab.suspect)["Status"] == "Cancelled"
    assert lab.clock.mono - 1000.0 >= 60 + 60 + 60  # delivery + timeout + grace, on the fake clock
    assert lab.agents[0].run_once() == []  # a cancelled command never starts


@pytest.mark.parametrize(("fields", "reason", "said"), [
    ({"Status": "Failed", "StatusDetails": "Undeliverable"}, "undeliverable", "Undeliverable"),
    ({"Status": "TimedOut", "StatusDetails": "DeliveryTimedOut"}, "undeliverable", "within 60 s"),
    ({"Status": "TimedOut", "StatusDetails": "ExecutionTimedOut"}, "timed-out", "within 60 s"),
    ({"Status": "Failed", "StatusDetails": "Failed", "ResponseCode": 4,
      "StandardOutputContent": '{"status":"fatal","exit_code":4,"error":"cannot create scratch'
                               ' dir"}\n', "StandardErrorContent": "mktemp: No space left\n"},
     "collector-failed", "cannot create scratch dir"),
    ({"Status": "Success", "StatusDetails": "Success", "ResponseCode": 0}, "not-run",
     "precondition"),
])
def test_how_ssm_ends_a_command_is_reported(cli: RunCli, lab: Lab, fields: dict[str, Any],
                                            reason: str, said: str) -> None:
    lab.agent(run=False)

    def ssm_reports() -> None:
        for cmd in commands(lab):
            report_to_moto("123456789012", "us-east-1", cmd["CommandId"], lab.suspect,
                           {"ResponseCode": -1, "StandardOutputContent": "",
                            "StandardErrorContent": "", **fields})

    lab.clock.after_agent.append(ssm_reports)
    code, data = collect(cli, lab, "--case-id", "ir-ssm", "--timeout", "60")
    assert code == 5 and data["reason"] == reason and said in data["message"], data
    assert data["invocation"]["status_details"] == fields["StatusDetails"]
    if reason == "collector-failed":
        assert data["stderr_tail"] == "mktemp: No space left\n"
    result_file = next(Path(data["case_dir"], "collect").glob("*.result.json"))
    assert json.loads(result_file.read_text())["reason"] == reason


def test_no_wait_returns_the_command_id(cli: RunCli, lab: Lab) -> None:
    lab.agent(run=False)
    code, data = collect(cli, lab, "--case-id", "ir-nw", "--no-wait")
    assert code == 0 and data["status"] == "sent" and data["command_id"], data
    assert [c["CommandId"] for c in commands(lab)] == [data["command_id"]]
    assert lab.clock.slept == []


def test_text_output_says_why_and_what_next(cli: RunCli, lab: Lab) -> None:
    lab.agent(run=False)
    code, out, err = cli("collect", lab.suspect, "--yes", "--case-id", "ir-txt", "--timeout",
                         "60")
    assert code == 5
    assert "ircli collect — FAILED" in out and "not collected (timed-out)" in out
    assert "→ Check the instance's SSM agent" in out
    assert "Pending" in err  # progress on stderr, stdout stays the summary


def test_when_ssm_cannot_be_asked_the_command_is_sent_with_a_warning(
        cli: RunCli, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ssm.exceptions import AccessDeniedException
    from moto.ssm.responses import SimpleSystemManagerResponse

    def denied(self: Any) -> Any:
        raise AccessDeniedException("not allowed: ssm:DescribeInstanceInformation")

    lab.agent(run=False)
    monkeypatch.setattr(SimpleSystemManagerResponse, "describe_instance_information", denied,
                        raising=False)
    code, data = collect(cli, lab, "--case-id", "ir-unk", "--no-wait")
    assert code == 0 and data["status"] == "sent", data
    assert any("could not ask SSM" in w and "sending the command anyway" in w
               for w in data["warnings"])
    assert len(commands(lab)) == 1
