"""release of several targets in one command: each restored exactly as its case recorded, a
case id standing for what the case contained, one question, the worst exit code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.conftest import run_instance
from tests.helpers import ircli, tags
from tests.identity.helpers import key_statuses


def _eni_groups(ec2: Any, instance: str) -> list[str]:
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    return sorted(g["GroupId"] for eni in enis for g in eni["Groups"])


def _instance(ec2: Any, instance: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0][
        "Instances"][0]
    return found


@pytest.fixture
def contained(clients: Any, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Three instances contained by one command, and a key disabled: what release undoes."""
    ec2, iam = clients("ec2"), clients("iam")
    ids = [run_instance(ec2) for _ in range(3)]
    before = {i: _eni_groups(ec2, i) for i in ids}
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    out = ircli(capsys, "contain", *ids, "--yes", "--no-snapshot")
    assert out.code == 0, out.err
    keys = ircli(capsys, "disable-keys", key, "--yes", "--keep-login")
    assert keys.code == 0, keys.err
    cases = {t["target"]: t["case_id"] for t in out.data["targets"]}
    return {"ids": ids, "before": before, "cases": cases, "key": key,
            "key_case": keys.data["case_id"]}


def test_several_targets_and_a_case_are_released_each_exactly(
        clients: Any, contained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ec2, iam = clients("ec2"), clients("iam")
    first, second, third = contained["ids"]
    assert all(_eni_groups(ec2, i) != contained["before"][i] for i in contained["ids"])
    plan = ircli(capsys, "release", first, second, contained["cases"][third],
                 contained["key"], "--dry-run")
    assert plan.code == 0, plan.err
    assert sorted(t["target"] for t in plan.data["targets"]) == sorted(
        [first, second, third, contained["key"]])
    assert all(_eni_groups(ec2, i) != contained["before"][i] for i in contained["ids"])

    # The key's case id this time: it stands for the user disable-keys contained.
    out = ircli(capsys, "release", first, second, contained["cases"][third],
                contained["key_case"], "--yes")
    assert out.code == 0, out.err
    by_target = {t["target"]: t for t in out.data["targets"]}
    assert set(by_target) == {first, second, third, "user/dev"}
    assert {t["status"] for t in by_target.values()} == {"released"}
    assert by_target[third]["case_id"] == contained["cases"][third]
    for instance in contained["ids"]:
        assert _eni_groups(ec2, instance) == contained["before"][instance]
        assert tags(_instance(ec2, instance))["ircli:status"] == "released"
    assert key_statuses(iam, "dev") == {contained["key"]: "Active"}

    again = ircli(capsys, "release", first, second, "--yes")  # converges: nothing left to do
    assert again.code == 0, again.err
    assert {t["status"] for t in again.data["targets"]} == {"released"}


def test_one_target_that_was_never_contained_fails_alone(
        clients: Any, contained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = clients("ec2")
    stranger = run_instance(ec2)
    first = contained["ids"][0]
    out = ircli(capsys, "release", first, stranger, "--yes", json_output=False)
    assert out.code == 2
    assert "1 of 2 done; exit code 2" in out.out and "never contained" in out.out
    assert _eni_groups(ec2, first) == contained["before"][first]
    assert _eni_groups(ec2, contained["ids"][1]) != contained["before"][contained["ids"][1]]


def test_an_unknown_case_or_target_is_refused_before_anything_changes(
        clients: Any, contained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "release", contained["ids"][0], "no-such-case", "--yes")
    assert out.code == 2 and "nor a case on this machine" in out.err
    first = contained["ids"][0]
    assert _eni_groups(clients("ec2"), first) != contained["before"][first]
