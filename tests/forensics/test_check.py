"""`ircli forensics check`: every piece passes, and each missing piece fails its own row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.forensics.conftest import (
    BUCKET,
    FORENSICS,
    ORG_ID,
    ROLE,
    ForensicsLab,
    admin_key_policy,
)
from tests.forensics.shims import assume_role_needs_the_role
from tests.helpers import ircli

ROWS = ["config", "role", "key", "key-policy", "bucket", "bucket-policy"]


def rows(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], dict[str, Any]]:
    out = ircli(capsys, "forensics", "check")
    assert "Traceback" not in out.err
    return out.code, {r["name"]: r["status"] for r in out.data["checks"]}, out.data


def failing(statuses: dict[str, str]) -> list[str]:
    return [name for name in ROWS if statuses.get(name) != "pass"]


def test_every_piece_in_place_passes(lab: ForensicsLab, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    code, statuses, data = rows(capsys)
    assert list(statuses) == ROWS
    assert failing(statuses) == [], data
    assert code == 0


def test_an_incomplete_config_fails_first_and_says_which_key(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write_config(kms_key=None)
    code, statuses, data = rows(capsys)
    assert code == 3 and statuses["config"] == "fail"
    assert "kms_key is not set" in data["checks"][0]["detail"]
    assert all(statuses[n] == "fail" for n in ROWS[1:])  # nothing checked on a broken config


def test_a_role_that_cannot_be_assumed_fails_the_role_row(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assume_role_needs_the_role(monkeypatch)
    lab.write_config(role_name="no-such-role")
    code, statuses, _ = rows(capsys)
    assert code == 3 and statuses["config"] == "pass" and statuses["role"] == "fail"


def test_a_key_that_does_not_exist_fails_the_key_row(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write_config(kms_key=f"arn:aws:kms:us-east-1:{FORENSICS}:key/"
                             "11111111-2222-3333-4444-555555555555")
    code, statuses, _ = rows(capsys)
    assert code == 3 and failing(statuses) == ["key", "key-policy"]


def test_a_disabled_key_fails_the_key_row(lab: ForensicsLab,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lab.f("kms").disable_key(KeyId=lab.key_id)
    code, statuses, data = rows(capsys)
    assert code == 3 and failing(statuses) == ["key", "key-policy"]
    assert "Disabled" in next(r["detail"] for r in data["checks"] if r["name"] == "key")


def test_a_key_policy_without_the_member_roles_fails(lab: ForensicsLab,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    lab.f("kms").put_key_policy(KeyId=lab.key_id, PolicyName="default", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS)]}))
    code, statuses, data = rows(capsys)
    assert code == 3 and failing(statuses) == ["key-policy"]
    assert f":role/{ROLE} may not" in next(
        r["detail"] for r in data["checks"] if r["name"] == "key-policy")


def test_a_key_policy_open_to_everyone_fails(lab: ForensicsLab,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A Principal "*" without the organisation condition lets any account use the key."""
    lab.f("kms").put_key_policy(KeyId=lab.key_id, PolicyName="default", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS), {
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*",
            "Resource": "*"}]}))
    code, statuses, data = rows(capsys)
    assert code == 3 and failing(statuses) == ["key-policy"]
    detail = next(r["detail"] for r in data["checks"] if r["name"] == "key-policy")
    assert "outside the organisation" in detail and "not only through EBS" in detail


def test_a_missing_bucket_fails_the_bucket_rows(lab: ForensicsLab,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    lab.write_config(bucket="no-such-forensics-bucket")
    code, statuses, _ = rows(capsys)
    assert code == 3 and failing(statuses) == ["bucket", "bucket-policy"]


def test_a_bucket_without_object_lock_fails(lab: ForensicsLab,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    lab.f("s3").create_bucket(Bucket="plain-bucket")
    lab.write_config(bucket="plain-bucket")
    code, statuses, data = rows(capsys)
    assert code == 3 and failing(statuses) == ["bucket", "bucket-policy"]
    detail = next(r["detail"] for r in data["checks"] if r["name"] == "bucket")
    assert "versioning is not enabled" in detail and "Object Lock is not enabled" in detail


def test_a_bucket_without_the_organisation_policy_fails(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.f("s3").delete_bucket_policy(Bucket=BUCKET)
    code, statuses, data = rows(capsys)
    assert code == 3 and failing(statuses) == ["bucket-policy"]
    assert "may not write under cases/" in data["checks"][-1]["detail"]


def test_no_forensics_section_fails_with_the_fix(lab: ForensicsLab,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (lab.home / "config.toml").write_text(f'[accounts]\nrole_name = "{ROLE}"\n')
    code, statuses, data = rows(capsys)
    assert code == 3 and statuses["config"] == "fail"
    assert "account is not set" in data["checks"][0]["detail"]
    assert ORG_ID not in json.dumps(data)
