"""`ircli policy` is enough for the assumed-role runbook (with --fix-trust) and its release,
under the emulator's IAM enforcement (see tests/e2e/test_least_privilege.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ircli.catalog.policy import least_privilege_policy
from ircli.core.session import AwsSession, AwsSettings
from ircli.ops.release_identity import IdentityReleaseOptions, release_identity
from ircli.ops.runbook import RunbookOptions, run_runbook
from ircli.runbook.library import get_runbook
from tests.fakes import FakeClock
from tests.families.conftest import OUTSIDER, TRUST
from tests.iam_enforcement import Enforcement, enforcement_fixture, user_with
from tests.iam_shim import moto_view

pytestmark = pytest.mark.e2e
enforced = enforcement_fixture()


def _responder_policy() -> dict[str, Any]:
    """What a responder of these runbooks holds: contain plus contain-resources, as moto can
    enforce it (tests/iam_shim.py: moto ignores conditions and most resource scopes)."""
    contain, extra = least_privilege_policy(), least_privilege_policy("contain-resources")
    return moto_view({**contain, "Statement": [*contain["Statement"], *extra["Statement"]]})


def _responder(iam: Any, policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed the role, then act as a user holding only ``policy``."""
    iam.create_role(RoleName="app-deploy", AssumeRolePolicyDocument=json.dumps(TRUST))
    for name, value in user_with(iam, "ircli-responder", policy).items():
        monkeypatch.setenv(name, value)


def test_policy_is_enough_for_the_role_runbook_and_its_release(
        enforced: Enforcement, server_clients: Any, aws_env: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    iam = server_clients("iam")
    _responder(iam, _responder_policy(), monkeypatch)
    enforced.on()  # from now on every call is checked against IAM
    book = get_runbook("assumed-role-compromise")
    result = run_runbook(AwsSession(AwsSettings()), FakeClock(), book, RunbookOptions(
        target="app-deploy", overrides={"fix-trust": {"apply": True}}))
    assert result.data["status"] == "contained", result.data["steps"]
    released = release_identity(AwsSession(AwsSettings()), FakeClock(),
                                IdentityReleaseOptions(role="app-deploy"))
    assert released.data["status"] == "released", released.data["steps"]
    enforced.off()
    trust = iam.get_role(RoleName="app-deploy")["Role"]["AssumeRolePolicyDocument"]
    assert OUTSIDER in json.dumps(trust)  # restored exactly
    assert iam.list_role_policies(RoleName="app-deploy")["PolicyNames"] == []


def test_without_the_trust_permission_the_fix_fails_and_says_so(
        enforced: Enforcement, server_clients: Any, aws_env: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    policy = _responder_policy()
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"]
                               if a != "iam:UpdateAssumeRolePolicy"]
    iam = server_clients("iam")
    _responder(iam, policy, monkeypatch)
    enforced.on()
    result = run_runbook(AwsSession(AwsSettings()), FakeClock(),
                         get_runbook("assumed-role-compromise"), RunbookOptions(
                             target="app-deploy", overrides={"fix-trust": {"apply": True}}))
    enforced.off()
    steps = {s["name"]: s for s in result.data["steps"]}
    assert steps["revoke-role-sessions"]["status"] == "done"  # the sessions die regardless
    assert steps["fix-trust"]["status"] == "failed"
    assert result.data["status"] == "partial"
