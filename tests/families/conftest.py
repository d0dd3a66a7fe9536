"""Fixtures for the finding families: sample findings and a role an attacker can re-assume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FINDINGS = Path(__file__).parent / "findings"
OWN_ACCOUNT = "123456789012"  # moto's default account
OUTSIDER = "arn:aws:iam::999999999999:root"  # an account nobody listed: the attacker's
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{OWN_ACCOUNT}:root", OUTSIDER]},
     "Action": "sts:AssumeRole"}]}


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((FINDINGS / f"{name}.json").read_text()))


@pytest.fixture
def deploy_role(clients: Any) -> str:
    """``app-deploy``: trusted by EC2, its own account, and (wrongly) another account."""
    iam = clients("iam")
    iam.create_role(RoleName="app-deploy", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="app-deploy", PolicyName="deploy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}))
    return "app-deploy"


from tests.runbooks.conftest import collect_stand_in  # noqa: E402,F401 - the shared stand-in
