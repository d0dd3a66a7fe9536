"""An insider with bucket-admin rights weakens the evidence bucket; `evidence check` names
each gap, and the policy `init` writes denies those very changes to all but break-glass.

moto does not evaluate bucket policies for bucket-configuration calls (nor conditions), so
the attacker's calls below succeed in the emulator; on AWS the policy's
IrcliDenyBucketChangesButBreakGlass statement refuses them. The tests therefore check that
statement as data, and check that `evidence check` reports what the attacker did.
"""

from __future__ import annotations

import json
from typing import Any

from ircli.evidence import policy as pol
from tests.evidence.conftest import ANALYST, BUCKET, RunCli, cli, cli_json  # noqa: F401

RESPONDER = "arn:aws:iam::123456789012:role/Responder"
BREAK_GLASS = "arn:aws:iam::123456789012:role/EvidenceBreakGlass"


def _init(cli: RunCli, *extra: str) -> tuple[int, dict[str, Any]]:  # noqa: F811
    return cli_json(cli, "evidence", "init", "--yes", "--bucket", BUCKET, "--analyst-role-arn",
                    ANALYST, "--responder-role-arn", RESPONDER, *extra)


def _check(cli: RunCli, *extra: str) -> tuple[int, dict[str, str]]:  # noqa: F811
    code, data = cli_json(cli, "evidence", "check", "--bucket", BUCKET, *extra)
    return code, {c["name"]: f"{c['status']}: {c['detail']}" for c in data["checks"]}


def _statements(clients: Any) -> dict[str, dict[str, Any]]:
    raw = clients("s3").get_bucket_policy(Bucket=BUCKET)["Policy"]
    return {s["Sid"]: s for s in json.loads(raw)["Statement"]}


def test_policy_denies_undoing_the_protection_to_all_but_break_glass(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    code, data = _init(cli, "--break-glass-role-arn", BREAK_GLASS)
    assert code == 0, data
    deny = _statements(clients)["IrcliDenyBucketChangesButBreakGlass"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert sorted(deny["Action"]) == sorted([
        "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration",
        "s3:BypassGovernanceRetention"])
    assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS]}}
    assert not [w for w in data["warnings"] if "break-glass" in w]
    code, checks = _check(cli, "--break-glass-role-arn", BREAK_GLASS)
    assert checks["policy-protects-itself"] == \
        f"pass: bucket configuration changes denied to all but {BREAK_GLASS}"


