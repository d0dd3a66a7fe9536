"""Benchmark: containing several instances at once, each its own case, as a playbook would.

Seeds N instances (two ENIs, two volumes each) in one VPC of the in-process emulator, injects
a per-call latency (default 100 ms), and contains them one after another, then with a thread
pool. Each containment is independent (own case, own lock), so wall time should fall with
the number of workers while API calls stay the same.
Usage: python bench/fleet.py [--instances 8] [--workers 8] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto import mock_aws

from bench.contain import REGION, session_with_latency
from ircli.core.clock import SystemClock
from ircli.lab.web_compromise import lab_image
from ircli.ops.contain import ContainOptions, contain


def seed(count: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    reservation = ec2.run_instances(
        ImageId=lab_image(ec2), MinCount=count, MaxCount=count, NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg]}],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}])
    return [i["InstanceId"] for i in reservation["Instances"]]


def run(ids: list[str], workers: int, latency: float) -> tuple[float, int, int]:
    started = time.perf_counter()

    def one(iid: str) -> tuple[int, int]:
        result = contain(session_with_latency(latency), SystemClock(),
                         ContainOptions(instance_id=iid))
        return int(result.exit_code), int(result.data["metrics"]["api_calls"])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, ids))
    failed = sum(1 for code, _ in outcomes if code)
    return time.perf_counter() - started, sum(calls for _, calls in outcomes), failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION,
                      IRCLI_HOME=tempfile.mkdtemp(prefix="ircli-bench-"))
    latency = args.latency_ms / 1000
    print(f"contain {args.instances} instances, {args.latency_ms:.0f} ms per call")
    print(f"{'workers':>8}{'seconds':>9}{'API calls':>11}{'failed':>8}")
    for workers in (1, args.workers):
        with mock_aws():
            ids = seed(args.instances)
            seconds, calls, failed = run(ids, workers, latency)
        print(f"{workers:>8}{seconds:>9.2f}{calls:>11}{failed:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
