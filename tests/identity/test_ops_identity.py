"""The identity operations as library calls, with a fake clock for exact timestamps."""

from __future__ import annotations

import json
from typing import Any

from ircli.catalog.policy import least_privilege_policy
from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.identity import DisableKeysOptions, disable_keys
from tests.helpers import ircli
from tests.identity.conftest import LeakedUser


def _session_deny_time(iam: Any, user: str) -> str:
    [name] = [n for n in iam.list_user_policies(UserName=user)["PolicyNames"]
              if n.startswith("ircli-")]
    document = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    [revoke] = [s for s in document["Statement"] if s["Sid"] == "IrcliRevokeOlderSessions"]
    return str(revoke["Condition"]["DateLessThan"]["aws:TokenIssueTime"])


def test_sessions_are_denied_from_the_first_run_on(iam, alice: LeakedUser, clock):
    opts = DisableKeysOptions(access_key_id=alice.leaked_key)

    disable_keys(AwsSession(AwsSettings()), clock, opts)
    clock.advance(3600)
    again = disable_keys(AwsSession(AwsSettings()), clock, opts)

    assert _session_deny_time(iam, "alice") == "2026-11-28T03:00:00Z"  # the first run's time
    assert [s["status"] for s in again.data["steps"]][2] == "already-done"


def test_a_key_of_another_account_is_exit_2(capsys, iam, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    iam.create_user(UserName="mallory")
    foreign = iam.create_access_key(UserName="mallory")["AccessKey"]["AccessKeyId"]
    monkeypatch.delenv("MOTO_ACCOUNT_ID")

    result = ircli(capsys, "disable-keys", "--access-key-id", foreign, "--yes")

    assert result.code == 2
    assert "not found in account 123456789012" in result.err
    assert "Traceback" not in result.err
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    assert iam.list_access_keys(UserName="mallory")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_the_policy_covers_every_identity_call():
    actions = {a for s in least_privilege_policy()["Statement"] for a in s["Action"]}

    assert {"iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey", "iam:PutUserPolicy",
            "iam:DeleteUserPolicy", "iam:DeleteLoginProfile", "iam:TagUser", "iam:UntagUser",
            "iam:CreatePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
            "iam:DeletePolicy", "iam:ListRoles"} <= actions
    assert "iam:PutRolePolicy" not in actions  # roles change only through ircli's policies
