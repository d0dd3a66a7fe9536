"""Benchmark: API calls and wall time until the instance is isolated, and in total.

Runs `contain` on the web-compromise scenario against the in-process emulator with a per-call
latency injected into every AWS request ircli makes (default 100 ms, like a real round trip).
Two cases: the isolation groups missing (first containment in a VPC), and existing (the
common case once a VPC has seen one). Target: isolated after at most 10 calls when the groups
exist: resolve (1), leave the Auto Scaling group first (2), read the groups and the endpoint
rules they must hold exactly, so a tampered group is never trusted (3), two moves per ENI (4).
Usage: python bench/contain.py [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto import mock_aws

from ircli.core.clock import SystemClock
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import lab_image, seed_web_compromise
from ircli.ops.contain import ContainOptions, contain

REGION = "us-east-1"


def session_with_latency(latency: float) -> AwsSession:
    aws = AwsSession(AwsSettings(region=REGION))
    aws.boto.events.register("before-send.*.*", lambda **_: time.sleep(latency))
    return aws


def measure(instance_id: str, latency: float) -> dict[str, Any]:
    started = time.perf_counter()
    result = contain(session_with_latency(latency), SystemClock(),
                     ContainOptions(instance_id=instance_id))
    total = time.perf_counter() - started
    metrics = result.data["metrics"]
    isolated = metrics["isolated_after"]
    return {"status": result.data["status"], "calls_to_isolation": isolated["api_calls"],
            "seconds_to_isolation": isolated["seconds"], "calls_total": metrics["api_calls"],
            "seconds_total": round(total, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION,
                      IRCLI_HOME=tempfile.mkdtemp(prefix="ircli-bench-"))
    with mock_aws():
        lab = seed_web_compromise(lambda s: boto3.client(s, region_name=REGION), REGION)
        ec2 = boto3.client("ec2", region_name=REGION)
        third = ec2.run_instances(
            ImageId=lab_image(ec2), MinCount=1, MaxCount=1, NetworkInterfaces=[
                {"DeviceIndex": 0, "SubnetId": lab.subnet_ids[0], "Groups": [lab.web_sg]},
                {"DeviceIndex": 1, "SubnetId": lab.subnet_ids[0], "Groups": [lab.web_sg]}],
        )["Instances"][0]["InstanceId"]
        rows = [("groups missing (first in VPC)", measure(third, latency)),
                ("groups exist", measure(lab.suspect, latency))]
    print(f"contain, 2 ENIs, 3 volumes, ASG + target group, {args.latency_ms:.0f} ms per call")
    print(f"{'case':<32}{'calls→isolated':>15}{'s→isolated':>12}{'calls total':>13}"
          f"{'s total':>9}")
    for name, row in rows:
        print(f"{name:<32}{row['calls_to_isolation']:>15}{row['seconds_to_isolation']:>12.2f}"
              f"{row['calls_total']:>13}{row['seconds_total']:>9.2f}")
    ok = rows[1][1]["calls_to_isolation"] <= 10
    print(f"target (≤ 10 calls to isolation when groups exist): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
