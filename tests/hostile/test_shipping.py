"""Issue 11 item 11: identity, block-ip and release runs ship their cases like contain does.

Each command runs through the CLI with an evidence bucket; the test reads the bucket back:
``cases/<case-id>/case.json`` and ``audit.jsonl`` are there and are the record of this run.
Also item 2's other half: a case that lives only in the bucket is continued, not restarted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ircli.core.audit import verify_chain
from ircli.lab.web_compromise import seed_web_compromise
from tests.helpers import ircli
from tests.runbooks.conftest import Network

REGION = "us-east-1"
ADDRESS = "198.51.100.7"


def shipped(clients: Any, bucket: str, case_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The bucket's case.json and audit.jsonl of ``case_id`` (the chain checked)."""
    s3 = clients("s3")
    case = json.loads(s3.get_object(Bucket=bucket, Key=f"cases/{case_id}/case.json")[
        "Body"].read())
    raw = s3.get_object(Bucket=bucket, Key=f"cases/{case_id}/audit.jsonl")["Body"].read()
    return case, [json.loads(line) for line in raw.decode().splitlines()]


@pytest.fixture
def user(clients: Any) -> tuple[str, str]:
    iam = clients("iam")
    iam.create_user(UserName="bob")
    return "bob", iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]


def test_disable_keys_and_its_release_ship(capsys: Any, clients: Any, evidence_bucket: str,
                                           user: tuple[str, str]) -> None:
    name, key = user
    run = ircli(capsys, "disable-keys", "--access-key-id", key, "--yes",
                "--evidence-bucket", evidence_bucket)
    assert run.code == 0, run.err
    assert run.data["evidence"]["shipped"] is True
    case, audit = shipped(clients, evidence_bucket, run.data["case_id"])
    assert case["targets"][f"user/{name}"]["status"] == "contained"
    assert any(line.get("operation") == "UpdateAccessKey" for line in audit)

    back = ircli(capsys, "release", key, "--yes", "--evidence-bucket", evidence_bucket)
    assert back.code == 0, back.err
    assert back.data["evidence"]["shipped"] is True
    case, audit = shipped(clients, evidence_bucket, run.data["case_id"])
    assert case["targets"][f"user/{name}"]["status"] == "released"
    assert [line["command"] for line in audit if line["event"] == "run-start"] == [
        "disable-keys", "release"]


def test_revoke_sessions_ships(capsys: Any, clients: Any, evidence_bucket: str) -> None:
    clients("iam").create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}))
    run = ircli(capsys, "revoke-sessions", "--role", "app", "--yes",
                "--evidence-bucket", evidence_bucket)
    assert run.code == 0, run.err
    case, audit = shipped(clients, evidence_bucket, run.data["case_id"])
    assert case["targets"]["role/app"]["status"] == "revoked"
    # The revocation is a managed deny attached to the role: the shipped audit records that call.
    attached = [p["PolicyArn"] for p in clients("iam").list_attached_role_policies(
        RoleName="app")["AttachedPolicies"]]
    assert [(line["params"]["RoleName"], line["params"]["PolicyArn"]) for line in audit
            if line.get("operation") == "AttachRolePolicy"] == [("app", arn) for arn in attached]
    assert attached


def test_block_unblock_and_expire_ship(capsys: Any, clients: Any, evidence_bucket: str,
                                       network: Network) -> None:
    run = ircli(capsys, "block-ip", ADDRESS, "--vpc", network.vpc, "--yes",
                "--evidence-bucket", evidence_bucket)
    assert run.code == 0, run.err
    assert run.data["evidence"]["shipped"] is True
    case_id = run.data["case_id"]
    case, audit = shipped(clients, evidence_bucket, case_id)
    assert case["targets"][f"ip/{ADDRESS}"]["status"] == "blocked"
    assert any(line.get("operation") == "CreateNetworkAclEntry" for line in audit)

    lift = ircli(capsys, "unblock-ip", ADDRESS, "--yes", "--evidence-bucket", evidence_bucket)
    assert lift.code == 0, lift.err
    assert not [w for w in lift.data["warnings"] if "not shipped" in w]
    case, audit = shipped(clients, evidence_bucket, case_id)  # the case that made the block
    assert case["targets"][f"ip/{ADDRESS}"]["lifted"]
    assert [line["command"] for line in audit if line["event"] == "block-lifted"] == [
        "unblock-ip"] * len(lift.data["lifted"])


def test_release_of_an_instance_ships(capsys: Any, clients: Any, evidence_bucket: str) -> None:
    lab = seed_web_compromise(clients, REGION)
    run = ircli(capsys, "contain", lab.suspect, "--yes", "--no-snapshot",
                "--evidence-bucket", evidence_bucket)
    assert run.code == 0, run.err
    back = ircli(capsys, "release", lab.suspect, "--yes", "--evidence-bucket", evidence_bucket)
    assert back.code == 0, back.err
    assert back.data["evidence"]["shipped"] is True
    case, _audit = shipped(clients, evidence_bucket, run.data["case_id"])
    assert case["targets"][lab.suspect]["status"] == "released"


def test_a_case_only_in_the_bucket_is_continued(capsys: Any, clients: Any,
                                                evidence_bucket: str, aws_env: Path) -> None:
    """Another responder's laptop: the instance's tag names a case that is only in the
    bucket. It is confirmed there, fetched, and extended (one audit chain, not two)."""
    lab = seed_web_compromise(clients, REGION)
    first = ircli(capsys, "contain", lab.suspect, "--yes", "--no-snapshot",
                  "--evidence-bucket", evidence_bucket)
    assert first.code == 0, first.err
    case_id = first.data["case_id"]
    _case, before = shipped(clients, evidence_bucket, case_id)
    shutil.rmtree(aws_env / "cases")  # a fresh machine

    again = ircli(capsys, "contain", lab.suspect, "--yes", "--no-snapshot",
                  "--evidence-bucket", evidence_bucket)
    assert again.code == 0, again.err
    assert again.data["case_id"] == case_id
    assert any("continued from" in w for w in again.data["warnings"])
    assert not any("ircli:case-id" in w for w in again.data["warnings"])
    assert verify_chain(aws_env / "cases" / case_id / "audit.jsonl") == []
    _case, after = shipped(clients, evidence_bucket, case_id)
    assert after[:len(before)] == before and len(after) > len(before)


def test_a_tag_naming_another_targets_bucket_case_is_ignored(capsys: Any, clients: Any,
                                                             evidence_bucket: str,
                                                             aws_env: Path) -> None:
    lab = seed_web_compromise(clients, REGION)
    first = ircli(capsys, "contain", lab.neighbour, "--yes", "--no-snapshot",
                  "--evidence-bucket", evidence_bucket)
    assert first.code == 0, first.err
    shutil.rmtree(aws_env / "cases")
    clients("ec2").create_tags(Resources=[lab.suspect], Tags=[
        {"Key": "ircli:status", "Value": "contained"},
        {"Key": "ircli:case-id", "Value": first.data["case_id"]}])
    run = ircli(capsys, "contain", lab.suspect, "--yes", "--no-snapshot",
                "--evidence-bucket", evidence_bucket)
    assert run.code == 0, run.err
    assert run.data["case_id"] != first.data["case_id"]
    assert any(f"does not record {lab.suspect}" in w for w in run.data["warnings"])
