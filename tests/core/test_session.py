"""The session factory: role assumption, partition, retries, secrets kept out of observers."""

from __future__ import annotations

from typing import Any

from ircli.core.session import ApiCall, AwsSession, AwsSettings, scrub
from ircli.lab.web_compromise import ASSUME_EC2


def test_role_arn_is_assumed_with_the_case_id_in_the_session_name(clients: Any) -> None:
    role = clients("iam").create_role(RoleName="responder",
                                      AssumeRolePolicyDocument=ASSUME_EC2)["Role"]["Arn"]
    aws = AwsSession(AwsSettings(role_arn=role, session_label="ircli-ir-2026-001"))
    arn = aws.identity()["arn"]
    assert ":assumed-role/responder/ircli-ir-2026-001" in arn


def test_partition_follows_the_region(moto_aws: None) -> None:
    assert AwsSession(AwsSettings(region="cn-north-1")).partition == "aws-cn"
    assert AwsSession(AwsSettings(region="us-gov-west-1")).partition == "aws-us-gov"
    assert AwsSession(AwsSettings(region="eu-west-1")).partition == "aws"


def test_clients_use_standard_retries_and_the_ircli_user_agent(moto_aws: None) -> None:
    ec2 = AwsSession(AwsSettings()).client("ec2")
    assert ec2.meta.config.retries["mode"] == "standard"
    assert "ircli/" in ec2.meta.config.user_agent_extra


def test_observers_never_see_secrets(clients: Any) -> None:
    seen: list[ApiCall] = []
    aws = AwsSession(AwsSettings(), observers=[seen.append])
    aws.client("iam").create_user(UserName="u")
    aws.client("iam").create_login_profile(UserName="u", Password="Hunter2-secret!")
    [login] = [c for c in seen if c.operation == "CreateLoginProfile"]
    assert login.params["Password"] == "<redacted>"
    assert "Hunter2" not in repr(login.params)
    assert scrub({"UploadUrl": ["https://x?X-Amz-Signature=abc"], "Keep": 1}) == \
        {"UploadUrl": "<redacted>", "Keep": 1}
