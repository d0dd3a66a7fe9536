"""contain of several instances in one command: a case each, one question, the worst code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.accounts.conftest import run_instance
from tests.helpers import ircli


def _groups(ec2: Any, instance: str) -> list[str]:
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    return sorted(g["GroupName"] for eni in enis for g in eni["Groups"])


@pytest.fixture
def fleet(clients: Any) -> list[str]:
    ec2 = clients("ec2")
    ids = [run_instance(ec2) for _ in range(3)]
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": "app", "Value": "web"}])
    return ids


def test_several_ids_are_contained_each_under_its_own_case(
        clients: Any, fleet: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "contain", *fleet, "--yes")
    assert out.code == 0, out.err
    cases = {t["target"]: t["case_id"] for t in out.data["targets"]}
    assert set(cases) == set(fleet) and len(set(cases.values())) == 3
    for instance in fleet:
        assert _groups(clients("ec2"), instance) == ["ircli-isolation-endpoints"]


def test_one_failing_target_does_not_stop_the_others_and_sets_the_exit_code(
        clients: Any, fleet: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    missing = "i-0123456789abcdef0"
    out = ircli(capsys, "contain", fleet[0], missing, fleet[1], "--yes")
    assert out.code == 2  # the worst of the targets: one does not exist
    status = {t["target"]: t["exit_code"] for t in out.data["targets"]}
    assert status == {fleet[0]: 0, missing: 2, fleet[1]: 0}
    assert _groups(clients("ec2"), fleet[0]) == ["ircli-isolation-endpoints"]
    assert _groups(clients("ec2"), fleet[1]) == ["ircli-isolation-endpoints"]
    text = ircli(capsys, "contain", fleet[2], missing, "--yes", json_output=False)
    assert missing in text.out and "exit code 2" in text.out


def test_filter_and_targets_file_plan_first_and_change_nothing_on_dry_run(
        clients: Any, fleet: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    plan = ircli(capsys, "contain", "--filter", "tag:app=web", "--dry-run")
    assert plan.code == 0, plan.err
    assert sorted(t["target"] for t in plan.data["targets"]) == sorted(fleet[:2])
    assert all(t["status"] == "planned" for t in plan.data["targets"])
    assert all(_groups(clients("ec2"), i) == ["web"] for i in fleet)
    listed = tmp_path / "targets.txt"
    listed.write_text(f"# the two web servers and the third\n{fleet[0]}\n\n{fleet[2]}\n")
    done = ircli(capsys, "contain", "--targets-file", str(listed), "--filter", "tag:app=web",
                 "--yes")
    assert done.code == 0, done.err
    assert sorted(t["target"] for t in done.data["targets"]) == sorted(fleet)


def test_without_yes_and_no_terminal_nothing_changes(
        clients: Any, fleet: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "contain", *fleet)
    assert out.code == 2 and "no terminal" in out.err
    assert all(_groups(clients("ec2"), i) == ["web"] for i in fleet)


def test_case_id_with_several_targets_is_refused(fleet: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "contain", *fleet[:2], "--case-id", "x", "--yes")
    assert out.code == 2 and "one case" in out.err
