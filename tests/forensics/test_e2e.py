"""The real `ircli` command over HTTP (a moto server): contain in member A from the central
account, the copy shared with the forensics account, the case in the central bucket under A's
prefix, verify from the forensics account, then `forensics check` passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ircli.forensics.key_policy import member_statements
from tests.accounts.conftest import run_instance
from tests.e2e.conftest import ircli  # noqa: F401 - the fixture running the real command
from tests.forensics.conftest import (
    BUCKET,
    FORENSICS,
    FORENSICS_ROLE,
    MEMBER_A,
    ORG_ID,
    REGION,
    ROLE,
    admin_key_policy,
    bucket_statements,
)

pytestmark = pytest.mark.e2e


def at(endpoint: str, account: str, role: str) -> boto3.Session:
    creds = boto3.client("sts", region_name=REGION, endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=REGION)


def central_accounts(endpoint: str, aws_env: Path, key_statements: list[dict[str, Any]]
                     ) -> tuple[boto3.Session, boto3.Session, str, Any]:
    """Member A and the forensics account on the emulator: each's ircli role, the forensics
    key (its admin statement and ``key_statements``), the Object Lock bucket, and the config
    naming them. Returns A's and the forensics sessions, the key's ARN, the bucket's client."""
    a, f = at(endpoint, MEMBER_A, ROLE), at(endpoint, FORENSICS, FORENSICS_ROLE)
    a.client("iam", endpoint_url=endpoint).create_role(RoleName=ROLE,
                                                       AssumeRolePolicyDocument="{}")
    f.client("iam", endpoint_url=endpoint).create_role(RoleName=FORENSICS_ROLE,
                                                       AssumeRolePolicyDocument="{}")
    key = f.client("kms", endpoint_url=endpoint).create_key(Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [admin_key_policy(FORENSICS),
                                               *key_statements]}))["KeyMetadata"]["Arn"]
    s3_f = f.client("s3", endpoint_url=endpoint)
    s3_f.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3_f.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    aws_env.mkdir(parents=True, exist_ok=True)
    (aws_env / "config.toml").write_text(
        f'[accounts]\nrole_name = "{ROLE}"\n\n[forensics]\naccount = "{FORENSICS}"\n'
        f'region = "{REGION}"\nrole_name = "{FORENSICS_ROLE}"\nkms_key = "{key}"\n'
        f'bucket = "{BUCKET}"\norganization_id = "{ORG_ID}"\n')
    return a, f, key, s3_f


def test_member_containment_reaches_the_forensics_account_end_to_end(
        ircli: Any, endpoint: str, aws_env: Path) -> None:  # noqa: F811 - the fixture
    a, _f, key, s3_f = central_accounts(
        endpoint, aws_env, member_statements("aws", "amazonaws.com", ORG_ID, ROLE))
    ec2_a = a.client("ec2", endpoint_url=endpoint)
    instance = run_instance(ec2_a)

    out = ircli("contain", instance, "--yes", "--account", MEMBER_A, "--role-name", ROLE,
                "--case-id", "case-e2e", "--new-case", "-o", "json")
    assert out.code == 0, out.stderr
    data = out.json()
    assert next(s for s in data["steps"] if s["name"] == "share-forensic-copies")[
        "status"] == "done"
    assert data["evidence"]["prefix"] == f"cases/{MEMBER_A}/case-e2e/"
    copies = ec2_a.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:ircli:purpose", "Values": ["forensic-copy"]}])["Snapshots"]
    assert copies and all(c["KmsKeyId"] == key for c in copies)
    for copy in copies:
        assert ec2_a.describe_snapshot_attribute(
            SnapshotId=copy["SnapshotId"], Attribute="createVolumePermission")[
            "CreateVolumePermissions"] == [{"UserId": FORENSICS}]

    verified = ircli("evidence", "verify", "case-e2e", "--account", FORENSICS, "--role-name",
                     FORENSICS_ROLE, "-o", "json")
    assert verified.code == 0, verified.stderr
    assert verified.json()["ok"] is True

    # the policy goes on last: the emulator refuses every request under a conditioned Deny
    s3_f.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": bucket_statements(
            f"arn:aws:iam::{FORENSICS}:role/{FORENSICS_ROLE}", [])}))
    check = ircli("forensics", "check", "-o", "json")
    assert check.code == 0, (check.stdout, check.stderr)
    assert {c["status"] for c in check.json()["checks"]} == {"pass"}
    assert "Traceback" not in check.stderr + out.stderr + verified.stderr
