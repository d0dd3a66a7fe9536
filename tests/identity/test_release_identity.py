"""`ircli release` for users and keys: exactly what the case recorded comes back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import ircli
from tests.identity.conftest import LeakedUser
from tests.identity.helpers import has_login, key_statuses, user_snapshot


def test_release_reactivates_exactly_the_keys_that_were_active(capsys, iam,
                                                               alice: LeakedUser):
    iam.update_access_key(UserName="alice", AccessKeyId=alice.other_key, Status="Inactive")
    contained = ircli(capsys, "disable-keys", "--user", "alice", "--yes")
    assert set(key_statuses(iam, "alice").values()) == {"Inactive"}

    result = ircli(capsys, "release", alice.leaked_key, "--yes")

    assert result.code == 0, result.err
    assert key_statuses(iam, "alice") == {alice.leaked_key: "Active",
                                          alice.other_key: "Inactive"}
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["s3-uploads"]
    assert iam.list_user_tags(UserName="alice")["Tags"] == []
    data = result.data
    assert data["status"] == "released" and data["case_id"] == contained.data["case_id"]
    assert any("cannot be restored" in w for w in data["warnings"])
    assert not has_login(iam, "alice")  # AWS cannot give a password back
    case = json.loads((Path(data["case_dir"]) / "case.json").read_text())
    assert case["targets"]["user/alice"]["status"] == "released"


def test_release_by_user_leaves_the_untouched_key_alone(capsys, iam, alice: LeakedUser):
    ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")
    iam.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "web"}])

    result = ircli(capsys, "release", "--user", "alice", "--yes")

    assert result.code == 0, result.err
    assert key_statuses(iam, "alice") == {alice.leaked_key: "Active",
                                          alice.other_key: "Active"}
    assert iam.list_user_tags(UserName="alice")["Tags"] == [{"Key": "team", "Value": "web"}]


def test_release_dry_run_changes_nothing(capsys, iam, alice: LeakedUser):
    ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")
    contained = user_snapshot(iam, "alice")

    result = ircli(capsys, "release", alice.leaked_key, "--dry-run")

    assert result.code == 0, result.err
    assert result.data["status"] == "planned"
    assert user_snapshot(iam, "alice") == contained


def test_second_release_reports_already_released(capsys, iam, alice: LeakedUser):
    ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")
    ircli(capsys, "release", "--user", "alice", "--case-id",
          _case_of(iam), "--yes")
    iam.update_access_key(UserName="alice", AccessKeyId=alice.leaked_key, Status="Inactive")

    result = ircli(capsys, "release", "--user", "alice", "--yes")

    assert result.code == 0
    assert any("already released" in w for w in result.data["warnings"])
    assert key_statuses(iam, "alice")[alice.leaked_key] == "Inactive"  # nothing re-applied


def test_contain_again_after_release_records_afresh(capsys, iam, alice: LeakedUser):
    ircli(capsys, "disable-keys", "--access-key-id", alice.leaked_key, "--yes")
    ircli(capsys, "release", "--user", "alice", "--yes")

    again = ircli(capsys, "disable-keys", "--access-key-id", alice.other_key, "--yes")

    assert again.code == 0, again.err
    assert key_statuses(iam, "alice") == {alice.leaked_key: "Active",
                                          alice.other_key: "Inactive"}
    released = ircli(capsys, "release", alice.other_key, "--yes")
    assert released.code == 0, released.err
    assert set(key_statuses(iam, "alice").values()) == {"Active"}


def test_release_of_a_user_ircli_never_contained(capsys, iam, alice: LeakedUser):
    result = ircli(capsys, "release", "--user", "alice", "--yes")

    assert result.code == 2
    assert "was never contained by ircli" in result.err
    assert "Traceback" not in result.err


def test_release_still_takes_instance_ids(capsys, clients):
    result = ircli(capsys, "release", "i-0123456789abcdef0", "--yes")

    assert result.code == 2
    assert "i-0123456789abcdef0" in result.err and "Traceback" not in result.err


def test_release_without_a_target_is_a_usage_error(capsys, clients):
    result = ircli(capsys, "release", "--yes")

    assert result.code == 2
    assert "Name what to release" in result.err


def _case_of(iam) -> str:
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="alice")["Tags"]}
    return tags["ircli:case-id"]
