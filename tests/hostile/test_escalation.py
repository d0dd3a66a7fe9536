"""A stolen responder key is not an administrator's: the escalations `ircli policy` used to allow.

The attacker holds the keys of a user with exactly the published contain policy (and, in the
last tests, the analyst's) and calls AWS directly, on a moto server that enforces IAM. Where
moto cannot judge (it ignores the conditions of the caller's policies and checks most
non-S3, non-role actions against the resource ``*``; see :mod:`tests.iam_shim`), the test
evaluates the statement text with :func:`tests.iam_shim.allows` and says so.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from ircli.catalog.policy import least_privilege_policy
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.iam_shim import allows

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ACCOUNT = "123456789012"
EVIDENCE = "acme-ir-evidence"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _reset_auth(endpoint: str, count: int) -> None:
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=str(count).encode(), method="POST",
        headers={"Content-Type": "text/plain"})).read()


@pytest.fixture
def scene(endpoint: str, server_clients: Any) -> Iterator[tuple[WebCompromise, Any]]:
    """The lab, another bucket, a customer's policy, and a session holding each policy."""
    _reset_auth(endpoint, 1_000_000)
    lab = seed_web_compromise(server_clients, REGION)
    s3, iam = server_clients("s3"), server_clients("iam")
    for bucket in (EVIDENCE, "payroll-data"):
        s3.create_bucket(Bucket=bucket)
    iam.create_policy(PolicyName="app-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    keys = {audience: _holder(iam, audience) for audience in ("contain", "analyst")}

    def as_holder(audience: str, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            **keys[audience])

    _reset_auth(endpoint, 0)  # from here on, every call is checked against IAM
    yield lab, as_holder
    _reset_auth(endpoint, 1_000_000_000)


def _holder(iam: Any, audience: str) -> dict[str, str]:
    name = f"ircli-{audience}"
    iam.create_user(UserName=name)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(
        least_privilege_policy(audience, bucket=EVIDENCE)))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"]}


def _denied(call: Any, **params: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**params)
    response = caught.value.response  # moto's JSON services answer the code as "403"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403, response
    assert response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")


CONTAIN = least_privilege_policy("contain", bucket=EVIDENCE)
ANALYST = least_privilege_policy("analyst", bucket=EVIDENCE)


def test_the_key_works_for_what_ircli_does(scene: tuple[WebCompromise, Any]) -> None:
    """The control: the same key reads the role and lists its policies (ircli's own calls)."""
    lab, as_holder = scene
    iam = as_holder("contain", "iam")
    assert iam.get_role(RoleName=lab.role)["Role"]["RoleName"] == lab.role
    assert iam.list_attached_role_policies(RoleName=lab.role)["AttachedPolicies"] == []


