"""Fewer calls per instance, same end state: a new case asks EC2 for no snapshots it cannot
have; a case that recorded its snapshot step asks, and never takes a second set."""

from __future__ import annotations

from typing import Any

import pytest

from ircli.core.session import AwsSession
from tests.accounts.conftest import run_instance
from tests.helpers import run_contain, tags


@pytest.fixture
def operations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = AwsSession.__init__

    def hooked(self: AwsSession, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.boto.events.register("before-parameter-build.ec2.*",
                                  lambda model, **_: seen.append(model.name))

    monkeypatch.setattr(AwsSession, "__init__", hooked)
    return seen


def _case_snapshots(ec2: Any, instance: str) -> list[dict[str, Any]]:
    volumes = [b["Ebs"]["VolumeId"] for b in ec2.describe_instances(InstanceIds=[instance])[
        "Reservations"][0]["Instances"][0]["BlockDeviceMappings"]]
    found: list[dict[str, Any]] = ec2.describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": volumes}])["Snapshots"]
    return found


def test_a_new_case_takes_its_snapshots_without_asking_for_old_ones(
        clients: Any, operations: list[str]) -> None:
    ec2 = clients("ec2")
    instance = run_instance(ec2)
    result = run_contain(instance, case_id="case-new")
    assert result.exit_code == 0
    assert "DescribeSnapshots" not in operations
    assert operations.count("CreateSnapshots") == 1
    snaps = _case_snapshots(ec2, instance)
    assert len(snaps) == 1 and tags(snaps[0])["ircli:case-id"] == "case-new"

    operations.clear()
    again = run_contain(instance, case_id="case-new")  # the record holds the step: ask
    assert again.exit_code == 0
    assert operations.count("DescribeSnapshots") == 1 and "CreateSnapshots" not in operations
    assert [s["SnapshotId"] for s in _case_snapshots(ec2, instance)] == [
        snaps[0]["SnapshotId"]]


def test_a_run_stopped_while_snapshotting_takes_no_second_set(
        clients: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step is recorded "applying" before CreateSnapshots: the re-run sees the set."""
    from ircli.steps import snapshots

    ec2 = clients("ec2")
    instance = run_instance(ec2)
    original = snapshots.Snapshot.apply

    def stop_after_create(self: Any, ctx: Any, plan: Any) -> None:
        for call in plan.calls:
            ctx.execute(call)
        raise RuntimeError("the responder's laptop died")

    monkeypatch.setattr(snapshots.Snapshot, "apply", stop_after_create)
    first = run_contain(instance, case_id="case-cut")
    assert first.exit_code != 0 or any(s["status"] == "failed" for s in first.data["steps"])
    assert len(_case_snapshots(ec2, instance)) == 1
    monkeypatch.setattr(snapshots.Snapshot, "apply", original)
    second = run_contain(instance, case_id="case-cut")
    assert second.exit_code == 0
    assert len(_case_snapshots(ec2, instance)) == 1
