"""accounts sync / list / check against the emulator's Organizations."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ircli.core.accounts import inventory_path, load_inventory
from tests.accounts.conftest import ROLE
from tests.helpers import ircli


@pytest.fixture
def organisation(org: Any) -> dict[str, str]:
    """An organisation with three member accounts, one in an OU, one closed."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ids = {}
    for name in ("web-prod", "data", "old"):
        status = client.create_account(Email=f"{name}@example.com", AccountName=name)
        ids[name] = status["CreateAccountStatus"]["AccountId"]
    ou = client.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    client.move_account(AccountId=ids["web-prod"], SourceParentId=root, DestinationParentId=ou)
    client.close_account(AccountId=ids["old"])
    return ids | {"ou": ou}


def test_sync_keeps_active_accounts_and_honours_exclude(
        organisation: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "accounts", "sync", "--exclude", organisation["data"])
    assert out.code == 0, out.err
    ids = set(load_inventory().ids())
    assert organisation["web-prod"] in ids
    assert organisation["data"] not in ids and organisation["old"] not in ids
    assert json.loads(inventory_path().read_text())["source"] == "organizations"


def test_sync_of_one_ou(organisation: dict[str, str], capsys: pytest.CaptureFixture[str]
                        ) -> None:
    out = ircli(capsys, "accounts", "sync", "--ou", organisation["ou"])
    assert out.code == 0, out.err
    assert load_inventory().ids() == [organisation["web-prod"]]


def test_list_shows_the_role_for_each_account(
        organisation: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    ircli(capsys, "accounts", "sync")
    out = ircli(capsys, "accounts", "list", "--role-name", ROLE)
    assert {a["role_name"] for a in out.data["accounts"]} == {ROLE}
    text = ircli(capsys, "accounts", "list", json_output=False)
    assert "web-prod" in text.out


def test_check_reports_each_account(organisation: dict[str, str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    ircli(capsys, "accounts", "sync")
    out = ircli(capsys, "accounts", "check", "--role-name", ROLE)
    assert out.code == 0, out.err
    assert out.data["ok"] == len(load_inventory().ids()) and out.data["failed"] == 0


def test_check_without_a_role_name_fails_per_account(
        organisation: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    ircli(capsys, "accounts", "sync")
    out = ircli(capsys, "accounts", "check")
    assert out.code == 3
    assert all("role name" in a["detail"] for a in out.data["accounts"]
               if a["status"] != "ok")
