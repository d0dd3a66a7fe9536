"""Run the real CLI entry point in-process and read back what it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSUME_USER = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "{arn}"}, "Action": "sts:AssumeRole"}]}


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
