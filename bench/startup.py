"""Benchmark: how long the `ircli` command takes to start (what a responder waits for).

Runs each command several times in a fresh process and prints the median and worst wall
time. Subcommands load lazily, so `--help` and `--version` must not import boto3.
Usage: python bench/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = [["--version"], ["--help"], ["contain", "--help"], ["policy"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = shutil.which("ircli")
    base = [exe] if exe else [sys.executable, "-m", "ircli"]
    print(f"{'command':<24}{'median ms':>11}{'max ms':>9}")
    for command in COMMANDS:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([*base, *command], check=True, capture_output=True)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{'ircli ' + ' '.join(command):<24}{statistics.median(times):>11.0f}"
              f"{max(times):>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
