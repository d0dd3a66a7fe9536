"""An IAM user with two active keys, a console login, a group and policies, as a leak finds it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class LeakedUser:
    name: str
    arn: str
    leaked_key: str
    other_key: str


@pytest.fixture
def iam(clients: Any) -> Any:
    return clients("iam")


@pytest.fixture
def alice(iam: Any) -> LeakedUser:
    user = iam.create_user(UserName="alice")["User"]
    leaked = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    other = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    iam.create_group(GroupName="developers")
    iam.add_user_to_group(GroupName="developers", UserName="alice")
    read_only = iam.create_policy(PolicyName="read-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alice", PolicyArn=read_only)
    iam.put_user_policy(UserName="alice", PolicyName="s3-uploads", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}))
    return LeakedUser("alice", user["Arn"], leaked, other)
