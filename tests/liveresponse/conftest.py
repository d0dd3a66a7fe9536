"""Fixtures: dummy AWS credentials and an in-process moto server on 127.0.0.1 (never real AWS)."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy credentials so nothing can reach real AWS even by accident."""
    saved = {k: os.environ.get(k) for k in (*_DUMMY_ENV, *_UNSET)}
    os.environ.update(_DUMMY_ENV)
    for k in _UNSET:
        os.environ.pop(k, None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def moto_endpoint(aws_env: None) -> Iterator[str]:
    """A moto server in this process (the agent substitute reports into its backend)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset_emulator(endpoint: str) -> None:
    """Empty every moto backend before a module builds its lab on the session's server.

    moto's backends are global to the process: the root conftest's server (tests/collect
    deploys the same SSM documents there) and ``mock_aws`` tests share them with this one, so a
    module-scoped lab cannot assume it starts clean. The suite runs with ``--dist loadfile``,
    so a module's tests run together on one worker, never interleaved with a test that resets
    or fills the backends between them (tests/hygiene/test_worker_grouping.py checks).
    """
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                  method="POST")).read()


def client(service: str, endpoint: str) -> Any:
    config = Config(signature_version="s3v4") if service == "s3" else None
    return boto3.session.Session().client(service, region_name=REGION,  # type: ignore[call-overload]
                                          endpoint_url=endpoint, config=config)


@pytest.fixture(scope="session")
def s3(moto_endpoint: str) -> Any:
    return client("s3", moto_endpoint)


@pytest.fixture(scope="session")
def ssm(moto_endpoint: str) -> Any:
    return client("ssm", moto_endpoint)
