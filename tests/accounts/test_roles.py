"""--account / --role-name: act in a member account from the central one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from ircli.core.errors import UserError
from ircli.core.session import AwsSession, AwsSettings
from tests.accounts.conftest import CENTRAL, MEMBER_A, MEMBER_B, ROLE, run_instance
from tests.helpers import ircli


def test_the_role_in_the_target_account_is_assumed(org: Any) -> None:
    aws = AwsSession(AwsSettings(account=MEMBER_A, role_name=ROLE, session_label="ircli-c1"))
    who = aws.identity()
    assert who["account"] == MEMBER_A
    assert who["arn"].endswith(f":assumed-role/{ROLE}/ircli-c1")
    assert aws.account == MEMBER_A


def test_assumed_credentials_renew_before_they_expire(org: Any) -> None:
    aws = AwsSession(AwsSettings(account=MEMBER_A, role_name=ROLE))
    creds = aws.boto.get_credentials()
    first = creds.get_frozen_credentials().access_key
    creds._expiry_time = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)  # expire
    assert creds.get_frozen_credentials().access_key != first  # AssumeRole ran again
    assert aws.identity()["account"] == MEMBER_A


def test_another_account_without_a_role_name_is_refused_with_the_fix(org: Any) -> None:
    with pytest.raises(UserError) as err:
        AwsSession(AwsSettings(account=MEMBER_A))
    assert CENTRAL in err.value.message and "--role-name" in str(err.value.remediation)


def test_the_callers_own_account_needs_no_role(org: Any) -> None:
    assert AwsSession(AwsSettings(account=CENTRAL)).account == CENTRAL


def test_contain_in_a_member_account_from_the_central_one(org: Any,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    ec2_a = org(MEMBER_A, "ec2")
    instance = run_instance(ec2_a)
    out = ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A,
                "--role-name", ROLE)
    assert out.code == 0, out.err
    [eni] = ec2_a.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    assert [g["GroupName"] for g in eni["Groups"]] == ["ircli-isolation-endpoints"]
    # the other member account and the central account were not touched
    assert not org(MEMBER_B, "ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["ircli-isolation-endpoints"]}])["SecurityGroups"]


def test_role_name_from_the_environment_and_a_per_account_override(
        org: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from ircli.core.accounts import access_for

    config = {"accounts": {"role_name": "default-role", "regions": ["us-east-1"],
                           MEMBER_B: {"role_name": "legacy-ir", "regions": ["eu-west-1"]}}}
    assert access_for(MEMBER_A, config=config).role_name == "default-role"
    assert access_for(MEMBER_B, config=config).role_name == "legacy-ir"
    assert access_for(MEMBER_B, config=config).regions == ("eu-west-1",)
    monkeypatch.setenv("IRCLI_ROLE_NAME", "from-env")
    assert access_for(MEMBER_B, config=config).role_name == "from-env"
    assert access_for(MEMBER_B, "from-option", config=config).role_name == "from-option"


def test_a_malformed_account_id_is_a_user_error(org: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "contain", "i-0123456789abcdef0", "--yes", "--account", "12345")
    assert out.code == 2 and "12 digits" in out.err


def test_the_case_remembers_the_account_and_release_needs_no_flags(
        org: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ec2_a = org(MEMBER_A, "ec2", "eu-west-1")
    instance = run_instance(ec2_a)
    [eni] = ec2_a.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance]}])["NetworkInterfaces"]
    before = [g["GroupId"] for g in eni["Groups"]]
    contained = ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A,
                      "--role-name", ROLE, "--region", "eu-west-1")
    assert contained.code == 0, contained.err
    case = json.loads(Path(contained.data["case_dir"], "case.json").read_text())
    record = case["targets"][instance]
    assert (record["account"], record["region"]) == (MEMBER_A, "eu-west-1")
    assert record["role_arn"] == f"arn:aws:iam::{MEMBER_A}:role/{ROLE}"
    released = ircli(capsys, "release", instance, "--yes")  # no --account, --region, role
    assert released.code == 0, released.err
    [eni] = ec2_a.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])[
        "NetworkInterfaces"]
    assert [g["GroupId"] for g in eni["Groups"]] == before
