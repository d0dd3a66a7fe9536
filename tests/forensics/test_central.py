"""The central bucket: each member writes only under cases/<its account>/, reads nothing.

The emulator does not evaluate bucket-policy conditions (a conditioned Deny refuses every
request there), so the policy is tested on its statements with ircli's evaluator, as a member
would meet it in AWS; the shipping test runs on the bucket without its policy (named below).
"""

from __future__ import annotations

import json

import pytest

from ircli.evidence.policy import READ_ACTIONS
from ircli.forensics.check import bucket_policy_gaps
from ircli.forensics.evaluate import Request, decide
from tests.accounts.conftest import run_instance
from tests.forensics.conftest import (
    BUCKET,
    FORENSICS,
    FORENSICS_ROLE,
    MEMBER_A,
    MEMBER_B,
    ORG_ID,
    ROLE,
    ForensicsLab,
    bucket_statements,
)
from tests.helpers import ircli

RESPONDER = f"arn:aws:iam::{FORENSICS}:role/{FORENSICS_ROLE}"
ANALYST = f"arn:aws:iam::{FORENSICS}:role/ircli-analyst-case-a1"
STATEMENTS = bucket_statements(RESPONDER, [ANALYST])
ROLE_A = f"arn:aws:iam::{MEMBER_A}:role/{ROLE}"
ROLE_B = f"arn:aws:iam::{MEMBER_B}:role/{ROLE}"


def ask(principal: str, action: str, key: str = "", org: str | None = ORG_ID) -> str:
    resource = f"arn:aws:s3:::{BUCKET}" + (f"/{key}" if key else "")
    context = {"aws:SecureTransport": "true", **({"aws:PrincipalOrgID": org} if org else {})}
    return decide(STATEMENTS, Request(principal, action, resource, context))


def test_a_member_role_writes_under_its_own_prefix() -> None:
    assert ask(ROLE_A, "s3:PutObject", f"cases/{MEMBER_A}/case-a1/case.json") == "allow"


def test_member_b_cannot_write_under_as_prefix_nor_anywhere_else() -> None:
    assert ask(ROLE_B, "s3:PutObject", f"cases/{MEMBER_A}/case-a1/case.json") == "deny"
    assert ask(ROLE_B, "s3:PutObject", "cases/case-a1/case.json") == "deny"
    assert ask(ROLE_B, "s3:PutObject", f"anchors/{MEMBER_B}") == "deny"


