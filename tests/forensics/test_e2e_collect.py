"""Collection from a member account lands in the central bucket, over HTTP (a moto server).

`ircli collect` from the central account on member A's instance, with [forensics] configured:
the collector (the agent substitute runs the real Linux collector here, a small collection)
uploads through a URL signed for the forensics bucket by A's ircli role, under
``cases/<A>/<case-id>/``; then `evidence verify` passes from the forensics account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from ircli.liveresponse.agent import AgentSubstitute, hold_new_commands_pending
from ircli.liveresponse.result import verify_archive
from tests.accounts.conftest import run_instance
from tests.collect.conftest import FAST, AgentClock
from tests.evidence.conftest import RunCli, cli, cli_json  # noqa: F401 - the fixture
from tests.forensics.conftest import (
    BUCKET,
    FORENSICS,
    FORENSICS_ROLE,
    MEMBER_A,
    REGION,
    ROLE,
)
from tests.forensics.test_e2e import central_accounts

pytestmark = pytest.mark.e2e
CASE = "case-collect-a"


@pytest.fixture
def world(endpoint: str, aws_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[dict[str, Any]]:
    a, f, _key, s3_f = central_accounts(endpoint, aws_env, [])
    instance = run_instance(a.client("ec2", endpoint_url=endpoint))
    sandbox = tmp_path / "agent"
    sandbox.mkdir()
    agent = AgentSubstitute(a.client("ssm", endpoint_url=endpoint), instance_ids=[instance],
                            region=REGION, sandbox_root=str(sandbox), account_id=MEMBER_A)
    agent.register()
    clock = AgentClock()
    clock.agent = agent
    monkeypatch.setattr("ircli.core.clock.SystemClock", lambda: clock)
    undo = hold_new_commands_pending()
    try:
        yield {"a": a, "f": f, "endpoint": endpoint, "instance": instance, "s3_f": s3_f}
    finally:
        undo()
        agent.unregister()


def test_a_member_collection_goes_to_the_central_bucket_under_its_account(
        cli: RunCli, world: dict[str, Any]) -> None:  # noqa: F811 - the fixture
    a, endpoint = world["a"], world["endpoint"]
    code, data = cli_json(cli, "collect", world["instance"], "--yes", "--account", MEMBER_A,
                          "--role-name", ROLE, "--case-id", CASE, "--new-case",
                          "--timeout", "120", *FAST)
    assert code == 0, data
    assert data["status"] == "collected", data
    prefix = f"cases/{MEMBER_A}/{CASE}/"
    key = data["key"]
    assert key.startswith(f"{prefix}collect/{world['instance']}-"), key
    assert data["evidence"]["prefix"] == prefix

    # The archive is in the forensics account's bucket, nowhere in A.
    body = world["s3_f"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert verify_archive(body).problems == []
    assert a.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"] == []

    # The URL the collector got is signed for that bucket and key, by A's ircli role.
    [sent] = a.client("ssm", endpoint_url=endpoint).list_commands()["Commands"]
    url = urlparse(sent["Parameters"]["UploadUrl"][0])
    assert url.path in (f"/{BUCKET}/{key}", f"/{key}")
    assert BUCKET in (url.netloc + url.path)
    signer = parse_qs(url.query)["X-Amz-Credential"][0].split("/")[0]
    owner = a.client("sts", endpoint_url=endpoint).get_access_key_info(AccessKeyId=signer)
    assert owner["Account"] == MEMBER_A

    code, report = cli_json(cli, "evidence", "verify", CASE, "--account", FORENSICS,
                            "--role-name", FORENSICS_ROLE)
    assert code == 0 and report["ok"], report
    assert any(o["key"] == key and o["ok"] for o in report["objects"]), report["objects"]
