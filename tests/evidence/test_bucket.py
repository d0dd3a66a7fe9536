"""`ircli evidence init` and `check` against the emulator, read back setting by setting."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.evidence.conftest import ANALYST, BUCKET, RunCli, cli_json

RESPONDER = "arn:aws:iam::123456789012:role/Responder"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _init(cli: RunCli, *extra: str) -> tuple[int, dict[str, Any]]:
    return cli_json(cli, "evidence", "init", "--yes", "--bucket", BUCKET, "--analyst-role-arn",
                    ANALYST, "--responder-role-arn", RESPONDER, *extra)


def test_init_creates_bucket_with_every_setting(clients: Any, cli: RunCli) -> None:
    code, data = _init(cli, "--kms-key-id", KMS, "--retention-days", "30",
                       "--retention-mode", "COMPLIANCE")
    assert code == 0 and data["created"] and data["ok"]
    s3 = clients("s3")
    lock = s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 30
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                   "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    enc = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS}
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["ircli:purpose"] == "evidence-storage"

    statements = {s["Sid"]: s for s in
                  json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert set(statements) == {"IrcliDenyInsecureTransport", "IrcliResponderReadWrite",
                               "IrcliAnalystRead", "IrcliDenyReadToOthers",
                               "IrcliDenyWriteToOthers", "IrcliDenyBucketChangesButBreakGlass"}
    tls = statements["IrcliDenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    assert statements["IrcliResponderReadWrite"]["Principal"] == {"AWS": [RESPONDER]}
    assert "s3:PutObject" in statements["IrcliResponderReadWrite"]["Action"]
    analyst = statements["IrcliAnalystRead"]
    assert analyst["Principal"] == {"AWS": [ANALYST]} and "s3:GetObject" in analyst["Action"]
    assert not [a for a in analyst["Action"] if a.startswith(("s3:Put", "s3:Delete"))]
    allows = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert {p for s in allows for p in s["Principal"]["AWS"]} == {RESPONDER, ANALYST}
    deny_read = statements["IrcliDenyReadToOthers"]["Condition"]["ArnNotEquals"]
    assert sorted(deny_read["aws:PrincipalArn"]) == sorted([RESPONDER, ANALYST])
    deny_write = statements["IrcliDenyWriteToOthers"]["Condition"]["ArnNotEquals"]
    assert deny_write["aws:PrincipalArn"] == [RESPONDER]


def test_second_init_changes_nothing_and_says_so(clients: Any, cli: RunCli) -> None:
    assert _init(cli, "--kms-key-id", KMS)[0] == 0
    policy_before = clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"]
    code, out, _err = cli("evidence", "init", "--bucket", BUCKET, "--analyst-role-arn", ANALYST,
                          "--responder-role-arn", RESPONDER, "--kms-key-id", KMS, "--yes")
    assert code == 0
    assert "No changes" in out
    code, data = _init(cli, "--kms-key-id", KMS)
    assert code == 0 and not data["created"] and data["changes"] == []
    assert clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"] == policy_before


def test_init_defaults_responder_to_caller_and_warns_without_kms(clients: Any,
                                                                 cli: RunCli) -> None:
    code, _out, err = cli("evidence", "init", "--yes", "--bucket", BUCKET)
    assert code == 0
    assert "SSE-S3" in err
    enc = clients("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    responder = next(s for s in policy["Statement"] if s["Sid"] == "IrcliResponderReadWrite")
    assert responder["Principal"] == {"AWS": ["arn:aws:iam::123456789012:user/moto"]}
    lock = clients("s3").get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 90, "Years": 0}


def test_init_repairs_drift(clients: Any, cli: RunCli) -> None:
    assert _init(cli)[0] == 0
    s3 = clients("s3")
    s3.delete_public_access_block(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    code, data = cli_json(cli, "evidence", "check", "--bucket", BUCKET)
    assert code == 3
    failed = {c["name"] for c in data["checks"] if c["status"] == "fail"}
    assert {"public-access-block", "policy-grants", "policy-deny-insecure-transport"} <= failed
    code, data = _init(cli)
    assert code == 0 and data["changed"]
    assert any("public access" in c for c in data["changes"])
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"] is True
    assert "Open" not in s3.get_bucket_policy(Bucket=BUCKET)["Policy"]
    code, data = cli_json(cli, "evidence", "check", "--bucket", BUCKET,
                          "--responder-role-arn", RESPONDER, "--analyst-role-arn", ANALYST)
    assert code == 0, data


def test_check_passes_after_init(cli: RunCli, clients: Any) -> None:
    code, made = _init(cli, "--kms-key-id", KMS)
    assert code == 0
    code, data = cli_json(cli, "evidence", "check", "--bucket", BUCKET, "--signing-key",
                          made["signing_key"])
    assert code == 0
    assert all(c["status"] == "pass" for c in data["checks"]), data["checks"]
    code, out, _err = cli("evidence", "check", "--bucket", BUCKET, "--signing-key",
                          made["signing_key"])
    assert code == 0 and "passes every check" in out


def test_check_with_other_expected_roles_fails(cli: RunCli, clients: Any) -> None:
    assert _init(cli)[0] == 0
    code, data = cli_json(cli, "evidence", "check", "--bucket", BUCKET, "--responder-role-arn",
                          "arn:aws:iam::123456789012:role/Someone")
    assert code == 3
    assert "policy-responder-write" in {c["name"] for c in data["checks"]
                                        if c["status"] == "fail"}


def test_check_fails_on_bucket_without_object_lock_and_names_what_is_missing(
        clients: Any, cli: RunCli) -> None:
    clients("s3").create_bucket(Bucket="plain-bucket")
    code, data = cli_json(cli, "evidence", "check", "--bucket", "plain-bucket")
    assert code == 3 and not data["ok"]
    failed = {c["name"] for c in data["checks"] if c["status"] == "fail"}
    assert failed >= {"object-lock", "default-retention", "versioning", "object-ownership",
                      "public-access-block", "encryption", "policy-deny-insecure-transport",
                      "policy-responder-write", "policy-grants", "policy-deny-others", "tags"}
    code, out, _err = cli("evidence", "check", "--bucket", "plain-bucket")
    assert code == 3 and "object-lock" in out and "FAIL" in out


def test_init_refuses_bucket_without_object_lock(clients: Any, cli: RunCli) -> None:
    clients("s3").create_bucket(Bucket="plain-bucket")
    code, _out, err = cli("evidence", "init", "--yes", "--bucket", "plain-bucket")
    assert code == 2
    assert "without Object Lock" in err and "new --bucket name" in err
    with pytest.raises(clients("s3").exceptions.ClientError):  # nothing was half-repaired
        clients("s3").get_public_access_block(Bucket="plain-bucket")


def test_check_of_missing_bucket_fails(cli: RunCli, clients: Any) -> None:
    code, data = cli_json(cli, "evidence", "check", "--bucket", "no-such-evidence-bucket")
    assert code == 3 and data["checks"][0]["name"] == "exists"
