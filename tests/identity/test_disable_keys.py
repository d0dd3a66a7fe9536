"""`ircli disable-keys` through the CLI, against the emulator; IAM state read back with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ircli
from tests.identity.conftest import LeakedUser
from tests.identity.helpers import has_login, key_statuses, mutating_calls, user_snapshot


def _deny_policy(iam: Any, user: str) -> dict[str, Any]:
    names = [n for n in iam.list_user_policies(UserName=user)["PolicyNames"]
             if n.startswith("ircli-")]
    assert len(names) == 1, names
    document = iam.get_user_policy(UserName=user, PolicyName=names[0])["PolicyDocument"]
    return dict(json.loads(document) if isinstance(document, str) else document)


def test_disables_only_the_named_key_and_shuts_the_user_out(capsys, iam, alice: LeakedUser):
    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")

    assert result.code == 0, result.err
    assert key_statuses(iam, "alice") == {alice.leaked_key: "Inactive",
                                          alice.other_key: "Active"}
    assert not has_login(iam, "alice")
    document = _deny_policy(iam, "alice")
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["IrcliDenyAll"] == {"Sid": "IrcliDenyAll", "Effect": "Deny", "Action": "*",
                                      "Resource": "*"}
    assert "aws:TokenIssueTime" in by_sid["IrcliRevokeOlderSessions"]["Condition"][
        "DateLessThan"]
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="alice")["Tags"]}
    data = result.data
    assert tags["ircli:case-id"] == data["case_id"]
    assert tags["ircli:status"] == "contained"
    assert data["status"] == "contained" and data["command"] == "disable-keys"
    assert data["user_name"] == "alice" and data["access_key_id"] == alice.leaked_key
    assert any(alice.other_key in w for w in data["warnings"])  # the other key still works


def test_case_records_the_state_before_any_change(capsys, iam, alice: LeakedUser):
    data = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes").data

    case = json.loads((Path(data["case_dir"]) / "case.json").read_text())
    pre = case["targets"]["user/alice"]["pre_state"]
    assert {k["id"]: k["status"] for k in pre["access_keys"]} == {
        alice.leaked_key: "Active", alice.other_key: "Active"}
    assert pre["login_profile"] is not None
    assert pre["groups"] == ["developers"]
    assert pre["attached_policies"] == ["arn:aws:iam::123456789012:policy/read-only"]
    assert pre["inline_policies"] == ["s3-uploads"]
    assert pre["mfa_devices"] == []
    assert mutating_calls(data["case_dir"]) == [
        "UpdateAccessKey", "PutUserPolicy", "DeleteLoginProfile", "TagUser"]


def test_dry_run_changes_nothing_and_writes_no_case(capsys, iam, alice: LeakedUser, aws_env):
    before = user_snapshot(iam, "alice")

    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--dry-run")

    assert result.code == 0, result.err
    assert result.data["status"] == "planned"
    assert user_snapshot(iam, "alice") == before
    assert not (aws_env / "cases").exists()
    changes = [c for s in result.data["steps"] for c in s["changes"]]
    assert any("NOT restorable" in c for c in changes)  # the plan says so before asking


def test_second_run_creates_nothing_new(capsys, iam, alice: LeakedUser):
    first = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes").data
    after_first = user_snapshot(iam, "alice")
    calls_after_first = mutating_calls(first["case_dir"])

    second = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes").data

    assert second["case_id"] == first["case_id"]
    assert {s["status"] for s in second["steps"]} == {"already-done"}
    assert user_snapshot(iam, "alice") == after_first
    assert mutating_calls(second["case_dir"]) == calls_after_first


def test_all_keys_and_keep_login(capsys, iam, alice: LeakedUser):
    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--all-keys",
                   "--keep-login", "--yes")

    assert result.code == 0, result.err
    assert set(key_statuses(iam, "alice").values()) == {"Inactive"}
    assert has_login(iam, "alice")
    assert any("console password still works" in w for w in result.data["warnings"])


def test_user_option_disables_every_key(capsys, iam, alice: LeakedUser):
    result = ircli(capsys, "disable-keys", "--user", "alice", "--yes")

    assert result.code == 0, result.err
    assert set(key_statuses(iam, "alice").values()) == {"Inactive"}


def test_result_points_to_roles_the_user_may_have_assumed(capsys, iam, alice: LeakedUser):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_role(RoleName="unrelated", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))

    data = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes").data

    follow_up = " ".join(data["manual_follow_up"])
    assert "ircli revoke-sessions --role deployer" in follow_up
    assert "unrelated" not in follow_up


def test_without_a_terminal_it_refuses_and_changes_nothing(capsys, iam, alice: LeakedUser):
    before = user_snapshot(iam, "alice")

    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key)

    assert result.code == 2
    assert "--yes" in result.err
    assert user_snapshot(iam, "alice") == before


@pytest.mark.parametrize(("args", "message"), [
    (["--access-key-id", "AKIAAAAAAAAAAAAAAAAA"], "was not found in account"),
    (["--access-key-id", "AKIA123"], "is not an AWS access key id"),
    (["--access-key-id", "akiaaaaaaaaaaaaaaaaa"], "is not an AWS access key id"),
    (["--access-key-id", "ASIAAAAAAAAAAAAAAAAA"], "cannot be deactivated"),
    (["--user", "nobody"], "IAM user nobody was not found"),
    (["--user", "arn:aws:iam::123456789012:user/alice"], "is not a valid IAM user name"),
    ([], "Name the credentials to disable"),
])
def test_bad_input_is_one_clear_sentence_and_exit_2(capsys, iam, alice, args, message):
    result = ircli(capsys, "disable-keys", *args, "--yes")

    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err + result.out
    assert result.err.count("ircli: error:") == 1
    assert json.loads(result.out)["error"]["exit_code"] == 2
    assert key_statuses(iam, "alice") == {alice.leaked_key: "Active", alice.other_key: "Active"}


def test_key_of_another_user_is_refused(capsys, iam, alice: LeakedUser):
    iam.create_user(UserName="bob")

    result = ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--user", "bob",
                   "--yes")

    assert result.code == 2
    assert "belongs to user alice, not bob" in result.err


def test_text_output_names_the_identity_and_what_is_left(capsys, iam, alice: LeakedUser):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        from ircli.cli.main import main

        main(["disable-keys", "--access-key-id", alice.leaked_key, "--yes"])
    out = capsys.readouterr().out

    assert exc.value.code == 0
    assert f"Identity:   {alice.arn}" in out
    assert "Left to you:" in out and "CloudTrail" in out
