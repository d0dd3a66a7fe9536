"""Every test runs against the local emulator (moto); no request may reach real AWS."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from tests.fakes import FakeClock

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Dummy credentials, a fixed region, a private IRCLI_HOME; no profile or config leaks in."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "IRCLI_")):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "ircli-home"
    monkeypatch.setenv("IRCLI_HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to a real AWS host."""
    real = socket.create_connection

    def guarded(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = str(address[0])
        if host.endswith(("amazonaws.com", "amazonaws.com.cn", "aws.amazon.com")):
            raise AssertionError(f"test tried to reach real AWS: {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """In-process emulator for unit tests."""
    with mock_aws():
        yield


@pytest.fixture
def clients(moto_aws: None) -> Any:
    """``clients('ec2')``: a boto3 client for the in-process emulator."""
    return lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- a moto server in this process, reached over HTTP (e2e, collect) -----------------------
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
