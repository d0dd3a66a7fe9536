"""The lab is a real rehearsal: the analyst workstation launches there, and `evidence check`
says why the lab's bucket has no policy (and still fails a bucket that merely lacks one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.conftest import free_port

# one lab for the module: --dist loadfile keeps its tests on one pytest-xdist worker
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lab-workstation")]


def _ircli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # module set-up runs before the per-test environment is cleaned: no AWS_*/IRCLI_* leaks in
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IRCLI_"))}
    return subprocess.run([sys.executable, "-m", "ircli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**base, "AWS_EC2_METADATA_DISABLED": "true", **(env or {})})


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One lab for the module, in its own IRCLI_HOME (each test still gets its own cases)."""
    home = {"IRCLI_HOME": str(tmp_path_factory.mktemp("lab") / "ircli-home")}
    up = _ircli("lab", "up", "--port", str(free_port()), "--scenario", "web-compromise",
                "-o", "json", env=home)
    try:
        assert up.returncode == 0, up.stderr
        exports = _ircli("lab", "env", env=home)
        assert exports.returncode == 0, exports.stderr
        env = dict(line.removeprefix("export ").split("=", 1)
                   for line in exports.stdout.splitlines() if line.startswith("export "))
        yield {"state": json.loads(up.stdout), "env": {**env, **home}}
    finally:
        _ircli("lab", "down", env=home)


def _client(lab: dict[str, Any], service: str) -> Any:
    env = lab["env"]
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"],
                        region_name=env["AWS_REGION"], aws_access_key_id="lab",
                        aws_secret_access_key="lab")


def test_analyst_workstation_launches_in_the_lab(lab: dict[str, Any]) -> None:
    suspect = lab["state"]["scenarios"][0]["resources"]["suspect"]
    contained = _ircli("contain", suspect, "--yes", "-o", "json", env=lab["env"])
    assert contained.returncode == 0, contained.stderr
    case_id = json.loads(contained.stdout)["case_id"]
    launched = _ircli("analyst", "launch", "--case-id", case_id, "--create-network", "--yes",
                      "-o", "json", env=lab["env"])
    assert launched.returncode == 0, launched.stdout + launched.stderr
    data = json.loads(launched.stdout)
    iam = _client(lab, "iam")
    role = data["role_arn"].rsplit("/", 1)[-1]
    attached = [p["PolicyName"] for p in
                iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    assert attached == ["AmazonSSMManagedInstanceCore"]  # AWS's managed policy exists here
    [reservation] = _client(lab, "ec2").describe_instances(
        InstanceIds=[data["analyst_instance_id"]])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] in ("pending", "running")


def test_evidence_check_explains_the_lab_bucket_without_its_policy(lab: dict[str, Any]) -> None:
    checked = _ircli("evidence", "check", "-o", "json", env=lab["env"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert "ignores policy conditions" in report["note"]
    policy = {c["name"]: c["status"] for c in report["checks"] if c["name"].startswith("policy-")}
    assert "warn" in policy.values() and "fail" not in policy.values(), policy
    text = _ircli("evidence", "check", env=lab["env"])
    assert "emulator ignores policy conditions" in " ".join(text.stdout.split())

    # another bucket in the same lab gets no such excuse: a missing policy fails there
    s3 = _client(lab, "s3")
    s3.create_bucket(Bucket="not-the-lab-bucket", ObjectLockEnabledForBucket=True)
    other = _ircli("evidence", "check", "--bucket", "not-the-lab-bucket", "-o", "json",
                   env=lab["env"])
    assert other.returncode == 3, other.stdout + other.stderr
    assert "note" not in json.loads(other.stdout)
    assert {c["status"] for c in json.loads(other.stdout)["checks"]
            if c["name"] == "policy-grants"} == {"fail"}
