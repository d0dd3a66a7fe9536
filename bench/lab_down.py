"""Benchmark: how long `ircli contain` takes to fail when the lab (a loopback endpoint) is down.

Runs in-process against a loopback port nothing listens on, as shipped (one TCP probe, then
the error naming `ircli lab up`) and with the probe bypassed (what botocore's retries with
back-off cost before), and prints both with their ratio. Usage: python bench/lab_down.py
[--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import statistics
import sys
import time
from unittest import mock


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _contain_fails() -> float:
    from ircli.cli.main import main

    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):
        main(["contain", "i-0123456789abcdef0", "--yes"])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="lab", AWS_SECRET_ACCESS_KEY="lab",
                      AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://127.0.0.1:{_dead_port()}")
    probed = statistics.median(_contain_fails() for _ in range(args.runs))
    with mock.patch("ircli.cli.endpoint_probe._probe", lambda url: None):
        retried = statistics.median(_contain_fails() for _ in range(args.runs))
    print(f"{'contain with the lab down':<34}{'median s':>10}")
    print(f"{'  probe first (shipped)':<34}{probed:>10.3f}")
    print(f"{'  botocore retries (no probe)':<34}{retried:>10.3f}")
    print(f"{'  ratio':<34}{probed / retried:>10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
