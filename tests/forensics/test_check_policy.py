"""`ircli forensics check`'s own calls are in `ircli policy`, scoped to the configured pieces.

The check runs against the emulator with every API call it makes recorded; each call must be
allowed by the printed policy (evaluated on its statements) on the very resource it names,
and the same action on another role, key or bucket must not be.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.client
import pytest

from ircli.forensics.evaluate import Request, decide
from tests.forensics.conftest import BUCKET, FORENSICS, FORENSICS_ROLE, ForensicsLab
from tests.helpers import ircli

# The IAM action (and the parameter naming the resource) of each call the check may make;
# a call missing here fails the test, so a new call cannot slip past the policy.
ACTIONS = {
    ("sts", "AssumeRole"): ("sts:AssumeRole", "RoleArn"),
    ("sts", "GetCallerIdentity"): (None, None),  # needs no permission
    ("kms", "DescribeKey"): ("kms:DescribeKey", "KeyId"),
    ("kms", "GetKeyPolicy"): ("kms:GetKeyPolicy", "KeyId"),
    ("s3", "HeadBucket"): ("s3:ListBucket", "Bucket"),
    ("s3", "GetBucketVersioning"): ("s3:GetBucketVersioning", "Bucket"),
    ("s3", "GetObjectLockConfiguration"): ("s3:GetBucketObjectLockConfiguration", "Bucket"),
    ("s3", "GetBucketPolicy"): ("s3:GetBucketPolicy", "Bucket"),
    ("organizations", "DescribeOrganization"): ("organizations:DescribeOrganization", None),
}


def statements(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = ircli(capsys, "policy", json_output=False)
    assert out.code == 0, out.err
    # an identity policy: its holder is the principal
    return [{**s, "Principal": "*"} for s in json.loads(out.out)["Statement"]]


def resource(service: str, value: str | None) -> str:
    if value is None:
        return "*"
    if service == "s3":
        return f"arn:aws:s3:::{value}"
    return value


def allowed(policy: list[dict[str, Any]], action: str, arn: str) -> bool:
    return decide(policy, Request("arn:aws:iam::123456789012:role/ircli-responder", action,
                                  arn)) == "allow"


def test_every_call_of_the_check_is_in_the_policy_and_scoped(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    real = botocore.client.BaseClient._make_api_call

    def recorded(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.service_name, operation, dict(params)))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    checked = ircli(capsys, "forensics", "check")
    assert checked.code == 0, checked.out
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
    policy = statements(capsys)

    seen = set()
    for service, operation, params in calls:
        assert (service, operation) in ACTIONS, f"{service}:{operation} is not mapped"
        action, key = ACTIONS[(service, operation)]
        if action is None:
            continue
        arn = resource(service, params.get(key) if key else None)
        assert allowed(policy, action, arn), (action, arn)
        seen.add(action)
    assert {"sts:AssumeRole", "kms:DescribeKey", "kms:GetKeyPolicy", "s3:ListBucket",
            "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketPolicy"} <= seen

    # Scoped: the same reads on anything else are not granted.
    assert allowed(policy, "sts:AssumeRole", f"arn:aws:iam::{FORENSICS}:role/{FORENSICS_ROLE}")
    assert not allowed(policy, "sts:AssumeRole", f"arn:aws:iam::{FORENSICS}:role/Admin")
    assert not allowed(policy, "sts:AssumeRole", "arn:aws:iam::444455556666:role/"
                       f"{FORENSICS_ROLE}")
    other_key = lab.key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    assert allowed(policy, "kms:GetKeyPolicy", lab.key_arn)
    assert not allowed(policy, "kms:GetKeyPolicy", other_key)
    assert allowed(policy, "s3:GetBucketPolicy", f"arn:aws:s3:::{BUCKET}")
    assert not allowed(policy, "s3:GetBucketPolicy", "arn:aws:s3:::someone-elses-bucket")


def test_without_a_forensics_account_the_policy_grants_no_role_to_assume(
        aws_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    policy = statements(capsys)
    assert not any("sts:AssumeRole" in s["Action"] for s in policy)
