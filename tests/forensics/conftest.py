"""An organisation with a forensics account: the central account (moto's default) runs ircli,
members A and B hold the suspects, F holds the key, the bucket and the analysts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from ircli.evidence.policy import desired_statements
from ircli.forensics.key_policy import member_statements
from tests.accounts.conftest import (  # noqa: F401 - org is a fixture
    CENTRAL,
    MEMBER_A,
    MEMBER_B,
    REGIONS,
    ROLE,
    MemberClients,
    org,
)

FORENSICS = "999999999999"
FORENSICS_ROLE = "ircli-forensics"
ORG_ID = "o-exampleorg1"
BUCKET = "acme-forensics-evidence"
REGION = REGIONS[0]

__all__ = ["CENTRAL", "FORENSICS", "MEMBER_A", "MEMBER_B", "ROLE"]


def session_in(account: str, role: str, region: str = REGION) -> boto3.Session:
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def admin_key_policy(account: str) -> dict[str, Any]:
    return {"Sid": "Administrators", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
            "Resource": "*"}


@dataclass
class ForensicsLab:
    org: MemberClients
    key_arn: str
    home: Path

    @property
    def key_id(self) -> str:
        return self.key_arn.split("/")[-1]

    def f(self, service: str, region: str = REGION) -> Any:
        """A client acting in the forensics account."""
        return session_in(FORENSICS, FORENSICS_ROLE, region).client(service)

    def write_config(self, **overrides: str | None) -> None:
        values: dict[str, str | None] = {
            "account": FORENSICS, "region": REGION, "role_name": FORENSICS_ROLE,
            "kms_key": self.key_arn, "bucket": BUCKET, "organization_id": ORG_ID}
        values.update(overrides)
        lines = ["[accounts]", f'role_name = "{ROLE}"', "", "[forensics]"]
        lines += [f'{k} = "{v}"' for k, v in values.items() if v is not None]
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "config.toml").write_text("\n".join(lines) + "\n")


def bucket_statements(responder: str, analysts: list[str]) -> list[dict[str, Any]]:
    return desired_statements("aws", BUCKET, responder, analysts, None, (ORG_ID, ROLE))


@pytest.fixture
def lab(org: MemberClients, aws_env: Path) -> ForensicsLab:  # noqa: F811 - the fixture
    """F's role, key (its policy admitting the member roles) and bucket (Object Lock, the
    organisation policy), and the config naming them."""
    forensics = session_in(FORENSICS, FORENSICS_ROLE)
    forensics.client("iam").create_role(RoleName=FORENSICS_ROLE, AssumeRolePolicyDocument=
                                        json.dumps({"Version": "2012-10-17", "Statement": []}))
    policy = {"Version": "2012-10-17", "Statement": [
        admin_key_policy(FORENSICS),
        *member_statements("aws", "amazonaws.com", ORG_ID, ROLE)]}
    key = forensics.client("kms").create_key(Policy=json.dumps(policy),
                                             Description="forensic copies")["KeyMetadata"]
    s3 = forensics.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    responder = f"arn:aws:iam::{FORENSICS}:role/{FORENSICS_ROLE}"
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": bucket_statements(responder, [])}))
    made = ForensicsLab(org, key["Arn"], aws_env)
    made.write_config()
    return made


Seed = Callable[..., str]
