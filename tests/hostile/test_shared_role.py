"""Fifty instances share one role: every one of them loses its credentials, none is forgotten.

The attacker's advantage used to be arithmetic: IAM caps a role's inline policies at 10,240
characters, so with one inline deny per contained instance the 33rd instance of a fleet kept
live credentials. Now one managed policy per role lists the contained instances. In-process
emulator, through the same operations `ircli contain` and `ircli release` run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from ircli.aws import contain_deny as deny
from ircli.aws import iam_managed
from ircli.aws.iam_policies import contain_deny, contained_ids, policy_size
from ircli.core.engine import RunContext, run_steps
from ircli.core.errors import ExitCode, StepFailed
from ircli.core.session import AwsSession, AwsSettings
from ircli.lab.web_compromise import ASSUME_EC2, lab_image
from ircli.steps.credentials import CutCredentials
from ircli.steps.instance_state import ResolveInstance
from tests.conftest import REAL_SETTLE_SECONDS
from tests.fakes import FakeClock
from tests.helpers import contain_deny as deny_document
from tests.helpers import run_contain, run_release

ROLE = "shared-fleet"
FLEET = 50
POLICY = iam_managed.policy_arn("aws", "123456789012", deny.deny_policy_name(ROLE))


@pytest.fixture
def fleet(clients: Any) -> list[str]:
    """FLEET running instances, one subnet, one instance profile with one role."""
    ec2, iam = clients("ec2"), clients("iam")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=ASSUME_EC2)
    profile = iam.create_instance_profile(InstanceProfileName=ROLE)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
    found = ec2.run_instances(ImageId=lab_image(ec2), InstanceType="t3.micro", MinCount=FLEET,
                              MaxCount=FLEET, SubnetId=subnet)["Instances"]
    ids = sorted(i["InstanceId"] for i in found)
    # Shim: moto gives a RunInstances profile to the first of several instances only.
    for iid in ids:
        ec2.associate_iam_instance_profile(InstanceId=iid,
                                           IamInstanceProfile={"Arn": profile["Arn"]})
    return ids


def _session() -> AwsSession:
    return AwsSession(AwsSettings())


def _cut(aws: AwsSession, iid: str) -> None:
    """The contain step that cuts credentials, run by the engine as `contain` runs it."""
    ctx = RunContext(aws, FakeClock(), iid)
    outcome = run_steps(ctx, [ResolveInstance(), CutCredentials()])
    assert [s.status for s in outcome.steps] == ["done", "done"], outcome.steps


def test_fifty_instances_one_policy_all_denied(clients: Any, fleet: list[str]) -> None:
    """The whole of `contain` for two of them (release needs a case), the credential step
    alone for the other 48, so the test stays fast."""
    iam = clients("iam")
    for iid in fleet[:2]:
        result = run_contain(iid, snapshot=False)
        assert result.exit_code == ExitCode.OK, result.data["steps"]
        assert {s["name"]: s["status"] for s in result.data["steps"]}[
            "cut-credentials"] == "done"
    aws = _session()
    for iid in fleet[2:]:
        _cut(aws, iid)
    document = deny_document(iam, ROLE)
    assert contained_ids(document) == set(fleet)
    for statement in document["Statement"]:  # every statement names every instance
        assert len(statement["Condition"]["StringLike"]["ec2:SourceInstanceARN"]) == FLEET
    size = policy_size(document)
    assert size < iam_managed.MANAGED_POLICY_MAX_CHARS  # 6,144 for a managed policy
    assert deny.capacity() == 53 >= FLEET  # as README "Threat model" says
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []  # no inline policy
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)[
        "AttachedPolicies"]] == [POLICY]
    versions = iam.list_policy_versions(PolicyArn=POLICY)["Versions"]
    assert len(versions) <= iam_managed.MAX_VERSIONS  # old versions pruned, 50 writes later

    released = run_release(fleet[0])
    assert released.exit_code == ExitCode.OK, released.data["steps"]
    assert contained_ids(deny_document(iam, ROLE)) == set(fleet[1:])


def test_releasing_the_last_instance_deletes_the_policy(clients: Any,
                                                        fleet: list[str]) -> None:
    iam = clients("iam")
    for iid in fleet[:2]:
        run_contain(iid, snapshot=False)
    for iid in fleet[:2]:
        assert run_release(iid).exit_code == ExitCode.OK
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    assert iam_managed.read(iam, POLICY) is None


def test_each_write_waits_for_iam_to_settle_before_it_is_read_back(
        clients: Any, fleet: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS a policy version takes a moment to show; the suite's emulator needs no wait
    (tests/conftest.py sets it to zero), so here it has its real length again."""
    assert REAL_SETTLE_SECONDS >= 1.0  # a version lands within a second or so
    monkeypatch.setattr(deny, "SETTLE_SECONDS", REAL_SETTLE_SECONDS)
    clock = FakeClock()
    deny.add_instance(_session(), ROLE, POLICY, fleet[0], clock.sleep)
    deny.remove_instance(_session(), ROLE, POLICY, fleet[0], clock.sleep)
    assert clock.slept == [REAL_SETTLE_SECONDS, REAL_SETTLE_SECONDS]
    assert iam_managed.read(clients("iam"), POLICY) is None


