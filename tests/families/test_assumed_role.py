"""The assumed-role runbook on the emulator: revoke older sessions, show (and with
--fix-trust, make) the trust fix, converge on re-runs, change nothing in a dry-run, and
`release --role` restores the role exactly."""

from __future__ import annotations

import json
from typing import Any

from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.runbook import RunbookOptions, run_runbook
from ircli.runbook.library import get_runbook
from tests.fakes import FakeClock
from tests.families.conftest import OUTSIDER, TRUST
from tests.helpers import ircli


def role_state(iam: Any, name: str) -> dict[str, Any]:
    """What containment may change on a role, read back from IAM."""
    role = iam.get_role(RoleName=name)["Role"]
    policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
    documents = {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                 for p in policies}
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    for found in attached:  # ircli's denies are managed policies under /ircli/
        meta = iam.get_policy(PolicyArn=found["PolicyArn"])["Policy"]
        documents[found["PolicyName"]] = iam.get_policy_version(
            PolicyArn=found["PolicyArn"], VersionId=meta["DefaultVersionId"])[
                "PolicyVersion"]["Document"]
    return {"trust": role["AssumeRolePolicyDocument"],
            "inline": sorted([*policies, *(a["PolicyName"] for a in attached)]),
            "documents": documents}


def run(target: str, clock: FakeClock, **options: Any) -> Any:
    return run_runbook(AwsSession(AwsSettings()), clock, get_runbook("assumed-role-compromise"),
                       RunbookOptions(target=target, **options))


def test_revokes_sessions_and_shows_the_trust_fix_without_making_it(
        clients, deploy_role: str, aws_env) -> None:
    iam = clients("iam")
    before = role_state(iam, deploy_role)
    clock = FakeClock()
    dry = run(deploy_role, clock, dry_run=True)
    assert role_state(iam, deploy_role) == before  # the plan changed nothing
    assert not (aws_env / "cases").exists()
    fix = next(s for s in dry.data["steps"] if s["name"] == "fix-trust")
    assert OUTSIDER in " ".join(fix["warnings"]) and "--fix-trust" in fix["detail"]

    result = run(deploy_role, clock, case_id="case-role")
    assert result.data["status"] == "contained", result.data
    after = role_state(iam, deploy_role)
    policy = "ircli-revoke-sessions-case-role"
    assert after["inline"] == ["deploy", policy]
    statement = after["documents"][policy]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"] == "2026-11-28T03:00:00Z"
    assert after["trust"] == before["trust"]  # shown, not made, without --fix-trust
    case = json.loads((aws_env / "cases" / "case-role" / "case.json").read_text())
    record = case["targets"]["role/app-deploy"]
    assert record["pre_state"]["trust_policy"] == TRUST  # recorded before any change

    clock.advance(600)
    again = run(deploy_role, clock, case_id="case-role")  # converges: same deny, same time
    statuses = {s["name"]: s["status"] for s in again.data["steps"]}
    assert statuses["revoke-role-sessions"] == "already-done"
    assert role_state(iam, deploy_role) == after


def test_fix_trust_then_release_restores_the_role_exactly(capsys, clients, deploy_role: str,
                                                          cli_clock) -> None:
    iam = clients("iam")
    before = role_state(iam, deploy_role)
    result = ircli(capsys, "runbook", "run", "assumed-role-compromise", "--target",
                   deploy_role, "--fix-trust", "--yes", "--case-id", "case-trust")
    assert result.code == 0, result.err
    trust = role_state(iam, deploy_role)["trust"]
    principals = json.dumps(trust)
    assert OUTSIDER not in principals  # the attacker's account cannot assume it again
    assert "arn:aws:iam::123456789012:root" in principals and "ec2.amazonaws.com" in principals

    again = ircli(capsys, "runbook", "run", "assumed-role-compromise", "--target",
                  deploy_role, "--fix-trust", "--yes", "--case-id", "case-trust")
    assert {s["name"]: s["status"] for s in again.data["steps"]}["fix-trust"] == "already-done"

    dry = ircli(capsys, "release", "--role", deploy_role, "--dry-run")
    assert dry.code == 0, dry.err
    assert role_state(iam, deploy_role)["trust"] == trust  # a dry-run release changes nothing
    released = ircli(capsys, "release", "--role", deploy_role, "--yes")
    assert released.code == 0, released.err
    assert role_state(iam, deploy_role) == before


def test_fix_trust_on_a_runbook_without_the_step_is_refused(capsys, clients) -> None:
    result = ircli(capsys, "runbook", "run", "iam-key-compromise", "--target",
                   "AKIAIOSFODNN7EXAMPLE", "--fix-trust", "--yes")
    assert result.code == 2 and "fix-trust" in result.err


def test_a_role_that_does_not_exist_is_one_sentence(capsys, clients) -> None:
    result = ircli(capsys, "runbook", "run", "assumed-role-compromise", "--target", "ghost",
                   "--dry-run")
    assert result.code == 2 and "IAM role ghost was not found" in result.err


def test_release_without_fix_trust_leaves_the_trust_policy_alone(clients, deploy_role: str,
                                                                   aws_env) -> None:
    from ircli.ops.release_identity import IdentityReleaseOptions, release_identity

    iam = clients("iam")
    before = role_state(iam, deploy_role)
    run(deploy_role, FakeClock(), case_id="case-plain")
    iam.update_assume_role_policy(RoleName=deploy_role, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [TRUST["Statement"][0]]}))  # the owner's fix
    fixed = role_state(iam, deploy_role)["trust"]
    result = release_identity(AwsSession(AwsSettings()), FakeClock(),
                              IdentityReleaseOptions(role=deploy_role))
    assert result.data["status"] == "released", result.data
    after = role_state(iam, deploy_role)
    assert after["trust"] == fixed  # never "restored" over a change ircli did not make
    assert after["inline"] == before["inline"]


def test_release_never_overwrites_a_trust_policy_changed_after_the_fix(
        capsys, clients, deploy_role: str, cli_clock) -> None:
    iam = clients("iam")
    ircli(capsys, "runbook", "run", "assumed-role-compromise", "--target", deploy_role,
          "--fix-trust", "--yes")
    owners = {"Version": "2012-10-17", "Statement": [TRUST["Statement"][0]]}
    iam.update_assume_role_policy(RoleName=deploy_role, PolicyDocument=json.dumps(owners))
    released = ircli(capsys, "release", "--role", deploy_role, "--yes")
    assert released.code == 0, released.err
    assert iam.get_role(RoleName=deploy_role)["Role"]["AssumeRolePolicyDocument"] == owners