@pytest.mark.parametrize("action", [*READ_ACTIONS, "s3:DeleteObject", "s3:DeleteObjectVersion",
                                    "s3:PutObjectRetention", "s3:BypassGovernanceRetention",
                                    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"])
def test_member_b_reads_deletes_and_unlocks_nothing(action: str) -> None:
    for key in (f"cases/{MEMBER_A}/case-a1/case.json", f"cases/{MEMBER_B}/case-b1/case.json",
                ""):
        assert ask(ROLE_B, action, key) == "deny", (action, key)


def test_another_role_of_a_member_account_cannot_write_even_its_own_prefix() -> None:
    """Only ircli's role of the member: an attacker's role in A is refused."""
    other = f"arn:aws:iam::{MEMBER_A}:role/attacker"
    assert ask(other, "s3:PutObject", f"cases/{MEMBER_A}/x") == "deny"


def test_a_role_outside_the_organisation_cannot_write() -> None:
    outsider = f"arn:aws:iam::444455556666:role/{ROLE}"
    assert ask(outsider, "s3:PutObject", "cases/444455556666/x", org="o-someoneelse") == "deny"
    assert ask(outsider, "s3:PutObject", "cases/444455556666/x", org=None) == "deny"


MACHINE_A = f"arn:aws:iam::{MEMBER_A}:role/ircli-ec2-compromise-eu-west-1-sfn"
MACHINE_B = f"arn:aws:iam::{MEMBER_B}:role/ircli-ec2-compromise-eu-west-1-sfn"


def test_a_members_automation_writes_and_reads_back_its_own_case_only() -> None:
    """The compiled runbook re-reads the case it opened when a finding comes back."""
    own = f"cases/{MEMBER_A}/ir-gd-1/case.json"
    assert ask(MACHINE_A, "s3:PutObject", own) == "allow"
    assert ask(MACHINE_A, "s3:GetObject", own) == "allow"
    assert ask(MACHINE_A, "s3:GetObject", f"cases/{MEMBER_B}/ir-gd-2/case.json") == "deny"
    assert ask(MACHINE_A, "s3:GetObject", "anchors/x") == "deny"
    assert ask(MACHINE_A, "s3:ListBucket") == "deny"
    assert ask(MACHINE_A, "s3:PutObject", f"cases/{MEMBER_B}/ir-gd-2/case.json") == "deny"
    assert ask(MACHINE_B, "s3:GetObject", own) == "deny"
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"):
        assert ask(MACHINE_A, action, own) == "deny", action
    outsider = "arn:aws:iam::444455556666:role/ircli-ec2-compromise-eu-west-1-sfn"
    assert ask(outsider, "s3:GetObject", "cases/444455556666/x", org="o-someoneelse") != \
        "allow"
    assert ask(outsider, "s3:PutObject", "cases/444455556666/x", org="o-someoneelse") == "deny"


def test_the_checker_finds_a_policy_that_keeps_the_automation_out() -> None:
    """A central bucket written before the machines could use it: their case.json is
    refused, and a compiled runbook there would not open its case."""
    old = [s for s in STATEMENTS if s.get("Sid") != "IrcliMachinesReadOwnCase"]
    assert any("automation" in g for g in bucket_policy_gaps(old, "aws", BUCKET, ROLE_A, ORG_ID))


def test_the_member_role_still_reads_nothing_of_its_own_prefix() -> None:
    assert ask(ROLE_A, "s3:GetObject", f"cases/{MEMBER_A}/case-a1/case.json") == "deny"


def test_the_forensics_analyst_and_responder_read_any_members_case() -> None:
    key = f"cases/{MEMBER_A}/case-a1/case.json"
    for reader in (ANALYST, RESPONDER):
        assert ask(reader, "s3:GetObject", key, org=ORG_ID) == "allow"
    assert ask(ANALYST, "s3:PutObject", key) == "deny"


def test_the_checker_agrees_and_finds_a_policy_that_lets_members_read() -> None:
    assert bucket_policy_gaps(STATEMENTS, "aws", BUCKET, ROLE_A, ORG_ID) == []
    loose = [*STATEMENTS, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{BUCKET}/*"}]
    loose = [s for s in loose if s.get("Sid") != "IrcliDenyReadToOthers"]
    assert any("s3:GetObject" in g for g in bucket_policy_gaps(loose, "aws", BUCKET, ROLE_A,
                                                               ORG_ID))


def test_evidence_init_with_the_organisation_writes_that_policy(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    out = ircli(capsys, "evidence", "init", "--bucket", "central-ir-evidence",
                "--organization-id", ORG_ID, "--yes", "--account", FORENSICS,
                "--role-name", FORENSICS_ROLE)
    assert out.code == 0, out.err
    policy = json.loads(lab.f("s3").get_bucket_policy(Bucket="central-ir-evidence")["Policy"])
    assert bucket_policy_gaps(policy["Statement"], "aws", "central-ir-evidence", ROLE_B,
                              ORG_ID) == []
    checks = {c["name"]: c["status"] for c in out.data["checks"]}
    assert checks["policy-member-write"] == "pass" and checks["policy-grants"] == "pass"


def test_a_member_run_ships_its_case_under_its_prefix_and_verify_passes_from_forensics(
        lab: ForensicsLab, capsys: pytest.CaptureFixture[str]) -> None:
    # emulator shim: moto refuses every request under a conditioned Deny (it does not
    # evaluate conditions), so the bucket runs without its policy here; the policy's effect
    # on these same writes is what the statement tests above assert
    lab.f("s3").delete_bucket_policy(Bucket=BUCKET)
    instance = run_instance(lab.org(MEMBER_A, "ec2"))
    out = ircli(capsys, "contain", instance, "--yes", "--account", MEMBER_A, "--role-name",
                ROLE, "--case-id", "case-a1", "--new-case")
    assert out.code == 0, out.err
    evidence = out.data["evidence"]
    assert evidence["shipped"] is True and evidence["bucket"] == BUCKET, evidence
    assert evidence["prefix"] == f"cases/{MEMBER_A}/case-a1/"
    keys = [o["Key"] for o in lab.f("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys and all(k.startswith(f"cases/{MEMBER_A}/case-a1/") for k in keys)
    verified = ircli(capsys, "evidence", "verify", "case-a1", "--account", FORENSICS,
                     "--role-name", FORENSICS_ROLE)
    assert verified.code == 0, (verified.err, verified.data)
    assert verified.data["ok"] is True
