"""Fixtures for runbooks, block-ip and triage: a collect stand-in, the CLI, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ircli.steps.catalog
from ircli.cli.main import main
from ircli.core.engine import RunContext
from ircli.steps.base import STEPS, Step, StepPlan
from tests.fakes import FakeClock

SHIPPED = Path(__file__).resolve().parents[2] / "runbooks"
FINDINGS = Path(__file__).parent / "findings"
COLLECT_MISSING = "collect" not in STEPS


class CollectStandIn(Step):
    """Test stand-in for the colleague's `collect` step: changes nothing, records that it ran."""

    name = "collect"
    title = "Collect live evidence (test stand-in)"
    permissions = ()

    def plan(self, ctx: RunContext) -> StepPlan:
        ctx.facts.setdefault("collect_planned", 0)
        ctx.facts["collect_planned"] += 1
        return StepPlan(notes=["stand-in: nothing collected"])


@pytest.fixture
def collect_step() -> Iterator[type[Step]]:
    """The registered ``collect`` step, or the stand-in while this branch lacks it."""
    if not COLLECT_MISSING:
        yield STEPS["collect"]
        return
    STEPS["collect"] = CollectStandIn
    try:
        yield CollectStandIn
    finally:
        STEPS.pop("collect", None)


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.out))


def ircli(capsys: pytest.CaptureFixture[str], *args: str, json_output: bool = True) -> Outcome:
    """``ircli ARGS [-o json]`` in-process: exit code, stdout, stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, *(["-o", "json"] if json_output else [])])
    captured = capsys.readouterr()
    return Outcome(int(exc.value.code or 0), captured.out, captured.err)


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock every CLI command in this test uses (commands build a SystemClock)."""
    fake = FakeClock()
    monkeypatch.setattr("ircli.core.clock.SystemClock", lambda: fake)
    return fake


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path
