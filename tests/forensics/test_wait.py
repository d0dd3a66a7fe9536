"""Waiting for the copies: the snapshot step's size-aware ceiling, progress, no real sleep."""

from __future__ import annotations

from typing import Any

import pytest

from ircli.core.errors import StepFailed
from ircli.steps.forensic_copy import wait_for_copies
from ircli.steps.snapshots import SECONDS_PER_GIB
from tests.fakes import FakeClock


class Ctx:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.events: list[dict[str, Any]] = []

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append({"kind": kind, **data})


class Ec2:
    """Answers DescribeSnapshots with ``pending`` for the first ``pending_polls`` polls."""

    def __init__(self, pending_polls: int, final: str = "completed") -> None:
        self.left = pending_polls
        self.final = final

    def describe_snapshots(self, SnapshotIds: list[str]) -> dict[str, Any]:
        state = "pending" if self.left > 0 else self.final
        self.left -= 1
        return {"Snapshots": [{"SnapshotId": i, "State": state, "Progress": "40%"}
                              for i in SnapshotIds]}


def test_waits_on_the_injected_clock_and_reports_progress() -> None:
    ctx = Ctx()
    wait_for_copies(ctx, Ec2(pending_polls=3), [{"SnapshotId": "snap-1", "VolumeSize": 8}])
    assert len(ctx.clock.slept) == 3  # slept on the fake clock, not for real
    assert [e["message"] for e in ctx.events] == ["0/1 forensic copy(ies) complete"] * 3 + [
        "1/1 forensic copy(ies) complete"]


def test_gives_up_after_the_size_aware_ceiling_and_says_how_to_finish() -> None:
    ctx = Ctx()
    size = 20  # GiB: 20 minutes, above the 5-minute floor
    with pytest.raises(StepFailed) as err:
        wait_for_copies(ctx, Ec2(pending_polls=10_000), [{"SnapshotId": "snap-1",
                                                          "VolumeSize": size}])
    assert f"after {SECONDS_PER_GIB * size} s" in err.value.message
    assert "ircli forensics share" in str(err.value.remediation)
    assert ctx.events[-1]["deadline"] == SECONDS_PER_GIB * size


def test_a_copy_in_error_fails_at_once_naming_the_key_policy() -> None:
    ctx = Ctx()
    with pytest.raises(StepFailed) as err:
        wait_for_copies(ctx, Ec2(pending_polls=0, final="error"), [{"SnapshotId": "snap-1"}])
    assert "snap-1" in err.value.message and "forensics check" in str(err.value.remediation)
    assert ctx.clock.slept == []
