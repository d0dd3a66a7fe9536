"""Benchmark: a fleet of instances contained at once, against one after another.

The emulator runs in its own process (a moto server, reached over HTTP as the CLI meets
it) and 100 ms are injected into every AWS request ircli makes (a real round trip). N
instances (default 50; two volumes each, one VPC) are contained with the library: first a
sample one after another (the baseline, per instance), then all N with a thread pool, each
its own case. Prints wall time, API calls, CPU seconds per instance and the speed-up against
the baseline measured in the same run; every instance is then checked to be isolated.
Target: 50 instances at least 8× faster than one after another, none left half-done.
Usage: python bench/fleet.py [--instances 50] [--workers 16] [--sample 4] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3

from ircli.core.clock import SystemClock
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import lab_image
from ircli.ops.contain import ContainOptions, contain

REGION = "us-east-1"


def start_emulator(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=open(work / "moto.log", "wb"))  # noqa: SIM115
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            return server, endpoint
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the moto server did not start")


def seed(endpoint: str, count: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/20")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    reservation = ec2.run_instances(
        ImageId=lab_image(ec2), MinCount=count, MaxCount=count, NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg]}],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}])
    return [i["InstanceId"] for i in reservation["Instances"]]


def contain_one(instance_id: str, endpoint: str, latency: float) -> tuple[int, int]:
    aws = AwsSession(AwsSettings(region=REGION, endpoint_url=endpoint))
    aws.boto.events.register("before-send.*.*", lambda **_: time.sleep(latency))
    result = contain(aws, SystemClock(), ContainOptions(instance_id=instance_id))
    return int(result.exit_code), int(result.data["metrics"]["api_calls"])


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(ids: list[str], workers: int, endpoint: str, latency: float, emulator: int
        ) -> tuple[float, float, float, int, int]:
    wall, cpu, emu = time.perf_counter(), time.process_time(), cpu_of(emulator)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda i: contain_one(i, endpoint, latency), ids))
    return (time.perf_counter() - wall, time.process_time() - cpu, cpu_of(emulator) - emu,
            sum(calls for _, calls in outcomes), sum(1 for code, _ in outcomes if code))


def isolated(endpoint: str, ids: list[str]) -> int:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": ids}])["NetworkInterfaces"]
    done = {n["Attachment"]["InstanceId"] for n in enis
            if [g["GroupName"] for g in n["Groups"]] == ["ircli-isolation-endpoints"]}
    return len(done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--sample", type=int, default=4,
                        help="instances contained one after another for the baseline")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ircli-bench-fleet-"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION=REGION, IRCLI_HOME=str(work / "home"))
    latency = args.latency_ms / 1000
    server, endpoint = start_emulator(work)
    try:
        ids = seed(endpoint, args.instances + args.sample)
        sample, fleet = ids[:args.sample], ids[args.sample:]
        print(f"contain {args.instances} instances (emulator in its own process), "
              f"{args.latency_ms:.0f} ms per call")
        print(f"{'run':<26}{'instances':>10}{'wall s':>9}{'s/inst':>8}{'API calls':>11}"
              f"{'CPU s/inst':>11}{'emulator CPU s':>15}{'failed':>8}")
        s_wall, s_cpu, s_emu, s_calls, s_failed = run(sample, 1, endpoint, latency, server.pid)
        per = s_wall / len(sample)
        print(f"{'one after another (base)':<26}{len(sample):>10}{s_wall:>9.1f}{per:>8.2f}"
              f"{s_calls:>11}{s_cpu / len(sample):>11.2f}{s_emu:>15.1f}{s_failed:>8}")
        f_wall, f_cpu, f_emu, f_calls, f_failed = run(fleet, args.workers, endpoint, latency,
                                                      server.pid)
        print(f"{f'{args.workers} workers':<26}{len(fleet):>10}{f_wall:>9.1f}"
              f"{f_wall / len(fleet):>8.2f}{f_calls:>11}{f_cpu / len(fleet):>11.2f}"
              f"{f_emu:>15.1f}{f_failed:>8}")
        speedup = per * len(fleet) / f_wall
        ok = isolated(endpoint, fleet)
        print(f"speed-up against one after another: {speedup:.1f}× (target 8×: "
              f"{'met' if speedup >= 8 else 'NOT met'}); isolated {ok} of {len(fleet)}")
        print(f"the emulator (one process) spent {f_emu:.1f} CPU-s of the fleet's "
              f"{f_wall:.1f} s: where it is near the wall time, the emulator, not ircli, "
              "bounds the speed-up")
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0 if f_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
