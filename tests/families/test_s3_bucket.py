"""The bucket runbooks on the emulator: deny and block, read back; converge; a dry-run and
a second run change nothing; release restores the policy and public access block exactly;
objects and versioning are never touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ircli.ops.triage import finding_target
from ircli.runbook.library import all_runbooks
from ircli.steps.s3_bucket import responder_arn
from ircli.triage.finding import parse_finding
from ircli.triage.match import match_runbook
from tests.families.conftest import sample
from tests.helpers import ircli

BUCKET = "acme-exports"
SHIPPED_RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
PUBLIC = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}


@pytest.fixture
def exposed(clients: Any) -> Any:
    """A versioned bucket an attacker made public, holding one object."""
    s3 = clients("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="customers.csv", Body=b"id,name\n1,Ada\n")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC))
    return s3


def state(s3: Any) -> dict[str, Any]:
    try:
        pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        pab = None
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    except s3.exceptions.ClientError:
        policy = None
    versions = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    return {"pab": pab, "policy": policy,
            "versioning": s3.get_bucket_versioning(Bucket=BUCKET).get("Status"),
            "objects": sorted((v["Key"], v["VersionId"]) for v in versions)}


def test_triage_picks_the_exposure_runbook_and_the_bucket() -> None:
    finding = parse_finding(sample("s3-public"))
    match = match_runbook(finding, all_runbooks())
    assert match is not None and match.runbook.name == "s3-exposure"
    assert finding_target(finding, match.runbook) == BUCKET


def test_contain_converge_and_release_exactly(capsys, exposed, cli_clock, aws_env) -> None:
    before = state(exposed)
    dry = ircli(capsys, "runbook", "run", "s3-exposure", "--target", BUCKET, "--dry-run")
    assert dry.code == 0, dry.err
    assert state(exposed) == before and not (aws_env / "cases").exists()

    result = ircli(capsys, "runbook", "run", "s3-exposure", "--target", BUCKET, "--yes",
                   "--case-id", "case-s3")
    assert result.code == 0, result.err
    assert result.data["status"] == "contained"
    after = state(exposed)
    assert after["pab"] == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                            "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    deny = after["policy"]["Statement"][-1]
    assert (deny["Sid"], deny["Effect"], deny["Principal"], deny["Action"]) == (
        "IrcliDenyAllButResponders", "Deny", "*", "s3:*")
    exempt = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    caller = responder_arn(boto3.client("sts", region_name="us-east-1")
                           .get_caller_identity()["Arn"])
    assert exempt == [caller]  # ircli itself keeps access: release can take the deny out
    assert after["policy"]["Statement"][0] == PUBLIC["Statement"][0]  # recorded, kept
    assert (after["versioning"], after["objects"]) == (before["versioning"], before["objects"])
    case = json.loads((aws_env / "cases" / "case-s3" / "case.json").read_text())
    record = case["targets"][f"bucket/{BUCKET}"]["pre_state"]
    assert record["policy"] == PUBLIC and record["public_access_block"] is None
    assert "grants" in record["acl"] and record["access_points"] == []

    again = ircli(capsys, "runbook", "run", "s3-exposure", "--target", BUCKET, "--yes",
                  "--case-id", "case-s3")
    assert {s["name"]: s["status"] for s in again.data["steps"]} == {
        "record-bucket": "already-done", "bucket-deny-all": "already-done",
        "bucket-public-access-block": "already-done"}
    assert state(exposed) == after

    dry_release = ircli(capsys, "release", "--bucket", BUCKET, "--dry-run")
    assert dry_release.code == 0, dry_release.err
    assert state(exposed) == after
    released = ircli(capsys, "release", "--bucket", BUCKET, "--yes")
    assert released.code == 0, released.err
    assert released.data["status"] == "released"
    assert state(exposed) == before


def test_release_keeps_the_owners_own_policy_change(capsys, exposed, cli_clock) -> None:
    ircli(capsys, "runbook", "run", "s3-exfiltration", "--target", BUCKET, "--yes")
    policy = json.loads(exposed.get_bucket_policy(Bucket=BUCKET)["Policy"])
    policy["Statement"] = policy["Statement"][1:]  # the owner drops the public statement
    exposed.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    released = ircli(capsys, "release", "--bucket", BUCKET, "--yes")
    assert released.code == 0, released.err
    with pytest.raises(exposed.exceptions.ClientError):  # only ircli's deny was left: gone
        exposed.get_bucket_policy(Bucket=BUCKET)


def test_an_unknown_bucket_is_one_sentence(capsys, clients) -> None:
    result = ircli(capsys, "runbook", "run", "s3-exposure", "--target", "no-such-bucket-x",
                   "--dry-run")
    assert result.code == 2 and "does not exist" in result.err


def test_an_assumed_role_caller_is_exempt_as_its_role() -> None:
    """aws:PrincipalArn of a role session is the role's ARN, not the session's."""
    assert responder_arn("arn:aws:sts::111122223333:assumed-role/ir-responder/alice") == \
        "arn:aws:iam::111122223333:role/ir-responder"
    assert responder_arn("arn:aws-cn:iam::111122223333:user/bob") == \
        "arn:aws-cn:iam::111122223333:user/bob"


def test_break_glass_roles_and_access_points_are_recorded(capsys, exposed, clients,
                                                          cli_clock, aws_env,
                                                          tmp_path) -> None:
    clients("s3control").create_access_point(AccountId="123456789012", Name="exports-ap",
                                             Bucket=BUCKET)
    glass = "arn:aws:iam::123456789012:role/break-glass"
    book = (SHIPPED_RUNBOOKS / "s3-exposure.yaml").read_text().replace(
        "break_glass: []", f'break_glass: ["{glass}"]')
    (tmp_path / "s3-exposure.yaml").write_text(book)
    result = ircli(capsys, "runbook", "run", "s3-exposure", "--target", BUCKET, "--yes",
                   "--case-id", "case-ap", "--runbooks-dir", str(tmp_path))
    assert result.code == 0, result.err
    deny = json.loads(exposed.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][-1]
    assert glass in deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    case = json.loads((aws_env / "cases" / "case-ap" / "case.json").read_text())
    points = case["targets"][f"bucket/{BUCKET}"]["pre_state"]["access_points"]
    assert [p["name"] for p in points] == ["exports-ap"]
    assert any("exports-ap" in w for w in result.data["warnings"])
