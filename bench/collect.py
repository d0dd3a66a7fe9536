"""Benchmark: run the real Linux collector on this machine through the SSM-agent substitute.

moto (in-process server on 127.0.0.1) plays SSM and S3; nothing reaches AWS. Prints wall time,
archive size, file count and the section table (time, files, bytes per section; the
categories added for issue 16 are starred). Target for a full triage: < 60 s and < 100 MB.
Usage: python bench/collect.py [--max-total-mb 100] [--sections all] [--lab-host]
(--lab-host collects the lab's sandboxed web-compromise host instead of this machine.)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from ircli.liveresponse import documents
from ircli.liveresponse.agent import AgentSubstitute
from ircli.liveresponse.result import open_archive, parse_result_line, verify_archive

NEW_SECTIONS = ("process_detail", "system_state", "storage", "findings", "keys", "etc",
                "integrity", "integrity_full")


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-total-mb", default="100")
    ap.add_argument("--max-file-mb", default="10")
    ap.add_argument("--sections", default="all")
    ap.add_argument("--lab-host", action="store_true")
    ap.add_argument("--baseline", metavar="GIT_REV",
                    help="also run the Linux document as of this git revision, same conditions, "
                         "and print the ratios (e.g. 9c74122, before issue 16)")
    args = ap.parse_args()
    for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ[k] = v
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # S3 in its own emulator process: on AWS the upload goes to S3, not into the process that
    # plays the agent, so the upload must not wait for this process's interpreter.
    s3_port = _free_port()
    s3_proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(s3_port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        host, port = server.get_host_and_port()
        ep = f"http://{host}:{port}"
        s3_ep = f"http://127.0.0.1:{s3_port}"
        _wait_for(s3_ep)
        s3 = boto3.client("s3", endpoint_url=s3_ep, config=Config(signature_version="s3v4"))
        ssm = boto3.client("ssm", endpoint_url=ep)
        s3.create_bucket(Bucket="ircli-bench")
        ssm.create_document(Content=documents.load_document_text("linux"),
                            Name=documents.LINUX_DOCUMENT, DocumentType="Command",
                            DocumentFormat="YAML")
        host_for = None
        if args.lab_host:
            from ircli.lab.sandbox import lab_host
            from ircli.lab.scenarios import HOSTS

            host = lab_host(HOSTS["web-compromise"])
            print(f"host              {host.label}")
            host_for = lambda _iid: host  # noqa: E731
        wall, run, res, body = _collect(ssm, s3, documents.LINUX_DOCUMENT, "bench", args,
                                        host_for)
        report = verify_archive(body)
        slowest = sorted(report.log, key=lambda e: -int(e["duration_ms"]))[:3]
        print(f"status            {res['status']} (exit {run.response_code})")
        print(f"wall time         {wall:.1f} s")
        print(f"archive size      {len(body) / 1e6:.1f} MB (sha256 ok: "
              f"{hashlib.sha256(body).hexdigest() == res['archive_sha256']})")
        print(f"files             {res['files']} collected, {res['skipped_files']} skipped")
        print(f"steps             ok {res['steps_ok']}, failed {res['steps_failed']}, "
              f"timed out {res['steps_timed_out']}, skipped {res['steps_skipped']}")
        print("slowest steps     " + ", ".join(f"{e['step']} {e['duration_ms'] / 1000:.1f}s"
                                               for e in slowest))
        print(f"archive problems  {len(report.problems)}")
        pkg, up = res.get("package_ms", 0) / 1000, res.get("upload_ms", 0) / 1000
        print(f"collector         {res['duration_s']} s inside, packaging {pkg:.1f} s, "
              f"upload {up:.1f} s")
        print()
        print(f"{'section':<16}{'seconds':>9}{'files':>8}{'MB':>9}  status")
        for e in report.log:
            state = ("timed out" if e["timed_out"] else e["skipped"] if e.get("skipped")
                     else "ok" if e["exit_code"] == 0 else f"exit {e['exit_code']}")
            star = "*" if e["step"] in NEW_SECTIONS else " "
            print(f"{star}{e['step']:<15}{e['duration_ms'] / 1000:>9.1f}{e['files']:>8}"
                  f"{int(e['bytes']) / 1e6:>9.2f}  {state}")
        print("(* new in issue 16; integrity_full runs in the background from the end of the "
              "filesystem section on)")
        with open_archive(body) as tar:
            name = "filesystem/bodyfile_info.txt"
            info = tar.extractfile(name) if name in tar.getnames() else None
            if info is not None:
                print(f"timeline          {info.read().decode().strip()} (whole tree, gzip'd)")
        ok = wall < 60 and len(body) < 100e6 and not report.problems
        print("target            " + ("met" if ok else "MISSED") + " (< 60 s, < 100 MB)")
        if args.baseline:
            old = subprocess.run(["git", "show", f"{args.baseline}:ssm_documents/"
                                  f"{documents.LINUX_DOCUMENT}.yaml"], capture_output=True,
                                 text=True, check=True, cwd=Path(__file__).resolve().parents[1])
            ssm.create_document(Content=old.stdout, Name="ircli-bench-baseline",
                                DocumentType="Command", DocumentFormat="YAML")
            b_wall, _b_run, b_res, b_body = _collect(ssm, s3, "ircli-bench-baseline",
                                                     "baseline", args, host_for)
            b_log = verify_archive(b_body).log
            print(f"baseline {args.baseline:<8} {b_res['status']}, {b_wall:.1f} s, "
                  f"{len(b_body) / 1e6:.1f} MB, {len(b_log)} sections, {b_res['files']} files")
            size = len(body) / len(b_body)
            print(f"ratio             time x{wall / b_wall:.2f}, size x{size:.2f}, "
                  f"sections {len(report.log)} vs {len(b_log)}")
        return 0 if ok else 1
    finally:
        server.stop()
        s3_proc.terminate()
        s3_proc.wait(timeout=30)


def _collect(ssm: Any, s3: Any, document: str, case: str, args: argparse.Namespace,
             host_for: Any) -> tuple[float, Any, dict[str, Any], bytes]:
    """One collection through the agent substitute: wall time, invocation, result, archive."""
    key = f"cases/{case}/collect/i-bench.tar.gz"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "ircli-bench", "Key": key},
                                    ExpiresIn=900)
    cmd = ssm.send_command(InstanceIds=["i-bench"], DocumentName=document,
                           Parameters={"CaseId": [case], "UploadUrl": [url],
                                       "MaxTotalMB": [args.max_total_mb],
                                       "MaxFileMB": [args.max_file_mb],
                                       "TimeoutSeconds": ["600"],
                                       "Sections": [args.sections]})["Command"]
    with tempfile.TemporaryDirectory(prefix="ircli-bench-") as sandbox:
        start = time.monotonic()
        results = AgentSubstitute(ssm, instance_ids=["i-bench"], sandbox_root=sandbox,
                                  host_for=host_for).run_once()
        wall = time.monotonic() - start
    run = next(r for r in results if r.command_id == cmd["CommandId"])
    body = s3.get_object(Bucket="ircli-bench", Key=key)["Body"].read()
    return wall, run, parse_result_line(run.stdout), bytes(body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(endpoint: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the S3 emulator at {endpoint} did not start")


if __name__ == "__main__":
    raise SystemExit(main())
