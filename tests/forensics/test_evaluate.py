"""The policy evaluator that forensics check and the policy tests rely on, held to IAM's rules."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ircli.forensics.evaluate import Request, decide
from ircli.liveresponse.upload import archive_key
from tests.helpers import ircli

ROLE = "arn:aws:iam::111111111111:role/ircli-responder"
OBJ = "arn:aws:s3:::b/cases/111111111111/x"


def test_an_explicit_deny_wins_over_an_allow() -> None:
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}
    assert decide([allow], Request(ROLE, "s3:PutObject", OBJ)) == "allow"
    assert decide([allow, deny], Request(ROLE, "s3:PutObject", OBJ)) == "deny"
    assert decide([], Request(ROLE, "s3:PutObject", OBJ)) == "implicit-deny"


def test_a_missing_key_fails_a_positive_operator_and_satisfies_a_negated_one() -> None:
    positive = {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}
    negated = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*",
               "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}}
    assert decide([positive], Request(ROLE, "s3:PutObject", OBJ)) == "implicit-deny"
    assert decide([positive, negated], Request(ROLE, "s3:PutObject", OBJ)) == "deny"
    assert decide([positive, negated], Request(ROLE, "s3:PutObject", OBJ,
                                               {"aws:PrincipalOrgID": "o-1"})) == "allow"


def test_policy_variables_in_resources_take_the_callers_account() -> None:
    own = {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
           "Resource": "arn:aws:s3:::b/cases/${aws:PrincipalAccount}/*"}
    assert decide([own], Request(ROLE, "s3:PutObject", OBJ)) == "allow"
    assert decide([own], Request(ROLE, "s3:PutObject",
                                 "arn:aws:s3:::b/cases/222222222222/x")) == "implicit-deny"


def test_actions_match_case_insensitively_with_wildcards_and_notaction() -> None:
    stmt = {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "S3:Get*",
            "Resource": "*"}
    assert decide([stmt], Request(ROLE, "s3:GetObject", OBJ)) == "allow"
    assert decide([stmt], Request("arn:aws:iam::222222222222:role/x", "s3:GetObject",
                                  OBJ)) == "implicit-deny"
    not_get = {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*", "Resource": "*"}
    assert decide([not_get], Request(ROLE, "s3:PutObject", OBJ)) == "allow"
    assert decide([not_get], Request(ROLE, "s3:GetObject", OBJ)) == "implicit-deny"


def test_an_unknown_operator_is_refused_rather_than_guessed() -> None:
    stmt = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
            "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "300"}}}
    with pytest.raises(ValueError):
        decide([stmt], Request(ROLE, "s3:GetObject", OBJ, {"aws:MultiFactorAuthAge": "1"}))


def test_archives_of_a_member_case_go_under_its_prefix() -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    assert archive_key("c1", "i-0abc", now, account="111111111111") == \
        "cases/111111111111/c1/collect/i-0abc-20261201T030000Z.tar.gz"
    assert archive_key("c1", "i-0abc", now) == "cases/c1/collect/i-0abc-20261201T030000Z.tar.gz"


def test_key_policy_prints_the_statements_for_the_organisation(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "forensics", "key-policy", "--organization-id", "o-exampleorg1",
                "--member-role-name", "ircli-responder", json_output=False)
    assert out.code == 0, out.err
    assert '"aws:PrincipalOrgID": "o-exampleorg1"' in out.out and "kms:ViaService" in out.out
    bad = ircli(capsys, "forensics", "key-policy", "--organization-id", "org-1",
                "--member-role-name", "r", json_output=False)
    assert bad.code == 2 and "not an organization id" in bad.err


def test_the_contain_policy_scopes_the_copy_and_never_allows_public_sharing(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "policy", "--for", "contain", "--evidence-bucket", "b",
                json_output=False)
    assert out.code == 0, out.err
    statements = json.loads(out.out)["Statement"]
    snapshot = "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"

    def ask(action: str, context: dict[str, str]) -> str:
        return decide([{**s, "Principal": "*"} for s in statements],
                      Request(ROLE, action, snapshot, context))

    ours = {"aws:ResourceTag/ircli:purpose": "forensic-copy"}
    assert ask("ec2:ModifySnapshotAttribute", {**ours, "ec2:Add/userId": "999999999999"}) == \
        "allow"
    assert ask("ec2:ModifySnapshotAttribute", {**ours, "ec2:Add/group": "all"}) != "allow"
    assert ask("ec2:ModifySnapshotAttribute", {"ec2:Add/userId": "999999999999"}) != "allow"
    assert ask("ec2:CopySnapshot", {}) == "allow"
    assert ask("ec2:CreateTags", {"ec2:CreateAction": "CopySnapshot"}) == "allow"
