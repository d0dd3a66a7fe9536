"""`ircli revoke-sessions --role` and `ircli release --role`, against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ircli.aws import iam_managed
from tests.helpers import ircli
from tests.identity.helpers import mutating_calls

TRUST_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture
def role(iam: Any) -> str:
    iam.create_role(RoleName="web-tier", AssumeRolePolicyDocument=TRUST_EC2)
    return "web-tier"


def _policies(iam: Any) -> list[str]:
    """ircli's policies on the role: managed ones attached (and never an inline one)."""
    assert iam.list_role_policies(RoleName="web-tier")["PolicyNames"] == []
    return [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="web-tier")[
        "AttachedPolicies"]]


def _document(iam: Any, name: str) -> Any:
    return iam_managed.read(iam, f"arn:aws:iam::123456789012:policy/ircli/{name}")


def test_revoke_adds_the_token_issue_time_deny_and_release_removes_it(capsys, iam, role):
    result = ircli(capsys, "revoke-sessions", "--role", role, "--yes")

    assert result.code == 0, result.err
    data = result.data
    assert data["status"] == "revoked" and data["role_name"] == role
    assert any("every holder of the role" in w for w in data["warnings"])
    [name] = _policies(iam)
    assert name == f"ircli-revoke-sessions-{data['case_id']}"
    [statement] = _document(iam, name)["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "*"
    assert "aws:TokenIssueTime" in statement["Condition"]["DateLessThan"]
    assert mutating_calls(data["case_dir"]) == ["CreatePolicy", "AttachRolePolicy"]

    released = ircli(capsys, "release", "--role", role, "--case-id", data["case_id"], "--yes")

    assert released.code == 0, released.err
    assert released.data["status"] == "released"
    assert _policies(iam) == []
    assert _document(iam, name) is None  # deleted, not only detached


def test_revoke_dry_run_changes_nothing_and_rerun_is_idempotent(capsys, iam, role):
    planned = ircli(capsys, "revoke-sessions", "--role", role, "--dry-run")
    assert planned.code == 0 and planned.data["status"] == "planned"
    assert _policies(iam) == []

    first = ircli(capsys, "revoke-sessions", "--role", role, "--yes").data
    policy = _document(iam, _policies(iam)[0])
    second = ircli(capsys, "revoke-sessions", "--role", role, "--yes").data

    assert second["case_id"] == first["case_id"]
    assert [s["status"] for s in second["steps"]] == ["already-done"]
    assert _document(iam, _policies(iam)[0]) == policy


def test_unknown_role_is_exit_2(capsys, iam):
    result = ircli(capsys, "revoke-sessions", "--role", "ghost", "--yes")

    assert result.code == 2
    assert "IAM role ghost was not found" in result.err and "Traceback" not in result.err


def test_release_role_with_the_wrong_case(capsys, iam, role, aws_env):
    ircli(capsys, "revoke-sessions", "--role", role, "--yes")
    iam.create_user(UserName="carol")
    other = ircli(capsys, "disable-keys", "--user", "carol", "--yes").data["case_id"]

    unknown = ircli(capsys, "release", "--role", role, "--case-id", "no-such-case", "--yes")
    wrong = ircli(capsys, "release", "--role", role, "--case-id", other, "--yes")

    assert unknown.code == 2 and "There is no case 'no-such-case'" in unknown.err
    assert not (aws_env / "cases" / "no-such-case").exists()
    assert wrong.code == 2 and "has no containment record for role/web-tier" in wrong.err
    assert len(_policies(iam)) == 1


def test_service_linked_roles_are_refused(capsys, iam):
    name = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com")["Role"]["RoleName"]

    result = ircli(capsys, "revoke-sessions", "--role", name, "--yes")

    assert result.code == 2
    assert "service-linked role" in result.err
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
