"""Which host the lab's agent runs a command on, and the labelled fallback without namespaces.

No namespace is created here (see tests/liveresponse/test_lab_host.py for the real host): a
fake host records what the agent hands it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ircli.lab import sandbox
from ircli.lab.sandbox import BoundedLocalHost, HostScenario, SandboxedHost, lab_host
from ircli.lab.scenarios import HOST_TAG, HOSTS, host_resolver
from ircli.liveresponse import documents as d
from ircli.liveresponse.agent import AgentSubstitute


def test_without_root_the_sandbox_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    assert "needs root" in str(sandbox.namespaces_unavailable())


def test_the_fallback_is_labelled_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_unavailable", lambda: "unshare refused: EPERM")
    host = lab_host(HOSTS["web-compromise"])
    assert isinstance(host, BoundedLocalHost)
    assert host.label.startswith("NOT a lab host: unshare refused: EPERM")
    assert "THIS machine" in host.label
    narrowed = host.adjust({"CaseId": ["c"], "MaxTotalMB": ["1024"], "Sections": ["all"]})
    assert narrowed["Sections"] == [sandbox.BOUNDED_SECTIONS]
    assert narrowed["MaxTotalMB"] == [str(sandbox.BOUNDED_MB)]
    assert "filesystem" not in sandbox.BOUNDED_SECTIONS and "temp_files" not in \
        sandbox.BOUNDED_SECTIONS, "nothing of this machine's files beyond persistence"
    assert host.adjust({"MaxTotalMB": ["5"]})["MaxTotalMB"] == ["5"], "never widened"
    monkeypatch.setattr(sandbox, "_unavailable", lambda: None)
    assert isinstance(lab_host(HOSTS["web-compromise"]), SandboxedHost)


class _FakeHost:
    label = "NOT a lab host: test"

    def __init__(self) -> None:
        self.script = ""
        self.env: dict[str, str] = {}

    def adjust(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        return BoundedLocalHost(HostScenario("h"), "test").adjust(parameters)

    def execute(self, script: str, env: Mapping[str, str], stage: Path, timeout: int
                ) -> tuple[str, int, list[str]]:
        self.script, self.env = script, dict(env)
        (stage / "stdout").write_text('{"status":"complete"}\n')
        (stage / "stderr").write_text("")
        return "Success", 0, ["the scenario's compromise is not planted"]


@mock_aws
def test_the_agent_runs_the_adjusted_command_on_the_host_and_says_where() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.create_document(Content=d.load_document_text("linux"), Name="ircli-test-lr",
                        DocumentType="Command", DocumentFormat="YAML")
    url = "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc"
    cmd = ssm.send_command(InstanceIds=["i-1"], DocumentName="ircli-test-lr", Parameters={
        "CaseId": ["c"], "UploadUrl": [url]})["Command"]
    host = _FakeHost()
    [run] = [r for r in AgentSubstitute(ssm, instance_ids=["i-1"],
                                        host_for=lambda _iid: host).run_once()
             if r.command_id == cmd["CommandId"]]
    assert f'IR_WANT="{sandbox.BOUNDED_SECTIONS}"' in host.script
    assert f'IR_TOTAL_MB="{sandbox.BOUNDED_MB}"' in host.script
    assert host.env["SSM_UploadUrl"] == url and host.env["HOME"] == "/root"
    assert "TMPDIR" not in host.env, "no path of this machine is handed to the host"
    assert run.host == host.label
    inv = ssm.get_command_invocation(CommandId=cmd["CommandId"], InstanceId="i-1")
    assert inv["StandardErrorContent"].startswith("lab host: NOT a lab host: test\n")


@mock_aws
def test_every_lab_instance_gets_a_host_never_this_machine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_unavailable", lambda: None)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def launch(tags: list[dict[str, str]]) -> str:
        spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
        return str(ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                     TagSpecifications=spec)["Instances"][0]["InstanceId"])

    suspect = launch([{"Key": HOST_TAG, "Value": "web-compromise"}])
    named = launch([{"Key": "Name", "Value": "db [/] 1"}])
    bare = launch([])
    resolve = host_resolver(ec2)
    assert resolve(suspect).scenario == HOSTS["web-compromise"]
    assert resolve(named).scenario.hostname == "db-----1"
    assert not resolve(named).scenario.compromised
    assert resolve(bare).scenario.hostname == bare
    assert resolve("i-0000000000unknown").scenario.compromised is False
