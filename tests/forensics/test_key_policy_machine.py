"""The forensics key's policy admits the compiled runbooks' execution roles through EBS only:
the automation's CopySnapshot runs under that role, in a member account, under the forensics
key (judged on the statements: the emulator evaluates no key-policy conditions)."""

from __future__ import annotations

import fnmatch
from typing import Any

from ircli.automation.template import Names
from ircli.evidence.policy import MACHINE_ROLE
from ircli.forensics.evaluate import Request, decide
from ircli.forensics.key_policy import key_policy_gaps, member_statements
from tests.forensics.conftest import MEMBER_A, ORG_ID, REGION, ROLE

KEY = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MACHINE = f"arn:aws:iam::{MEMBER_A}:role/{Names('ec2-compromise', REGION).execution_role}"


def ask(statements: list[dict[str, Any]], role: str, action: str, service: str | None,
        org: str = ORG_ID) -> str:
    context: dict[str, str] = {"aws:PrincipalOrgID": org, "kms:GrantIsForAWSResource": "true"}
    if service:
        context["kms:ViaService"] = f"{service}.{REGION}.amazonaws.com"
    return decide(statements, Request(role, action, KEY, context))


def test_deploys_execution_role_is_the_pattern_the_policy_names() -> None:
    for runbook, region in (("ec2-compromise", REGION), ("ec2-compromise", "eu-central-1")):
        assert fnmatch.fnmatchcase(Names(runbook, region).execution_role, MACHINE_ROLE)


def test_the_machine_role_copies_through_ebs_and_nothing_else() -> None:
    statements = member_statements("aws", "amazonaws.com", ORG_ID, ROLE)
    for action in ("kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptTo",
                   "kms:DescribeKey", "kms:Decrypt"):
        assert ask(statements, MACHINE, action, "ec2") == "allow", action
        assert ask(statements, MACHINE, action, None) != "allow", action  # not directly
        assert ask(statements, MACHINE, action, "ec2", "o-outsider0000") != "allow", action
    assert ask(statements, MACHINE, "kms:GenerateDataKey", "s3") != "allow"  # no S3 for it
    other = f"arn:aws:iam::{MEMBER_A}:role/ircli-something-else"
    assert ask(statements, other, "kms:ReEncryptTo", "ec2") != "allow"
    assert key_policy_gaps(statements, key_arn=KEY, member_role=f"arn:aws:iam::{MEMBER_A}:"
                           f"role/{ROLE}", org_id=ORG_ID, region=REGION,
                           dns_suffix="amazonaws.com") == []


def test_forensics_check_names_a_key_policy_that_admits_no_machine() -> None:
    statements = member_statements("aws", "amazonaws.com", ORG_ID, ROLE)
    for statement in statements:  # as the policy was before the automation could copy
        who = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
        statement["Condition"]["ArnLike"]["aws:PrincipalArn"] = \
            who[0] if isinstance(who, list) else who
    gaps = key_policy_gaps(statements, key_arn=KEY, member_role=f"arn:aws:iam::{MEMBER_A}:"
                           f"role/{ROLE}", org_id=ORG_ID, region=REGION,
                           dns_suffix="amazonaws.com")
    assert gaps and "ircli-ec2-compromise-us-east-1-sfn may not" in gaps[0]
