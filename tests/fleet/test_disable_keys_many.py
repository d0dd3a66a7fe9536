"""disable-keys of several keys in one command: one plan, one question, a case each, the worst
exit code; a key that cannot be disabled fails alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ircli
from tests.identity.helpers import has_login, key_statuses

MISSING = "AKIAZZZZZZZZZZZZZZZZ"  # well-formed, owned by no one


@pytest.fixture
def leaked(clients: Any) -> dict[str, str]:
    """Three users, each with one leaked key and a console login."""
    iam = clients("iam")
    keys = {}
    for user in ("ana", "ben", "cleo"):
        iam.create_user(UserName=user)
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        iam.create_login_profile(UserName=user, Password="Correct-Horse-9!")
    return keys


def test_several_keys_are_disabled_each_under_its_own_case(
        clients: Any, leaked: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "disable-keys", *leaked.values(), "--yes")
    assert out.code == 0, out.err
    iam = clients("iam")
    for user, key in leaked.items():
        assert key_statuses(iam, user) == {key: "Inactive"}
        assert not has_login(iam, user)
    cases = {t["target"]: t["case_id"] for t in out.data["targets"]}
    assert set(cases) == set(leaked.values()) and len(set(cases.values())) == 3
    assert {t["status"] for t in out.data["targets"]} == {"contained"}


def test_one_key_failing_leaves_the_others_disabled_and_sets_the_exit_code(
        clients: Any, leaked: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "keys.txt"
    # A pasted line with a terminal escape (as an attacker-written note could carry) is one
    # failing target shown escaped, not a reason to stop the others.
    listed.write_text(f"{leaked['ana']}\n{MISSING}  # not ours\nAKIA\x1b]0;pwned\x07\n"
                      f"{leaked['ben']}\n")
    out = ircli(capsys, "disable-keys", "--targets-file", str(listed), "--yes")
    assert out.code == 2, out.err
    codes = {t["target"]: t["exit_code"] for t in out.data["targets"]}
    assert codes[leaked["ana"]] == 0 and codes[leaked["ben"]] == 0 and codes[MISSING] == 2
    assert sorted(codes.values()) == [0, 0, 2, 2]
    iam = clients("iam")
    assert key_statuses(iam, "ana") == {leaked["ana"]: "Inactive"}
    assert key_statuses(iam, "ben") == {leaked["ben"]: "Inactive"}
    assert key_statuses(iam, "cleo") == {leaked["cleo"]: "Active"}  # never named

    text = ircli(capsys, "disable-keys", leaked["cleo"], MISSING, "AKIA\x1b]0;pwned\x07",
                 "--yes", json_output=False)
    assert text.code == 2
    assert "1 of 3 done; exit code 2" in text.out and MISSING in text.out
    assert "\x1b" not in text.out + text.err and "\\x1b]0;pwned" in text.out
    assert key_statuses(iam, "cleo") == {leaked["cleo"]: "Inactive"}


def test_dry_run_plans_every_key_and_changes_nothing(
        clients: Any, leaked: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    plan = ircli(capsys, "disable-keys", *leaked.values(), "--dry-run")
    assert plan.code == 0, plan.err
    assert [t["status"] for t in plan.data["targets"]] == ["planned"] * 3
    iam = clients("iam")
    assert all(key_statuses(iam, u) == {k: "Active"} for u, k in leaked.items())
    refused = ircli(capsys, "disable-keys", *leaked.values())  # no terminal, no --yes
    assert refused.code == 2 and "no terminal" in refused.err
    assert all(key_statuses(iam, u) == {k: "Active"} for u, k in leaked.items())


def test_case_id_with_several_keys_is_refused(leaked: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "disable-keys", *leaked.values(), "--case-id", "x", "--yes")
    assert out.code == 2 and "one case" in out.err
