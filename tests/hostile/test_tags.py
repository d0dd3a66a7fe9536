"""Issue 11 item 2, as the attacker: ircli's own tags planted on what it must contain.

The attacker's role may tag its own instance (and a leaked admin key may tag its own user).
Planted ``ircli:status=contained`` / ``ircli:case-id=...`` values used to make ``contain`` and
``disable-keys`` refuse. Each test plants them with a plain boto3 call, runs the real CLI, and
reads AWS back: the ENIs end behind the isolation group, the key ends Inactive, the run warns
and the audit log keeps the planted value, and nothing is written outside IRCLI_HOME.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ircli.core.audit import verify_chain
from ircli.lab.web_compromise import WebCompromise, seed_web_compromise
from tests.helpers import eni_groups, ircli
from tests.identity.helpers import key_statuses

REGION = "us-east-1"
TRAVERSAL = "../../x"


@pytest.fixture
def web(clients: Any) -> WebCompromise:
    return seed_web_compromise(clients, REGION)


def plant_on_instance(ec2: Any, instance_id: str, case_id: str) -> None:
    ec2.create_tags(Resources=[instance_id], Tags=[
        {"Key": "ircli:status", "Value": "contained"}, {"Key": "ircli:case-id", "Value": case_id}])


def isolation_group(ec2: Any, vpc: str) -> str:
    return str(ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "group-name", "Values": ["ircli-isolation-endpoints"]}])[
        "SecurityGroups"][0]["GroupId"])


def assert_isolated(ec2: Any, lab: WebCompromise) -> None:
    iso = isolation_group(ec2, lab.vpc_id)
    assert eni_groups(ec2, lab.suspect_enis) == {e: [iso] for e in lab.suspect_enis}


def audit(home: Path, case_id: str) -> list[dict[str, Any]]:
    path = home / "cases" / case_id / "audit.jsonl"
    assert verify_chain(path) == []
    return [json.loads(line) for line in path.read_text().splitlines()]


def untrusted(home: Path, case_id: str) -> list[Any]:
    return [line["value"] for line in audit(home, case_id) if line["event"] == "untrusted-tag"]


def nothing_outside(home: Path, case_id: str) -> None:
    """The traversal target exists nowhere (not in, next to or above IRCLI_HOME), and the
    only case directory is the run's own."""
    for base in (home, home.parent, home.parent.parent):
        assert not (base / "x").exists()
    assert [p.name for p in (home / "cases").iterdir()] == [case_id]


@pytest.mark.parametrize("requested", [None, "INC-7"])
def test_a_planted_traversal_case_id_does_not_stop_containment(
        capsys: Any, clients: Any, web: WebCompromise, aws_env: Path,
        requested: str | None) -> None:
    ec2 = clients("ec2")
    plant_on_instance(ec2, web.suspect, TRAVERSAL)
    result = ircli(capsys, "contain", web.suspect, "--yes",
                   *(["--case-id", requested] if requested else []))
    assert result.code == 0, result.err
    assert_isolated(ec2, web)
    case_id = result.data["case_id"]
    assert case_id == (requested or case_id) and case_id.startswith(requested or "ir-")
    assert any("'../../x'" in w and "not a case id" in w for w in result.data["warnings"])
    assert untrusted(aws_env, case_id) == [TRAVERSAL]
    nothing_outside(aws_env, case_id)


def test_a_planted_unknown_case_is_ignored(capsys: Any, clients: Any, web: WebCompromise,
                                           aws_env: Path) -> None:
    ec2 = clients("ec2")
    plant_on_instance(ec2, web.suspect, "ir-20260101-000000-dead")
    result = ircli(capsys, "contain", web.suspect, "--yes")
    assert result.code == 0, result.err
    assert_isolated(ec2, web)
    assert result.data["case_id"] != "ir-20260101-000000-dead"
    assert any("not on this machine" in w for w in result.data["warnings"])
    assert untrusted(aws_env, result.data["case_id"]) == ["ir-20260101-000000-dead"]


