"""The compiled wait for a snapshot (or a copy) to complete: bounded by its size, failing by
name past the deadline, never waiting for real (the Wait states are the emulator's shim).

The poll states alone make a small machine, so each case costs little emulator time; the
snapshot's state is set in the emulator's backend, as AWS would report it.
"""

from __future__ import annotations

import json

import pytest
from moto.ec2.models import ec2_backends

from ircli.steps.asl_forensic_copy import ERROR_WAIT, fail_state
from ircli.steps.asl_snapshot_wait import MIN_POLLS, POLL_SECONDS, poll_states
from tests.automation.conftest import (
    ACCOUNT,
    REGION,
    Run,
    Sfn,
    sfn_world,  # noqa: F401 - the fixture
)


def run_poll(world: Sfn, size: int, state: str, *, complete_after: int | None = None) -> Run:
    ec2 = world.clients("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=size)["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    backend = ec2_backends[ACCOUNT][REGION].snapshots[snap]
    backend.status = state
    if complete_after is not None:
        def later() -> None:
            if len(world.emulator.waits) >= complete_after:
                backend.status = "completed"
        world.emulator.during_wait = later
    states = poll_states("p", "Src", "$.s.SnapshotId", "$.s.VolumeSize", "Done", "Failed", "Late")
    states.update({"Done": {"Type": "Succeed"},
                   "Failed": fail_state("ircli.SnapshotFailed", "failed"),
                   "Late": fail_state(ERROR_WAIT, "late")})
    role = world.clients("iam").create_role(RoleName=f"poll-{size}-{state}",
                                            AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = world.clients("stepfunctions").create_state_machine(
        name=f"poll-{size}-{state}", roleArn=role, definition=json.dumps(
            {"StartAt": "p.Src.Limit", "States": states}))["stateMachineArn"]
    return world.run(machine, {"s": {"SnapshotId": snap, "VolumeSize": size}})


@pytest.mark.parametrize(("size", "polls"), [(1, MIN_POLLS), (40, 80)])
def test_a_snapshot_that_never_completes_fails_the_step_by_name_after_its_size_allows(
        sfn_world: Sfn, size: int, polls: int) -> None:  # noqa: F811 - the fixture
    run = run_poll(sfn_world, size, "pending")
    assert run.status == "FAILED" and run.error == ERROR_WAIT, run.why()
    assert sfn_world.emulator.waits == [POLL_SECONDS] * polls  # 60 s per GiB, 300 s at least


def test_a_snapshot_that_completes_ends_the_wait(sfn_world: Sfn) -> None:  # noqa: F811
    run = run_poll(sfn_world, 8, "pending", complete_after=3)
    assert run.status == "SUCCEEDED", run.why()
    assert len(sfn_world.emulator.waits) == 3


def test_a_snapshot_in_error_fails_at_once(sfn_world: Sfn) -> None:  # noqa: F811
    run = run_poll(sfn_world, 8, "error")
    assert run.status == "FAILED" and run.error == "ircli.SnapshotFailed", run.why()
    assert sfn_world.emulator.waits == []
