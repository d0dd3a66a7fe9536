"""Run the real CLI entry point in-process and read back what it did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ircli.cli.main import main

ASSUME_USER = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "{arn}"}, "Action": "sts:AssumeRole"}]}


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.out))


def ircli(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """``ircli ARGS -o json`` as a user runs it: exit code, stdout, stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, "-o", "json"])
    captured = capsys.readouterr()
    return Outcome(int(exc.value.code or 0), captured.out, captured.err)


def key_statuses(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"]
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def has_login(iam: Any, user: str) -> bool:
    try:
        iam.get_login_profile(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def user_snapshot(iam: Any, user: str) -> dict[str, Any]:
    """Everything disable-keys may change, to compare before and after."""
    return {"keys": key_statuses(iam, user), "login": has_login(iam, user),
            "policies": iam.list_user_policies(UserName=user)["PolicyNames"],
            "tags": iam.list_user_tags(UserName=user)["Tags"]}


def audit_lines(case_dir: str) -> list[dict[str, Any]]:
    path = Path(case_dir) / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mutating_calls(case_dir: str) -> list[str]:
    return [line["operation"] for line in audit_lines(case_dir) if line["event"] == "aws-call"]