def test_a_real_case_of_another_target_is_not_borrowed(capsys: Any, clients: Any,
                                                        web: WebCompromise,
                                                        aws_env: Path) -> None:
    """The neighbour's case id is visible on the neighbour: the suspect copies it."""
    ec2 = clients("ec2")
    first = ircli(capsys, "contain", web.neighbour, "--yes", "--case-id", "case-n",
                  "--no-snapshot")
    assert first.code == 0, first.err
    plant_on_instance(ec2, web.suspect, "case-n")
    result = ircli(capsys, "contain", web.suspect, "--yes", "--no-snapshot")
    assert result.code == 0, result.err
    assert_isolated(ec2, web)
    assert result.data["case_id"] != "case-n"
    assert any(f"does not record {web.suspect}" in w for w in result.data["warnings"])
    neighbour_case = json.loads((aws_env / "cases" / "case-n" / "case.json").read_text())
    assert list(neighbour_case["targets"]) == [web.neighbour]


def test_the_real_tag_still_names_the_case_on_a_rerun(capsys: Any, clients: Any,
                                                      web: WebCompromise,
                                                      aws_env: Path) -> None:
    first = ircli(capsys, "contain", web.suspect, "--yes", "--no-snapshot")
    again = ircli(capsys, "contain", web.suspect, "--yes", "--no-snapshot")
    assert (first.code, again.code) == (0, 0), again.err
    assert again.data["case_id"] == first.data["case_id"]
    assert not any("ircli:case-id" in w for w in again.data["warnings"])
    other = ircli(capsys, "contain", web.suspect, "--yes", "--no-snapshot", "--case-id", "INC-9")
    assert other.code == 0, other.err  # not refused: the case with the pre-state keeps it
    assert other.data["case_id"] == first.data["case_id"]
    assert any("recording there, not under INC-9" in w for w in other.data["warnings"])


# -- IAM users ---------------------------------------------------------------------------------
@pytest.fixture
def mallory(clients: Any) -> tuple[str, str]:
    iam = clients("iam")
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]["AccessKeyId"]
    return "mallory", key


@pytest.mark.parametrize("requested", [None, "INC-8"])
def test_planted_user_tags_do_not_keep_the_key_active(capsys: Any, clients: Any,
                                                      mallory: tuple[str, str], aws_env: Path,
                                                      requested: str | None) -> None:
    iam = clients("iam")
    user, key = mallory
    iam.tag_user(UserName=user, Tags=[{"Key": "ircli:status", "Value": "contained"},
                                      {"Key": "ircli:case-id", "Value": TRAVERSAL}])
    result = ircli(capsys, "disable-keys", "--access-key-id", key, "--yes",
                   *(["--case-id", requested] if requested else []))
    assert result.code == 0, result.err
    assert key_statuses(iam, user) == {key: "Inactive"}
    assert iam.list_user_policies(UserName=user)["PolicyNames"]  # the deny is on
    case_id = result.data["case_id"]
    assert case_id == (requested or case_id)
    assert any("'../../x'" in w for w in result.data["warnings"])
    assert untrusted(aws_env, case_id) == [TRAVERSAL]
    nothing_outside(aws_env, case_id)
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
    assert tags["ircli:case-id"] == case_id  # ircli's own tag replaces the planted one


def test_release_ignores_a_planted_case_tag(capsys: Any, clients: Any, web: WebCompromise,
                                            aws_env: Path) -> None:
    contained = ircli(capsys, "contain", web.suspect, "--yes", "--no-snapshot")
    assert contained.code == 0, contained.err
    clients("ec2").create_tags(Resources=[web.suspect], Tags=[
        {"Key": "ircli:case-id", "Value": TRAVERSAL}])
    released = ircli(capsys, "release", web.suspect, "--yes")
    assert released.code == 0, released.err
    assert released.data["case_id"] == contained.data["case_id"]
    assert eni_groups(clients("ec2"), web.suspect_enis) != {
        e: [isolation_group(clients("ec2"), web.vpc_id)] for e in web.suspect_enis}
