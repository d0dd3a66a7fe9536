"""Benchmark: what the shared case layout (conditional case.json, one audit entry per line)
costs a contain, and what reading the bucket costs list/verify.

Contains the web-compromise suspect twice against the in-process emulator with a per-request
latency injected into every AWS request (default 100 ms): once as before this layout (the
baseline: case.json PUT without a condition, no per-entry audit objects) and once with it.
Then times `case list --bucket` over N cases at both depths and `evidence verify` of the case.
Usage: python bench/casestore.py [--latency-ms 100] [--cases 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto import mock_aws

from bench.custody import CALLS, _install_latency, _timed
from ircli.core.case import render_case
from ircli.core.clock import SystemClock
from ircli.core.session import AwsSession, AwsSettings
from ircli.evidence import casestore as cs
from ircli.evidence import ship
from ircli.evidence.bucket import BucketSpec, init_bucket
from ircli.evidence.bucket_cases import list_remote
from ircli.evidence.verify import verify_case
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain

REGION = "us-east-1"
BUCKET = "ircli-bench-casestore"


def _old_layout() -> None:
    """The shipping of before: case.json like any file, no audit entries."""
    def put_case_json(self: ship.CaseUploader) -> tuple[bytes, str]:
        body = render_case(self.case.data)
        return body, self._put(self.prefix + cs.CASE_JSON, body, ship.digest_bytes(body))

    ship.CaseUploader._ship_case_json = put_case_json  # type: ignore[method-assign]
    ship.CaseUploader._mirror_audit = lambda self: []  # type: ignore[method-assign]


def _run(shared: bool, cases: int) -> dict[str, Any]:
    saved = (ship.CaseUploader._ship_case_json, ship.CaseUploader._mirror_audit)
    with mock_aws():
        clients = lambda s: boto3.client(s, region_name=REGION)  # noqa: E731
        aws = AwsSession(AwsSettings(region=REGION))
        init_bucket(aws, BucketSpec(BUCKET, 1, "GOVERNANCE", None, (), None))
        s3 = clients("s3")
        s3.delete_bucket_policy(Bucket=BUCKET)  # moto ignores its conditions
        lab = seed_web_compromise(clients, REGION)
        if not shared:
            _old_layout()
        try:
            result, seconds, calls = _timed(lambda: contain(
                AwsSession(AwsSettings(region=REGION)), SystemClock(),
                ContainOptions(lab.suspect, snapshot=False, evidence_bucket=BUCKET)))
        finally:
            ship.CaseUploader._ship_case_json, ship.CaseUploader._mirror_audit = saved
        row: dict[str, Any] = {
            "contain_s": seconds, "s3": calls.get("s3", 0),
            "isolated_s": result.data["metrics"]["isolated_after"]["seconds"],
            "lines": len(Path(result.data["case_dir"], "audit.jsonl").read_bytes()
                         .splitlines())}
        if shared:
            for number in range(cases):  # half own-bucket depth, half central depth
                prefix = ship.case_prefix(f"ir-bench-{number}",
                                          "123456789012" if number % 2 else None)
                body = json.dumps({"case_id": f"ir-bench-{number}", "targets": {}}).encode()
                s3.put_object(Bucket=BUCKET, Key=prefix + cs.CASE_JSON, Body=body,
                              **cs._checksums(body))
            found, row["list_s"], list_calls = _timed(lambda: list_remote(s3, BUCKET))
            row.update(listed=len(found), list_calls=sum(list_calls.values()))
            report, row["verify_s"], verify_calls = _timed(lambda: verify_case(
                s3, BUCKET, result.data["case_id"], SystemClock().now()))
            assert report.ok, report.mismatches
            row["verify_calls"] = sum(verify_calls.values())
        CALLS.clear()
        return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION,
                      IRCLI_HOME=tempfile.mkdtemp(prefix="ircli-bench-"))
    _install_latency(args.latency_ms / 1000)
    _run(False, 0)  # warm-up: imports, botocore models and moto's backends load once
    old, new = _run(False, args.cases), _run(True, args.cases)
    for label, row in (("baseline", old), ("shared", new)):
        print(f"contain {label:8s}: {row['contain_s']:6.2f} s total, isolated after "
              f"{row['isolated_s']} s, {row['s3']} S3 requests")
    print(f"shared layout: x{new['contain_s'] / old['contain_s']:.2f} contain time, "
          f"+{new['s3'] - old['s3']} S3 requests ({new['lines']} audit entries, written at "
          f"the run's end), isolation x{new['isolated_s'] / old['isolated_s']:.2f}")
    print(f"case list --bucket ({new['listed']} cases, both depths): {new['list_s']:.2f} s, "
          f"{new['list_calls']} requests")
    print(f"evidence verify (manifest + {new['lines']} entries): {new['verify_s']:.2f} s, "
          f"{new['verify_calls']} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