def test_two_responders_at_once_both_end_up_denied(clients: Any, fleet: list[str]) -> None:
    """Two threads (two responders in one process) add different instances at once."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def add(iid: str) -> None:
        try:
            barrier.wait(timeout=30)
            deny.add_instance(_session(), ROLE, POLICY, iid, FakeClock().sleep)
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=add, args=(iid,)) for iid in fleet[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert contained_ids(deny_document(clients("iam"), ROLE)) == set(fleet[:2])


def test_a_writer_in_another_process_cannot_drop_our_instance(clients: Any,
                                                               fleet: list[str]) -> None:
    """A rival read the policy before our write and writes after it, without our instance
    (IAM has no conditional write): our read-back sees it missing and writes again."""
    iam = clients("iam")
    ours, theirs, earlier = fleet[:3]
    iam_managed.write(iam, POLICY, contain_deny([earlier]), "ircli")
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=POLICY)
    stale = contained_ids(iam_managed.read(iam, POLICY))
    rival_wrote: list[bool] = []

    def sleep_while_the_rival_writes(_seconds: float) -> None:
        if not rival_wrote:
            iam_managed.write(iam, POLICY, contain_deny(stale | {theirs}), "rival")
            rival_wrote.append(True)

    deny.add_instance(_session(), ROLE, POLICY, ours, sleep_while_the_rival_writes)
    assert rival_wrote
    assert {ours, earlier} <= contained_ids(deny_document(iam, ROLE))


def test_concurrent_releases_remove_only_their_own(clients: Any, fleet: list[str]) -> None:
    iam = clients("iam")
    iam_managed.write(iam, POLICY, contain_deny(fleet[:3]), "ircli")
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=POLICY)
    threads = [threading.Thread(target=deny.remove_instance, args=(
        _session(), ROLE, POLICY, iid, FakeClock().sleep)) for iid in fleet[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert contained_ids(deny_document(iam, ROLE)) == {fleet[2]}


def test_a_full_policy_is_a_loud_failure(clients: Any, fleet: list[str]) -> None:
    """Past the quota the instance is not silently left alive: the step fails and says so."""
    iam = clients("iam")
    full = [f"i-{n:017x}" for n in range(deny.capacity())]
    iam_managed.write(iam, POLICY, contain_deny(full), "ircli")
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=POLICY)
    with pytest.raises(StepFailed) as caught:
        deny.add_instance(_session(), ROLE, POLICY, fleet[0], FakeClock().sleep)
    assert "--revoke-role-sessions" in (caught.value.remediation or "")
    result = run_contain(fleet[0], snapshot=False)
    assert result.exit_code == ExitCode.PARTIAL
    failed = {s["name"]: s for s in result.data["steps"]}["cut-credentials"]
    assert failed["status"] == "failed" and "keeps its credentials" in failed["detail"]
    assert contained_ids(iam_managed.read(iam, POLICY)) == set(full)


def test_release_removes_an_earlier_versions_inline_deny(clients: Any, fleet: list[str],
                                                         tmp_path: Any) -> None:
    """Migration: a case recorded by the previous version (one inline policy per instance)."""
    iam, iid = clients("iam"), fleet[0]
    legacy = f"ircli-contain-{iid}"
    iam.put_role_policy(RoleName=ROLE, PolicyName=legacy, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "NotAction": ["ssm:UpdateInstanceInformation"], "Resource": "*",
            "Condition": {"StringEquals": {"ec2:SourceInstanceARN": f"arn:aws:ec2:us-east-1:"
                                           f"123456789012:instance/{iid}"}}}]}))
    ctx = RunContext(_session(), FakeClock(), iid)
    ctx.facts["instance"] = clients("ec2").describe_instances(InstanceIds=[iid])[
        "Reservations"][0]["Instances"][0]
    old_record = {"before": {"profile_arn": "arn:aws:iam::123456789012:instance-profile/x",
                             "role": ROLE, "policy_name": legacy, "policy_existed": False,
                             "association_id": None}}
    step = CutCredentials()
    plan = step.undo(ctx, old_record)
    assert plan is not None
    step.apply_undo(ctx, plan)
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []

    # A role still carrying the old inline deny keeps it while a new contain adds the
    # managed one; release then removes both.
    iam.put_role_policy(RoleName=ROLE, PolicyName=legacy, PolicyDocument=json.dumps(
        contain_deny([iid])))
    run_contain(iid, snapshot=False)
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == [legacy]
    assert run_release(iid).exit_code == ExitCode.OK
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


def test_revoking_the_roles_sessions_too_and_releasing_both(clients: Any,
                                                            fleet: list[str]) -> None:
    iam, iid = clients("iam"), fleet[0]
    result = run_contain(iid, case_id="case-r", snapshot=False, revoke_role_sessions=True,
                         detach_profile=True)
    assert result.exit_code == ExitCode.OK, result.data["steps"]
    revoke = iam_managed.policy_arn("aws", "123456789012", "ircli-revoke-sessions-case-r")
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)[
        "AttachedPolicies"]}
    assert attached == {POLICY, revoke}
    [statement] = (iam_managed.read(iam, revoke) or {})["Statement"]
    assert "aws:TokenIssueTime" in statement["Condition"]["DateLessThan"]
    associations = clients("ec2").describe_iam_instance_profile_associations(Filters=[
        {"Name": "instance-id", "Values": [iid]}, {"Name": "state", "Values": ["associated"]}])
    assert associations["IamInstanceProfileAssociations"] == []

    again = run_contain(iid, case_id="case-r", snapshot=False, revoke_role_sessions=True)
    assert {s["name"]: s["status"] for s in again.data["steps"]}[
        "cut-credentials"] == "already-done"

    assert run_release(iid).exit_code == ExitCode.OK
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    assert iam_managed.read(iam, revoke) is None and iam_managed.read(iam, POLICY) is None
    associations = clients("ec2").describe_iam_instance_profile_associations(Filters=[
        {"Name": "instance-id", "Values": [iid]}, {"Name": "state", "Values": ["associated"]}])
    assert len(associations["IamInstanceProfileAssociations"]) == 1


def test_an_allow_slipped_into_the_deny_policy_is_written_away(clients: Any,
                                                              fleet: list[str]) -> None:
    """A stolen responder key may write ircli's policy (IAM cannot limit its content): the
    attacker adds an Allow beside the deny. The next contain of the role rewrites it."""
    iam, iid = clients("iam"), fleet[0]
    run_contain(iid, snapshot=False)
    tampered = deny_document(iam, ROLE)
    tampered["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    iam_managed.write(iam, POLICY, tampered, "attacker", exists=True)

    again = run_contain(iid, snapshot=False)
    step = {s["name"]: s for s in again.data["steps"]}["cut-credentials"]
    assert step["status"] == "done"
    assert any("someone changed it" in w for w in step["warnings"])
    assert deny_document(iam, ROLE) == contain_deny([iid])
