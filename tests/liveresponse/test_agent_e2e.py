"""End to end: moto as control plane + S3, the agent substitute runs the real Linux collector.

The collector really runs on this machine (as the SSM agent would run it on an instance) and
uploads over HTTP to the in-process moto server through a presigned PUT URL.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import subprocess
import threading
import time
import uuid
from typing import Any, ClassVar

import pytest
from botocore.exceptions import ClientError

from ircli.liveresponse import documents as d
from ircli.liveresponse.agent import AgentSubstitute, hold_new_commands_pending
from ircli.liveresponse.collection import SECTIONS
from ircli.liveresponse.result import open_archive, parse_result_line, verify_archive
from tests.liveresponse.conftest import reset_emulator

# One module-scoped lab on a process-wide emulator: its tests run together on one worker.
pytestmark = pytest.mark.xdist_group("liveresponse-agent-e2e")

INSTANCE = "i-0123456789abcdef0"
BUCKET = "ircli-evidence-test"
FAST = {"MaxTotalMB": "100", "MaxFileMB": "2", "TimeoutSeconds": "120"}
# This machine's full package verification reads gigabytes, its whole-tree timeline takes
# 9 s of the test's 19 and its /tmp copy is 38 MB of other projects' files: the sandboxed lab
# host's tests (test_lab_host.py) run those sections on a host whose content they know.
MACHINE_SECTIONS = [s for s in SECTIONS
                    if s not in ("memory", "integrity", "filesystem", "temp_files")]


@pytest.fixture(scope="module")
def lab(moto_endpoint: str, s3: Any, ssm: Any) -> dict[str, Any]:
    """Bucket (Object Lock + versioning) and both documents created in a clean emulator."""
    reset_emulator(moto_endpoint)
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    names = {}
    for platform, name in d.DOCUMENT_NAMES.items():
        ssm.create_document(Content=d.load_document_text(platform), Name=name,
                            DocumentType="Command", DocumentFormat="YAML")
        names[platform] = name
    return {"s3": s3, "ssm": ssm, "docs": names}


def presign(s3: Any, key: str, bucket: str = BUCKET, expires: int = 600) -> str:
    # Content-MD5 is not signed: the archive does not exist when the URL is minted. The
    # collector still sends the header (Object Lock buckets require it); S3 accepts it unsigned.
    return str(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key},
                                         ExpiresIn=expires))


def send(lab: dict[str, Any], platform: str, params: dict[str, str]) -> str:
    resp = lab["ssm"].send_command(
        InstanceIds=[INSTANCE], DocumentName=lab["docs"][platform],
        Parameters={k: [v] for k, v in params.items()}, TimeoutSeconds=600)
    return str(resp["Command"]["CommandId"])


def invocation(lab: dict[str, Any], command_id: str) -> dict[str, Any]:
    return dict(lab["ssm"].get_command_invocation(CommandId=command_id, InstanceId=INSTANCE))


def run_only(lab: dict[str, Any], command_id: str, **kw: Any) -> Any:
    agent = AgentSubstitute(lab["ssm"], instance_ids=[INSTANCE], **kw)
    results = [r for r in agent.run_once() if r.command_id == command_id]
    assert len(results) == 1
    return results[0]


def _diagnosis(result: Any) -> str:
    """What the substitute saw, for a failure message that explains itself."""
    return (f"status={result.status} response_code={result.response_code} "
            f"after {result.duration_s:.0f} s\n--- stdout ---\n{result.stdout[-3000:]}\n"
            f"--- stderr ---\n{result.stderr[-3000:]}")


def _new_scratch_dirs(before: set[str], where: str) -> set[str]:
    """Collector scratch directories (its only mktemp name) that appeared in ``where``.

    Only the collector's own name counts: other programs on a shared machine create their own
    ircli-named and tmp.* entries in /tmp meanwhile. Where the collector really worked is
    checked from its own record (``scratch=`` in collector/start.txt)."""
    return {p for p in set(os.listdir(where)) - before if p.startswith("ircli-lr.")}


def test_full_collection_end_to_end(lab: dict[str, Any], tmp_path: Any) -> None:
    case = f"case-e2e-{uuid.uuid4().hex[:8]}"
    key = f"cases/{case}/collect/{INSTANCE}.tar.gz"
    marker = f"ircli-test-sleeper-{uuid.uuid4().hex[:8]}"
    sleeper = subprocess.Popen([marker, "1234"], executable="/bin/sleep")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    before_tmp, before_shm = set(os.listdir("/tmp")), set(os.listdir("/dev/shm"))
    # Generous budgets: this test checks what is collected, not how fast; on a busy machine
    # the built-in per-section budgets (meant for a production host) can run out.
    budgets = {**FAST, "TimeoutSeconds": "900", "StepTimeoutSeconds": "600"}
    try:
        cmd_id = send(lab, "linux", {"CaseId": case, "UploadUrl": presign(lab["s3"], key),
                                     "Sections": ",".join(MACHINE_SECTIONS), **budgets})
        result = run_only(lab, cmd_id, sandbox_root=str(tmp_path))
    finally:
        sleeper.kill()
        sleeper.wait()
        listener.close()
    why = _diagnosis(result)
    assert result.leftovers == (), f"collector left files in its sandbox: {result.leftovers}"
    leaked = _new_scratch_dirs(before_tmp, "/tmp") | _new_scratch_dirs(before_shm, "/dev/shm")
    assert leaked == set(), f"collector scratch outside its sandbox TMPDIR: {leaked}"
    assert result.status == "Success", why
    res = parse_result_line(result.stdout)
    assert result.status == "Success", ({k: res.get(k) for k in (
        "status", "failed_steps", "timed_out_steps", "skipped_steps", "upload_error")},
        result.stderr[-2000:])
    assert result.stdout.strip() == result.stdout.strip().split("\n")[0], "only one stdout line"
    assert res["status"] == "complete", f"{res}\n{why}"
    assert res["steps_failed"] == 0 and res["steps_timed_out"] == 0 and res["upload_etag_ok"], \
        res

    inv = invocation(lab, cmd_id)
    assert inv["Status"] == "Success" and inv["ResponseCode"] == 0
    assert parse_result_line(inv["StandardOutputContent"]) == res
    listed = lab["ssm"].list_commands(CommandId=cmd_id)["Commands"][0]
    assert listed["Status"] == "Success"

    body = lab["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == res["archive_sha256"]
    assert len(body) == res["archive_size"]
    report = verify_archive(body)
    assert report.problems == []
    assert report.members[:2] == ["manifest.jsonl", "collection.log"]
    assert res["files"] == len([m for m in report.manifest if "skipped" not in m])
    steps = [e["step"] for e in report.log]
    assert steps == MACHINE_SECTIONS, "every section asked for, once, in the collector's order"
    for e in report.log:
        assert {"start", "end", "duration_ms", "exit_code", "timed_out", "bytes"} <= set(e)
        assert e["timed_out"] is False and e["exit_code"] == 0, e

    with open_archive(body) as tar:
        def text(name: str) -> str:
            f = tar.extractfile(name)
            assert f is not None, f"{name} missing from the archive"
            return f.read().decode("utf-8", "replace")
        ps = text("processes/ps.txt")
        table = text("processes/proc_table.tsv")
        sockets = text("sockets/sockets_proc.tsv")
        info = next((text(m.name) for m in tar.getmembers()
                     if m.name.endswith("collector/start.txt")), "")
    scratch = next((line.split("=", 1)[1] for line in info.splitlines()
                    if line.startswith("scratch=")), "")
    assert scratch.startswith(str(tmp_path)), f"collector worked in {scratch!r}, not its sandbox"
    assert any(f"{marker} 1234" in line and str(sleeper.pid) in line for line in
               ps.splitlines()), f"sleeper {sleeper.pid} ({marker}) not in ps.txt:\n{ps[:3000]}"
    assert f"{sleeper.pid}\t" in table and f"{marker} 1234" in table, \
        f"sleeper {sleeper.pid} not in proc_table.tsv:\n{table[:3000]}"
    rows = [r.split("\t") for r in sockets.splitlines()[1:]]
    mine = [r for r in rows if r[0] == "tcp" and r[1] == f"127.0.0.1:{port}"]
    assert mine and mine[0][3] == "LISTEN", sockets[:2000]
    assert f"{os.getpid()}/" in mine[0][6], "listening socket must carry its owning PID"


def test_hanging_step_is_cut_and_run_is_partial(lab: dict[str, Any], tmp_path: Any) -> None:
    key = f"cases/case-hang/collect/{INSTANCE}.tar.gz"
    cmd_id = send(lab, "linux", {"CaseId": "case-hang", "UploadUrl": presign(lab["s3"], key),
                                 "Sections": "system,sessions,kernel", "StepTimeoutSeconds": "3",
                                 **FAST})
    start = time.monotonic()
    result = run_only(lab, cmd_id, sandbox_root=str(tmp_path),
                      extra_env={"IRCLI_COLLECTOR_TEST_HANG_STEP": "sessions"})
    assert time.monotonic() - start < 30
    res = parse_result_line(result.stdout)
    assert res["status"] == "partial" and res["timed_out_steps"] == ["sessions"], res
    assert result.response_code == 2 and result.status == "Failed"
    body = lab["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == res["archive_sha256"]
    log = {e["step"]: e for e in verify_archive(body).log}
    assert log["sessions"]["timed_out"] is True and log["sessions"]["duration_ms"] < 10_000
    assert log["kernel"]["exit_code"] == 0, "steps after the hang still ran"


def test_upload_failure_is_reported(lab: dict[str, Any], tmp_path: Any) -> None:
    key = f"cases/case-up/collect/{INSTANCE}.tar.gz"
    url = presign(lab["s3"], key, bucket="ircli-no-such-bucket")
    cmd_id = send(lab, "linux", {"CaseId": "case-up", "UploadUrl": url, "Sections": "system",
                                 **FAST})
    result = run_only(lab, cmd_id, sandbox_root=str(tmp_path))
    res = parse_result_line(result.stdout)
    assert res["status"] == "upload_failed" and result.response_code == 3
    assert result.response_code not in (194, 3010, 168, 169)
    assert invocation(lab, cmd_id)["Status"] == "Failed"
    assert res["archive_kept"] and res["upload_http"] == "404"
    assert [p for p in result.leftovers if p.endswith(".tar.gz")], "archive kept for a retry"
    with pytest.raises(ClientError):
        lab["s3"].head_object(Bucket="ircli-no-such-bucket", Key=key)
    with pytest.raises(ClientError):
        lab["s3"].head_object(Bucket=BUCKET, Key=key)


def test_windows_document_fails_plainly_without_pwsh(lab: dict[str, Any], tmp_path: Any,
                                                     monkeypatch: Any) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)
    cmd_id = send(lab, "windows", {"CaseId": "case-win",
                                   "UploadUrl": presign(lab["s3"], "cases/w/x.zip")})
    result = run_only(lab, cmd_id, sandbox_root=str(tmp_path))
    assert result.status == "Failed" and result.response_code != 0
    inv = invocation(lab, cmd_id)
    assert inv["Status"] == "Failed"
    assert "Windows collector cannot run on this machine" in inv["StandardErrorContent"]


def test_timeout_kills_the_process_group_and_reports_timed_out(lab: dict[str, Any],
                                                               tmp_path: Any) -> None:
    content = ('{"schemaVersion":"2.2","description":"sleep","mainSteps":[{"action":'
               '"aws:runShellScript","name":"sleepy","precondition":{"StringEquals":'
               '["platformType","Linux"]},"inputs":{"timeoutSeconds":"5","runCommand":'
               '["echo started","/bin/sleep 60 & /bin/sleep 60"]}}]}')
    lab["ssm"].create_document(Content=content, Name="ircli-test-sleep", DocumentType="Command",
                               DocumentFormat="JSON")
    cmd_id = lab["ssm"].send_command(InstanceIds=[INSTANCE], DocumentName="ircli-test-sleep")[
        "Command"]["CommandId"]
    agent = AgentSubstitute(lab["ssm"], instance_ids=[INSTANCE], sandbox_root=str(tmp_path))
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(invocation(lab, cmd_id)["Status"])
            done.wait(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = [r for r in agent.run_once() if r.command_id == cmd_id]
    finally:
        done.set()
        watcher.join()
    assert results[0].status == "TimedOut" and results[0].stdout == "started\n"
    assert "InProgress" in seen
    inv = invocation(lab, cmd_id)
    assert inv["Status"] == "TimedOut" and inv["PluginName"] == "sleepy"
    leftover = subprocess.run(["pgrep", "-f", "^/bin/sleep 60$"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "the whole process group must be killed"


def test_commands_can_be_held_pending_until_the_substitute_reports(lab: dict[str, Any],
                                                                   tmp_path: Any) -> None:
    content = ('{"schemaVersion":"2.2","description":"echo","mainSteps":[{"action":'
               '"aws:runShellScript","name":"hello","precondition":{"StringEquals":'
               '["platformType","Linux"]},"inputs":{"runCommand":["echo hello; exit 2"]}}]}')
    lab["ssm"].create_document(Content=content, Name="ircli-test-echo", DocumentType="Command",
                               DocumentFormat="JSON")
    undo = hold_new_commands_pending()
    try:
        cmd_id = lab["ssm"].send_command(InstanceIds=[INSTANCE], DocumentName="ircli-test-echo")[
            "Command"]["CommandId"]
    finally:
        undo()
    assert invocation(lab, cmd_id)["Status"] == "Pending"
    assert lab["ssm"].list_commands(CommandId=cmd_id)["Commands"][0]["Status"] == "Pending"
    result = run_only(lab, cmd_id, sandbox_root=str(tmp_path))
    inv = invocation(lab, cmd_id)
    assert (result.status, inv["Status"], inv["ResponseCode"]) == ("Failed", "Failed", 2)
    assert inv["StandardOutputContent"] == "hello\n"
    listed = lab["ssm"].list_commands(CommandId=cmd_id)["Commands"][0]
    assert listed["Status"] == "Failed" and listed["ErrorCount"] == 1


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Plays S3's PUT: records the request, answers with the body's MD5 as ETag."""

    seen: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_upload_writes_once_and_the_url_stays_out_of_every_environment(
        lab: dict[str, Any], tmp_path: Any) -> None:
    """As a hostile host would: read every /proc/N/environ the collector can see (it packs
    them) and look for the URL's signature; and the PUT must ask S3 to write the key once."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    signature = uuid.uuid4().hex
    url = (f"http://127.0.0.1:{server.server_address[1]}/bucket/cases/c/x.tar.gz?"
           f"X-Amz-Credential=ASIAEXAMPLE%2F20240101&X-Amz-Signature={signature}")
    try:
        cmd_id = send(lab, "linux", {"CaseId": "case-once", "UploadUrl": url,
                                     "Sections": "system,processes", **FAST})
        result = run_only(lab, cmd_id, sandbox_root=str(tmp_path))
    finally:
        server.shutdown()
        thread.join()
    assert result.status == "Success", result.stderr
    [(path, headers, body)] = [s for s in _Recorder.seen if signature in s[0]]
    assert headers.get("If-None-Match") == "*", headers
    assert headers.get("Content-MD5"), "Content-MD5 is still sent"
    assert "upload_url_from=fd" in _member(body, "collector/start.txt")
    with open_archive(body) as tar:
        environs = [m for m in tar.getmembers() if m.name.endswith("/environ")]
        assert environs, "the processes section packs /proc/N/environ"
        for member in tar.getmembers():
            f = tar.extractfile(member) if member.isfile() else None
            if f is not None:
                assert signature.encode() not in f.read(), f"{member.name} holds the URL"
    assert path.endswith(signature)


def _member(body: bytes, name: str) -> str:
    with open_archive(body) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read().decode()
