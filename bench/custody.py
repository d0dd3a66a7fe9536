"""Benchmark: what signing the chain head and walking the version history cost.

Contains the web-compromise suspect twice against the in-process emulator, once without a
signing key (the baseline) and once with one, with a per-request latency injected into every
AWS request (default 100 ms), then verifies the signed case: with the anchors checked, and
(baseline) without KMS. Prints requests and seconds per run and the ratios.
Usage: python bench/custody.py [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import botocore.client
from moto import mock_aws

from ircli.core.clock import SystemClock
from ircli.core.session import AwsSession, AwsSettings
from ircli.evidence.bucket import BucketSpec, init_bucket
from ircli.evidence.settings import ENV_SIGNING_KEY
from ircli.evidence.verify import verify_case
from ircli.lab.web_compromise import seed_web_compromise
from ircli.ops.contain import ContainOptions, contain

REGION = "us-east-1"
BUCKET = "ircli-bench-evidence"
CALLS: collections.Counter[str] = collections.Counter()


def _install_latency(latency: float) -> None:
    """Every API call of every client (ircli's evidence session has its own) waits and counts."""
    real = botocore.client.BaseClient._make_api_call

    def call(self: Any, operation: str, params: Any) -> Any:
        CALLS[self.meta.service_model.service_name] += 1
        time.sleep(latency)
        return real(self, operation, params)

    botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]


def _timed(fn: Any) -> tuple[Any, float, dict[str, int]]:
    CALLS.clear()
    started = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - started, 3), dict(CALLS)


def _run(signed: bool) -> dict[str, Any]:
    """One emulator: contain with or without a signing key; verify (both ways) when signed."""
    with mock_aws():
        clients = lambda s: boto3.client(s, region_name=REGION)  # noqa: E731
        aws = AwsSession(AwsSettings(region=REGION))
        init_bucket(aws, BucketSpec(BUCKET, 1, "GOVERNANCE", None, (), None))
        clients("s3").delete_bucket_policy(Bucket=BUCKET)  # moto ignores its conditions
        os.environ.pop(ENV_SIGNING_KEY, None)
        key_arn = None
        if signed:
            key = clients("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
            key_arn = str(key["KeyMetadata"]["Arn"])
            os.environ[ENV_SIGNING_KEY] = key_arn
        lab = seed_web_compromise(clients, REGION)
        result, seconds, calls = _timed(lambda: contain(
            AwsSession(AwsSettings(region=REGION)), SystemClock(),
            ContainOptions(lab.suspect, snapshot=False, evidence_bucket=BUCKET)))
        row: dict[str, Any] = {
            "contain_s": seconds, "s3": calls.get("s3", 0), "kms": calls.get("kms", 0),
            "isolated_s": result.data["metrics"]["isolated_after"]["seconds"]}
        if signed:
            s3, kms, now, case = clients("s3"), clients("kms"), SystemClock().now(), \
                result.data["case_id"]
            base, row["verify_base_s"], base_calls = _timed(
                lambda: verify_case(s3, BUCKET, case, now))
            full, row["verify_full_s"], full_calls = _timed(lambda: verify_case(
                s3, BUCKET, case, now, kms=kms, signing_key=key_arn))
            assert base.ok and full.ok and full.anchored, full.mismatches
            row.update(verify_base_calls=sum(base_calls.values()),
                       verify_full_calls=sum(full_calls.values()), anchors=full.anchors)
        os.environ.pop(ENV_SIGNING_KEY, None)
        return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION,
                      IRCLI_HOME=tempfile.mkdtemp(prefix="ircli-bench-"))
    _install_latency(args.latency_ms / 1000)
    rows = {"unsigned": _run(False), "signed": _run(True)}
    for label, row in rows.items():
        print(f"contain {label:8s}: {row['contain_s']:6.2f} s total, isolated after "
              f"{row['isolated_s']} s, {row['s3']} S3 + {row['kms']} KMS requests")
    u, s = rows["unsigned"], rows["signed"]
    print(f"signing cost: x{s['contain_s'] / u['contain_s']:.2f} contain time, "
          f"+{s['s3'] - u['s3']} S3 and +{s['kms']} KMS requests, isolation unaffected "
          f"({u['isolated_s']} s vs {s['isolated_s']} s)")
    print(f"verify without KMS  : {s['verify_base_s']:6.2f} s, {s['verify_base_calls']} "
          "requests (objects and version history, anchors unchecked)")
    print(f"verify full (history, {s['anchors']} anchors): {s['verify_full_s']:6.2f} s, "
          f"{s['verify_full_calls']} requests (x{s['verify_full_s'] / s['verify_base_s']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
