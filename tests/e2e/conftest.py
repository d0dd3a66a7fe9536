"""End-to-end fixtures: a real moto server over HTTP and the installed `ircli` command."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean emulator for this test, reached through AWS_ENDPOINT_URL like a user would."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST")).read()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def server_clients(endpoint: str) -> Any:
    return lambda service: boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def _ircli_command() -> list[str]:
    exe = shutil.which("ircli", path=str(Path(sys.executable).parent)) or shutil.which("ircli")
    return [exe] if exe else [sys.executable, "-m", "ircli"]


@pytest.fixture
def ircli() -> Any:
    """Run the real `ircli` command in a subprocess, without a terminal on stdin."""
    def run(*args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()
            ) -> CliResult:
        environ = {**os.environ, **(env or {})}
        for key in unset:
            environ.pop(key, None)
        proc = subprocess.run([*_ircli_command(), *args], capture_output=True, text=True,
                              env=environ, stdin=subprocess.DEVNULL, timeout=120)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
