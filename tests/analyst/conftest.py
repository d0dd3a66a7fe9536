"""The analyst tests: a contained web-compromise instance, an evidence bucket, the real CLI.

moto loads AWS managed policies only when asked; the analyst role attaches
AmazonSSMManagedInstanceCore as in AWS, so this package's emulator loads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ircli.cli.main import main
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.helpers import run_contain

REGION = "us-east-1"
CASE = "case-1"
BUCKET = "ircli-evidence-analyst"

RunCli = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture(scope="package", autouse=True)
def parse_once() -> Iterator[None]:
    """Parse botocore's models and endpoints, and moto's managed policies, once per package.

    ircli opens a session per command and botocore re-reads every JSON model (and the large
    endpoints file) for each new session; moto parses every AWS managed policy for each IAM
    backend. These tests run dozens of commands, and that parsing was most of their time.
    botocore treats loaded data as read-only, which is how it shares it within a session.
    The analyst role needs only AmazonSSMManagedInstanceCore (a test attaches
    AdministratorAccess to see it removed), so moto loads only those, with AWS's documents.
    """
    import moto.iam.models as iam_models
    from botocore.loaders import Loader

    models: dict[tuple[Any, ...], Any] = {}
    load_model, load_data = Loader.load_service_model, Loader.load_data_with_path

    def shared_model(self: Loader, service_name: str, type_name: str,
                     api_version: str | None = None) -> Any:
        # keyed by the loader too: moto's Loader merges its extras (S3's PreconditionFailed ->
        # 412) into its models, which must not be shared with botocore's plain ones
        key = (type(self), tuple(self.search_paths), tuple(self.extras_types), service_name,
               type_name, api_version)
        if key not in models:
            models[key] = load_model(self, service_name, type_name, api_version)
        return models[key]

    def shared_data(self: Loader, name: str) -> Any:
        if "/" in name:  # a service's file: load_service_model (above) caches the result
            return load_data(self, name)
        if name not in models:
            models[name] = load_data(self, name)
        return models[name]

    policies = json.loads(iam_models.aws_managed_policies_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Loader, "load_service_model", shared_model)
        patch.setattr(Loader, "load_data_with_path", shared_data)
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

    def client(service: str) -> Any:
        if service not in made:
            made[service] = boto3.client(service, region_name=REGION)
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