def test_no_inline_policy_on_someone_elses_role(scene: tuple[WebCompromise, Any]) -> None:
    lab, as_holder = scene
    _denied(as_holder("contain", "iam").put_role_policy, RoleName=lab.role,
            PolicyName="backdoor", PolicyDocument=ALLOW_ALL)
    assert not allows(CONTAIN, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{lab.role}")


def test_a_responder_user_never_writes_its_own_policies() -> None:
    """disable-keys needs iam:PutUserPolicy on users, whose content IAM cannot limit: the
    policy denies it on the holder itself (statement text: moto matches user requests
    against ``*`` and cannot resolve ``${aws:username}``)."""
    [guard] = [s for s in CONTAIN["Statement"] if s["Effect"] == "Deny"]
    assert guard["Resource"] == "arn:aws:iam::*:user/${aws:username}"
    assert {"iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:UpdateAccessKey"} <= set(
        guard["Action"])


def test_no_administrator_access_on_someone_elses_role(scene: tuple[WebCompromise, Any]) -> None:
    """Shim: moto treats the ``iam:PolicyARN`` condition as met and would attach anything, so
    the condition is evaluated from the statement text."""
    lab, _ = scene
    role = f"arn:aws:iam::{ACCOUNT}:role/{lab.role}"
    assert not allows(CONTAIN, "iam:AttachRolePolicy", role, {"iam:PolicyARN": ADMIN})
    assert not allows(CONTAIN, "iam:AttachRolePolicy", role, {
        "iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/app-policy"})
    assert not allows(CONTAIN, "iam:AttachRolePolicy", role)  # no condition value: refused
    assert allows(CONTAIN, "iam:AttachRolePolicy", role, {
        "iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/ircli/ircli-contain-deny-{lab.role}"})
    attaching = [s for s in CONTAIN["Statement"] if "iam:AttachRolePolicy" in s["Action"]]
    assert attaching and all(s["Condition"] == {"ArnLike": {
        "iam:PolicyARN": "arn:aws:iam::*:policy/ircli/*"}} for s in attaching)


def test_no_rewriting_a_customers_managed_policy(scene: tuple[WebCompromise, Any]) -> None:
    _, as_holder = scene
    app = f"arn:aws:iam::{ACCOUNT}:policy/app-policy"
    _denied(as_holder("contain", "iam").create_policy_version, PolicyArn=app,
            PolicyDocument=ALLOW_ALL, SetAsDefault=True)
    assert not allows(CONTAIN, "iam:CreatePolicyVersion", app)


def test_no_shell_commands_on_instances(scene: tuple[WebCompromise, Any]) -> None:
    """moto refuses any SendCommand under a scoped statement (it checks against ``*``), so
    the document scope itself is checked in the statement text too."""
    lab, as_holder = scene
    _denied(as_holder("contain", "ssm").send_command, DocumentName="AWS-RunShellScript",
            InstanceIds=[lab.neighbour], Parameters={"commands": ["id"]})
    shell = f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript"
    ours = f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/ircli-linux-live-response"
    assert not allows(CONTAIN, "ssm:SendCommand", shell)
    assert allows(CONTAIN, "ssm:SendCommand", ours)
    assert not any(allows(CONTAIN, action, ours) for action in (
        "ssm:UpdateDocument", "ssm:CreateDocument", "ssm:UpdateDocumentDefaultVersion"))


def test_no_bucket_policy_rewrites(scene: tuple[WebCompromise, Any]) -> None:
    """moto checks S3 requests against their bucket ARN, so this is enforced as on AWS."""
    _, as_holder = scene
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::payroll-data/*"}]})
    for audience in ("contain", "analyst"):
        _denied(as_holder(audience, "s3").put_bucket_policy, Bucket="payroll-data",
                Policy=policy)
    _denied(as_holder("contain", "s3").put_bucket_policy, Bucket=EVIDENCE, Policy=policy)
    _denied(as_holder("contain", "s3").get_object, Bucket="payroll-data", Key="salaries.csv")


def test_no_passing_other_roles(scene: tuple[WebCompromise, Any]) -> None:
    """Shim: moto never checks iam:PassRole, so the statements are evaluated."""
    lab, _ = scene
    web = f"arn:aws:iam::{ACCOUNT}:role/{lab.role}"
    analyst = f"arn:aws:iam::{ACCOUNT}:role/ircli-analyst-case-1"
    to_ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    assert not allows(CONTAIN, "iam:PassRole", web, to_ec2)
    assert not allows(CONTAIN, "iam:PassRole", analyst, to_ec2)
    assert not allows(ANALYST, "iam:PassRole", web, to_ec2)
    assert not allows(ANALYST, "iam:PassRole", analyst,
                      {"iam:PassedToService": "lambda.amazonaws.com"})
    assert allows(ANALYST, "iam:PassRole", analyst, to_ec2)


def test_the_analyst_changes_only_analyst_roles(scene: tuple[WebCompromise, Any]) -> None:
    """moto checks role-named IAM requests against the role's ARN: enforced as on AWS."""
    lab, as_holder = scene
    iam = as_holder("analyst", "iam")
    _denied(iam.put_role_policy, RoleName=lab.role, PolicyName="backdoor",
            PolicyDocument=ALLOW_ALL)
    _denied(iam.attach_role_policy, RoleName=lab.role, PolicyArn=ADMIN)
    analyst = f"arn:aws:iam::{ACCOUNT}:role/ircli-analyst-case-1"
    assert not allows(ANALYST, "iam:AttachRolePolicy", analyst, {"iam:PolicyARN": ADMIN})


def test_kms_only_through_the_services(scene: tuple[WebCompromise, Any]) -> None:
    """Shim: moto ignores kms:ViaService; every KMS grant that decrypts names a service."""
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    for policy in (CONTAIN, ANALYST):
        assert not allows(policy, "kms:Decrypt", key)
        for statement in policy["Statement"]:
            decrypting = {"kms:Decrypt", "kms:CreateGrant", "kms:GenerateDataKey"}
            if decrypting & set(statement["Action"]):
                assert "kms:ViaService" in statement["Condition"]["StringLike"]
    assert allows(CONTAIN, "kms:Decrypt", key, {"kms:ViaService": "s3.us-east-1.amazonaws.com"})
    assert not allows(CONTAIN, "kms:Decrypt", key,
                      {"kms:ViaService": "lambda.us-east-1.amazonaws.com"})
