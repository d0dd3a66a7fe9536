"""Collect end to end: moto over HTTP in this process, the agent substitute, the real CLI.

The agent substitute runs the real Linux collector on this machine when ircli waits: the clock
ircli gets (``SystemClock`` is swapped for :class:`AgentClock`) runs the agent on each poll
instead of sleeping, so there is no thread and no real sleep beyond the collector's own time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ircli.lab.web_compromise import WebCompromise, lab_image, seed_web_compromise
from ircli.liveresponse.agent import AgentSubstitute, hold_new_commands_pending
from tests.evidence.conftest import ANALYST, RunCli, cli, cli_json  # noqa: F401 - shared
from tests.fakes import FakeClock

REGION = "us-east-1"
BUCKET = "ircli-evidence-collect"
FAST = ("--sections", "system,processes,sockets", "--max-total-mb", "40", "--max-file-mb", "2")


class AgentClock(FakeClock):
    """A fake clock whose waits let the agent substitute run what ircli sent (and then hooks)."""

    def __init__(self) -> None:
        super().__init__()
        self.agent: AgentSubstitute | None = None
        self.after_agent: list[Callable[[], None]] = []

    def sleep(self, seconds: float) -> None:
        if self.agent is not None:
            self.agent.run_once()
        for hook in self.after_agent:
            hook()
        super().sleep(seconds)


@dataclass
class Lab:
    suspect: str
    clients: Any
    clock: AgentClock
    sandbox: Path
    home: Path
    scenario: WebCompromise | None = None
    agents: list[AgentSubstitute] = field(default_factory=list)

    def agent(self, *, register: bool = True, run: bool = True, ping_status: str = "Online",
              **options: Any) -> AgentSubstitute:
        """An agent for the suspect: registered with SSM and/or running what ircli sends."""
        agent = AgentSubstitute(self.clients("ssm"), instance_ids=[self.suspect],
                                region=REGION, sandbox_root=str(self.sandbox), **options)
        if register:
            agent.register(ping_status=ping_status)
        self.agents.append(agent)
        if run:
            self.clock.agent = agent
        return agent

    def case(self, case_id: str) -> Path:
        return self.home / "cases" / case_id


def _lab(clients: Any, home: Path, tmp_path: Path, cli: RunCli,  # noqa: F811
         monkeypatch: pytest.MonkeyPatch, *, full: bool) -> Iterator[Lab]:
    """An instance, an evidence bucket made by `evidence init`, commands held Pending.

    moto ignores bucket-policy conditions, so the init policy is removed (see
    tests/evidence/conftest.py); real S3 evaluates it and lets the responder through.
    """
    scenario = seed_web_compromise(clients, REGION) if full else None
    ec2 = clients("ec2")
    suspect = scenario.suspect if scenario else str(ec2.run_instances(
        ImageId=lab_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"][0]["InstanceId"])
    code, _out, err = cli("evidence", "init", "-y", "--bucket", BUCKET,
                          "--analyst-role-arn", ANALYST)
    assert code == 0, err
    clients("s3").delete_bucket_policy(Bucket=BUCKET)
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", BUCKET)
    clock = AgentClock()
    monkeypatch.setattr("ircli.core.clock.SystemClock", lambda: clock)
    sandbox = tmp_path / "agent"
    sandbox.mkdir()
    undo = hold_new_commands_pending()
    lab = Lab(suspect, clients, clock, sandbox, home, scenario)
    try:
        yield lab
    finally:
        undo()
        for agent in lab.agents:
            agent.unregister()


@pytest.fixture
def lab(server_clients: Any, aws_env: Path, tmp_path: Path, cli: RunCli,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """One running instance (collect needs no more)."""
    yield from _lab(server_clients, aws_env, tmp_path, cli, monkeypatch, full=False)


@pytest.fixture
def contain_lab(server_clients: Any, aws_env: Path, tmp_path: Path, cli: RunCli,  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """The web-compromise scenario (VPC endpoints, ASG, target group...) for containment."""
    yield from _lab(server_clients, aws_env, tmp_path, cli, monkeypatch, full=True)
