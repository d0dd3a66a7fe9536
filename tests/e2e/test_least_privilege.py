"""`ircli policy` is enough to contain and release, and nothing in it is decoration.

The emulator enforces IAM once told to (``/moto-api/reset-auth``): the scenario is seeded
while it does not, then ircli runs with the keys of a user that holds only `ircli policy`
(the responder's, ``--for contain``), as moto can enforce it (:func:`tests.iam_shim.moto_view`:
moto checks most actions against the resource ``*``, which a scoped statement never matches).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ircli.aws.iam_policies import policy_size
from ircli.catalog.policy import least_privilege_policy
from ircli.catalog.steps import all_steps
from ircli.core.permission import AUDIENCES, action_names
from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import eni_groups
from tests.iam_enforcement import Enforcement, enforcement_fixture, user_with
from tests.iam_shim import moto_view

BUCKET = "ircli-lp-evidence"

pytestmark = pytest.mark.e2e
enforced = enforcement_fixture()


def test_every_step_declares_its_permissions() -> None:
    for name, step in all_steps().items():
        assert step.permissions, f"step {name} declares no IAM permissions"
        assert all(":" in action for action in action_names(step.permissions)), name
        assert step.audience in AUDIENCES, name


def test_each_policy_fits_a_managed_policy() -> None:
    """IAM's quota for a customer-managed policy is 6,144 characters without white space."""
    for audience in AUDIENCES:
        assert policy_size(least_privilege_policy(audience, bucket=BUCKET)) < 6144, audience


def test_policy_is_enough_to_contain_and_release(enforced: Enforcement, server_clients: Any,
                                                 ircli: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    server_clients("s3").create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    keys = user_with(server_clients("iam"), "ircli-responder",
                     moto_view(least_privilege_policy(bucket=BUCKET)))
    enforced.on()  # from now on every call is checked against IAM
    contained = ircli("contain", lab.suspect, "--yes", "-o", "json",
                      "--evidence-bucket", BUCKET, env=keys)
    assert contained.code == 0, contained.stdout + contained.stderr
    assert contained.json()["evidence"]["shipped"] is True, contained.json()["evidence"]
    iso = contained.json()["isolation_group_id"]
    released = ircli("release", lab.suspect, "--yes", "-o", "json", env=keys)
    assert released.code == 0, released.stdout + released.stderr
    enforced.off()
    assert iso not in {g for gs in eni_groups(server_clients("ec2"), lab.suspect_enis).values()
                       for g in gs}
    iam = server_clients("iam")
    assert iam.list_attached_role_policies(RoleName=lab.role)["AttachedPolicies"] == []
    assert iam.list_policies(Scope="Local", PathPrefix="/ircli/")["Policies"] == []


def test_without_the_isolation_permission_containment_fails_loudly(
        enforced: Enforcement, server_clients: Any, ircli: Any) -> None:
    lab = seed_web_compromise(server_clients, "us-east-1")
    policy = moto_view(least_privilege_policy())
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"]
                               if a != "ec2:ModifyNetworkInterfaceAttribute"]
    keys = user_with(server_clients("iam"), "ircli-weak", policy)
    enforced.on()
    result = ircli("contain", lab.suspect, "--yes", "-o", "json", env=keys)
    assert result.code == 4, result.stdout + result.stderr
    data = result.json()
    assert data["status"] == "failed"
    failed = next(s for s in data["steps"] if s["name"] == "isolate")
    assert "ModifyNetworkInterfaceAttribute" in failed["detail"]
    assert "Traceback" not in result.stderr


def _policy_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ircli", "policy", *args], capture_output=True,
                          text=True, check=True)


def test_policy_command_prints_the_generated_policy() -> None:
    out = _policy_cmd("--evidence-bucket", BUCKET).stdout
    assert json.loads(out) == least_privilege_policy(bucket=BUCKET)
    for audience in AUDIENCES:
        printed = json.loads(_policy_cmd("--for", audience, "--evidence-bucket", BUCKET).stdout)
        assert printed == least_privilege_policy(audience, bucket=BUCKET)


def test_policy_command_names_no_bucket_anyone_could_own(monkeypatch: Any) -> None:
    monkeypatch.delenv("IRCLI_EVIDENCE_BUCKET", raising=False)
    done = _policy_cmd()
    text = json.dumps(json.loads(done.stdout))
    assert "arn:aws:s3:::EVIDENCE_BUCKET_NOT_CONFIGURED/cases/*" in text
    assert "--evidence-bucket" in done.stderr


def test_policy_command_follows_the_partition() -> None:
    printed = json.loads(_policy_cmd("--region", "cn-north-1", "--evidence-bucket",
                                     BUCKET).stdout)
    resources = json.dumps([s["Resource"] for s in printed["Statement"]])
    assert "arn:aws-cn:s3:::" in resources and "arn:aws:" not in resources


# Actions that hand out power when allowed on any resource: each must be scoped.
_POWERFUL = ("iam:Put", "iam:Attach", "iam:Create", "iam:PassRole", "iam:Add", "iam:Update",
             "iam:Delete", "iam:Detach", "iam:Tag", "s3:", "ssm:SendCommand", "ssm:Create",
             "ssm:Update", "ssm:AddTags", "ssm:GetParameter", "kms:Decrypt", "kms:CreateGrant",
             "kms:GenerateDataKey", "kms:ReEncrypt")
# What stays on "*" anyway, and why: deactivating keys, deleting login profiles, tagging
# users, their inline deny (disable-keys: any user can be the leaked one; the contain policy
# denies its holder these on itself), and the inline denies of earlier versions (release).
_ANY_USER_OR_ROLE = {"iam:UpdateAccessKey", "iam:DeleteLoginProfile", "iam:TagUser",
                     "iam:UntagUser", "iam:PutUserPolicy", "iam:DeleteUserPolicy",
                     "iam:DeleteRolePolicy"}


# contain-resources is the separate grant for the runbooks whose only lever is a resource's own
# policy (S3, Lambda, a role's trust): it must rewrite those anywhere, and nothing more.
_RESOURCE_POLICY_LEVERS = {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy",
                           "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy",
                           "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
                           "s3:GetBucketAcl", "s3:GetBucketOwnershipControls",
                           "s3:ListAccessPoints", "s3:GetBucketPolicyStatus",
                           "s3:ListAllMyBuckets"}


def test_nothing_powerful_is_allowed_on_any_resource() -> None:
    for audience in AUDIENCES:
        allowed = _ANY_USER_OR_ROLE | (_RESOURCE_POLICY_LEVERS if audience ==
                                       "contain-resources" else set())
        for statement in least_privilege_policy(audience, bucket=BUCKET)["Statement"]:
            if statement["Effect"] != "Allow" or statement["Resource"] != "*" \
                    or statement.get("Condition"):
                continue
            loose = {a for a in statement["Action"] if a.startswith(_POWERFUL)}
            assert loose <= allowed, (audience, sorted(loose - allowed))
