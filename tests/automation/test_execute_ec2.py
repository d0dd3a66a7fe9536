"""The compiled ec2-compromise, run for real by the emulator's Step Functions engine.

One seeded world holds two instances configured alike (EIP, instance profile, Auto Scaling
group, target group); `ircli contain` contains A, the state machine (started with a GuardDuty
finding event for B) contains B, and both must end in the same state, item by item.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from ircli.automation.compiler import CompiledRunbook, compile_runbook
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.runbook.library import get_runbook
from tests.automation.conftest import REGION, Sfn, finding_event
from tests.fakes import FakeClock
from tests.helpers import ircli
from tests.runbooks.test_run import contained_state, launch_twins


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The CLI's clock: its settle waits must not sleep for real."""
    fake = FakeClock()
    monkeypatch.setattr("ircli.core.clock.SystemClock", lambda: fake)
    return fake


@pytest.fixture
def lab(sfn_world: Sfn) -> WebCompromise:
    return seed_web_compromise(sfn_world.clients, REGION)


def compiled(sfn_world: Sfn, name: str = "ec2-compromise") -> CompiledRunbook:
    return compile_runbook(get_runbook(name), bucket=sfn_world.bucket,
                           topic_arn=sfn_world.topic_arn)


def case_of(finding_id: str) -> str:
    """The case id the machine derives from the finding id (States.Hash MD5)."""
    return "ir-gd-" + hashlib.md5(finding_id.encode()).hexdigest()


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """``contained_state`` with the containment time left out (each run has its own clock)."""
    text = json.dumps(state, sort_keys=True)
    text = re.sub(r'"ircli:contained-at", "[^"]+"', '"ircli:contained-at", "<time>"', text)
    text = re.sub(r'"ircli:contained-by", "[^"]+"', '"ircli:contained-by", "<who>"', text)
    out = json.loads(text)
    assert out["tags"].pop("ircli:contained-at")
    return dict(out)


def test_compiled_ec2_compromise_contains_like_ircli_contain(
        sfn_world: Sfn, lab: WebCompromise, capsys: pytest.CaptureFixture[str],
        cli_clock: FakeClock) -> None:
    clients = sfn_world.clients
    first, second = launch_twins(clients, lab)
    contained = ircli(capsys, "contain", first, "--yes", "--case-id", "case-contain")
    assert contained.code == 0, contained.err
    machine = sfn_world.deploy(compiled(sfn_world))

    run = sfn_world.run(machine, finding_event(second, finding_id="gd-finding-b"))

    assert run.status == "SUCCEEDED", run.why()
    cli = comparable(contained_state(clients, lab, first, "case-contain"))
    auto = comparable(contained_state(clients, lab, second, case_of("gd-finding-b")))
    assert cli["eni_groups"] == [["ircli-isolation-endpoints"]] and not cli["in_asg"]
    assert auto["snapshots"] == cli["snapshots"]
    assert auto == cli
