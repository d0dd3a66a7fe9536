"""release restores what the case recorded; interrupted runs finish; failures map to exit codes."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from ircli.core.errors import ExitCode, Interrupted, UserError
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from ircli.steps.isolate import Isolate
from ircli.steps.protect import Protect
from ircli.steps.service import RemoveFromService
from tests.helpers import aws_state, eni_groups, run_contain, run_release, tags


@pytest.fixture
def lab(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, "us-east-1")


def _picture(clients: Any, lab: WebCompromise) -> dict[str, Any]:
    """What release must restore, read from AWS."""
    ec2 = clients("ec2")
    instance = ec2.describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    attr = ec2.describe_instance_attribute
    return {
        "enis": eni_groups(ec2, lab.suspect_enis),
        "eip": ec2.describe_addresses(AllocationIds=[lab.eip_allocation])["Addresses"][0].get(
            "NetworkInterfaceId"),
        "protection": attr(InstanceId=lab.suspect, Attribute="disableApiTermination")[
            "DisableApiTermination"]["Value"],
        "delete_on_termination": {b["DeviceName"]: b["Ebs"]["DeleteOnTermination"]
                                  for b in instance["BlockDeviceMappings"]},
        "asg": lab.suspect in {i["InstanceId"] for i in clients("autoscaling")
                               .describe_auto_scaling_groups(AutoScalingGroupNames=[lab.asg])[
                                   "AutoScalingGroups"][0]["Instances"]},
        "targets": lab.suspect in {d["Target"]["Id"] for d in clients("elbv2")
                                   .describe_target_health(TargetGroupArn=lab.target_group_arn)[
                                       "TargetHealthDescriptions"]},
        "policies": clients("iam").list_role_policies(RoleName=lab.role)["PolicyNames"],
    }


def test_release_restores_the_recorded_state(clients: Any, lab: WebCompromise) -> None:
    original = _picture(clients, lab)
    contained = run_contain(lab.suspect, case_id="case-1")
    assert _picture(clients, lab) != original
    result = run_release(lab.suspect)
    assert result.exit_code == ExitCode.OK, result.data["steps"]
    assert result.data["status"] == "released"
    assert _picture(clients, lab) == original
    instance = clients("ec2").describe_instances(InstanceIds=[lab.suspect])["Reservations"][0][
        "Instances"][0]
    assert tags(instance)["ircli:status"] == "released"
    kept = clients("ec2").describe_snapshots(SnapshotIds=[
        s["snapshot_id"] for s in contained.data["snapshots"]])["Snapshots"]
    assert len(kept) == 3  # snapshots are evidence and stay


def test_release_twice_is_a_no_op(clients: Any, lab: WebCompromise) -> None:
    run_contain(lab.suspect)
    run_release(lab.suspect)
    state = aws_state(clients)
    again = run_release(lab.suspect)
    assert again.exit_code == ExitCode.OK
    assert aws_state(clients) == state


def test_release_dry_run_changes_nothing(clients: Any, lab: WebCompromise) -> None:
    run_contain(lab.suspect)
    state = aws_state(clients)
    plan = run_release(lab.suspect, dry_run=True)
    assert plan.data["status"] == "planned"
    assert aws_state(clients) == state
    changes = {s["name"]: s["changes"] for s in plan.data["steps"]}
    assert len(changes["isolate"]) == 2  # two ENIs
    assert len(changes["disassociate-eips"]) == 1


def test_release_of_an_instance_never_contained_is_refused(lab: WebCompromise) -> None:
    with pytest.raises(UserError, match="never contained"):
        run_release(lab.neighbour)


def test_interrupted_contain_finishes_and_release_still_restores_the_original(
        clients: Any, lab: WebCompromise, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _picture(clients, lab)

    def killed(self: Protect, ctx: Any, plan: Any) -> None:
        raise KeyboardInterrupt  # the responder's laptop dies right after isolation

    with monkeypatch.context() as patched, pytest.raises(Interrupted):  # Ctrl-C, recorded
        patched.setattr(Protect, "apply", killed)
        run_contain(lab.suspect)
    resumed = run_contain(lab.suspect)
    assert resumed.exit_code == ExitCode.OK
    statuses = {s["name"]: s["status"] for s in resumed.data["steps"]}
    assert statuses["isolate"] == "already-done" and statuses["protect"] == "done"
    run_release(lab.suspect)
    assert _picture(clients, lab) == original


def _denied(*_: Any, **__: Any) -> Any:
    raise botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DetachInstances")


def test_a_later_step_failing_is_partial_exit_3(clients: Any, lab: WebCompromise,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RemoveFromService, "apply", _denied)
    result = run_contain(lab.suspect)
    assert result.exit_code == ExitCode.PARTIAL
    assert result.data["status"] == "partial"
    statuses = {s["name"]: s["status"] for s in result.data["steps"]}
    assert statuses["remove-from-service"] == "failed"
    assert statuses["snapshot"] == "done"  # the run went on after the failure
    iso = result.data["isolation_group_id"]
    assert set(map(tuple, eni_groups(clients("ec2"), lab.suspect_enis).values())) == {(iso,)}


def test_isolation_failing_is_not_contained_exit_4(lab: WebCompromise,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Isolate, "apply", _denied)
    result = run_contain(lab.suspect)
    assert result.exit_code == ExitCode.NOT_CONTAINED
    assert result.data["status"] == "failed"
    statuses = {s["name"]: s["status"] for s in result.data["steps"]}
    assert statuses["protect"] == "not-run"
    failed = next(s for s in result.data["steps"] if s["name"] == "isolate")
    assert "AccessDenied" in failed["detail"] and "Traceback" not in failed["detail"]


def test_partial_release_is_finished_by_running_release_again(
        clients: Any, lab: WebCompromise, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _picture(clients, lab)
    run_contain(lab.suspect)
    with monkeypatch.context() as patched:
        patched.setattr(RemoveFromService, "undo", _denied)
        first = run_release(lab.suspect)
    assert first.exit_code == ExitCode.PARTIAL
    assert first.data["status"] == "partial"
    second = run_release(lab.suspect)
    assert second.exit_code == ExitCode.OK, second.data["steps"]
    statuses = {s["name"]: s["status"] for s in second.data["steps"]}
    assert statuses["isolate"] == "already-done"  # not undone twice
    assert statuses["remove-from-service"] == "done"
    assert _picture(clients, lab) == original
