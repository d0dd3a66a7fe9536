"""Benchmark: how long the `ircli` command takes to start (what a responder waits for).

Each command runs in a fresh process, interleaved with the baseline `python -c "import boto3"`
(A B A B …, so a drift in the machine's speed hits both), and is printed as the median of its
wall times and the median of the pairwise ratios against the baseline. Help, version and
completion load click only: the target for `ircli --help` is under 0.6x the baseline.
Usage: python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("ircli --version", ["--version"], {}),
    ("ircli --help", ["--help"], {}),
    ("ircli contain --help", ["contain", "--help"], {}),
    ("ircli case list --help", ["case", "list", "--help"], {}),
    ("completion: ircli co<TAB>", [],
     {"_IRCLI_COMPLETE": "bash_complete", "COMP_WORDS": "ircli co", "COMP_CWORD": "1"}),
    ("ircli policy (imports boto3)", ["policy"], {}),
]
BASELINE = [sys.executable, "-c", "import boto3"]


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **env})
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("ircli")
    base = [exe] if exe else [sys.executable, "-m", "ircli"]
    wall(BASELINE, {})  # warm the file cache once
    print(f"baseline: {' '.join(BASELINE[1:])!s}; {args.runs} interleaved runs each")
    print(f"{'command':<30}{'median ms':>10}{'baseline ms':>13}{'ratio':>8}")
    for label, command, env in COMMANDS:
        wall([*base, *command], env)
        ours, theirs, ratios = [], [], []
        for _ in range(args.runs):
            a = wall([*base, *command], env)
            b = wall(BASELINE, {})
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
        print(f"{label:<30}{statistics.median(ours) * 1000:>10.0f}"
              f"{statistics.median(theirs) * 1000:>13.0f}{statistics.median(ratios):>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
