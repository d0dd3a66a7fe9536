"""--locate: contain, collect and disable-keys find the target's account and region first."""

from __future__ import annotations

from typing import Any

import pytest

from ircli.core.accounts import Account, Inventory, save_inventory
from tests.accounts.conftest import CENTRAL, MEMBER_A, MEMBER_B, ROLE, run_instance
from tests.helpers import ircli


@pytest.fixture
def inventory(org: Any) -> None:
    save_inventory(Inventory([Account(CENTRAL), Account(MEMBER_A), Account(MEMBER_B)]))


def test_contain_locate_acts_where_the_instance_is(
        org: Any, inventory: None, capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = org(MEMBER_B, "ec2", "eu-west-1")
    instance = run_instance(ec2)
    out = ircli(capsys, "contain", instance, "--locate", "--role-name", ROLE, "--yes")
    assert out.code == 0, out.err
    assert out.data["region"] == "eu-west-1"
    [eni] = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    assert [g["GroupName"] for g in eni["Groups"]] == ["ircli-isolation-endpoints"]


def test_disable_keys_locate_finds_the_keys_account(
        org: Any, inventory: None, capsys: pytest.CaptureFixture[str]) -> None:
    iam = org(MEMBER_A, "iam")
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    out = ircli(capsys, "disable-keys", "--access-key-id", key, "--locate", "--role-name", ROLE,
                "--yes")
    assert out.code == 0, out.err
    [meta] = iam.list_access_keys(UserName="ci")["AccessKeyMetadata"]
    assert meta["Status"] == "Inactive"


def test_locate_that_finds_nothing_changes_nothing(
        org: Any, inventory: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "contain", "i-0123456789abcdef0", "--locate", "--role-name", ROLE,
                "--region", "us-east-1", "--yes")
    assert out.code == 2 and "was not found" in out.err
