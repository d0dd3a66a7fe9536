"""Benchmark: run the real Linux collector on this machine through the SSM-agent substitute.

moto (in-process server on 127.0.0.1) plays SSM and S3; nothing reaches AWS. Prints wall time,
archive size and file count. Target for a full triage: < 60 s and < 100 MB.
Usage: python bench/collect.py [--max-total-mb 100] [--sections all]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from ircli.liveresponse import documents
from ircli.liveresponse.agent import AgentSubstitute
from ircli.liveresponse.result import parse_result_line, verify_archive


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-total-mb", default="100")
    ap.add_argument("--max-file-mb", default="10")
    ap.add_argument("--sections", default="all")
    args = ap.parse_args()
    for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ[k] = v
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        ep = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=ep, config=Config(signature_version="s3v4"))
        ssm = boto3.client("ssm", endpoint_url=ep)
        s3.create_bucket(Bucket="ircli-bench")
        ssm.create_document(Content=documents.load_document_text("linux"),
                            Name=documents.LINUX_DOCUMENT, DocumentType="Command",
                            DocumentFormat="YAML")
        key = "cases/bench/collect/i-bench.tar.gz"
        url = s3.generate_presigned_url("put_object", Params={"Bucket": "ircli-bench", "Key": key},
                                        ExpiresIn=900)
        cmd = ssm.send_command(InstanceIds=["i-bench"], DocumentName=documents.LINUX_DOCUMENT,
                               Parameters={"CaseId": ["bench"], "UploadUrl": [url],
                                           "MaxTotalMB": [args.max_total_mb],
                                           "MaxFileMB": [args.max_file_mb],
                                           "TimeoutSeconds": ["600"],
                                           "Sections": [args.sections]})["Command"]
        with tempfile.TemporaryDirectory(prefix="ircli-bench-") as sandbox:
            start = time.monotonic()
            results = AgentSubstitute(ssm, instance_ids=["i-bench"],
                                      sandbox_root=sandbox).run_once()
            wall = time.monotonic() - start
        run = next(r for r in results if r.command_id == cmd["CommandId"])
        res = parse_result_line(run.stdout)
        body = s3.get_object(Bucket="ircli-bench", Key=key)["Body"].read()
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
        ok = wall < 60 and len(body) < 100e6 and not report.problems
        print("target            " + ("met" if ok else "MISSED") + " (< 60 s, < 100 MB)")
        return 0 if ok else 1
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
