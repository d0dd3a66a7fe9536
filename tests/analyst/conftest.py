"""The analyst tests: a contained web-compromise instance, an evidence bucket, the real CLI.

moto loads AWS managed policies only when asked; the analyst role attaches
AmazonSSMManagedInstanceCore as in AWS, so this package's emulator loads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from ircli.cli.main import main
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.conftest import boto_session
from tests.helpers import run_contain

REGION = "us-east-1"
CASE = "case-1"
BUCKET = "ircli-evidence-analyst"

RunCli = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture(scope="package", autouse=True)
def few_managed_policies() -> Iterator[None]:
    """moto parses every AWS managed policy for each IAM backend; the analyst role needs only
    AmazonSSMManagedInstanceCore (a test attaches AdministratorAccess to see it removed), so
    moto loads only those, with AWS's documents."""
    import moto.iam.models as iam_models

    policies = json.loads(iam_models.aws_managed_policies_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(iam_models, "aws_managed_policies_data", json.dumps(
            {name: policies[name] for name in ("AmazonSSMManagedInstanceCore",
                                               "AdministratorAccess")}))
        yield


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The emulator, with AWS's DryRun answer for CreateVpc (moto 5.2.5 creates the VPC)."""
    from moto.ec2.responses.vpcs import VPCs

    create_vpc = VPCs.create_vpc

    def dry_run_aware(self: Any) -> Any:
        self.error_on_dryrun()
        return create_vpc(self)

    monkeypatch.setattr(VPCs, "create_vpc", dry_run_aware)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


@pytest.fixture
def clients(moto_aws: None) -> Callable[[str], Any]:
    """One boto3 client per service and test (creating clients is what makes tests slow)."""
    made: dict[str, Any] = {}
    session = boto_session(region_name=REGION)

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, region_name=REGION)
        return made[service]

    return client


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``cli('analyst', 'launch', ...)`` -> (exit code, the JSON result)."""

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main([*args, "--output", "json"])
        out, err = capsys.readouterr()
        assert out, err
        return int(exc.value.code or 0), json.loads(out)

    return run


@dataclass
class Scene:
    lab: WebCompromise
    snapshots: list[dict[str, Any]]
    isolation_group: str


@pytest.fixture
def scene(clients: Any, cli: RunCli) -> Scene:
    """The suspect contained under CASE (three snapshots), an evidence bucket by `init`."""
    lab = seed_web_compromise(clients, REGION)
    result = run_contain(lab.suspect, case_id=CASE)
    assert result.exit_code == 0, result.data["steps"]
    assert len(result.data["snapshots"]) == 3
    code, _ = cli("evidence", "init", "--yes", "--bucket", BUCKET)
    assert code == 0
    return Scene(lab, result.data["snapshots"], result.data["isolation_group_id"])


def launch_args(*extra: str) -> list[str]:
    return ["analyst", "launch", "--case-id", CASE, "--evidence-bucket", BUCKET, "--yes",
            *extra]


def problems(data: dict[str, Any]) -> list[str]:
    """Failed steps and warnings of a result: the assertion message of a run that should pass."""
    return [f"{s['name']}: {s['detail']}" for s in data.get("steps", [])
            if s["status"] == "failed"] + list(data.get("warnings", [])) + [
        json.dumps(data.get("error"))] * ("error" in data)


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS call any ircli session makes from now on, as IAM actions (``ec2:RunInstances``)."""
    from ircli.core.session import ApiCall, AwsSession

    seen: list[str] = []
    notify = AwsSession._notify

    def record(self: AwsSession, call: ApiCall) -> None:
        seen.append(f"{call.service}:{call.operation}")
        notify(self, call)

    monkeypatch.setattr(AwsSession, "_notify", record)
    return seen
