"""`ircli automation policy` is enough to deploy, list and remove, and what it grants is not
decoration: the emulator enforces IAM (``/moto-api/reset-auth``) for a user holding only it,
as moto can enforce it (:func:`tests.iam_shim.moto_view`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ircli.ops.automation import deployer_policy
from tests.automation.test_template import record_only
from tests.iam_shim import moto_view

pytestmark = pytest.mark.e2e
BUCKET = "ir-evidence-lp"


def _reset_auth(endpoint: str, count: int) -> None:
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=str(count).encode(), method="POST",
        headers={"Content-Type": "text/plain"})).read()


@pytest.fixture
def enforced(endpoint: str) -> Iterator[str]:
    _reset_auth(endpoint, 1_000_000)
    yield endpoint
    _reset_auth(endpoint, 1_000_000_000)  # leave the server open for the next test


def _user_with(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def ircli(keys: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ircli", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "ircli"]
    return subprocess.run([*command, *args], capture_output=True, text=True,
                          env={**os.environ, **keys}, stdin=subprocess.DEVNULL, timeout=120,
                          check=False)


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def moto_head_bucket(policy: dict[str, Any]) -> dict[str, Any]:
    """Emulator shim: moto 5.2 authorises HeadBucket as the action ``s3:HeadBucket`` (its
    ``ACTION_MAP``), which IAM does not have: AWS authorises HeadBucket by ``s3:ListBucket``.
    The copy handed to moto allows ``s3:HeadBucket`` wherever ``s3:ListBucket`` is allowed."""
    statements = [{**s, "Action": [*s["Action"], "s3:HeadBucket"]}
                  if "s3:ListBucket" in s["Action"] else s for s in policy["Statement"]]
    return {**policy, "Statement": statements}


def moto_absent_roles(policy: dict[str, Any]) -> dict[str, Any]:
    """Emulator shim: moto checks an IAM call that names a role against that role's ARN only
    while the role exists (``_resolve_resource_arn``); for a role not made yet it checks the
    literal ``*``, which ``arn:…:role/ircli-*`` never matches. AWS checks the ARN either way.
    The copy handed to moto allows ``*`` for the two calls deploy makes before its roles
    exist (GetRole, CreateRole); every other role call stays scoped, as moto checks them."""
    return {**policy, "Statement": [*policy["Statement"], {
        "Sid": "MotoShimRolesNotYetMade", "Effect": "Allow",
        "Action": ["iam:GetRole", "iam:CreateRole"], "Resource": "*"}]}


def test_the_deployer_policy_is_enough(enforced: str, server_clients: Any, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    server_clients("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("IRCLI_EVIDENCE_BUCKET", BUCKET)
    runbook = str(record_only(tmp_path).path)
    iam = server_clients("iam")
    def as_moto_sees(policy: dict[str, Any]) -> dict[str, Any]:
        return moto_absent_roles(moto_head_bucket(moto_view(policy)))

    keys = _user_with(iam, "ircli-deployer", as_moto_sees(deployer_policy(BUCKET)))
    short = _user_with(iam, "ircli-deployer-short", as_moto_sees(
        without(deployer_policy(BUCKET), "states:CreateStateMachine")))
    _reset_auth(enforced, 0)  # from now on every call is checked against IAM

    refused = ircli(short, "automation", "deploy", runbook, "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "AWS refused CreateStateMachine" in refused.stderr
    assert "Traceback" not in refused.stderr

    for args in (("deploy", runbook, "--yes"), ("list",), ("remove", "record-only", "--yes")):
        done = ircli(keys, "automation", *args, "-o", "json")
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    assert json.loads(done.stdout)["done"], "remove found nothing to remove"