def test_without_break_glass_only_root_may_change_the_bucket_and_init_says_so(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    code, _out, err = cli("evidence", "init", "--yes", "--bucket", BUCKET,
                          "--responder-role-arn", RESPONDER)
    assert code == 0
    assert "No --break-glass-role-arn: from now on only the account's root user" in err
    deny = _statements(clients)["IrcliDenyBucketChangesButBreakGlass"]
    assert "Condition" not in deny and deny["Effect"] == "Deny"


def test_break_glass_must_be_a_role_other_than_the_responder(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    code, _out, err = cli("evidence", "init", "--bucket", BUCKET, "--responder-role-arn",
                          RESPONDER, "--break-glass-role-arn", RESPONDER)
    assert code == 2 and "must not be the responder role" in err
    code, _out, err = cli("evidence", "init", "--bucket", BUCKET, "--break-glass-role-arn",
                          "arn:aws:iam::123456789012:user/alice")
    assert code == 2 and "is not an IAM role ARN" in err


def test_compliance_is_the_default_and_governance_is_warned(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    assert _init(cli)[0] == 0
    lock = clients("s3").get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    code, _out, err = cli("evidence", "init", "--yes", "--bucket", "ircli-evidence-governed",
                          "--retention-mode", "GOVERNANCE")
    assert code == 0 and "--retention-mode GOVERNANCE: GOVERNANCE retention yields" in err


def test_check_reports_each_gap_the_attacker_opened(clients: Any, cli: RunCli) -> None:  # noqa: F811
    assert _init(cli, "--break-glass-role-arn", BREAK_GLASS)[0] == 0
    s3 = clients("s3")
    # The attacker: GOVERNANCE (to bypass later), an expiry rule, versioning suspended (AWS
    # refuses that on an Object Lock bucket; moto allows it), and a policy that exempts them.
    s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [{
        "ID": "tidy-up", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": 1}}]})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    statements = list(_statements(clients).values())
    deny = next(s for s in statements if s["Sid"] == pol.SID_DENY_CONFIG)
    deny["Action"] = [a for a in deny["Action"] if a != "s3:PutBucketPolicy"]
    deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append(
        "arn:aws:iam::123456789012:role/Attacker")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": statements}))
    code, checks = _check(cli)
    assert code == 3
    assert checks["default-retention"].startswith("fail: GOVERNANCE 1 days (yields to "
                                                  "s3:BypassGovernanceRetention")
    assert checks["lifecycle"] == "fail: rules expire objects (delete markers hide the " \
        "evidence): tidy-up"
    assert checks["versioning"] == "fail: Suspended"
    protects = checks["policy-protects-itself"]
    assert protects.startswith("fail: ") and "s3:PutBucketPolicy is not denied" in protects
    assert "exempts 2 principals" in protects
    code, checks = _check(cli, "--break-glass-role-arn", BREAK_GLASS)
    assert f"not the break-glass role {BREAK_GLASS}" in checks["policy-protects-itself"]
    # The break-glass role repairs it with init (on AWS only it may).
    code, data = _init(cli, "--break-glass-role-arn", BREAK_GLASS)
    assert code == 0, data
    assert _check(cli, "--break-glass-role-arn", BREAK_GLASS)[1]["lifecycle"].startswith("pass")
    lock = s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    repaired = _statements(clients)[pol.SID_DENY_CONFIG]
    assert repaired["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS]}}


def test_check_reports_a_deleted_policy_and_accepts_governance_only_when_asked(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    assert _init(cli, "--retention-mode", "GOVERNANCE")[0] == 0
    clients("s3").delete_bucket_policy(Bucket=BUCKET)
    code, checks = _check(cli, "--retention-mode", "GOVERNANCE")
    assert code == 3 and checks["default-retention"] == "pass: GOVERNANCE 90 days"
    assert checks["policy-protects-itself"].startswith("fail: no statement denies changing "
                                                       "the policy")
    assert checks["policy-deny-others"].startswith("fail: ")


def test_responder_exempt_from_the_config_deny_is_a_gap(clients: Any, cli: RunCli) -> None:  # noqa: F811
    assert _init(cli)[0] == 0
    statements = list(_statements(clients).values())
    deny = next(s for s in statements if s["Sid"] == pol.SID_DENY_CONFIG)
    deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": [RESPONDER]}}
    clients("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    code, checks = _check(cli)
    assert code == 3 and "the responder role is exempt" in checks["policy-protects-itself"]


def test_init_creates_one_signing_key_and_check_audits_it(clients: Any, cli: RunCli) -> None:  # noqa: F811
    code, data = _init(cli)
    assert code == 0 and data["signing_key"]
    kms = clients("kms")
    meta = kms.describe_key(KeyId="alias/ircli-evidence-signing")["KeyMetadata"]
    assert meta["Arn"] == data["signing_key"] and meta["KeyUsage"] == "SIGN_VERIFY"
    assert meta["KeySpec"] == "ECC_NIST_P256"
    assert any("created as alias/ircli-evidence-signing" in c for c in data["changes"])
    code, again = _init(cli)
    assert again["signing_key"] == data["signing_key"] and again["changes"] == []
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    only = next(s for s in policy["Statement"] if s["Sid"] == "OnlyTheResponderSigns")
    assert only["Effect"] == "Deny" and only["Action"] == "kms:Sign"
    assert only["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": RESPONDER}}
    code, checks = _check(cli, "--signing-key", data["signing_key"])
    assert checks["signing-key"].startswith(f"pass: {data['signing_key']}")
    code, checks = _check(cli)
    assert checks["signing-key"].startswith("warn: no signing key configured")
    symmetric = kms.create_key()["KeyMetadata"]["Arn"]
    code, checks = _check(cli, "--signing-key", symmetric)
    assert code == 3 and checks["signing-key"] == \
        f"fail: {symmetric} is not a ECDSA_SHA_256 signing key"
    code, _out, err = cli("evidence", "init", "--bucket", BUCKET, "--signing-key-id", symmetric)
    assert code == 2 and "is not an asymmetric signing key" in err


def test_a_moved_signing_alias_or_a_wrong_key_is_refused_before_anything_changes(
        clients: Any, cli: RunCli) -> None:  # noqa: F811
    kms = clients("kms")
    symmetric = kms.create_key()["KeyMetadata"]
    # no --yes and no terminal: the key is refused by the plan, before init would ask
    code, _out, err = cli("evidence", "init", "--bucket", BUCKET, "--signing-key-id",
                          symmetric["Arn"])
    assert code == 2 and "is not an asymmetric signing key" in err
    assert BUCKET not in {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
    # The attacker points the default alias at a key that is not a signing key.
    kms.create_alias(AliasName="alias/ircli-evidence-signing", TargetKeyId=symmetric["KeyId"])
    code, _out, err = cli("evidence", "init", "--bucket", BUCKET)
    assert code == 2 and "alias/ircli-evidence-signing is not an asymmetric signing key" in err
    assert BUCKET not in {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
